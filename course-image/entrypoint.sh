#!/usr/bin/env bash
# The course image's entry point: the inner Docker engine, the sample app's base image, the
# learner's folder, the lab, then JupyterLab on port 8888 (or the command given, for example
# `jupyterhub-singleuser` when a JupyterHub spawns this image, or `bash`).
# On stop (SIGTERM) it stops them in reverse order: the command, the lab, the engine.
set -euo pipefail

COURSE_SOURCE=/opt/ecslab/course
COURSE_DIR=${ECSLAB_COURSE_DIR:-/course}
HOST_PORT=${ECSLAB_IMAGE_PORT:-8888}
say() { printf '\033[1m[ecslab-course]\033[0m %s\n' "$*"; }
started=$(date +%s)

ecslab-engine start || exit $?

# The sample app's base image, shipped in the image, imported once into the engine's volume.
base=$(cat /opt/ecslab/sample-base.name)
if ! docker image inspect "$base" >/dev/null 2>&1; then
    say "importing the sample app's base image $base (once per engine volume) ..."
    docker import \
        --change 'CMD ["python3"]' --change 'ENV LANG=C.UTF-8' \
        --change 'LABEL ecslab.lab.base=course-image' \
        /opt/ecslab/sample-base.tar.gz "$base" >/dev/null
fi
export ECSLAB_BASE_IMAGE="$base"

# The learner's folder: the course copied in on first start; files already there (the learner's
# edits) are never overwritten, new ones from a newer image are added.
mkdir -p "$COURSE_DIR"
cp -a -n "$COURSE_SOURCE/." "$COURSE_DIR/"

# A lab state left by a container that was stopped: its processes are gone.
ecslab up

stop_all() {
    trap - TERM INT
    say "stopping ..."
    if [ -n "${child:-}" ]; then
        kill -TERM "$child" 2>/dev/null || true
        wait "$child" 2>/dev/null || true
    fi
    ecslab down >/dev/null 2>&1 || true
    ecslab-engine stop || true
    exit 0
}
trap stop_all TERM INT

if [ $# -eq 0 ]; then
    token=${JUPYTER_TOKEN:-$(python3 -c 'import secrets; print(secrets.token_hex(24))')}
    export JUPYTER_TOKEN="$token"
    url="http://127.0.0.1:${HOST_PORT}/lab?token=${token}"
    mkdir -p /run/ecslab-course
    echo "$url" > /run/ecslab-course/jupyter-url
    # 0.0.0.0 inside the container so port publishing reaches it; the host side is published on
    # 127.0.0.1 only (compose.yaml, scripts/course-image.sh).
    jupyter lab --no-browser --allow-root --ip=0.0.0.0 --port=8888 \
        --ServerApp.port_retries=0 --ServerApp.root_dir="$COURSE_DIR" \
        --ServerApp.custom_display_url="http://127.0.0.1:${HOST_PORT}" &
    child=$!
    say "ready in $(( $(date +%s) - started )) s. JupyterLab (give it a few seconds):"
    say "    $url"
    if [ "$COURSE_DIR" = /course ]; then
        say "Your work is in /course (a volume: it stays when the container stops)."
    else
        say "Your work is in $COURSE_DIR."
    fi
else
    "$@" &
    child=$!
fi
set +e
wait "$child"
status=$?
# The command ended on its own (not through docker stop): stop the rest and pass its status on.
trap - TERM INT
ecslab down >/dev/null 2>&1 || true
ecslab-engine stop || true
exit "$status"
