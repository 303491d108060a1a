"""Training parity of a mixerc-generated library (spec with training = true) against PyTorch.

Checks, on random weights and a random batch of 7 images:
1. gradients: one SGD step with learning rate 1024, no momentum, no weight decay turns the update
   into the gradient (w0 - w1) / 1024 (exact division by a power of two); every parameter's
   gradient and the loss (label smoothing 0.1) must match torch.autograd to a relative tolerance
   (max |diff| / max |reference| per tensor) of 1e-4. A tensor whose exact gradient is zero (a
   token-mixing fc2 bias: the next LayerNorm removes any per-token shift) has only f32 rounding
   noise on both sides; it must stay below 1e-6 of the model's largest gradient instead;
2. finite differences: for every parameter tensor, the library's own loss along a direction
   u = g/|g| + a random unit vector, central differences of step h, must match g . u to 2e-2;
3. AdamW: three steps (lr 1e-3, wd 0.05, smoothing 0.1) and SGD with momentum 0.9, wd 1e-4: the
   updated weights must match torch.optim's to 1e-4 relative to the largest change (less two f32
   ulps of each weight, the precision a small change can be stored with). AdamW runs
   with eps 1e-3 here: its first steps are lr * g / (|g| + eps), nearly sign(g), which turns an f32
   gradient difference e into an update difference of up to lr * e / (4 eps); with eps 1e-3 the
   update is smooth in g and the comparison checks the formula (moments, bias corrections,
   decoupled decay) rather than rounding. Tensors with a zero exact gradient are left out;
4. exact resume: 4 AdamW steps straight equal 2 steps, save, load into a fresh model, 2 steps,
   bit for bit (weights and optimizer state).
ConvMixer's tolerances are wider, for two stated reasons: BatchNorm's backward subtracts per-channel
means of the gradient (cancellation in f32, while PyTorch accumulates its statistics in double),
which puts its gradients at ~1e-4 of PyTorch's; and ReLU's kinks make finite differences and
multi-step trajectories jump where a unit changes sign, so the optimizer check takes one step, at
1e-3 (AdamW's g / (sqrt(v) + eps) passes those gradient differences on, larger for small g).
Usage: test_train_parity.py LIB SPEC"""
import argparse
import os
import sys
import tempfile

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(__file__))
from mixer_reference import (Library, TrainOptions, build_model, load_spec, randomise,  # noqa: E402
                             read_safetensors, write_safetensors)

BATCH = 7
LR_PROBE = 1024.0
# family: (gradient, finite differences, optimizer steps, optimizer tolerance)
TOLERANCES = {"mlp_mixer": (1e-4, 2e-2, 3, 1e-4), "bmlp": (1e-4, 2e-2, 3, 1e-4),
              "conv_mixer": (5e-4, 5e-2, 1, 1e-3)}


def relative(got, want):
    scale = max(float(np.abs(want).max()), 1e-30)
    return float(np.abs(got - want).max()) / scale


def change_error(got, want, start):
    """How far updated weights are from the reference's, relative to the reference's largest
    change, less two f32 ulps of the weights themselves: a change far below a weight's magnitude
    (lr 1e-2 times a small gradient on a weight near 1) cannot be stored more exactly than that."""
    slack = 2 * np.spacing(np.abs(want).astype(np.float32)).astype(np.float64)
    excess = np.maximum(np.abs(got.astype(np.float64) - want) - slack, 0.0)
    scale = max(float(np.abs(want.astype(np.float64) - start).max()), 1e-30)
    return float(excess.max()) / scale


class Checker:
    def __init__(self, name):
        self.name, self.failures, self.passes = name, 0, 0

    def check(self, ok, what):
        print(f"{'PASS' if ok else 'FAIL'}: {self.name} {what}")
        self.failures += not ok
        self.passes += bool(ok)


