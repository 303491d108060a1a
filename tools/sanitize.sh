#!/usr/bin/env bash
# The generated C API under sanitizers: for each sanitizer set (default: address,undefined and
# thread), builds the runtime with it (clang, whose runtime also serves Halide's instrumentation) into build-sanitize-<set>/ (a project of its own, the
# compiler not rebuilt), compiles tests/specs/tanh_mixer.toml against that runtime with the
# built mixerc, links the C API tests (tests/unit/ApiTest.cpp, DataParallelApiTest.cpp) with the
# same sanitizer and runs them; any report fails the run. Under ThreadSanitizer the library's
# Halide code is compiled with Halide's tsan feature. Needs tools/build.sh first (for
# build/compiler/mixerc). Also the unit tests of the spec parser, safetensors I/O and the GEMM
# schedule template under the same sanitizers.
# Usage: tools/sanitize.sh [SET...]   e.g. tools/sanitize.sh address,undefined thread
set -euo pipefail
cd "$(dirname "$0")/.."
sets=("$@")
[ ${#sets[@]} -gt 0 ] || sets=(address,undefined thread)
export PATH="${MIXERC_VENV:-$HOME/.cache/mixerc/venv}/bin:$PATH"
export CCACHE_DIR="${CCACHE_DIR:-$HOME/.cache/ccache}"
venv="${MIXERC_VENV:-$HOME/.cache/mixerc/venv}"
status=0
for set in "${sets[@]}"; do
  dir=build-sanitize-${set//,/-}
  flags="-fsanitize=$set -fno-sanitize-recover=all -fno-omit-frame-pointer -g -O1"
  cmake -S . -B "$dir" -G Ninja -DMIXERC_BUILD_COMPILER=OFF -DMIXERC_BUILD_TESTS=OFF \
    -DMIXERC_VENV="$venv" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ \
    -DCMAKE_CXX_FLAGS="$flags" >/dev/null
  cmake --build "$dir" >/dev/null
  # Under ThreadSanitizer the Halide kernels and runtime are built with Halide's tsan feature,
  # so that their synchronisation and accesses are seen too.
  target=host
  [[ $set == *thread* ]] && target=host-tsan
  MIXERC_RUNTIME_LIBRARY="$PWD/$dir/lib/libmixer_runtime.a" build/compiler/mixerc compile \
    tests/specs/tanh_mixer.toml -o "$dir/tanh_mixer" --target "$target" 2>/dev/null
  shims=()
  [[ $set == *thread* ]] && shims=(tests/unit/TsanShims.cpp)
  ccache clang++ -std=c++17 $flags -I"$dir/tanh_mixer" -Iruntime/include tests/unit/ApiTest.cpp \
    tests/unit/DataParallelApiTest.cpp "${shims[@]}" -L"$dir/tanh_mixer" -ltanh_mixer \
    -Wl,-rpath,"$PWD/$dir/tanh_mixer" -lgmock -lgtest -lgtest_main -pthread -o "$dir/api_tests"
  # The unit tests of the readers and planners that need no Halide (spec parser, safetensors,
  # conversions, the GEMM schedule template), against the same sanitized runtime; NDEBUG as
  # shipped (toml++'s debug assertions reject inputs its release path reports as errors).
  ccache clang++ -std=c++17 $flags -DNDEBUG -Icompiler -Iruntime/src -Iruntime/include \
    -DMIXERC_SPECS_DIR="\"$PWD/specs\"" tests/unit/SpecTest.cpp tests/unit/SafetensorsTest.cpp \
    tests/unit/GemmScheduleTest.cpp tests/unit/DepthwiseScheduleTest.cpp compiler/spec/Spec.cpp \
    compiler/lower/KernelPlan.cpp \
    compiler/schedule/BatchChunking.cpp compiler/schedule/GemmSchedule.cpp \
    compiler/schedule/DepthwiseSchedule.cpp compiler/schedule/RecordText.cpp \
    "$dir/lib/libmixer_runtime.a" -lfmt -lgmock -lgtest -lgtest_main -pthread -o "$dir/unit_tests"
  if ASAN_OPTIONS=detect_leaks=1 TSAN_OPTIONS=halt_on_error=1 "$dir/unit_tests" \
      >"$dir/unit_tests.log" 2>&1; then
    echo "sanitize $set: unit tests passed ($(grep -o '[0-9]* tests' "$dir/unit_tests.log" | tail -1))"
  else
    echo "sanitize $set: unit tests FAILED"
    grep -E 'ERROR|WARNING|SUMMARY|runtime error|FAILED' "$dir/unit_tests.log" | head -20
    status=1
  fi
  # AbsurdSizes lowers RLIMIT_AS, which the sanitizers' shadow memory cannot live with.
  if ASAN_OPTIONS=detect_leaks=1 TSAN_OPTIONS=halt_on_error=1 \
      "$dir/api_tests" --gtest_filter='-*AbsurdSizes*' >"$dir/api_tests.log" 2>&1; then
    echo "sanitize $set: api tests passed ($(grep -o '[0-9]* tests' "$dir/api_tests.log" | tail -1))"
  else
    echo "sanitize $set: FAILED"
    grep -E 'ERROR|WARNING|SUMMARY|runtime error|FAILED' "$dir/api_tests.log" | head -20
    status=1
  fi
done
exit $status
