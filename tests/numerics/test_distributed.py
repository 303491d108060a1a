"""Data-parallel mixerc train over Open MPI: two ranks (mpirun --oversubscribe -np 2, one thread
each) against one process (two threads) on synthetic IDX data, 20 steps of a global batch of 32.

Checks, with the tolerances stated where they are asserted:
- MLP-Mixer (tanh_mixer) and B-MLP (bmlp_small): the 2-rank run reproduces the 1-process run:
  every step's loss within 1e-5 relative, every final tensor (weights and AdamW moments) within
  1e-4 of its largest |value| (sums over 16 + 16 images round differently from sums over 32),
  except the tensors whose gradient is rounding noise alone (NOISE_ONLY below), which are
  compared with the learning rates' sum.
- ConvMixer (mnist_convmixer): BatchNorm normalises each rank's 16 images, and the running
  statistics are averaged across ranks after every step. The 2-rank run is compared with an
  independent emulation of those semantics in this process: two models of the same seed, each
  computing gradients on its half of every batch (NAME_compute_gradients), gradients and running
  statistics averaged here in NumPy, the same update applied to both (NAME_apply_gradients); the
  same 1e-5 / 1e-4 tolerances. The 1-process run (BatchNorm over all 32 images) must differ from
  it, so the comparison can tell the two semantics apart.
- --resume under MPI: 1 epoch, stop, resume for the second gives the uninterrupted 2-rank run's
  checkpoint bit for bit.
- Faults: a rank killed with SIGKILL ends the job within 10 s with a non-zero status naming the
  rank, and the last checkpoint on disk still loads; a bad --data path on one rank, another
  build of the library on one rank (the AVX2 build: its plan hash differs) and other options on
  one rank each end the job before training, naming the rank.
Usage: test_distributed.py MIXERC MIXER_LIB BMLP_LIB CONVMIXER_LIB LIB LIB_OTHER_BUILD"""
import os
import signal
import subprocess
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from mixer_reference import Library, TrainOptions, read_safetensors  # noqa: E402
from test_train_cli import write_idx  # noqa: E402

ENV = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
MPIRUN = ["mpirun", "--oversubscribe", "-np", "2"]
BATCH, TRAIN_IMAGES = 32, 640  # 20 steps per epoch
RECIPE = ["--batch", str(BATCH), "--warmup", "5", "--no-flip"]


def write_data(directory, rng, height, width, classes):
    """IDX files: class k is a bright block at one of `classes` positions, plus noise."""
    os.makedirs(directory, exist_ok=True)
    for prefix, count in (("train", TRAIN_IMAGES), ("t10k", 64)):
        labels = rng.integers(0, classes, count)
        images = rng.integers(0, 60, (count, height, width))
        for i, k in enumerate(labels):
            y, x = (k * 5) % (height - 6), (k * 7) % (width - 6)
            images[i, y:y + 6, x:x + 6] = 220
        write_idx(os.path.join(directory, f"{prefix}-images-idx3-ubyte"), images)
        write_idx(os.path.join(directory, f"{prefix}-labels-idx1-ubyte"), labels)


def read_steps(path):
    rows = [line.split(",") for line in open(path).read().split()[1:]]
    return np.array([float(r[1]) for r in rows]), np.array([np.float32(r[2]) for r in rows])


# The token-mixing MLP's output bias shifts each token by one constant across channels, which
# the LayerNorm after the residual removes: its gradient is zero in exact arithmetic, and AdamW
# turns the rounding noise left in it into lr-sized steps of random sign, so summing the batch
# in another order (16 + 16 images instead of 32) moves it by as much (measured: 1.9e-4 after 20
# steps, its values 1.1e-4, while every other tensor, weights and moments, agrees to 1.3e-5 of
# its scale). Such tensors are compared against the most AdamW can move them (the sum of the
# learning rates) instead.
NOISE_ONLY = ("mlp_tokens.fc2.bias",)


def tensor_error(a, b, noise_only=False):
    """The worst tensor difference relative to that tensor's largest |value|, and its name:
    over the NOISE_ONLY tensors (and their optimizer state) alone, or over all others."""
    worst, where = 0.0, ""
    for name in a:
        if name.endswith(NOISE_ONLY) != noise_only:
            continue
        x, y = a[name].astype(np.float64), b[name].astype(np.float64)
        e = float(np.max(np.abs(x - y)) / max(np.max(np.abs(x)), 1e-30)) if x.size else 0.0
        if e > worst:
            worst, where = e, name
    return worst, where


def noise_error(a, b, rates):
    """The NOISE_ONLY weights' worst difference relative to the learning rates' sum."""
    diffs = [np.max(np.abs(a[n].astype(np.float64) - b[n])) for n in a
             if n.endswith(NOISE_ONLY) and not n.startswith("optimizer.")]
    return float(max(diffs) / np.sum(rates.astype(np.float64))) if diffs else None


