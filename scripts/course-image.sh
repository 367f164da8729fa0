#!/usr/bin/env bash
# The course image (Dockerfile at the top level), for people and checks alike.
#
#   bash scripts/course-image.sh build            # build it on this machine
#   bash scripts/course-image.sh run [--detach]   # start it; prints its name and JupyterLab's URL
#   bash scripts/course-image.sh stop             # stop it (your work stays in its volume)
#   bash scripts/course-image.sh status           # is it running, the lab and engine inside
#   bash scripts/course-image.sh remove           # remove the container AND its volumes (your work)
#
# Settings (environment):
#   ECSLAB_IMAGE            image name                         (ecslab-course:latest)
#   ECSLAB_IMAGE_CONTAINER  container name; volumes NAME-work and NAME-engine   (ecslab-course)
#   ECSLAB_IMAGE_PORT       JupyterLab's port on the host, on 127.0.0.1 only     (8888)
#   ECSLAB_IMAGE_BASE       the image's base            (python:3.11-slim-bookworm, or where nothing
#                           can be pulled the offline base `ecslab base-image` makes)
#   ECSLAB_IMAGE_SAMPLE_BASE  the sample app's base, shipped inside   (python:3.12-slim, or the same)
#   ECSLAB_IMAGE_CA_BUNDLE  extra CA certificates for pip in the build (default: this host's
#                           /etc/ssl/certs/ca-certificates.crt when it exists; "none" for none)
#   ECSLAB_IMAGE_MEMORY     a memory limit for the container, e.g. 4g (default: none)
set -euo pipefail
cd "$(dirname "$0")/.."

