"""mixerc convert --resize-from A --to B: weights for another image size.

MLP-Mixer: B's token-mixing MLPs are block diagonal, one copy of A's per strided part of B's
grid (the paper's appendix C; see compiler/driver/Resize.cpp). The effect the test pins: B on an
image whose patches are an A image's, each repeated KH x KW times, gives A's logits on the A
image (PyTorch reference networks of A and B, independent of mixerc's kernels, and mixerc's own
library of A), within 1e-5 relative; every other tensor is A's bit for bit and B's reference loads the file with
strict=True. ConvMixer: every tensor carries over bit for bit (the counters too, or their
absence). Refused with status 2, a message naming the key or tensor, and no output file: a grid
that is no integer multiple, a token_mlp that is not KH*KW times A's, any other changed key,
another family, a B-MLP, a missing or mis-shaped tensor. Optimizer state (a mixerc train
checkpoint) is left out of the output.
Usage: test_resize.py MIXERC MIXER_LIB MIXER_SPEC CONVMIXER_SPEC BMLP_SPEC"""
import os
import re
import subprocess
import sys
import tempfile

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(__file__))
from mixer_reference import (Library, build_model, load_spec, randomise, read_safetensors,  # noqa: E402
                             write_safetensors)


def respec(text, **keys):
    """The spec text with [model] keys replaced (values as TOML)."""
    for key, value in keys.items():
        text, n = re.subn(rf"(?m)^{key}\s*=.*$", f"{key} = {value}", text)
        assert n == 1, key
    return text


