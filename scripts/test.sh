#!/usr/bin/env bash
# Run every test of the course, in phases, fastest first, each timed:
#   lint and types -> notebooks match their sources -> fast unit tests (no lab, no Docker) ->
#   lab unit tests (blank exercises, browser, faults) -> nbval on notebooks and solutions (strict:
#   stored outputs must repeat) -> course image (built, started, notebook 05 and the browser test
#   inside it; ECSLAB_SKIP_COURSE_IMAGE=1 skips it).
# Sets the machine up first when needed (its own phase). The first failing phase stops the run
# (set -e); the phases' times are printed at the end either way (benchmarks/ci_phases.py reads them).
# Each pytest-xdist worker has a private lab of its own (tests/conftest.py, loaded with
# -p tests.conftest for nbval too), so the default lab (~/.ecslab, 4566/5050/4567) is never used.
# ECSLAB_TEST_WORKERS: workers per pytest phase (default 4: on 2 cores the tests mostly wait).
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${ECSLAB_VENV:-.venv}"
export PATH="$PWD/$venv/bin:$PATH"
workers="${ECSLAB_TEST_WORKERS:-4}"
# --dist loadfile: a test module, or a notebook, stays on one worker (its cells run in order in one kernel)
parallel=(-n "$workers" --dist loadfile)
pytest=(python -m pytest -p no:cacheprovider -q)

phase_times=()
phase_name=""
phase_started=$SECONDS
run_started=$SECONDS

phase() {
  finish_phase
  phase_name="$1"
  phase_started=$SECONDS
  echo "== $phase_name"
}

finish_phase() {
  if [ -n "$phase_name" ]; then
    local took=$((SECONDS - phase_started))
    phase_times+=("$(printf '%-40s %5d s' "$phase_name" "$took")")
    echo "-- $phase_name: $took s"
    phase_name=""
  fi
}

print_times() {
  local status=$?
  [ "$status" -eq 0 ] || phase_name="${phase_name:+$phase_name (FAILED)}"
  finish_phase
  echo "== phase times (workers: $workers)"
  printf '  %s\n' "${phase_times[@]}"
  printf '  %-40s %5d s\n' "total" "$((SECONDS - run_started))"
}
trap print_times EXIT

phase "machine setup (scripts/setup.sh)"
bash scripts/setup.sh --for-tests

phase "lint and types"
ruff check ecslab tests benchmarks workshop
ruff format --check ecslab tests benchmarks workshop scripts
mypy

phase "notebooks match their sources"
python -m ecslab.authoring check

phase "fast unit tests (no lab, no Docker)"
"${pytest[@]}" tests -m "not lab" "${parallel[@]}"

phase "lab unit tests (exercises, browser, faults)"
"${pytest[@]}" tests -m "lab" --ignore tests/test_grade.py "${parallel[@]}"

phase "notebooks and solutions (nbval, strict)"
# notebooks that build the same engine-wide tag run one at a time (tests/conftest.py, SAMPLE_TAG_NOTEBOOKS)
# --no-loadscope-reorder: the longest notebooks first (tests/conftest.py, NOTEBOOK_SECONDS), not those with most cells
"${pytest[@]}" -p tests.conftest --nbval notebooks solutions --nbval-sanitize-with tests/nbval-sanitize.cfg "${parallel[@]}" --no-loadscope-reorder

phase "grader (ecslab grade on a synthetic class)"
# its own phase, without xdist workers: it starts two graded labs of its own
"${pytest[@]}" tests/test_grade.py

# A phase added later goes here, as: phase "NAME"; COMMAND

phase "course image"
if [ -n "${ECSLAB_SKIP_COURSE_IMAGE:-}" ]; then
  echo "skipped (ECSLAB_SKIP_COURSE_IMAGE is set)"
else
  bash scripts/test-course-image.sh
fi
finish_phase
