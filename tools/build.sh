#!/usr/bin/env bash
# Installs the dependencies (idempotent), configures with the default preset and builds everything:
# the dialect, mixerc, the runtime, the test models and the tests.
set -euo pipefail
cd "$(dirname "$0")/.."
./tools/install-deps.sh
export PATH="${MIXERC_VENV:-$HOME/.cache/mixerc/venv}/bin:$PATH"
export CCACHE_DIR="${CCACHE_DIR:-$HOME/.cache/ccache}"
cmake --preset default -DMIXERC_VENV="${MIXERC_VENV:-$HOME/.cache/mixerc/venv}" \
  -DMIXERC_INTEROP_VENV="${MIXERC_INTEROP_VENV:-$HOME/.cache/mixerc/interop-venv}" >/dev/null
cmake --build --preset default
