#!/usr/bin/env bash
# Every test: installs and builds (tools/build.sh), then runs lit (dialect and driver), GoogleTest
# (spec, safetensors, the generated C API) and parity against PyTorch through ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
./tools/build.sh
export PATH="${MIXERC_VENV:-$HOME/.cache/mixerc/venv}/bin:$PATH"
ctest --preset default -j2
