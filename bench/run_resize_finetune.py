#!/usr/bin/python3
"""What `mixerc convert --resize-from A --to B` buys when fine-tuning at a higher resolution.

A = specs/mixer_fmnist.toml (28x28, patch 4: a 7x7 grid, D_S 64) is trained on Fashion-MNIST
for --epochs-a epochs. B is the same network at 56x56 (a 14x14 grid, D_S 256: 2x2 copies of A's
token-mixing MLP), fine-tuned for one epoch on the first --train images of Fashion-MNIST
upsampled 2x (nearest), then tested on the whole upsampled test split. B starts from
  resized    A's weights through mixerc convert --resize-from (block-diagonal token mixing),
  token-reinit  the same file with the token-mixing MLPs drawn anew (PyTorch's nn.Linear init),
                so only the channel-mixing side and the stem carry over,
  scratch    the spec's own seeded initialisation,
all with the same recipe (AdamW, --lr, --warmup steps, one epoch, batch 64, seed 0). Also
reported: A's accuracy at 28 and each start's accuracy before fine-tuning (zero-shot).
Writes bench/results_resize.csv and prints the table of README's "Resolution change".
Usage: run_resize_finetune.py [--epochs-a 1] [--train 12000]"""
import argparse
import csv
import gzip
import os
import re
import subprocess
import sys
import tempfile

import numpy as np
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "numerics"))
from mixer_reference import read_safetensors, write_safetensors  # noqa: E402

FASHION = "/usr/share/datasets/fashion-mnist"


def read_idx(path):
    data = gzip.open(path).read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(data, np.uint8, offset=4 + 4 * dims).reshape(shape)


def write_idx(path, array):
    header = bytes([0, 0, 8, array.ndim]) + b"".join(d.to_bytes(4, "big") for d in array.shape)
    open(path, "wb").write(header + np.ascontiguousarray(array).tobytes())


def accuracy(output):
    m = re.search(r"accuracy=([0-9.]+)", output)
    return float(m.group(1)) if m else float("nan")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--epochs-a", type=int, default=1)
    p.add_argument("--train", type=int, default=12000)
    p.add_argument("--lr", default="1e-3")
    p.add_argument("--warmup", default="30")
    p.add_argument("--out", default=os.path.join(ROOT, "bench", "results_resize.csv"))
    args = p.parse_args()
    mixerc = os.path.join(ROOT, "build", "compiler", "mixerc")

    def run(cmd):
        print("$", " ".join(cmd), flush=True)
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode:
            sys.exit(f"failed: {r.stderr}")
        return r.stdout + r.stderr

    with tempfile.TemporaryDirectory() as tmp:
        text_a = open(os.path.join(ROOT, "specs", "mixer_fmnist.toml")).read()
        spec_a = os.path.join(tmp, "mixer_fmnist.toml")
        open(spec_a, "w").write(text_a)
        text_b = re.sub(r"(?m)^image_size\s*=.*$", "image_size = 56", text_a)
        text_b = re.sub(r"(?m)^token_mlp\s*=\s*\d+", "token_mlp = 256", text_b)
        text_b = text_b.replace('name = "mixer_fmnist"', 'name = "mixer_fmnist_56"')
        spec_b = os.path.join(tmp, "mixer_fmnist_56.toml")
        open(spec_b, "w").write(text_b)
        lib_a, lib_b = os.path.join(tmp, "a"), os.path.join(tmp, "b")
        run([mixerc, "compile", spec_a, "-o", lib_a])
        run([mixerc, "compile", spec_b, "-o", lib_b])

        data_b = os.path.join(tmp, "fmnist56")
        os.makedirs(data_b)
        for split, count in (("train", args.train), ("t10k", None)):
            images = read_idx(f"{FASHION}/{split}-images-idx3-ubyte.gz")[:count]
            labels = read_idx(f"{FASHION}/{split}-labels-idx1-ubyte.gz")[:count]
            write_idx(f"{data_b}/{split}-images-idx3-ubyte", images.repeat(2, 1).repeat(2, 2))
            write_idx(f"{data_b}/{split}-labels-idx1-ubyte", labels)

        weights_a = os.path.join(tmp, "a.safetensors")
        run([mixerc, "train", os.path.join(lib_a, "libmixer_fmnist.so"), "--data",
             "fashion-mnist", "--epochs", str(args.epochs_a), "--out", weights_a])
        acc_a = accuracy(run([mixerc, "eval", os.path.join(lib_a, "libmixer_fmnist.so"),
                              "--weights", weights_a, "--data", "fashion-mnist"]))

        resized = os.path.join(tmp, "resized.safetensors")
        run([mixerc, "convert", weights_a, "-o", resized, "--resize-from", spec_a, "--to", spec_b])
        tensors = read_safetensors(resized)
        g = torch.Generator().manual_seed(0)
        reinit = {}
        for name, value in tensors.items():
            if ".mlp_tokens." in name:  # nn.Linear's default: U(-1/sqrt(fan_in), 1/sqrt(fan_in))
                fan_in = tensors[name.replace(".bias", ".weight")].shape[1]
                bound = 1 / np.sqrt(fan_in)
                value = (torch.rand(value.shape, generator=g) * 2 - 1).numpy() * bound
            reinit[name] = np.asarray(value, dtype=value.dtype)
        token_reinit = os.path.join(tmp, "token_reinit.safetensors")
        write_safetensors(token_reinit, reinit)

        lib = os.path.join(lib_b, "libmixer_fmnist_56.so")
        rows = [{"start": "A at 28x28", "zero_shot_%": f"{acc_a:.2f}", "fine_tuned_%": ""}]
        for start, init in (("resized", resized), ("token-reinit", token_reinit),
                            ("scratch", None)):
            zero = accuracy(run([mixerc, "eval", lib, "--weights", init, "--data", data_b])) \
                if init else float("nan")
            ckpt = os.path.join(tmp, f"tuned_{start}.safetensors")
            run([mixerc, "train", lib, "--data", data_b, "--epochs", "1", "--lr", args.lr,
                 "--warmup", args.warmup, "--out", ckpt] + (["--init", init] if init else []))
            tuned = accuracy(run([mixerc, "eval", lib, "--weights", ckpt, "--data", data_b]))
            rows.append({"start": start, "zero_shot_%": f"{zero:.2f}", "fine_tuned_%": f"{tuned:.2f}"})
            print(rows[-1], flush=True)
    with open(args.out, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0].keys()))
        w.writeheader()
        w.writerows(rows)
    print(f"\nA trained {args.epochs_a} epoch(s) at 28; B fine-tuned 1 epoch on {args.train} "
          f"images at 56 (lr {args.lr}, warm-up {args.warmup})")
    print("| B starts from | before fine-tuning | after |")
    for r in rows:
        print(f"| {r['start']} | {r['zero_shot_%']} | {r['fine_tuned_%']} |")


if __name__ == "__main__":
    main()
