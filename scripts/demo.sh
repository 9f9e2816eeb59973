#!/usr/bin/env bash
# Main job on the embedded default: simulate a galaxy cube with known parameters,
# fit it, print truth vs fit, save the figure. Sets up its own environment.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$here/scripts/setup-env.sh" ""  # no extras (and not this script's arguments)
exec "$GALKIN_PYTHON" -m galkin demo "$@"
