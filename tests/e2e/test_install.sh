#!/usr/bin/env bash
# The installed tree: `cmake --install` into a prefix, which is then moved (the tree must find
# everything relative to itself); no installed file names the source or build tree; the example
# project (examples/cmake) configures against the moved prefix with find_package(mixerc),
# compiles its spec through mixerc_add_model and runs; a C program built with pkg-config's flags
# against the generated library runs too.
# Usage: test_install.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$(cd "$1" && pwd) source=$(cd "$2" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
passed=0 failed=0
check() { # check WHAT COMMAND...
  local what=$1
  shift
  if "$@" >"$work/log" 2>&1; then
    echo "PASS: $what"
    passed=$((passed + 1))
  else
    echo "FAIL: $what"
    tail -20 "$work/log"
    failed=$((failed + 1))
  fi
}
no_tree_paths() {
  local f
  for f in bin/mixerc bin/mixer-opt lib/cmake/mixerc/mixercConfig.cmake lib/pkgconfig/mixerc.pc; do
    if grep -q -a -e "$source" -e "$build" "$work/moved/$f"; then
      echo "$f names $source or $build"
      return 1
    fi
  done
}
check "cmake --install" cmake --install "$build" --prefix "$work/installed"
mv "$work/installed" "$work/moved"
check "no installed file names the source or build tree" no_tree_paths
check "examples/cmake configures against the moved prefix" \
  cmake -S "$source/examples/cmake" -B "$work/example" -G Ninja -DCMAKE_PREFIX_PATH="$work/moved"
check "examples/cmake builds (mixerc_add_model compiles its spec)" cmake --build "$work/example"
check "the example runs" "$work/example/example"
pc_build() {
  local cflags
  cflags=$(PKG_CONFIG_PATH="$work/moved/lib/pkgconfig" pkg-config --cflags mixerc)
  cc $cflags -I"$work/example/mixerc-tiny_model" "$source/examples/cmake/main.c" \
    -L"$work/example/mixerc-tiny_model" -ltiny_mixer -lm -Wl,-rpath,"$work/example/mixerc-tiny_model" \
    -o "$work/pc_example" && "$work/pc_example"
}
check "a C program built with pkg-config --cflags mixerc runs" pc_build
check "the moved mixerc compiles a spec" "$work/moved/bin/mixerc" compile \
  "$source/tests/specs/tanh_mixer.toml" -o "$work/tanh"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
