#!/usr/bin/env bash
# Run every test of the course: lint and types, notebooks against their sources, unit tests,
# blank exercises (must fail), the real-browser test, nbval on notebooks and solutions
# (strict: stored outputs must repeat), and the course image (built, started, notebook 05 and the
# browser test inside it; ECSLAB_SKIP_COURSE_IMAGE=1 skips it). Sets the machine up first when needed.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --for-tests
venv="${ECSLAB_VENV:-.venv}"
export PATH="$PWD/$venv/bin:$PATH"

lab_was_running=""
ecslab status >/dev/null 2>&1 && lab_was_running=1
[ -n "$lab_was_running" ] || trap 'ecslab down >/dev/null 2>&1 || true' EXIT
ecslab up

echo "== lint and types"
ruff check ecslab tests benchmarks workshop
ruff format --check ecslab tests benchmarks workshop scripts
mypy
echo "== notebooks match their sources"
python -m ecslab.authoring check
echo "== unit tests, blank exercises, browser"
python -m pytest tests -q -p no:cacheprovider
echo "== notebooks and solutions (nbval, strict)"
python -m pytest --nbval notebooks solutions --nbval-sanitize-with tests/nbval-sanitize.cfg -q -p no:cacheprovider
echo "== course image"
if [ -n "${ECSLAB_SKIP_COURSE_IMAGE:-}" ]; then
  echo "skipped (ECSLAB_SKIP_COURSE_IMAGE is set)"
else
  course_image_started=$SECONDS
  bash scripts/test-course-image.sh
  echo "course image: $((SECONDS - course_image_started)) s"
fi
