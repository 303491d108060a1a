#!/usr/bin/env bash
# Installs everything mixerc needs on a fresh Debian 12 machine: MLIR 19, toml++, fmt, GoogleTest,
# SQLite, ccache and PyTorch (the test reference) from Debian; Halide 21, CMake >= 3.28, ninja and lit
# from PyPI into a virtual environment shared by all clones ($MIXERC_VENV). Idempotent and quiet when
# everything is already there, so every entry script calls it first.
set -euo pipefail

APT_PACKAGES=(g++ git ccache python3-venv python3-torch python3-numpy
  llvm-19-dev libmlir-19-dev mlir-19-tools llvm-19-tools
  libtomlplusplus-dev libfmt-dev libgtest-dev libgmock-dev libsqlite3-dev)
PIP_PACKAGES=("halide==21.0.*" "cmake>=3.28,<5" "ninja>=1.11" "lit>=18")
VENV="${MIXERC_VENV:-$HOME/.cache/mixerc/venv}"

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  echo "install-deps: installing Debian packages: ${missing[*]}" >&2
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The stamp records what was installed into the venv; a changed package list reinstalls.
stamp="$VENV/.mixerc-stamp"
want="${PIP_PACKAGES[*]}"
if [ ! -x "$VENV/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "install-deps: installing PyPI packages into $VENV: $want" >&2
  /usr/bin/python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check "${PIP_PACKAGES[@]}"
  printf '%s' "$want" >"$stamp"
fi
