#!/usr/bin/env bash
# Live test of the workshop hub (workshop/hub_check.py says what it checks): three learners in
# their own course containers, started through the hub's REST API, checks at once, isolation,
# the idle culler; prints the measured memory, start times and learners per server.
#
#   bash workshop/test-hub.sh [--json FILE] [--keep-state]
#
# Needs the course image (bash scripts/course-image.sh build) and about 3 GB of free memory;
# takes about 5 minutes on 2 cores. Removes everything it starts, also on failure.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
IMAGE=${ECSLAB_HUB_IMAGE:-ecslab-course:latest}
if ! docker image inspect "$IMAGE" >/dev/null 2>&1; then
    echo "[hub-test] no course image $IMAGE: build it first (bash scripts/course-image.sh build)" >&2
    exit 77
fi
bash "$HERE/start.sh" install
exec "$HERE/.venv/bin/python" "$HERE/hub_check.py" --image "$IMAGE" "$@"
