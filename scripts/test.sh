#!/usr/bin/env bash
# Run every test of the course: lint and types, notebooks against their sources, unit tests,
# blank exercises (must fail), the real-browser test, and nbval on notebooks and solutions
# (strict: stored outputs must repeat). Sets the machine up first when needed.
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
ruff check ecslab tests benchmarks
mypy
echo "== notebooks match their sources"
python -m ecslab.authoring check
echo "== unit tests, blank exercises, browser"
python -m pytest tests -q -p no:cacheprovider
echo "== notebooks and solutions (nbval, strict)"
python -m pytest --nbval notebooks solutions --nbval-sanitize-with tests/nbval-sanitize.cfg -q -p no:cacheprovider
