#!/usr/bin/env bash
# Every test: installs and builds (tools/build.sh), then runs lit (dialect and driver), GoogleTest
# (spec, safetensors, the generated C API), parity against PyTorch, data-parallel training, the
# install tree and the Python package through ctest, after each fuzz target for a short time
# (tools/fuzz.sh; longer runs: tools/fuzz.sh 600), the whole ctest suite again in a build under
# ASan + UBSan (build-sanitize/) and the multi-threaded C API tests under TSan (tools/sanitize.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
./tools/build.sh
export PATH="${MIXERC_VENV:-$HOME/.cache/mixerc/venv}/bin:$PATH"
./tools/fuzz.sh "${MIXERC_FUZZ_SECONDS:-10}"
./tools/sanitize.sh
ctest --preset default -j2