IMAGE=${ECSLAB_IMAGE:-ecslab-course:latest}
NAME=${ECSLAB_IMAGE_CONTAINER:-ecslab-course}
PORT=${ECSLAB_IMAGE_PORT:-8888}
REAL_BASE=python:3.11-slim-bookworm
REAL_SAMPLE_BASE=python:3.12-slim
OFFLINE_BASE=ecslab/python-base:bookworm
say() { printf '\033[1m[course-image]\033[0m %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

docker info >/dev/null 2>&1 || die "no Docker engine answers: start Docker (Docker Desktop, or sudo systemctl start docker) and run this again"

present_or_pulled() { docker image inspect "$1" >/dev/null 2>&1 || docker pull -q "$1" >/dev/null 2>&1; }

offline_base() {
    docker image inspect "$OFFLINE_BASE" >/dev/null 2>&1 && return 0
    say "nothing can be pulled here: making $OFFLINE_BASE with debootstrap (about a minute, once)"
    local ecslab_cli
    ecslab_cli=$(command -v ecslab || true)
    [ -x "${ECSLAB_VENV:-.venv}/bin/ecslab" ] && ecslab_cli="${ECSLAB_VENV:-.venv}/bin/ecslab"
    [ -n "$ecslab_cli" ] || die "neither $REAL_BASE can be pulled nor ecslab is installed to make $OFFLINE_BASE (bash scripts/setup.sh)"
    "$ecslab_cli" base-image
}

build() {
    local base=${ECSLAB_IMAGE_BASE:-} sample=${ECSLAB_IMAGE_SAMPLE_BASE:-}
    if [ -z "$base" ]; then
        if present_or_pulled "$REAL_BASE"; then base=$REAL_BASE; else offline_base; base=$OFFLINE_BASE; fi
    fi
    if [ -z "$sample" ]; then
        if present_or_pulled "$REAL_SAMPLE_BASE"; then sample=$REAL_SAMPLE_BASE; else offline_base; sample=$OFFLINE_BASE; fi
    fi
    local bundle=${ECSLAB_IMAGE_CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}
    copied=course-image/ca/build-host-bundle.crt
    rm -f "$copied"
    if [ "$bundle" != none ] && [ -f "$bundle" ]; then
        cp "$bundle" "$copied"
        trap 'rm -f course-image/ca/build-host-bundle.crt' EXIT
        say "CA bundle for pip in the build stage (not in the image): $bundle"
    fi
    say "building $IMAGE from $base (sample app base: $sample)"
    local started=$SECONDS
    DOCKER_BUILDKIT=0 docker build -t "$IMAGE" \
        --build-arg BASE="$base" --build-arg SAMPLE_BASE="$sample" \
        --label ecslab-course.base="$base" . 2>&1 | grep -v -e 'DEPRECATED: The legacy builder' -e 'BuildKit is currently disabled' -e 'Install the buildx component' -e 'https://docs.docker.com/go/buildx' -e '^ *$' -e '^ *environment-variable.$'
    local rc=${PIPESTATUS[0]}
    rm -f "$copied"
    [ "$rc" = 0 ] || die "the build failed (see above)"
    say "built $IMAGE in $((SECONDS - started)) s; size $(docker image inspect -f '{{.Size}}' "$IMAGE" | awk '{printf "%.0f MB", $1 / 1e6}')"
}

port_free() {
    python3 - "$1" <<'EOF' 2>/dev/null
import socket, sys
with socket.socket() as s:
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as docker's proxy does: TIME_WAIT is no conflict
    s.bind(("127.0.0.1", int(sys.argv[1])))
EOF
}

running() { [ "$(docker container inspect -f '{{.State.Running}}' "$NAME" 2>/dev/null)" = true ]; }

jupyter_url() { docker exec "$NAME" cat /run/ecslab-course/jupyter-url 2>/dev/null; }

wait_until_ready() {  # JupyterLab answers with its token and the lab inside says it runs
    local deadline=$((SECONDS + ${1:-300})) url
    while [ $SECONDS -lt $deadline ]; do
        if ! running; then
            docker logs --tail 40 "$NAME" >&2 || true
            die "the container $NAME stopped (exit code $(docker container inspect -f '{{.State.ExitCode}}' "$NAME")); its last lines are above"
        fi
        url=$(jupyter_url || true)
        if [ -n "$url" ] && python3 - "$url" <<'EOF' 2>/dev/null && docker exec "$NAME" ecslab status >/dev/null 2>&1; then
import sys, urllib.parse, urllib.request
url = urllib.parse.urlsplit(sys.argv[1])
status = f"{url.scheme}://{url.netloc}/api/status?{url.query}"
with urllib.request.urlopen(status, timeout=3) as response:
    sys.exit(0 if response.status == 200 else 1)
EOF
            echo "$url"
            return 0
        fi
        sleep 1
    done
    die "JupyterLab in $NAME did not answer within ${1:-300} s: see docker logs $NAME"
}

run() {
    local detach=""
    [ "${1:-}" = "--detach" ] && detach=1
    docker image inspect "$IMAGE" >/dev/null 2>&1 || die "no image $IMAGE yet: bash scripts/course-image.sh build"
    if running; then
        say "$NAME is already running"
    elif docker container inspect "$NAME" >/dev/null 2>&1; then
        say "starting the existing container $NAME again (your work is in its volume $NAME-work)"
        port_free "$PORT" || die "port $PORT on 127.0.0.1 is taken by another program: set ECSLAB_IMAGE_PORT to a free port and remove the old container (bash scripts/course-image.sh remove keeps nothing; docker rm $NAME keeps the volumes)"
        docker start "$NAME" >/dev/null
    else
        port_free "$PORT" || die "port $PORT on 127.0.0.1 is taken: set ECSLAB_IMAGE_PORT to a free port (e.g. ECSLAB_IMAGE_PORT=8890 bash scripts/course-image.sh run)"
        local common=(
            -d --name "$NAME" --hostname "$NAME"
            -p "127.0.0.1:$PORT:8888" -e "ECSLAB_IMAGE_PORT=$PORT"
            -v "$NAME-work:/course" -v "$NAME-engine:/var/lib/docker"
            --stop-timeout 30 --label ecslab-course=1
        )
        [ -n "${ECSLAB_IMAGE_MEMORY:-}" ] && common+=(--memory "$ECSLAB_IMAGE_MEMORY")
        [ -n "${JUPYTER_TOKEN:-}" ] && common+=(-e JUPYTER_TOKEN)
        local error
        if error=$(docker run "${common[@]}" --privileged "$IMAGE" 2>&1 >/dev/null); then
            say "started $NAME with --privileged"
        else
            docker rm -f "$NAME" >/dev/null 2>&1 || true
            case "$error" in
                *"unable to apply caps"*|*"operation not permitted"*) ;;
                *"port is already allocated"*|*"address already in use"*)
                    die "port $PORT on 127.0.0.1 is taken: set ECSLAB_IMAGE_PORT to a free port" ;;
                *) die "docker run failed: $error" ;;
            esac
            # This host refuses --privileged (its bounding set lacks a capability, as on the course's
            # CI VMs): what the inner engine needs, and nothing more (see the README, "The course image").
            say "--privileged is refused here ($(printf '%s' "$error" | grep -o 'unable to apply caps[^"]*' | head -n1)); using explicit capabilities"
            docker run "${common[@]}" \
                --cap-add SYS_ADMIN --cap-add NET_ADMIN \
                --security-opt seccomp=unconfined --security-opt apparmor=unconfined \
                -v /sys/fs/cgroup:/sys/fs/cgroup:rw \
                "$IMAGE" >/dev/null
            say "started $NAME with SYS_ADMIN, NET_ADMIN, unconfined seccomp and the host's cgroup mount"
        fi
    fi
    if [ -n "$detach" ]; then
        local url
        url=$(wait_until_ready 300)
        say "container: $NAME   (stop: bash scripts/course-image.sh stop)"
        say "JupyterLab: $url"
        echo "$url"
    else
        say "container: $NAME; Ctrl-C stops it (your work stays in the volume $NAME-work)"
        trap 'echo; docker stop -t 30 "$NAME" >/dev/null; exit 0' INT TERM
        docker logs -f --since "$(docker container inspect -f '{{.State.StartedAt}}' "$NAME")" "$NAME" &
        wait $!
    fi
}

stop() {
    if running; then
        say "stopping $NAME (the lab and the engine inside stop first; up to 30 s)"
        docker stop -t 30 "$NAME" >/dev/null
    else
        say "$NAME is not running"
    fi
}

status() {
    if ! running; then
        say "$NAME is not running$(docker container inspect "$NAME" >/dev/null 2>&1 && echo ' (stopped; bash scripts/course-image.sh run starts it again)')"
        return 1
    fi
    say "$NAME is running; JupyterLab: $(jupyter_url || echo '(not yet)')"
    docker exec "$NAME" ecslab-engine status || true
    docker exec "$NAME" ecslab status || true
}

remove() {
    docker rm -f "$NAME" >/dev/null 2>&1 || true
    docker volume rm "$NAME-work" "$NAME-engine" >/dev/null 2>&1 || true
    say "removed $NAME and its volumes $NAME-work, $NAME-engine"
}

case "${1:-}" in
    build) build ;;
    run) shift; run "$@" ;;
    stop) stop ;;
    status) status ;;
    remove) remove ;;
    *) sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
