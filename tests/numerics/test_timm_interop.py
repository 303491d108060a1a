"""Weights move between timm itself (PyPI's timm on Debian's PyTorch) and mixerc both ways.

For each model, timm's own module (timm.create_model for the paper's configurations, timm's
MlpMixer / ConvMixer classes for odd shapes) gets random non-trivial weights and BatchNorm
statistics (mixer_reference.randomise), and its state_dict is written with
safetensors.torch.save_file. Checks: mixerc loads the file and its logits match timm's eval-mode
logits to 1e-5 relative (max |diff| / max |timm|); mixerc's save_weights file loads into a fresh
timm model with load_state_dict(strict=True) and gives every tensor back bit for bit.
Usage: test_timm_interop.py NAME=LIB[:TIMM_NAME] ... (TIMM_NAME: a timm.create_model name;
without it the spec tests/specs/NAME.toml is rebuilt from timm's classes)"""
import os
import sys
import tempfile

import numpy as np
import safetensors.torch
import timm
import torch
from timm.models.convmixer import ConvMixer
from timm.models.mlp_mixer import MlpMixer

sys.path.insert(0, os.path.dirname(__file__))
from mixer_reference import Library, load_spec, randomise  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
TOLERANCE = 1e-5


def timm_model(name, timm_name):
    """timm's module for a paper configuration, or for a test spec built from timm's classes."""
    if timm_name:
        return timm.create_model(timm_name, pretrained=False)
    m = load_spec(os.path.join(ROOT, "tests", "specs", f"{name}.toml"))["model"]
    size = m["image_size"] if isinstance(m["image_size"], list) else [m["image_size"]] * 2
    if load_spec(os.path.join(ROOT, "tests", "specs", f"{name}.toml"))["family"] == "conv_mixer":
        act = {"relu": torch.nn.ReLU, "gelu": torch.nn.GELU}[m.get("activation", "gelu")]
        return ConvMixer(dim=m["hidden"], depth=m["depth"], kernel_size=m["kernel"],
                         patch_size=m["patch"], in_chans=m["channels"],
                         num_classes=m["classes"], act_layer=act)
    c = m["hidden"]  # timm sizes the MLPs as int(ratio * dim): ratios that land on the widths
    ratios = ((m["token_mlp"] + 0.5) / c, (m["channel_mlp"] + 0.5) / c)
    return MlpMixer(num_classes=m["classes"], img_size=tuple(size), in_chans=m["channels"],
                    patch_size=m["patch"], num_blocks=m["depth"], embed_dim=c, mlp_ratio=ratios)


def main():
    failures = []

    def check(ok, what):
        print(f"{'PASS' if ok else 'FAIL'}: {what}", flush=True)
        if not ok:
            failures.append(what)

    torch.set_num_threads(2)
    with tempfile.TemporaryDirectory() as tmp:
        for item in sys.argv[1:]:
            name, rest = item.split("=", 1)
            library, _, timm_name = rest.partition(":")
            model = timm_model(name, timm_name).eval()
            randomise(model, seed=1)
            state = {k: v.contiguous() for k, v in model.state_dict().items()}
            from_timm = os.path.join(tmp, f"{name}.safetensors")
            safetensors.torch.save_file(state, from_timm)

            lib = Library(library, os.path.basename(library)[3:-3])
            info = lib.info()
            handle = lib.create()
            status = lib.call("load_weights", handle, from_timm.encode())
            check(status == 0, f"{name}: mixerc loads timm's save_file "
                  f"({len(state)} tensors){'' if status == 0 else ': ' + lib.error()}")
            if status != 0:
                continue
            images = torch.randn(2, info.channels, info.height, info.width,
                                 generator=torch.Generator().manual_seed(7))
            with torch.no_grad():
                want = model(images).numpy()
            got = lib.infer(handle, images.numpy(), info.classes)
            error = float(np.abs(got - want).max() / np.abs(want).max())
            check(error <= TOLERANCE, f"{name}: logits within {error:.2e} of timm's "
                  f"(tolerance {TOLERANCE:.0e})")

            from_mixerc = os.path.join(tmp, f"{name}_mixerc.safetensors")
            assert lib.call("save_weights", handle, from_mixerc.encode()) == 0, lib.error()
            lib.destroy(handle)
            fresh = timm_model(name, timm_name).eval()
            try:
                fresh.load_state_dict(safetensors.torch.load_file(from_mixerc), strict=True)
                back = fresh.state_dict()
                same = all(torch.equal(back[k], state[k]) for k in state)
                check(same, f"{name}: mixerc's save_weights loads into timm with strict=True, "
                      f"every tensor bit for bit")
            except RuntimeError as e:
                check(False, f"{name}: timm refuses mixerc's file: {e}")
    print(f"{len(failures)} failed" if failures else "all passed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
