#!/usr/bin/env bash
# Start the course: set the machine up if needed, start the lab, open JupyterLab on notebooks/.
# JupyterLab listens on 127.0.0.1 only. Stop with Ctrl-C; stop the lab with `.venv/bin/ecslab down`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
venv="${ECSLAB_VENV:-.venv}"
"$venv/bin/ecslab" up
extra=()
[ "$(id -u)" = 0 ] && extra+=(--allow-root)
exec "$venv/bin/jupyter" lab --ip 127.0.0.1 --notebook-dir notebooks "${extra[@]}" "$@"
