"""The mixerc Python package (python/): pip-installed into a fresh virtual environment (offline,
--no-build-isolation), then used from there on generated libraries.

Checks: logits of odd_mixer through Model.infer match an independent PyTorch model to 1e-4
relative (the parity tests' tolerance); infer writes into a given `out` array and images are
passed by pointer, so arrays of another dtype or layout raise TypeError instead of being copied;
C API failures raise MixerError with the status and the library's message (a missing weight file:
I/O naming the path; apply without gradients: invalid argument); a training step lowers the loss
on a fixed batch; gradients() is a view of the model's own gradient arena (zeroing it makes an
SGD update without weight decay a no-op); an inference-only library reports training False and
refuses train_step; a closed model refuses calls.
Usage: test_package.py PYTHON_PACKAGE_DIR TRAINING_LIB TRAINING_SPEC INFERENCE_LIB"""
import os
import shutil
import subprocess
import sys
import tempfile

CHECKS = r'''
import os, sys, tempfile
import numpy as np, torch
sys.path.insert(0, sys.argv[4])
from mixer_reference import build_model, load_spec, randomise, read_safetensors, write_safetensors
import mixerc
assert os.path.dirname(mixerc.__file__).startswith(sys.prefix), mixerc.__file__  # the installed copy
failures = []
def check(ok, what):
    print(("PASS: " if ok else "FAIL: ") + what, flush=True)
    if not ok:
        failures.append(what)

library, spec_path, inference_library = sys.argv[1:4]
spec = load_spec(spec_path)
reference = build_model(spec).eval()
randomise(reference, seed=0)
with tempfile.TemporaryDirectory() as tmp:
    weights = os.path.join(tmp, "w.safetensors")
    write_safetensors(weights, {k: v.numpy() for k, v in reference.state_dict().items()})
    model = mixerc.Model(library, threads=2)
    model.load_weights(weights)
    images = np.random.default_rng(0).standard_normal((7, *model.image_shape)).astype(np.float32)
    out = np.empty((7, model.classes), np.float32)
    got = model.infer(images, out=out)
    with torch.no_grad():
        want = reference(torch.from_numpy(images)).numpy()
    error = float(np.abs(got - want).max() / np.abs(want).max())
    check(got is out and error <= 1e-4,
          f"infer writes into out; logits within {error:.2e} of PyTorch (tolerance 1e-4)")
    for bad, what in ((images.astype(np.float64), "float64 images"),
                      (np.asfortranarray(images), "non-contiguous images")):
        try:
            model.infer(bad)
            check(False, f"{what} raise TypeError")
        except TypeError as e:
            check("C-contiguous" in str(e), f"{what} raise TypeError: {e}")
    try:
        model.infer(images[:, :, 1:, :].copy())
        check(False, "a wrong image shape raises ValueError")
    except ValueError as e:
        check(True, f"a wrong image shape raises ValueError: {e}")
    try:
        model.load_weights(os.path.join(tmp, "missing.safetensors"))
        check(False, "a missing weight file raises MixerError")
    except mixerc.MixerError as e:
        check(e.status == 2 and "missing.safetensors" in str(e),
              f"a missing weight file raises MixerError (status {e.status}, {e.kind}): {e}")
    try:
        model.apply_gradients()
        check(False, "apply without gradients raises MixerError")
    except mixerc.MixerError as e:
        check(e.status == 1 and "no gradients to apply" in str(e),
              f"apply without gradients raises MixerError: {e}")

    labels = np.arange(7, dtype=np.int32) % model.classes
    losses = [model.train_step(images, labels, learning_rate=1e-3) for _ in range(5)]
    check(losses[-1] < losses[0], f"five train steps lower the loss: {losses[0]:.4f} -> "
          f"{losses[-1]:.4f}")
    model.load_weights(weights)  # without optimizer state, so that SGD may start
    before = os.path.join(tmp, "before.safetensors")
    after = os.path.join(tmp, "after.safetensors")
    model.save_weights(before)
    model.compute_gradients(images, labels)
    grads = model.gradients()
    nonzero = bool(np.any(grads != 0))
    grads[:] = 0  # in place, into the model's own arena
    model.apply_gradients(learning_rate=0.1, optimizer="sgd", weight_decay=0.0, momentum=0.0)
    model.save_weights(after)
    old, new = read_safetensors(before), read_safetensors(after)
    same = all(np.array_equal(old[k], new[k]) for k in old)  # after also holds SGD's state
    check(nonzero and same and grads.dtype == np.float32,
          f"gradients() is the model's arena ({grads.size} floats): zeroed, an SGD step "
          f"changes nothing")
    check(model.running_stats().size == 0, "an MLP-Mixer has no running statistics")
    model.close()
    try:
        model.infer(images)
        check(False, "a closed model raises")
    except mixerc.MixerError as e:
        check(True, f"a closed model raises MixerError: {e}")

    plain = mixerc.Model(inference_library)
    try:
        plain.train_step(np.zeros((1, *plain.image_shape), np.float32), np.zeros(1, np.int32))
        check(False, "an inference-only library refuses train_step")
    except mixerc.MixerError as e:
        check(not plain.training and e.status == 7,
              f"an inference-only library refuses train_step: {e}")
print(f"{len(failures)} failed" if failures else "all passed")
sys.exit(1 if failures else 0)
'''


def main():
    package, library, spec, inference_library = map(os.path.abspath, sys.argv[1:5])
    with tempfile.TemporaryDirectory() as venv:
        subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", venv],
                       check=True)
        # A copy, so that the build leaves nothing in the source tree.
        package = shutil.copytree(package, os.path.join(venv, "source"))
        python = os.path.join(venv, "bin", "python")
        install = subprocess.run([python, "-m", "pip", "install", "--quiet", "--no-deps",
                                  "--no-index", "--no-build-isolation", package],
                                 capture_output=True, text=True)
        print(f"{'PASS' if install.returncode == 0 else 'FAIL'}: pip install {package}"
              f"{'' if install.returncode == 0 else ': ' + install.stderr[-2000:]}", flush=True)
        if install.returncode != 0:
            return 1
        references = os.path.join(os.path.dirname(__file__), "..", "numerics")
        return subprocess.run([python, "-c", CHECKS, library, spec, inference_library,
                               os.path.abspath(references)], cwd=venv).returncode


if __name__ == "__main__":
    sys.exit(main())