def torch_step(model, images, labels, optimizer, smoothing, steps=1):
    for _ in range(steps):
        optimizer.zero_grad()
        loss = F.cross_entropy(model(images), labels, label_smoothing=smoothing)
        loss.backward()
        optimizer.step()
    return {k: v.detach().numpy().copy() for k, v in model.state_dict().items()}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("library")
    parser.add_argument("spec")
    args = parser.parse_args()
    torch.set_num_threads(2)
    spec = load_spec(args.spec)
    classes = spec["model"]["classes"]
    lib = Library(args.library, spec["name"])
    out = Checker(spec["name"])
    grad_tol, fd_tol, opt_steps, opt_tol = TOLERANCES[spec["family"]]

    def fresh_reference():
        model = build_model(spec).train()
        randomise(model, seed=0)
        return model

    reference = fresh_reference()
    g = torch.Generator().manual_seed(7)
    images = torch.randn(BATCH, *reference.image_shape, generator=g)
    labels = torch.randint(0, classes, (BATCH,), generator=g)

    with tempfile.TemporaryDirectory() as tmp:
        start = os.path.join(tmp, "start.safetensors")
        write_safetensors(start, {k: v.detach().numpy() for k, v in reference.state_dict().items()})
        w0 = read_safetensors(start)

        def loaded():
            handle = lib.create()
            assert lib.call("load_weights", handle, start.encode()) == 0, lib.error()
            return handle

        # 1. Gradients and loss against autograd.
        loss = F.cross_entropy(reference(images), labels, label_smoothing=0.1)
        loss.backward()
        want = {k: p.grad.numpy() for k, p in reference.named_parameters()}
        handle = loaded()
        probe = TrainOptions(TrainOptions.SGD, lr=LR_PROBE, weight_decay=0.0, momentum=0.0,
                             label_smoothing=0.1)
        got_loss = lib.train_step(handle, images.numpy(), labels.numpy(), probe)
        w1 = lib.weights(handle, os.path.join(tmp, "w1.safetensors"))
        lib.destroy(handle)
        err = abs(got_loss - loss.item()) / abs(loss.item())
        out.check(err <= 1e-5, f"loss {got_loss:.7f} vs {loss.item():.7f} (relative {err:.1e}, "
                  "tolerance 1e-5)")
        grads = {k: (w0[k].astype(np.float64) - w1[k]) / LR_PROBE for k in want}
        largest = max(float(np.abs(v).max()) for v in want.values())
        null = {k for k, v in want.items() if float(np.abs(v).max()) < 1e-6 * largest}
        live = [k for k in want if k not in null]
        worst = max(live, key=lambda k: relative(grads[k], want[k]))
        err = relative(grads[worst], want[worst])
        out.check(err <= grad_tol, f"gradients of {len(live)} parameters: worst {worst} "
                  f"relative {err:.1e} (tolerance {grad_tol:.0e})")
        if null:
            noise = max(float(np.abs(grads[k]).max()) for k in null) / largest
            out.check(noise <= 1e-6, f"{len(null)} parameters with a zero exact gradient: "
                      f"largest {noise:.1e} of the largest gradient (tolerance 1e-6)")

        # 2. Finite differences of the library's own loss (SGD with lr 0 leaves weights as they are).
        rng = np.random.default_rng(3)
        zero = TrainOptions(TrainOptions.SGD, lr=0.0, weight_decay=0.0, momentum=0.0,
                            label_smoothing=0.1)
        handle = lib.create()
        probe_file = os.path.join(tmp, "probe.safetensors")
        worst_fd, worst_name = 0.0, ""
        for name in live:
            grad = grads[name]
            r = rng.standard_normal(grad.shape)
            u = grad / max(np.linalg.norm(grad), 1e-30) + r / np.linalg.norm(r)
            h = 1e-2 / np.linalg.norm(u)
            losses = []
            for sign in (1.0, -1.0):
                tensors = dict(w0)
                tensors[name] = (w0[name] + sign * h * u).astype(np.float32)
                write_safetensors(probe_file, tensors)
                assert lib.call("load_weights", handle, probe_file.encode()) == 0, lib.error()
                losses.append(lib.train_step(handle, images.numpy(), labels.numpy(), zero))
            numeric = (losses[0] - losses[1]) / (2 * h)
            analytic = float((grad * u).sum())
            err = abs(numeric - analytic) / max(abs(analytic), 1e-3)
            if err > worst_fd:
                worst_fd, worst_name = err, name
        lib.destroy(handle)
        out.check(worst_fd <= fd_tol, f"finite differences of {len(live)} parameters: worst "
                  f"{worst_name} relative {worst_fd:.1e} (tolerance {fd_tol:.0e})")

        # 3. Optimizer steps against torch.optim.
        for label, options, make, steps in [
            (f"AdamW x{opt_steps}", TrainOptions(TrainOptions.ADAMW, lr=1e-3, weight_decay=0.05, eps=1e-3,
                                      label_smoothing=0.1),
             lambda p: torch.optim.AdamW(p, lr=1e-3, weight_decay=0.05, eps=1e-3), opt_steps),
            (f"SGD momentum x{opt_steps}", TrainOptions(TrainOptions.SGD, lr=1e-2, weight_decay=1e-4,
                                             momentum=0.9, label_smoothing=0.1),
             lambda p: torch.optim.SGD(p, lr=1e-2, momentum=0.9, weight_decay=1e-4), opt_steps)]:
            model = fresh_reference()
            want = torch_step(model, images, labels, make(model.parameters()), 0.1, steps)
            handle = loaded()
            for _ in range(steps):
                lib.train_step(handle, images.numpy(), labels.numpy(), options)
            got = lib.weights(handle, os.path.join(tmp, "opt.safetensors"))
            lib.destroy(handle)
            worst = max(live, key=lambda k: change_error(got[k], want[k], w0[k]))
            err = change_error(got[worst], want[worst], w0[worst])
            out.check(err <= opt_tol, f"{label}: updated weights, worst {worst} relative change "
                      f"error {err:.1e} (tolerance {opt_tol:.0e})")
            # BatchNorm's running statistics and counters (training updates them in place).
            buffers = [k for k in want if k not in live and k not in null]
            if buffers:
                worst = max(buffers, key=lambda k: change_error(got[k], want[k], w0[k]))
                err = change_error(got[worst], want[worst], w0[worst])
                out.check(err <= 1e-4, f"{label}: {len(buffers)} running statistics and counters, "
                          f"worst {worst} relative change error {err:.1e} (tolerance 1e-4)")

        # 4. Exact resume: 4 steps straight == 2 steps, save, load, 2 steps.
        adamw = TrainOptions(TrainOptions.ADAMW, lr=1e-3, weight_decay=0.05, label_smoothing=0.1)
        straight = loaded()
        for _ in range(4):
            lib.train_step(straight, images.numpy(), labels.numpy(), adamw)
        a = lib.weights(straight, os.path.join(tmp, "straight.safetensors"))
        first = loaded()
        for _ in range(2):
            lib.train_step(first, images.numpy(), labels.numpy(), adamw)
        middle = os.path.join(tmp, "middle.safetensors")
        assert lib.call("save_weights", first, middle.encode()) == 0, lib.error()
        second = lib.create()
        assert lib.call("load_weights", second, middle.encode()) == 0, lib.error()
        for _ in range(2):
            lib.train_step(second, images.numpy(), labels.numpy(), adamw)
        b = lib.weights(second, os.path.join(tmp, "resumed.safetensors"))
        same = a.keys() == b.keys() and all(a[k].tobytes() == b[k].tobytes() for k in a)
        out.check(same and "optimizer.step" in a and int(a["optimizer.step"]) == 4,
                  f"4 steps straight == 2 + save/load + 2, bit for bit ({len(a)} tensors incl. "
                  "optimizer state)")
        for h in (straight, first, second):
            lib.destroy(h)
    print(f"{out.passes} passed, {out.failures} failed")
    return 1 if out.failures else 0


if __name__ == "__main__":
    sys.exit(main())
