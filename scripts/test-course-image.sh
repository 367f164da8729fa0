#!/usr/bin/env bash
# CI test of the course image: build it, start it, wait until JupyterLab and the lab inside
# answer, run notebook 05's solution with nbval (strict) inside it, run the real-browser test
# against its JupyterLab, stop it, start it again and find the file the browser test wrote in the
# learner's folder, then remove the container and its volumes (also when a step fails).
# Prints what it measured: build time, image size, first start, idle memory, restart.
#
#   bash scripts/test-course-image.sh        (called by scripts/test.sh as "== course image")
#
# Uses its own container, volumes and a free 127.0.0.1 port (ecslab-course-ci*); the image is
# ecslab-course:latest, kept for the next (warm) build.
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${ECSLAB_VENV:-.venv}"
python="$venv/bin/python"

export ECSLAB_IMAGE_CONTAINER=ecslab-course-ci-$$
ECSLAB_IMAGE_PORT=$("$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
export ECSLAB_IMAGE_PORT
JUPYTER_TOKEN=$("$python" -c 'import secrets; print(secrets.token_hex(24))')
export JUPYTER_TOKEN
# A memory limit on the course container must hold for what runs inside it too (checked below).
export ECSLAB_IMAGE_MEMORY=${ECSLAB_IMAGE_MEMORY:-2g}
name=$ECSLAB_IMAGE_CONTAINER
image=${ECSLAB_IMAGE:-ecslab-course:latest}
say() { printf '\033[1m[test-course-image]\033[0m %s\n' "$*"; }
figures=()
measured() { figures+=("$1"); say "$1"; }

cleanup() {
    local rc=$?
    if [ "$rc" != 0 ] && docker container inspect "$name" >/dev/null 2>&1; then
        say "FAILED (exit $rc); the container's last lines:"
        docker logs --tail 30 "$name" 2>&1 | sed 's/^/    /' || true
    fi
    docker rm -f "$name" "$name-refused" >/dev/null 2>&1 || true
    docker volume rm "$name-work" "$name-engine" >/dev/null 2>&1 || true
}
trap cleanup EXIT

t=$SECONDS
bash scripts/course-image.sh build
measured "build: $((SECONDS - t)) s (warm when the layers are cached); image $(docker image inspect -f '{{.Size}}' "$image" | awk '{printf "%.0f MB", $1 / 1e6}')"

say "without privileges it stops at once and says what to add"
set +e
refused=$(docker run --rm --name "$name-refused" "$image" 2>&1)
refused_rc=$?
set -e
docker rm -f "$name-refused" >/dev/null 2>&1 || true
[ "$refused_rc" = 3 ] && grep -q -- '--privileged' <<<"$refused" && grep -q 'CAP_SYS_ADMIN' <<<"$refused" \
    || { say "expected exit 3 naming --privileged and CAP_SYS_ADMIN, got $refused_rc:"; echo "$refused"; exit 1; }

t=$SECONDS
url=$(bash scripts/course-image.sh run --detach | tail -n1)
measured "first start (new volumes: engine, base image import, lab, JupyterLab answering): $((SECONDS - t)) s"
case "$url" in "http://127.0.0.1:$ECSLAB_IMAGE_PORT/lab?token=$JUPYTER_TOKEN") ;; *) say "unexpected URL: $url"; exit 1 ;; esac

say "published on 127.0.0.1 only"
docker port "$name" 8888 | grep -qx "127.0.0.1:$ECSLAB_IMAGE_PORT"

say "inside: ecslab status --json, and plain boto3 with eval \"\$(ecslab env)\""
docker exec "$name" sh -c 'ecslab status --json' | "$python" -c 'import json, sys; s = json.load(sys.stdin); assert s, s'
docker exec "$name" bash -c 'eval "$(ecslab env)" && python -c "import boto3; print(boto3.client(\"ecs\").list_clusters()[\"clusterArns\"])"' >/dev/null

