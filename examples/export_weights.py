"""Writes a PyTorch model's weights (timm's names and layouts) to a safetensors file that a
mixerc library loads: the path real checkpoints take from PyTorch to C. With no pretrained
checkpoint reachable offline, the weights are random (seeded). Usage: export_weights.py SPEC OUT"""
import os
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "numerics"))
from mixer_reference import build_model, load_spec, randomise, write_safetensors  # noqa: E402

spec, out = sys.argv[1], sys.argv[2]
model = build_model(load_spec(spec))
randomise(model, seed=int(os.environ.get("SEED", "0")))
write_safetensors(out, {k: v.detach().numpy() for k, v in model.state_dict().items()})
print(f"export_weights: {sum(p.numel() for p in model.parameters())} parameters -> {out}")
