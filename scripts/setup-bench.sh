#!/usr/bin/env bash
# The referee benchmark's environment: galkin's own (scripts/setup-env.sh) plus the
# "bench" extra -- KinMS (pure Python) and pyBBarolo (3D-Barolo), whose C++ build needs
# cfitsio, FFTW3 and WCSLIB headers and a C++ compiler from the system packages.
# Usage: bash scripts/setup-bench.sh      (then: .venv/bin/python benchmarks/bench_referee.py ...)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# Debian/Ubuntu packages 3D-Barolo compiles against; installed only when missing.
packages=(libcfitsio-dev libfftw3-dev wcslib-dev g++ make)
missing=()
if command -v dpkg-query > /dev/null; then
  for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2> /dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "installing ${missing[*]} (apt-get)"
    sudo_cmd=()
    [ "$(id -u)" -ne 0 ] && sudo_cmd=(sudo)
    "${sudo_cmd[@]}" apt-get update
    "${sudo_cmd[@]}" apt-get install -y "${missing[@]}"
  fi
else
  echo "not a Debian system: install cfitsio, fftw3 and wcslib (with headers) and a C++" \
    "compiler with your package manager (e.g. brew install cfitsio fftw wcslib)" >&2
fi

source "$here/scripts/setup-env.sh" test,bench
"$GALKIN_PYTHON" -c "import kinms, pyBBarolo; print('kinms and pyBBarolo are installed')"
