"""mixerc convert: Google's Flax MLP-Mixer checkpoints (.npz, google-research/vision_transformer's
names and layouts) to timm's safetensors.

The test writes the checkpoint itself: an independent PyTorch MLP-Mixer (mixer_reference, timm's
names) with random weights, its tensors moved to Flax's names and layouts (kernels [in][out],
the stem's kernel HWIO, LayerNorm scale) by numpy, saved both with np.savez (stored) and
np.savez_compressed (deflate), in float32 and float64. Checks: every converted tensor equals the
original bit for bit; the library loads the file and its logits match the PyTorch model to 1e-5
relative; a missing array, a mis-shaped one, an extra one, a file that is no zip and a spec that
is no MLP-Mixer are refused with status 2 and a message naming the array or file.
Usage: test_convert.py MIXERC LIB SPEC CONVMIXER_SPEC"""
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(__file__))
from mixer_reference import Library, build_model, load_spec, randomise, read_safetensors  # noqa: E402


def to_flax(state):
    """timm-named tensors -> the Flax checkpoint's arrays."""
    flax = {}
    for name, value in state.items():
        v = value.numpy()
        parts = name.split(".")
        if name.startswith("stem.proj."):
            flax["stem/" + ("kernel" if parts[-1] == "weight" else "bias")] = (
                v.transpose(2, 3, 1, 0) if parts[-1] == "weight" else v)
            continue
        if parts[0] == "blocks":
            block, module = f"MixerBlock_{parts[1]}", parts[2]
            if module in ("norm1", "norm2"):
                key = f"{block}/LayerNorm_{0 if module == 'norm1' else 1}/"
                flax[key + ("scale" if parts[3] == "weight" else "bias")] = v
            else:
                mixing = "token_mixing" if module == "mlp_tokens" else "channel_mixing"
                key = f"{block}/{mixing}/Dense_{0 if parts[3] == 'fc1' else 1}/"
                flax[key + ("kernel" if parts[4] == "weight" else "bias")] = (
                    v.T if parts[4] == "weight" else v)
            continue
        if parts[0] == "norm":
            flax["pre_head_layer_norm/" + ("scale" if parts[1] == "weight" else "bias")] = v
            continue
        flax["head/" + ("kernel" if parts[1] == "weight" else "bias")] = v.T if parts[1] == "weight" else v
    return {k: np.ascontiguousarray(a) for k, a in flax.items()}


def main():
    mixerc, library, spec_path, convmixer_spec = map(os.path.abspath, sys.argv[1:5])
    failures = []

    def check(ok, what):
        print(f"{'PASS' if ok else 'FAIL'}: {what}", flush=True)
        if not ok:
            failures.append(what)

    spec = load_spec(spec_path)
    model = build_model(spec).eval()
    randomise(model, seed=3)
    state = model.state_dict()
    flax = to_flax(state)
    lib = Library(library, spec["name"])
    info = lib.info()
    images = torch.randn(3, info.channels, info.height, info.width,
                         generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        want = model(images).numpy()

    def convert(npz, out, spec=spec_path):
        return subprocess.run([mixerc, "convert", npz, "-o", out, "--spec", spec],
                              capture_output=True, text=True)

    with tempfile.TemporaryDirectory() as tmp:
        for label, save, dtype in (("np.savez float32", np.savez, np.float32),
                                   ("np.savez_compressed float64", np.savez_compressed,
                                    np.float64)):
            npz = os.path.join(tmp, "flax.npz")
            save(npz, **{k: v.astype(dtype) for k, v in flax.items()})
            out = os.path.join(tmp, "converted.safetensors")
            result = convert(npz, out)
            check(result.returncode == 0, f"{label}: mixerc convert{'' if result.returncode == 0 else ': ' + result.stderr}")
            if result.returncode != 0:
                continue
            got = read_safetensors(out)
            same = got.keys() == {k for k, v in state.items()} and all(
                np.array_equal(got[k], state[k].numpy()) for k in got)
            check(same, f"{label}: {len(got)} tensors equal the original timm-named ones bit for bit")
            handle = lib.create()
            assert lib.call("load_weights", handle, out.encode()) == 0, lib.error()
            logits = lib.infer(handle, images.numpy(), info.classes)
            lib.destroy(handle)
            error = float(np.abs(logits - want).max() / np.abs(want).max())
            check(error <= 1e-5, f"{label}: logits within {error:.2e} of PyTorch (tolerance 1e-5)")

        def refused(what, arrays, message, spec=spec_path, raw=None):
            npz = os.path.join(tmp, "bad.npz")
            if raw is not None:
                open(npz, "wb").write(raw)
            else:
                np.savez(npz, **arrays)
            result = convert(npz, os.path.join(tmp, "bad.safetensors"), spec)
            check(result.returncode == 2 and message in result.stderr and
                  not os.path.exists(os.path.join(tmp, "bad.safetensors")),
                  f"refused: {what}: {result.stderr.strip()}")

        missing = dict(flax)
        del missing["MixerBlock_1/channel_mixing/Dense_0/bias"]
        refused("a missing array", missing, "missing array 'MixerBlock_1/channel_mixing/Dense_0/bias'")
        misshaped = dict(flax)
        misshaped["head/kernel"] = misshaped["head/kernel"].T.copy()
        refused("a mis-shaped array", misshaped, "array 'head/kernel' has shape")
        extra = dict(flax)
        extra["MixerBlock_9/LayerNorm_0/scale"] = flax["pre_head_layer_norm/scale"]
        refused("an extra array", extra, "unexpected array 'MixerBlock_9/LayerNorm_0/scale'")
        refused("a file that is no zip", None, "not a valid .npz file", raw=b"not a zip file " * 4)
        refused("a ConvMixer spec", flax, "is not an mlp_mixer spec", spec=convmixer_spec)
    print(f"{len(failures)} failed" if failures else "all passed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