sleep 5
measured "idle memory after first start: $(docker stats --no-stream --format '{{.MemUsage}}' "$name" | cut -d/ -f1)"

say "inside: inner containers are placed under the course container's cgroup"
docker exec "$name" sh -c '
    docker run -d --name cgroup-probe --memory 64m "$(cat /opt/ecslab/sample-base.name)" sleep 60 >/dev/null
    pid=$(docker inspect -f "{{.State.Pid}}" cgroup-probe)
    inner=$(awk -F: "\$2 ~ /(^|,)memory(,|\$)/ {print \$3}" /proc/$pid/cgroup)
    outer=$(awk -F: "\$2 ~ /(^|,)memory(,|\$)/ {print \$3}" /proc/1/cgroup)
    docker rm -f cgroup-probe >/dev/null
    case "$inner" in "$outer"/*) echo "  $inner" ;; *) echo "  inner $inner is not under $outer"; exit 1 ;; esac'
say "inside: an inner container with no limit of its own is held by the course container's $ECSLAB_IMAGE_MEMORY"
set +e
docker exec "$name" sh -c 'docker run --rm "$(cat /opt/ecslab/sample-base.name)" python3 -c "a = b\"x\" * (2200 << 20)"' 2>/dev/null
oom_rc=$?
set -e
[ "$oom_rc" = 137 ] || { say "expected the 2.2 GB allocation to be killed (137), got exit $oom_rc"; exit 1; }


say "inside: nbval (strict) on solutions/05-deploy-to-ecs.ipynb"
t=$SECONDS
docker exec -w /opt/ecslab/course "$name" python -m pytest --nbval solutions/05-deploy-to-ecs.ipynb \
    --nbval-sanitize-with tests/nbval-sanitize.cfg -q -p no:cacheprovider
measured "nbval on notebook 05 inside: $((SECONDS - t)) s; memory after it: $(docker stats --no-stream --format '{{.MemUsage}}' "$name" | cut -d/ -f1)"
measured "engine volume after notebook 05: $(docker exec "$name" du -sm /var/lib/docker | cut -f1) MB"

say "the real-browser test against the container's JupyterLab"
ECSLAB_BROWSER_TEST_URL="$url" "$python" -m pytest tests/test_browser.py -m browser -q -p no:cacheprovider

say "the engine inside dies: ecslab doctor says so; ecslab-engine start brings it back"
docker exec "$name" sh -c 'kill -9 $(pgrep -x dockerd)'
sleep 1
if docker exec "$name" ecslab doctor > /tmp/ecslab-course-ci-doctor.$$ 2>&1; then
    say "ecslab doctor did not notice the dead engine"; cat /tmp/ecslab-course-ci-doctor.$$; rm -f /tmp/ecslab-course-ci-doctor.$$; exit 1
fi
grep -E 'Docker engine' /tmp/ecslab-course-ci-doctor.$$ | sed 's/^/    /'
rm -f /tmp/ecslab-course-ci-doctor.$$
docker exec "$name" ecslab-engine start
docker exec "$name" ecslab doctor >/dev/null

say "stop, start again: the learner's work is still there"
t=$SECONDS
bash scripts/course-image.sh stop
measured "stop: $((SECONDS - t)) s"
t=$SECONDS
url=$(bash scripts/course-image.sh run --detach | tail -n1)
measured "second start (volumes kept): $((SECONDS - t)) s"
docker exec "$name" test -s /course/browser-test/00-setup.ipynb
docker exec "$name" sh -c 'docker image inspect "$(cat /opt/ecslab/sample-base.name)" >/dev/null'
docker exec "$name" ecslab status >/dev/null

bash scripts/course-image.sh remove
say "passed. Measured on $(uname -m) Linux $(uname -r), $(nproc) cores, Docker $(docker version --format '{{.Server.Version}}'):"
printf '    %s\n' "${figures[@]}"
