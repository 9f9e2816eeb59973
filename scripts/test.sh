#!/usr/bin/env bash
# The test suite (without the slow training tests: add -m slow to run those).
# Sets up its own environment.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$here/scripts/setup-env.sh" test
cd "$here"
exec "$GALKIN_PYTHON" -m pytest -m "not slow" "$@"
