"""mixerc train and mixerc eval end to end on a small synthetic IDX dataset, and their errors.

The data: 28x28 grey images of 10 classes, class k a bright 6x6 square at one of 10 positions
plus noise, 800 training and 200 test images, written as IDX (the training images gzipped).
Checks: 2 epochs of bmlp_small reach >= 90% test accuracy (the task is easy, so a broken gradient
or optimizer cannot pass); the CSV log has one row per epoch; the PNG plot is a PNG; mixerc eval
reproduces the last epoch's accuracy; 1 epoch, stop, --resume for the second gives a checkpoint
identical, byte for byte in every tensor, to the uninterrupted run's; and bad data files (wrong
magic, truncated, label out of range, wrong image size, missing directory) and bad options fail
before training with a message naming the file or flag. With a second library (32x32x3), the
CIFAR-10 binary format: synthetic data_batch_*.bin / test_batch.bin files train with random crops
and flips to >= 90%, and a record-misaligned file is refused.
Usage: test_train_cli.py MIXERC LIB [CIFAR_LIB]"""
import gzip
import os
import struct
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from mixer_reference import read_safetensors  # noqa: E402


def write_idx(path, array, compress=False):
    header = struct.pack(">BBBB", 0, 0, 8, array.ndim) + b"".join(
        struct.pack(">I", d) for d in array.shape)
    data = header + array.astype(np.uint8).tobytes()
    with (gzip.open(path + ".gz", "wb") if compress else open(path, "wb")) as f:
        f.write(data)


