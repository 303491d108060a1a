#!/usr/bin/env bash
# Installs what the benchmark needs beyond the build: oneDNN (the GEMM roofline), the OpenMP
# OpenBLAS and jemalloc that Debian's PyTorch needs to run at its best, and a bench-only virtual
# environment ($MIXERC_BENCH_VENV) with PyTorch 2.x, ONNX Runtime and OpenVINO from PyPI.
set -euo pipefail
APT=(libdnnl-dev libopenblas0-openmp libjemalloc2 python3-torch python3-venv)
missing=()
for pkg in "${APT[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
VENV="${MIXERC_BENCH_VENV:-$HOME/.cache/mixerc/bench-venv}"
want="torch onnxruntime openvino onnx onnxscript numpy"
if [ ! -x "$VENV/bin/python" ] || [ "$(cat "$VENV/.mixerc-stamp" 2>/dev/null)" != "$want" ]; then
  /usr/bin/python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check $want
  printf '%s' "$want" >"$VENV/.mixerc-stamp"
fi
