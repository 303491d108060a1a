#!/usr/bin/env bash
# The main job: install, build, compile the default spec (Mixer-S/16, the paper's smallest 16x16
# patch model: a real ImageNet-sized network that still compiles in seconds) to a shared library,
# build the C example against the generated header and run inference on a few images; then a
# short training loop through the C API (examples/train.c, built with the tests' B-MLP).
set -euo pipefail
cd "$(dirname "$0")/.."
./tools/build.sh
out=build/demo
./build/compiler/mixerc compile specs/mixer_s16.toml -o "$out"
cc -O2 examples/classify.c -I "$out" -I runtime/include -L "$out" -lmixer_s16 \
   -Wl,-rpath,"$PWD/$out" -lm -o "$out/classify"
# Weights made by PyTorch (random: no pretrained checkpoint is reachable offline) in timm's layout.
/usr/bin/python3 examples/export_weights.py specs/mixer_s16.toml "$out/mixer_s16.safetensors"
"$out/classify" "$out/mixer_s16.safetensors" "$@"
# Training through the C API: 100 AdamW steps of a small B-MLP on a synthetic task.
./build/examples/train 100
