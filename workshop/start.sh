#!/usr/bin/env bash
# A JupyterHub for an ecslab workshop, on this server: one command for the instructor.
#
#   bash workshop/start.sh                  # install what is missing, build the course image if
#                                           # missing, start the hub (Ctrl-C stops it and every
#                                           # learner's container; their work stays in volumes)
#   bash workshop/start.sh install          # only install (workshop/.venv, workshop/node_modules)
#   bash workshop/start.sh remove-volumes   # after the workshop: delete every learner's work and
#                                           # engine volumes, and the learners' network
#
# Needs: Python 3.11+ with venv, node 18+ and npm, a Docker engine. Settings: the environment
# variables listed at the top of workshop/jupyterhub_config.py (ECSLAB_HUB_PORT, ECSLAB_HUB_MEM,
# ECSLAB_HUB_PASSWORD, ...). Passwords not given are made once and kept in workshop/state/.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$HERE")
VENV=$HERE/.venv
STATE=${ECSLAB_HUB_STATE:-$HERE/state}
IMAGE=${ECSLAB_HUB_IMAGE:-ecslab-course:latest}
PREFIX=${ECSLAB_HUB_PREFIX:-ecslab-hub}
say() { printf '\033[1m[workshop]\033[0m %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

install() {
    if ! "$VENV/bin/python" -c 'import jupyterhub, dockerspawner, jupyterhub_idle_culler' 2>/dev/null; then
        say "installing JupyterHub, DockerSpawner and the idle culler into $VENV"
        python3 -m venv "$VENV" || die "python3 -m venv failed: install python3-venv (apt-get install python3-venv)"
        # The hub's major version matches the jupyterhub-singleuser in the course image (Dockerfile).
        "$VENV/bin/pip" install -q "jupyterhub>=6,<7" "dockerspawner>=14,<15" "jupyterhub-idle-culler>=1.4,<3"
    fi
    if [ ! -x "$HERE/node_modules/.bin/configurable-http-proxy" ]; then
        command -v npm >/dev/null || die "npm is missing: install node 18+ and npm (apt-get install nodejs npm)"
        say "installing configurable-http-proxy into $HERE/node_modules"
        (cd "$HERE" && npm install --no-audit --no-fund --no-save --loglevel=error configurable-http-proxy@5 >/dev/null)
    fi
}

secret() {  # secret FILE LENGTH: the password kept in FILE, made once
    local file=$STATE/$1
    if [ ! -s "$file" ]; then
        (umask 077 && python3 -c "import secrets, sys; print(secrets.token_urlsafe(int(sys.argv[1]))[:int(sys.argv[1])])" "$2" > "$file")
    fi
    cat "$file"
}

start() {
    install
    docker info >/dev/null 2>&1 || die "no Docker engine answers: start it (systemctl start docker, or dockerd &)"
    if ! docker image inspect "$IMAGE" >/dev/null 2>&1; then
        say "no course image $IMAGE yet: building it (bash scripts/course-image.sh build; several minutes, once)"
        ECSLAB_IMAGE=$IMAGE bash "$ROOT/scripts/course-image.sh" build
    fi
    mkdir -p "$STATE"
    chmod 700 "$STATE"
    export ECSLAB_HUB_STATE=$STATE
    export ECSLAB_HUB_PASSWORD=${ECSLAB_HUB_PASSWORD:-$(secret learner-password 12)}
    export ECSLAB_HUB_ADMIN_PASSWORD=${ECSLAB_HUB_ADMIN_PASSWORD:-$(secret admin-password 40)}
    local admins=${ECSLAB_HUB_ADMINS:-instructor}
    say "hub: http://${ECSLAB_HUB_IP:-127.0.0.1}:${ECSLAB_HUB_PORT:-8000}/"
    say "learners: any name, password $ECSLAB_HUB_PASSWORD   (kept in $STATE/learner-password)"
    say "instructors ($admins): password in $STATE/admin-password"
    say "Ctrl-C stops the hub and every learner's container; their work stays in the volumes $PREFIX-NAME-work"
    cd "$STATE"
    exec "$VENV/bin/jupyterhub" -f "$HERE/jupyterhub_config.py"
}

remove_volumes() {
    local running
    running=$(docker ps -q --filter "label=ecslab-hub=$PREFIX")
    [ -z "$running" ] || die "learner containers still run ($(echo "$running" | wc -l)): stop the hub first"
    local volumes
    volumes=$(docker volume ls -q | grep -E "^$PREFIX-.+-(work|engine)$" || true)
    if [ -n "$volumes" ]; then
        say "removing $(echo "$volumes" | wc -l) volumes: $(echo "$volumes" | tr '\n' ' ')"
        echo "$volumes" | xargs docker volume rm >/dev/null
    fi
    docker network rm "$PREFIX" >/dev/null 2>&1 && say "removed the network $PREFIX" || true
}

case "${1:-start}" in
    start) start ;;
    install) install ;;
    remove-volumes) remove_volumes ;;
    *) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