def standardised(directory):
    """The training split as mixerc train standardises it (Dataset.cpp): f32 arithmetic on the
    per-channel mean and std of the [0, 1] pixels, which are computed in double."""
    def idx(name):
        blob = open(os.path.join(directory, name), "rb").read()
        dims = [int.from_bytes(blob[4 + 4 * d:8 + 4 * d], "big") for d in range(blob[3])]
        return np.frombuffer(blob[4 + 4 * len(dims):], dtype=np.uint8).reshape(dims)
    pixels, labels = idx("train-images-idx3-ubyte"), idx("train-labels-idx1-ubyte")
    v = pixels.astype(np.float64) / 255.0
    mean = v.mean()
    std = np.sqrt(max((v * v).mean() - mean * mean, 1e-12))
    x = (pixels.astype(np.float32) / np.float32(255.0) - np.float32(mean)) / np.float32(std)
    return x[:, None, :, :].astype(np.float32), labels.astype(np.int32)


def epoch_order(count, seed, epoch):
    """mixerc train's shuffle: Fisher-Yates driven by SplitMix64 on stream 2 x epoch."""
    mask = (1 << 64) - 1
    state = [(seed * 0x9E3779B97F4A7C15 ^ (2 * epoch + 1)) & mask]

    def below(n):
        state[0] = (state[0] + 0x9E3779B97F4A7C15) & mask
        z = state[0]
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & mask
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & mask
        return (z ^ (z >> 31)) % n
    order = list(range(count))
    for i in range(count - 1, 0, -1):
        j = below(i + 1)
        order[i], order[j] = order[j], order[i]
    return order


