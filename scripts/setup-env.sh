#!/usr/bin/env bash
# Create (or reuse) the project virtual environment and install galkin into it.
# Usage: source scripts/setup-env.sh [extras]     e.g. "test" or "test,docs"
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${GALKIN_VENV:-$here/.venv}"
extras="${1:-}"
python="${PYTHON:-python3}"
if [ ! -x "$venv/bin/python" ]; then
  "$python" -m venv "$venv"
fi
pip=("$venv/bin/python" -m pip install --quiet --disable-pip-version-check)
# The CPU torch first, so that nothing pulls the multi-GB CUDA build.
"${pip[@]}" -c "$here/constraints.txt" torch
spec="$here"
[ -n "$extras" ] && spec="$here[$extras]"
"${pip[@]}" -c "$here/constraints.txt" -e "$spec"
export GALKIN_PYTHON="$venv/bin/python"
