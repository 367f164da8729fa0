#!/usr/bin/env bash
# Set this machine up for the course. Safe to run again: it only does what is missing.
#   - programs: a Docker engine, Debian's docker-registry, debootstrap (and chromium with --for-tests)
#   - a running Docker engine
#   - a Python virtual environment in .venv with ecslab and its dependencies
#   - a base image for the sample app (python:3.12-slim if you have it, else one made offline)
# On Debian/Ubuntu as root it installs what is missing with apt-get; anywhere else it says what to install.
set -euo pipefail
cd "$(dirname "$0")/.."

for_tests=""
[ "${1:-}" = "--for-tests" ] && for_tests=1
venv="${ECSLAB_VENV:-.venv}"
say() { printf '\033[1m[setup]\033[0m %s\n' "$*"; }
is_root() { [ "$(id -u)" = 0 ]; }

missing=()
command -v dockerd >/dev/null 2>&1 || docker info >/dev/null 2>&1 || missing+=(docker.io)
command -v docker-registry >/dev/null 2>&1 || command -v registry >/dev/null 2>&1 || missing+=(docker-registry)
command -v debootstrap >/dev/null 2>&1 || [ -x /usr/sbin/debootstrap ] || missing+=(debootstrap)
if [ -n "$for_tests" ]; then
  [ -x /usr/bin/chromium ] || missing+=(chromium)
  command -v ss >/dev/null 2>&1 || missing+=(iproute2)
fi
if [ ${#missing[@]} -gt 0 ]; then
  if is_root && command -v apt-get >/dev/null 2>&1; then
    say "installing ${missing[*]} with apt-get"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    say "please install: ${missing[*]}  (Debian/Ubuntu: sudo apt-get install -y ${missing[*]})"
    exit 1
  fi
fi

if ! docker info >/dev/null 2>&1; then
  if is_root && command -v dockerd >/dev/null 2>&1; then
    say "starting dockerd in the background (log: /var/log/ecslab-dockerd.log)"
    nohup dockerd >/var/log/ecslab-dockerd.log 2>&1 &
    for _ in $(seq 60); do docker info >/dev/null 2>&1 && break; sleep 0.5; done
  fi
  if ! docker info >/dev/null 2>&1; then
    say "no Docker engine answers: start it (sudo systemctl start docker, or Docker Desktop) and run this again"
    exit 1
  fi
fi

if [ ! -x "$venv/bin/python" ]; then
  say "creating the virtual environment $venv"
  if ! python3 -m venv "$venv" 2>/dev/null; then
    rm -rf "$venv"
    if is_root && command -v apt-get >/dev/null 2>&1; then
      say "installing python3-venv with apt-get"
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
      python3 -m venv "$venv"
    else
      say "python3 cannot make a virtual environment: install python3-venv (Debian/Ubuntu) and run this again"
      exit 1
    fi
  fi
fi
if ! "$venv/bin/python" -c "import ecslab, moto, nbval, playwright, jupytext" >/dev/null 2>&1 || [ pyproject.toml -nt "$venv/.installed" ]; then
  say "installing ecslab and its dependencies into $venv (a few minutes the first time)"
  "$venv/bin/python" -m pip install -q --upgrade pip
  "$venv/bin/python" -m pip install -q -e '.[dev]'
  touch "$venv/.installed"
fi

if docker image inspect python:3.12-slim >/dev/null 2>&1; then
  say "base image python:3.12-slim is present"
else
  "$venv/bin/ecslab" base-image
fi
say "ready"
