#!/usr/bin/env bash
# Installs mixerc into PREFIX: bin/mixerc and bin/mixer-opt, lib/ (the runtime every generated
# library links, Halide's library), include/mixer/, lib/cmake/mixerc (find_package(mixerc) and
# mixerc_add_model) and lib/pkgconfig/mixerc.pc. The tree finds everything relative to itself,
# so PREFIX may be moved afterwards. Builds first (tools/build.sh).
set -euo pipefail
if [ $# -ne 1 ] || [ "${1:0:1}" = "-" ]; then
  echo "usage: tools/install.sh PREFIX" >&2
  exit 2
fi
cd "$(dirname "$0")/.."
./tools/build.sh
export PATH="${MIXERC_VENV:-$HOME/.cache/mixerc/venv}/bin:$PATH"
cmake --install build --prefix "$1"
