"""Numerical parity of a mixerc-generated library against an independent PyTorch model.

Random weights (nothing zero) go to PyTorch and, through a safetensors file, to the library; the
logits for random images must agree to a relative tolerance (max |diff| / max |reference|) of
1e-4 in f32, for every batch size given. Then save -> load through the library must round-trip the
weights bit for bit; F16, BF16 and F64 files load converted to exactly the f32 they hold, and a
file without BatchNorm's num_batches_tracked loads keeping the model's counts. Usage: test_parity.py LIB SPEC [--batches 1 7] [--tolerance 1e-4]"""
import argparse
import os
import sys
import tempfile

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(__file__))
from mixer_reference import (Library, build_model, load_spec, randomise, read_safetensors,  # noqa: E402
                              widened, write_safetensors)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("library")
    parser.add_argument("spec")
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 7])
    parser.add_argument("--tolerance", type=float, default=1e-4)
    parser.add_argument("--repeat", type=int, default=0,
                        help="also infer the first batch this many times: all bit-identical")
    args = parser.parse_args()

    torch.set_num_threads(2)
    spec = load_spec(args.spec)
    model = build_model(spec).eval()
    randomise(model, seed=0)
    lib = Library(args.library, spec["name"])
    classes = spec["model"]["classes"]
    failures, checks = 0, 0
    with tempfile.TemporaryDirectory() as tmp:
        weights = os.path.join(tmp, "weights.safetensors")
        write_safetensors(weights, {k: v.numpy() for k, v in model.state_dict().items()})
        handle = lib.create()
        assert lib.call("load_weights", handle, weights.encode()) == 0, lib.error()
        for batch in args.batches:
            images = torch.randn(batch, *model.image_shape,
                                 generator=torch.Generator().manual_seed(100 + batch))
            with torch.no_grad():
                reference = model(images).numpy()
            got = lib.infer(handle, images.numpy(), classes)
            diff = np.abs(got - reference)
            relative = diff.max() / np.abs(reference).max()
            worst = np.unravel_index(diff.argmax(), diff.shape)
            ok = relative <= args.tolerance
            failures += not ok
            print(f"{'PASS' if ok else 'FAIL'}: {spec['name']} batch {batch}: max relative error "
                  f"{relative:.2e} (tolerance {args.tolerance:.0e}); worst at {worst}: "
                  f"{got[worst]:.6f} vs {reference[worst]:.6f}")

        if args.repeat:  # run-to-run determinism with all threads (a race shows as a variation)
            batch = args.batches[0]
            images = np.random.default_rng(batch).standard_normal(
                (batch, *model.image_shape)).astype(np.float32)
            first = lib.infer(handle, images, classes)
            varied = sum(not np.array_equal(lib.infer(handle, images, classes), first)
                         for _ in range(args.repeat - 1))
            failures += varied != 0
            checks += 1
            print(f"{'PASS' if not varied else 'FAIL'}: {spec['name']} batch {batch}: "
                  f"{args.repeat} calls on one input, {varied} differing from the first")

        saved = os.path.join(tmp, "saved.safetensors")
        assert lib.call("save_weights", handle, saved.encode()) == 0, lib.error()
        mine, theirs = read_safetensors(saved), read_safetensors(weights)
        same = mine.keys() == theirs.keys() and all(
            mine[k].dtype == theirs[k].dtype and mine[k].tobytes() == theirs[k].tobytes()
            for k in mine)
        failures += not same
        print(f"{'PASS' if same else 'FAIL'}: {spec['name']} save -> load round trip is bit-exact")
        checks = 1

        # Weights of other float dtypes load converted: F16 and BF16 exactly, F64 rounded (exact
        # here, where the values came from f32); what is saved back is the converted f32.
        for dtype in ("F16", "BF16", "F64"):
            path = os.path.join(tmp, f"{dtype}.safetensors")
            write_safetensors(path, theirs, float_dtype=dtype)
            status = lib.call("load_weights", handle, path.encode())
            ok = status == 0
            if ok:
                assert lib.call("save_weights", handle, saved.encode()) == 0, lib.error()
                back = read_safetensors(saved)
                ok = all(np.array_equal(back[k], theirs[k] if theirs[k].dtype == np.int64
                                        else widened(theirs[k], dtype)) for k in theirs)
            failures += not ok
            checks += 1
            print(f"{'PASS' if ok else 'FAIL'}: {spec['name']} loads {dtype} weights, converted "
                  f"exactly{'' if status == 0 else ': ' + lib.error()}")
        assert lib.call("load_weights", handle, weights.encode()) == 0, lib.error()

        counters = [k for k, v in theirs.items() if v.dtype == np.int64]
        if counters:  # PyTorch's load_state_dict accepts files without num_batches_tracked
            kept = {k: v for k, v in theirs.items() if k not in counters}
            path = os.path.join(tmp, "uncounted.safetensors")
            write_safetensors(path, kept)
            status = lib.call("load_weights", handle, path.encode())
            ok = status == 0
            if ok:
                assert lib.call("save_weights", handle, saved.encode()) == 0, lib.error()
                back = read_safetensors(saved)
                ok = all(np.array_equal(back[k], theirs[k]) for k in theirs)  # counts kept
            failures += not ok
            checks += 1
            print(f"{'PASS' if ok else 'FAIL'}: {spec['name']} loads a file without "
                  f"num_batches_tracked, keeping its counts{'' if ok else ': ' + lib.error()}")
        if counters:  # BatchNorm's num_batches_tracked must stay i64; f32 is refused by name
            wrong = dict(theirs)
            wrong[counters[0]] = theirs[counters[0]].astype(np.float32)
            write_safetensors(os.path.join(tmp, "wrong.safetensors"), wrong)
            status = lib.call("load_weights", handle, os.path.join(tmp, "wrong.safetensors").encode())
            refused = status != 0 and f"tensor '{counters[0]}' has dtype F32, expected I64" in lib.error()
            failures += not refused
            checks += 1
            print(f"{'PASS' if refused else 'FAIL'}: {spec['name']} refuses an f32 "
                  f"{counters[0]}: {lib.error() if status else 'loaded'}")
        lib.destroy(handle)
        # NAME_info counts what model.parameters() does: BatchNorm's running statistics and
        # counter are buffers.
        expected = sum(p.numel() for p in model.parameters())
        counted = lib.info().num_parameters
        failures += counted != expected
        checks += 1
        print(f"{'PASS' if counted == expected else 'FAIL'}: {spec['name']} info num_parameters "
              f"{counted} (PyTorch's model.parameters(): {expected})")
    print(f"{len(args.batches) + checks - failures} passed, {failures} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