def main():
    mixerc, mixer_lib, mixer_spec, convmixer_spec, bmlp_spec = map(os.path.abspath, sys.argv[1:6])
    failures = []

    def check(ok, what):
        print(f"{'PASS' if ok else 'FAIL'}: {what}", flush=True)
        if not ok:
            failures.append(what)

    with tempfile.TemporaryDirectory() as tmp:
        def spec_file(name, text):
            path = os.path.join(tmp, name + ".toml")
            open(path, "w").write(text)
            return path

        def resize(src, spec_a, spec_b, out):
            return subprocess.run([mixerc, "convert", src, "-o", out, "--resize-from", spec_a,
                                   "--to", spec_b], capture_output=True, text=True)

        def state_of(spec_path, seed):
            model = build_model(load_spec(spec_path)).eval()
            randomise(model, seed)
            return model, {k: v.numpy() for k, v in model.state_dict().items()}

        # MLP-Mixer: odd_mixer's 42x56 image (6x8 grid of 7x7 patches, D_S 24) at 2x1 and 2x3.
        text = open(mixer_spec).read()
        model_a, state_a = state_of(mixer_spec, seed=11)
        weights_a = os.path.join(tmp, "a.safetensors")
        write_safetensors(weights_a, state_a)
        lib = Library(mixer_lib, load_spec(mixer_spec)["name"])
        images = torch.randn(2, 3, 42, 56, generator=torch.Generator().manual_seed(2))
        with torch.no_grad():
            want = model_a(images).numpy()
        handle = lib.create()
        assert lib.call("load_weights", handle, weights_a.encode()) == 0, lib.error()
        mixerc_a = lib.infer(handle, images.numpy(), 10)
        lib.destroy(handle)
        for kh, kw in ((2, 1), (2, 3)):
            spec_b = spec_file(f"mixer_{kh}x{kw}", respec(
                text, image_size=f"[{42 * kh}, {56 * kw}]", token_mlp=24 * kh * kw))
            out = os.path.join(tmp, f"b_{kh}x{kw}.safetensors")
            result = resize(weights_a, mixer_spec, spec_b, out)
            check(result.returncode == 0, f"{kh}x{kw}: resize{'' if result.returncode == 0 else ': ' + result.stderr}")
            if result.returncode:
                continue
            got = read_safetensors(out)
            model_b = build_model(load_spec(spec_b)).eval()
            try:
                model_b.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in got.items()},
                                        strict=True)
                check(True, f"{kh}x{kw}: B's reference loads the file with strict=True "
                            f"(token fc1 {list(got['blocks.0.mlp_tokens.fc1.weight'].shape)})")
            except RuntimeError as e:
                check(False, f"{kh}x{kw}: strict load: {e}")
                continue
            same = all(np.array_equal(got[k], state_a[k]) for k in state_a if ".mlp_tokens." not in k)
            check(same, f"{kh}x{kw}: every tensor outside the token-mixing MLPs is A's bit for bit")
            # Every 7x7 patch of the A image repeated as a kh x kw block of patches.
            n, c, p = images.shape[0], 3, 7
            grid = images.reshape(n, c, 6, p, 8, p)
            tiled = grid.repeat_interleave(kh, dim=2).repeat_interleave(kw, dim=4).reshape(
                n, c, 42 * kh, 56 * kw)
            with torch.no_grad():
                logits_b = model_b(tiled).numpy()
            scale = np.abs(want).max()
            error = float(np.abs(logits_b - want).max() / scale)
            check(error <= 1e-5, f"{kh}x{kw}: B on an image of A's patches each repeated {kh}x{kw} = A: "
                                 f"{error:.2e} (tolerance 1e-5)")
            error = float(np.abs(logits_b - mixerc_a).max() / scale)
            check(error <= 1e-5, f"{kh}x{kw}: ... and = mixerc's library of A: {error:.2e}")
            other = torch.randn(tiled.shape, generator=torch.Generator().manual_seed(4))
            with torch.no_grad():
                moved = float(np.abs(model_b(other).numpy() - want).max() / scale)
            check(moved > 1e-2, f"{kh}x{kw}: (not a vacuous check: another image moves B's "
                                f"logits by {moved:.2e})")

        identity = os.path.join(tmp, "same.safetensors")
        result = resize(weights_a, mixer_spec, mixer_spec, identity)
        got = read_safetensors(identity) if result.returncode == 0 else {}
        check(got.keys() == state_a.keys() and all(np.array_equal(got[k], state_a[k]) for k in got),
              "1x1: the same spec gives the same tensors bit for bit")
        half = os.path.join(tmp, "a_f16.safetensors")
        write_safetensors(half, state_a, float_dtype="F16")
        result = resize(half, mixer_spec, spec_file("mixer_2x1", respec(
            text, image_size="[84, 56]", token_mlp=48)), os.path.join(tmp, "f16.safetensors"))
        check(result.returncode == 0, "an F16 file of A resizes (widened to f32 exactly)")

        checkpoint = os.path.join(tmp, "checkpoint.safetensors")
        write_safetensors(checkpoint, {**state_a, "optimizer.step": np.array([7], np.int64),
                                       "optimizer.exp_avg.head.weight": state_a["head.weight"]})
        out = os.path.join(tmp, "from_checkpoint.safetensors")
        result = resize(checkpoint, mixer_spec, os.path.join(tmp, "mixer_2x1.toml"), out)
        got = read_safetensors(out) if result.returncode == 0 else {}
        check(result.returncode == 0 and not any(k.startswith("optimizer.") for k in got) and
              len(got) == len(state_a), "a training checkpoint's optimizer state is left out")

        # ConvMixer: the weights do not depend on the resolution.
        ctext = open(convmixer_spec).read()
        _, cstate = state_of(convmixer_spec, seed=5)
        cweights = os.path.join(tmp, "c.safetensors")
        write_safetensors(cweights, cstate)
        cspec_b = spec_file("convmixer_b", respec(ctext, image_size="[60, 33]"))
        out = os.path.join(tmp, "c_b.safetensors")
        result = resize(cweights, convmixer_spec, cspec_b, out)
        got = read_safetensors(out) if result.returncode == 0 else {}
        check(got.keys() == cstate.keys() and all(np.array_equal(got[k], cstate[k]) for k in got),
              f"ConvMixer: all {len(cstate)} tensors carry over bit for bit, counters included")
        no_counters = {k: v for k, v in cstate.items() if not k.endswith("num_batches_tracked")}
        write_safetensors(cweights, no_counters)
        result = resize(cweights, convmixer_spec, cspec_b, out)
        got = read_safetensors(out) if result.returncode == 0 else {}
        check(got.keys() == no_counters.keys(), "ConvMixer: a file without num_batches_tracked "
                                                "gives one without them")

        def refused(what, spec_b, message, src=weights_a, spec_a=mixer_spec):
            bad = os.path.join(tmp, "bad.safetensors")
            result = resize(src, spec_a, spec_b, bad)
            check(result.returncode == 2 and message in result.stderr and not os.path.exists(bad),
                  f"refused: {what}: {result.stderr.strip()}")

        refused("a grid that is no integer multiple",
                spec_file("r1", respec(text, image_size="[63, 56]", token_mlp=48)),
                "9x8 patch grid is no integer multiple of")
        refused("a token_mlp that does not grow with the grid",
                spec_file("r2", respec(text, image_size="[84, 56]")),
                "key 'model.token_mlp' is 24 but must be 48")
        refused("another depth", spec_file("r3", respec(text, depth=3)),
                "key 'model.depth' is 3 but 2")
        refused("another family", cspec_b, "is a conv_mixer model but")
        refused("a B-MLP", bmlp_spec, "do not carry over to another resolution", spec_a=bmlp_spec)
        missing = dict(state_a)
        del missing["blocks.1.mlp_tokens.fc2.bias"]
        write_safetensors(os.path.join(tmp, "missing.safetensors"), missing)
        refused("a missing tensor", spec_file("mixer_2x1", respec(text, image_size="[84, 56]", token_mlp=48)),
                "missing tensor 'blocks.1.mlp_tokens.fc2.bias'",
                src=os.path.join(tmp, "missing.safetensors"))
        wrong = dict(state_a)
        wrong["blocks.0.mlp_tokens.fc1.weight"] = wrong["blocks.0.mlp_tokens.fc1.weight"].T.copy()
        write_safetensors(os.path.join(tmp, "wrong.safetensors"), wrong)
        refused("a mis-shaped tensor", os.path.join(tmp, "mixer_2x1.toml"),
                "tensor 'blocks.0.mlp_tokens.fc1.weight' has shape [48, 24]",
                src=os.path.join(tmp, "wrong.safetensors"))
    print(f"{len(failures)} failed" if failures else "all passed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
