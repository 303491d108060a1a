#!/usr/bin/env bash
# The installed tree: `cmake --install` into a prefix, which is then moved (the tree must find
# everything relative to itself); no installed file names the source or build tree; the example
# project (examples/cmake) configures against the moved prefix with find_package(mixerc),
# compiles its spec through mixerc_add_model and runs; a C program built with pkg-config's flags
# against the generated library runs too; TUNING_DB applies a tune's records.
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
if [ -n "${MIXERC_SANITIZED:-}" ]; then
  # Instrumented binaries carry their sources' paths for the sanitizer's reports.
  echo "SKIP: no installed file names the source or build tree (a $MIXERC_SANITIZED build)"
else
  check "no installed file names the source or build tree" no_tree_paths
fi
check "examples/cmake configures against the moved prefix" \
  cmake -S "$source/examples/cmake" -B "$work/example" -G Ninja -DCMAKE_PREFIX_PATH="$work/moved"
check "examples/cmake builds (mixerc_add_model compiles its spec)" cmake --build "$work/example"
check "the example runs" "$work/example/example"
# TUNING_DB: a tune of the example's spec, then the example built with its records applied (the
# compile reports them) and built again after the database changed.
tuned_build() { # (a chain: check runs it where set -e does not apply)
  "$work/moved/bin/mixerc" tune "$source/examples/cmake/tiny_mixer.toml" --db "$work/tiny.db" \
    --trials 1 --time-budget 2m &&
    "$work/moved/bin/mixerc" tune --show --db "$work/tiny.db" >"$work/show.txt" &&
    grep -q "dense_tokens/" "$work/show.txt" && # (not piped: grep -q's early exit + pipefail)
    cmake -S "$source/examples/cmake" -B "$work/tuned" -G Ninja \
      -DCMAKE_PREFIX_PATH="$work/moved" -DTUNING_DB="$work/tiny.db" &&
    cmake --build "$work/tuned" >"$work/tuned.log" &&
    grep -E "[0-9]+ of [0-9]+ kernels use tuned records" "$work/tuned.log" &&
    "$work/tuned/example" &&
    touch "$work/tiny.db" && # as a new tune leaves it
    cmake --build "$work/tuned" >"$work/retuned.log" &&
    grep -q "mixerc compile" "$work/retuned.log"
}
check "mixerc_add_model(... TUNING_DB) applies a tune and follows the database" tuned_build
pc_build() {
  local cflags
  cflags=$(PKG_CONFIG_PATH="$work/moved/lib/pkgconfig" pkg-config --cflags mixerc)
  cc $cflags ${MIXERC_CXXFLAGS:-} -I"$work/example/mixerc-tiny_model" "$source/examples/cmake/main.c" \
    -L"$work/example/mixerc-tiny_model" -ltiny_mixer -lm -Wl,-rpath,"$work/example/mixerc-tiny_model" \
    -o "$work/pc_example" && "$work/pc_example"
}
check "a C program built with pkg-config --cflags mixerc runs" pc_build
check "the moved mixerc compiles a spec" "$work/moved/bin/mixerc" compile \
  "$source/tests/specs/tanh_mixer.toml" -o "$work/tanh"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
