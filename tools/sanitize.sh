#!/usr/bin/env bash
# mixerc under sanitizers. For each set (default: address,undefined and thread):
#  - address,undefined (any set without thread): the whole project (the compiler, the runtime,
#    the test models' glue and every test program) built with those sanitizers into
#    build-sanitize/ (GCC, MIXERC_SANITIZE; the Halide kernels themselves are generated code and
#    not instrumented) and the whole ctest suite run there, the sanitizer runtimes preloaded into
#    the Python tests (tests/CMakeLists.txt). Any report fails its test.
#  - thread: the runtime built with clang's ThreadSanitizer into build-sanitize-thread/ (a project
#    of its own, the compiler not rebuilt), tests/specs/tanh_mixer.toml compiled against it with
#    Halide's tsan feature by the built mixerc, and the multi-threaded C API tests
#    (tests/unit/ApiTest.cpp, DataParallelApiTest.cpp) plus the spec, safetensors and GEMM
#    schedule unit tests run under it. Needs tools/build.sh first (for build/compiler/mixerc).
# Usage: tools/sanitize.sh [SET...]   e.g. tools/sanitize.sh address,undefined thread
set -euo pipefail
cd "$(dirname "$0")/.."
sets=("$@")
[ ${#sets[@]} -gt 0 ] || sets=(address,undefined thread)
venv="${MIXERC_VENV:-$HOME/.cache/mixerc/venv}"
export PATH="$venv/bin:$PATH"
export CCACHE_DIR="${CCACHE_DIR:-$HOME/.cache/ccache}"
status=0

whole_suite() { # SET
  local set=$1 dir=build-sanitize
  cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_COMPILER=gcc \
    -DCMAKE_CXX_COMPILER=g++ -DCMAKE_CXX_FLAGS=-g1 -DMIXERC_SANITIZE="$set" -DMIXERC_VENV="$venv" \
    -DMIXERC_INTEROP_VENV="${MIXERC_INTEROP_VENV:-$HOME/.cache/mixerc/interop-venv}" >/dev/null
  cmake --build "$dir" >"$dir/build.log" 2>&1 || { tail -30 "$dir/build.log"; return 1; }
  if ctest --test-dir "$dir" -j2 --output-on-failure >"$dir/ctest.log" 2>&1; then
    echo "sanitize $set: the whole ctest suite passed ($(grep -o 'out of [0-9]*' "$dir/ctest.log" | tail -1 | cut -c8- || true) tests)"
  else
    echo "sanitize $set: ctest FAILED (log: $dir/ctest.log)"
    grep -E 'ERROR: |SUMMARY: |runtime error|tests failed|\*\*\*Failed|Failed  ' "$dir/ctest.log" | head -30
    return 1
  fi
}

thread_api() {
  local set=thread dir=build-sanitize-thread
  local flags="-fsanitize=thread -fno-sanitize-recover=all -fno-omit-frame-pointer -g -O1"
  cmake -S . -B "$dir" -G Ninja -DMIXERC_BUILD_COMPILER=OFF -DMIXERC_BUILD_TESTS=OFF \
    -DMIXERC_VENV="$venv" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ \
    -DCMAKE_CXX_FLAGS="$flags" >/dev/null
  cmake --build "$dir" >/dev/null
  # The Halide kernels and runtime are built with Halide's tsan feature, so that their
  # synchronisation and accesses are seen too.
  MIXERC_RUNTIME_LIBRARY="$PWD/$dir/lib/libmixer_runtime.a" build/compiler/mixerc compile \
    tests/specs/tanh_mixer.toml -o "$dir/tanh_mixer" --target host-tsan 2>/dev/null
  ccache clang++ -std=c++17 $flags -I"$dir/tanh_mixer" -Iruntime/include tests/unit/ApiTest.cpp \
    tests/unit/DataParallelApiTest.cpp tests/unit/TsanShims.cpp -L"$dir/tanh_mixer" -ltanh_mixer \
    -Wl,-rpath,"$PWD/$dir/tanh_mixer" -lgmock -lgtest -lgtest_main -pthread -o "$dir/api_tests"
  # NDEBUG as shipped (toml++'s debug assertions reject inputs its release path reports as errors).
  ccache clang++ -std=c++17 $flags -DNDEBUG -Icompiler -Iruntime/src -Iruntime/include \
    -DMIXERC_SPECS_DIR="\"$PWD/specs\"" tests/unit/SpecTest.cpp tests/unit/SafetensorsTest.cpp \
    tests/unit/GemmScheduleTest.cpp tests/unit/DepthwiseScheduleTest.cpp compiler/spec/Spec.cpp \
    compiler/lower/KernelPlan.cpp \
    compiler/schedule/BatchChunking.cpp compiler/schedule/GemmSchedule.cpp \
    compiler/schedule/DepthwiseSchedule.cpp compiler/schedule/RecordText.cpp \
    "$dir/lib/libmixer_runtime.a" -lfmt -lgmock -lgtest -lgtest_main -pthread -o "$dir/unit_tests"
  local ok=0 test
  for test in unit_tests api_tests; do
    # AbsurdSizes lowers RLIMIT_AS, which the sanitizer's shadow memory cannot live with.
    if TSAN_OPTIONS=halt_on_error=1 "$dir/$test" --gtest_filter='-*AbsurdSizes*' \
        >"$dir/$test.log" 2>&1; then
      echo "sanitize $set: $test passed ($(grep -o '[0-9]* tests' "$dir/$test.log" | tail -1))"
    else
      echo "sanitize $set: $test FAILED"
      grep -E 'WARNING|SUMMARY|FAILED' "$dir/$test.log" | head -20
      ok=1
    fi
  done
  return $ok
}

for set in "${sets[@]}"; do
  if [[ $set == *thread* ]]; then
    thread_api || status=1
  else
    whole_suite "$set" || status=1
  fi
done
exit $status
