#!/usr/bin/env bash
# Fuzzes mixerc's readers of untrusted input with libFuzzer (Debian's clang, with AddressSanitizer
# and UndefinedBehaviorSanitizer): the spec parser, the safetensors reader, the dataset readers,
# the .npz reader of mixerc convert and the tuning database reader (tests/fuzz). Builds tests/fuzz into build-fuzz/, runs each target for SECONDS (default
# 600) on a copy of its seed corpus (tests/fuzz/corpus/<target>, left unchanged), and prints per
# target the runs and the coverage (libFuzzer's cov and ft). Exits non-zero if any target found a
# crash, a hang (10 s per input), a leak or a memory blow-up; the input is saved under
# build-fuzz/artifacts/.
# Usage: tools/fuzz.sh [SECONDS] [TARGET...]   (targets: spec safetensors dataset npz tuning_db)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-600}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(spec safetensors dataset npz tuning_db)
export PATH="${MIXERC_VENV:-$HOME/.cache/mixerc/venv}/bin:$PATH"
export CCACHE_DIR="${CCACHE_DIR:-$HOME/.cache/ccache}"
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
cmake -S tests/fuzz -B build-fuzz -G Ninja -DCMAKE_CXX_COMPILER=clang++ "${launcher[@]}" >/dev/null
cmake --build build-fuzz >/dev/null
mkdir -p build-fuzz/artifacts
status=0
for target in "${targets[@]}"; do
  corpus=build-fuzz/corpus/$target
  rm -rf "$corpus"
  mkdir -p "$corpus"
  cp tests/fuzz/corpus/"$target"/* "$corpus"/
  log=build-fuzz/$target.log
  if ./build-fuzz/fuzz_"$target" "$corpus" -max_total_time="$seconds" -timeout=10 \
      -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 \
      -artifact_prefix=build-fuzz/artifacts/"$target"- >"$log" 2>&1; then
    result=ok
  else
    result=FAILED
    status=1
  fi
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo 0)
  coverage=$(grep -o 'cov: [0-9]* ft: [0-9]*' "$log" | tail -1 || true)
  echo "fuzz_$target: $result, ${runs:-0} runs in ${seconds} s, ${coverage:-no coverage line}"
  if [ "$result" != ok ]; then
    grep -E 'ERROR|SUMMARY|runtime error|Test unit written' "$log" | head -10
  fi
done
exit $status