def make_split(rng, count):
    labels = rng.integers(0, 10, count)
    images = rng.integers(0, 60, (count, 28, 28))
    for i, k in enumerate(labels):
        y, x = 2 + (k // 5) * 13, 2 + (k % 5) * 5
        images[i, y:y + 6, x:x + 6] = 200 + rng.integers(0, 55)
    return images, labels


def write_dataset(directory, rng, **overrides):
    os.makedirs(directory, exist_ok=True)
    train_x, train_y = make_split(rng, 800)
    test_x, test_y = make_split(rng, 200)
    files = {"train-images-idx3-ubyte": train_x, "train-labels-idx1-ubyte": train_y,
             "t10k-images-idx3-ubyte": test_x, "t10k-labels-idx1-ubyte": test_y}
    files.update(overrides)
    for name, array in files.items():
        write_idx(os.path.join(directory, name), array, compress=name.startswith("train-images"))


def write_cifar(directory, rng, counts=(200, 200, 200, 200, 200), test=200):
    """CIFAR-10 binary files: per record a label byte and 3 x 32 x 32 channel-planar pixels."""
    os.makedirs(directory, exist_ok=True)
    names = [f"data_batch_{i + 1}.bin" for i in range(len(counts))] + ["test_batch.bin"]
    for name, count in zip(names, list(counts) + [test]):
        labels = rng.integers(0, 10, count)
        pixels = rng.integers(0, 60, (count, 3, 32, 32))
        for i, k in enumerate(labels):  # a bright band: invariant under flips, robust to crops
            y = 2 + (k // 3) * 8
            pixels[i, k % 3, y:y + 5, 4:28] = 220
        records = np.concatenate([labels[:, None], pixels.reshape(count, -1)], axis=1)
        records.astype(np.uint8).tofile(os.path.join(directory, name))


def main():
    mixerc, library = sys.argv[1], sys.argv[2]
    cifar_library = sys.argv[3] if len(sys.argv) > 3 else None
    failures = []

    def check(ok, what):
        print(f"{'PASS' if ok else 'FAIL'}: {what}")
        if not ok:
            failures.append(what)

    def run(*args):
        return subprocess.run([mixerc, *args], capture_output=True, text=True)

    with tempfile.TemporaryDirectory() as tmp:
        rng = np.random.default_rng(0)
        data = os.path.join(tmp, "data")
        write_dataset(data, rng)
        common = ["--data", data, "--epochs", "2", "--batch", "50", "--warmup", "10", "--threads",
                  "2"]
        straight = os.path.join(tmp, "straight.safetensors")
        r = run("train", library, *common, "--out", straight, "--plot", os.path.join(tmp, "c.png"))
        check(r.returncode == 0, f"train runs: {r.stderr.strip()[-300:]}")
        rows = open(straight + ".csv").read().strip().splitlines()
        check(len(rows) == 3 and rows[0].startswith("epoch,"), f"CSV log has 2 epochs: {rows}")
        accuracy = float(rows[-1].split(",")[3]) if len(rows) == 3 else 0.0
        check(accuracy >= 90.0, f"2 epochs reach {accuracy:.2f}% (>= 90%)")
        with open(os.path.join(tmp, "c.png"), "rb") as f:
            check(f.read(8) == b"\x89PNG\r\n\x1a\n", "--plot writes a PNG")
        r = run("eval", library, "--weights", straight, "--data", data)
        check(r.returncode == 0 and f"accuracy={accuracy:.2f}" in r.stdout,
              f"eval reproduces {accuracy:.2f}%: {r.stdout.strip()} {r.stderr.strip()}")

        resumed = os.path.join(tmp, "resumed.safetensors")
        r1 = run("train", library, *common, "--out", resumed, "--stop-after", "1")
        r2 = run("train", library, *common, "--out", resumed, "--resume", resumed)
        check(r1.returncode == 0 and r2.returncode == 0 and "resuming after epoch 1" in r2.stderr,
              f"stop after epoch 1, then --resume: {r1.stderr.strip()[-200:]} {r2.stderr.strip()[-200:]}")
        a, b = read_safetensors(straight), read_safetensors(resumed)
        same = a.keys() == b.keys() and all(a[k].tobytes() == b[k].tobytes() for k in a)
        check(same, f"the resumed run's checkpoint equals the uninterrupted one ({len(a)} tensors)")

        # Bad data: each fails before training, naming the file and the problem.
        bad = {
            "magic": ({"t10k-labels-idx1-ubyte": None}, "not an IDX file of 1-D unsigned bytes"),
            "truncated": ({}, "truncated"),
            "label": ({"t10k-labels-idx1-ubyte": np.full(200, 12)}, "test label 0 is 12, but the model has 10 classes"),
            "size": ({"t10k-images-idx3-ubyte": np.zeros((200, 32, 32))}, "images are 1x32x32 (CxHxW) but the model takes 1x28x28"),
        }
        for case, (override, message) in bad.items():
            directory = os.path.join(tmp, case)
            write_dataset(directory, rng, **{k: v for k, v in override.items() if v is not None})
            if case == "magic":
                with open(os.path.join(directory, "t10k-labels-idx1-ubyte"), "r+b") as f:
                    f.write(b"\x00\x00\x09\x01")
            if case == "truncated":
                path = os.path.join(directory, "t10k-images-idx3-ubyte")
                blob = open(path, "rb").read()
                open(path, "wb").write(blob[:-100])
            r = run("train", library, "--data", directory, "--out", os.path.join(tmp, "x.st"))
            check(r.returncode == 2 and message in r.stderr and not os.path.exists(
                os.path.join(tmp, "x.st")), f"bad data ({case}): {r.stderr.strip()}")
        for args, message in [
                (["--data", os.path.join(tmp, "none")], "is not a directory"),
                (["--data", data, "--lr", "-1"], "--lr: '-1' is not a number"),
                (["--data", data, "--optimizer", "adam"], "unknown 'adam'"),
                (["--data", data, "--resume", straight, "--epochs", "3"], "not the end of an epoch"),
                (["--epochs", "2"], "needs SPEC|LIB and --data")]:
            r = run("train", library, *args)
            check(r.returncode == 2 and message in r.stderr, f"train {' '.join(args)}: {r.stderr.strip()}")
        if cifar_library:
            cifar = os.path.join(tmp, "cifar")
            write_cifar(cifar, rng)
            r = run("train", cifar_library, "--data", cifar, "--epochs", "10", "--lr", "5e-3", "--batch", "50",
                    "--warmup", "10", "--crop", "2", "--threads", "2",
                    "--out", os.path.join(tmp, "cifar.safetensors"))
            rows = open(os.path.join(tmp, "cifar.safetensors.csv")).read().strip().splitlines()
            accuracy = float(rows[-1].split(",")[3]) if r.returncode == 0 else 0.0
            check(r.returncode == 0 and accuracy >= 90.0 and "CIFAR-10 (binary)" in r.stderr,
                  f"CIFAR-10 binaries with crops and flips reach {accuracy:.2f}% (>= 90%): "
                  f"{r.stderr.strip()[-200:]}")
            with open(os.path.join(cifar, "test_batch.bin"), "ab") as f:
                f.write(b"\0" * 100)
            r = run("train", cifar_library, "--data", cifar)
            check(r.returncode == 2 and "is not a whole number of 3073-byte CIFAR-10 records" in
                  r.stderr, f"a misaligned CIFAR-10 file is refused: {r.stderr.strip()}")
    print(f"{len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