def emulate_two_ranks(library, name, directory, rates, checkpoint):
    """The stated ConvMixer semantics without MPI: two models, one per half of every batch."""
    lib = Library(library, name)
    models = [lib.create(), lib.create()]
    x, y = standardised(directory)
    order = epoch_order(len(y), 0, 1)
    losses = []
    half = np.float32(0.5)
    for step, rate in enumerate(rates):
        batch = order[step * BATCH:(step + 1) * BATCH]
        options = TrainOptions(lr=float(rate), weight_decay=0.05, label_smoothing=0.1)
        shares = [batch[:BATCH // 2], batch[BATCH // 2:]]
        loss = [lib.compute_gradients(m, x[s], y[s], options) for m, s in zip(models, shares)]
        for verb in ("gradients", "running_stats"):
            views = [lib.arena(m, verb) for m in models]
            average = views[0] * half + views[1] * half
            for view in views:
                view[:] = average
        for m in models:
            lib.apply_gradients(m, options)
        losses.append(float(np.float32(0.5 * loss[0] + 0.5 * loss[1])))
    weights = lib.weights(models[0], checkpoint)
    for m in models:
        lib.destroy(m)
    return np.array(losses), weights


def main():
    mixerc, mixer_lib, bmlp_lib, convmixer_lib, lib_a, lib_b = map(os.path.abspath, sys.argv[1:7])
    failures = []

    def check(ok, what):
        print(f"{'PASS' if ok else 'FAIL'}: {what}", flush=True)
        if not ok:
            failures.append(what)

    def train(work, library, data, out, ranks=2, extra=()):
        command = (MPIRUN if ranks == 2 else []) + [
            mixerc, "train", library, "--data", data, "--epochs", "1", "--threads",
            "1" if ranks == 2 else "2", *RECIPE, "--out", os.path.join(work, out),
            "--step-log", os.path.join(work, out + ".steps"), *extra]
        result = subprocess.run(command, capture_output=True, text=True, env=ENV, cwd=work,
                                timeout=300)
        assert result.returncode == 0, result.stderr
        return (*read_steps(os.path.join(work, out + ".steps")),
                read_safetensors(os.path.join(work, out)))

    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as work:
        data28, data40 = os.path.join(work, "data28"), os.path.join(work, "data40x24")
        write_data(data28, rng, 28, 28, 10)
        write_data(data40, rng, 40, 24, 5)

        for label, library, data in (("MLP-Mixer", mixer_lib, data40),
                                     ("B-MLP", bmlp_lib, data28)):
            one_loss, rates, one = train(work, library, data, "one.safetensors", ranks=1)
            two_loss, _, two = train(work, library, data, "two.safetensors")
            loss_error = float(np.max(np.abs(two_loss - one_loss) / np.abs(one_loss)))
            check(len(two_loss) == 20 and loss_error <= 1e-5,
                  f"{label}: 2 ranks vs 1 process over {len(two_loss)} steps: loss within "
                  f"{loss_error:.2e} relative (tolerance 1e-5); step 20 {two_loss[-1]:.7f} vs "
                  f"{one_loss[-1]:.7f}")
            error, where = tensor_error(one, two)
            check(error <= 1e-4, f"{label}: final weights and optimizer state within "
                  f"{error:.2e} of their scale (tolerance 1e-4; worst {where})")
            noise = noise_error(one, two, rates)
            if noise is not None:
                check(noise <= 1.0, f"{label}: weights of rounding-noise gradients within "
                      f"{noise:.2e} of the learning rates' sum (tolerance 1: what AdamW can "
                      f"move)")

        name = os.path.basename(convmixer_lib)[3:-3]
        two_loss, rates, two = train(work, convmixer_lib, data28, "conv2.safetensors")
        ref_loss, ref = emulate_two_ranks(convmixer_lib, name, data28, rates,
                                          os.path.join(work, "conv_ref.safetensors"))
        loss_error = float(np.max(np.abs(two_loss - ref_loss) / np.abs(ref_loss)))
        check(loss_error <= 1e-5, f"ConvMixer: 2 ranks vs the emulated per-rank BatchNorm: loss "
              f"within {loss_error:.2e} relative over 20 steps (tolerance 1e-5)")
        error, where = tensor_error(ref, two)
        check(error <= 1e-4, f"ConvMixer: final weights and running statistics within "
              f"{error:.2e} of their scale (tolerance 1e-4; worst {where})")
        one_loss, _, one = train(work, convmixer_lib, data28, "conv1.safetensors", ranks=1)
        one_error, _ = tensor_error(ref, one)
        check(one_error > 100 * max(error, 1e-7),
              f"ConvMixer: one process (BatchNorm over the whole batch) differs from the "
              f"per-rank semantics ({one_error:.2e} against {error:.2e})")

        # --resume under MPI continues exactly.
        base = ["--epochs", "2"]
        train(work, bmlp_lib, data28, "whole.safetensors", extra=base)
        train(work, bmlp_lib, data28, "part.safetensors", extra=base + ["--stop-after", "1"])
        part = os.path.join(work, "part.safetensors")
        train(work, bmlp_lib, data28, "part.safetensors", extra=base + ["--resume", part])
        whole, resumed = (read_safetensors(os.path.join(work, f)) for f in
                          ("whole.safetensors", "part.safetensors"))
        check(whole.keys() == resumed.keys() and
              all(np.array_equal(whole[k], resumed[k]) for k in whole),
              "--resume under MPI: the resumed run's checkpoint equals the uninterrupted one's, "
              "bit for bit")

        # A rank killed with SIGKILL ends the job; the checkpoint on disk stays valid.
        killed = os.path.join(work, "killed.safetensors")
        job = subprocess.Popen(MPIRUN + [mixerc, "train", mixer_lib, "--data", data40,
                                         "--epochs", "500", "--threads", "1", *RECIPE,
                                         "--out", killed],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               env=ENV, cwd=work)
        deadline = time.time() + 60
        while not os.path.exists(killed) and time.time() < deadline:
            time.sleep(0.1)
        victim = None
        for pid in (p for p in os.listdir("/proc") if p.isdigit()):
            try:
                environ = open(f"/proc/{pid}/environ", "rb").read().split(b"\0")
                command = open(f"/proc/{pid}/cmdline", "rb").read()
            except OSError:
                continue
            if b"OMPI_COMM_WORLD_RANK=1" in environ and killed.encode() in command:
                victim = int(pid)
        check(victim is not None, "kill test: found rank 1 after the first checkpoint")
        if victim is not None:
            killed_at = time.time()
            os.kill(victim, signal.SIGKILL)
            try:
                output, _ = job.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                job.kill()
                output, _ = job.communicate()
            took = time.time() - killed_at
            check(job.returncode != 0 and took < 10 and "rank 1" in output,
                  f"kill test: the job ended {took:.1f} s after rank 1 was killed, status "
                  f"{job.returncode}, naming rank 1")
            result = subprocess.run([mixerc, "eval", mixer_lib, "--weights", killed, "--data",
                                     data40], capture_output=True, text=True)
            check(result.returncode == 0, "kill test: the last checkpoint loads: "
                  + (result.stdout.strip() or result.stderr.strip()))
        else:
            job.kill()
            job.communicate()

        # Ranks that cannot train together are refused before the first step.
        def mpmd(first, second):
            command = ["mpirun", "--oversubscribe", "-np", "1", *first, ":", "-np", "1", *second]
            return subprocess.run(command, capture_output=True, text=True, env=ENV, cwd=work,
                                  timeout=120)
        ok = [mixerc, "train", bmlp_lib, "--data", data28, "--threads", "1", *RECIPE]
        cases = [
            ("a bad --data path on rank 1", ok, ok[:4] + [os.path.join(work, "none")] + ok[5:],
             "rank 1 of 2: --data"),
            ("other options on rank 1", ok, ok + ["--lr", "0.01"],
             "rank 1 was started with other training options"),
            ("another build on rank 1",
             [mixerc, "train", lib_a, "--data", data28, "--threads", "1", *RECIPE],
             [mixerc, "train", lib_b, "--data", data28, "--threads", "1", *RECIPE],
             "rank 1 runs another build of the model"),
        ]
        for what, first, second, message in cases:
            result = mpmd(first, second)
            check(result.returncode != 0 and message in result.stderr,
                  f"refused: {what} (status {result.returncode}; '{message}')")

    print(f"{len(failures)} failed" if failures else "all passed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
