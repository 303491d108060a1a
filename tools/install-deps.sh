#!/usr/bin/env bash
# Installs everything mixerc needs on a fresh Debian 12 machine: MLIR 19, toml++, fmt, GoogleTest,
# SQLite, ccache, Open MPI (data-parallel training), clang and its fuzzer runtime (tests/fuzz) and
# PyTorch with torchvision (the test reference) from Debian; Halide 21, CMake >= 3.28, ninja and
# lit from PyPI into a virtual environment shared by all clones ($MIXERC_VENV), and timm with
# safetensors over Debian's PyTorch into another ($MIXERC_INTEROP_VENV, the interop tests).
# Idempotent and quiet when everything is already there, so every entry script calls it first.
#
# --bench also installs what bench/run_bench.py needs: oneDNN (the GEMM roofline), the OpenMP
# OpenBLAS and jemalloc that Debian's PyTorch needs to run at its best, and a bench-only virtual
# environment ($MIXERC_BENCH_VENV) with PyTorch 2.x, ONNX Runtime and OpenVINO from PyPI.
set -euo pipefail

APT_PACKAGES=(g++ git ccache python3-venv python3-setuptools python3-torch python3-numpy
  python3-torchvision python3-yaml
  llvm-19-dev libmlir-19-dev mlir-19-tools llvm-19-tools
  pkgconf libtomlplusplus-dev libfmt-dev libgtest-dev libgmock-dev libsqlite3-dev zlib1g-dev
  dataset-fashion-mnist libopenmpi-dev openmpi-bin clang libclang-rt-14-dev)
BENCH_APT_PACKAGES=(libdnnl-dev libopenblas0-openmp libjemalloc2)

# ensure_apt PACKAGE...: installs the packages that are not installed yet.
ensure_apt() {
  local missing=() pkg
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  ((${#missing[@]})) || return 0
  echo "install-deps: installing Debian packages: ${missing[*]}" >&2
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# ensure_venv DIR [--system-site-packages] PACKAGE...: a virtual environment holding exactly these
# pip requirements; a stamp records them, so a changed list reinstalls.
ensure_venv() {
  local venv=$1 options=()
  shift
  if [ "${1:-}" = "--system-site-packages" ]; then
    options=(--system-site-packages)
    shift
  fi
  local want="$*"
  [ ${#options[@]} -eq 0 ] || want="${options[*]} $*"
  if [ ! -x "$venv/bin/python" ] || [ "$(cat "$venv/.mixerc-stamp" 2>/dev/null)" != "$want" ]; then
    echo "install-deps: installing PyPI packages into $venv: $*" >&2
    /usr/bin/python3 -m venv "${options[@]}" "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check "$@"
    printf '%s' "$want" >"$venv/.mixerc-stamp"
  fi
}

ensure_apt "${APT_PACKAGES[@]}"
ensure_venv "${MIXERC_VENV:-$HOME/.cache/mixerc/venv}" "halide==21.0.*" "cmake>=3.28,<5" \
  "ninja>=1.11" "lit>=18"
# timm itself for the interop tests, over Debian's PyTorch and torchvision (system site packages).
ensure_venv "${MIXERC_INTEROP_VENV:-$HOME/.cache/mixerc/interop-venv}" --system-site-packages \
  "timm==1.0.31" "safetensors>=0.4"
if [ "${1:-}" = "--bench" ]; then
  ensure_apt "${BENCH_APT_PACKAGES[@]}"
  ensure_venv "${MIXERC_BENCH_VENV:-$HOME/.cache/mixerc/bench-venv}" torch onnxruntime openvino \
    onnx onnxscript numpy
fi
