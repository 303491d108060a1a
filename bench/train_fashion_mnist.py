#!/usr/bin/python3
"""The PyTorch reference for `mixerc train` on Fashion-MNIST (README "Training").

The same network as specs/mixer_fmnist.toml (tests/numerics/mixer_reference.py's timm-structured
MlpMixer) with PyTorch's default initialisation (the spec's init = "pytorch"; --init timm for
timm's MlpMixer init, a spec without it), trained as the issue states: pixels scaled to [0, 1] and
standardised with the training set's mean and std, seed 0, AdamW (wd 0.05), per-step cosine decay
to 0, batch 128, 5 epochs. Recipes:
  plain:  lr 1e-3, no warm-up, no label smoothing, no augmentation
  smooth: lr 2e-3, 300 warm-up steps, label smoothing 0.1, random horizontal flips
Prints one line per epoch (loss, test accuracy, seconds) and appends them to --csv.
Usage: bench/train_fashion_mnist.py [--recipe plain|smooth] [--init pytorch|timm] [--epochs 5]
                                   [--threads 2] [--csv F]"""
import argparse
import gzip
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "numerics"))
from mixer_reference import build_model, load_spec  # noqa: E402

DATA = "/usr/share/datasets/fashion-mnist"
RECIPES = {"plain": dict(lr=1e-3, warmup=0, smoothing=0.0, flip=False),
           "smooth": dict(lr=2e-3, warmup=300, smoothing=0.1, flip=True)}


def read_idx(path):
    with gzip.open(path, "rb") if path.endswith(".gz") else open(path, "rb") as f:
        data = f.read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def timm_init(model):
    """timm's MlpMixer init: lecun-normal stem, xavier-uniform linears with N(0, 1e-6) biases
    (zeros for the head, whose weight is zero too), LayerNorm ones and zeros."""
    for name, m in model.named_modules():
        if isinstance(m, nn.Linear):
            if name == "head":
                nn.init.zeros_(m.weight)
                nn.init.zeros_(m.bias)
            else:
                nn.init.xavier_uniform_(m.weight)
                nn.init.normal_(m.bias, std=1e-6)
        elif isinstance(m, nn.Conv2d):
            fan_in = m.weight[0].numel()
            nn.init.trunc_normal_(m.weight, std=math.sqrt(1.0 / fan_in) / 0.87962566103423978,
                                  a=-2 * math.sqrt(1.0 / fan_in) / 0.87962566103423978,
                                  b=2 * math.sqrt(1.0 / fan_in) / 0.87962566103423978)
            nn.init.zeros_(m.bias)


def learning_rate(step, total, base, warmup):
    if step < warmup:
        return base * (step + 1) / warmup
    return base * 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1, total - warmup)))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--recipe", choices=RECIPES, default="plain")
    parser.add_argument("--init", choices=["pytorch", "timm"], default="pytorch")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--csv")
    parser.add_argument("--spec", default=os.path.join(os.path.dirname(__file__), "..", "specs",
                                                       "mixer_fmnist.toml"))
    args = parser.parse_args()
    recipe = RECIPES[args.recipe]
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    train_x = read_idx(f"{DATA}/train-images-idx3-ubyte.gz").astype(np.float32) / 255
    train_y = read_idx(f"{DATA}/train-labels-idx1-ubyte.gz").astype(np.int64)
    test_x = read_idx(f"{DATA}/t10k-images-idx3-ubyte.gz").astype(np.float32) / 255
    test_y = read_idx(f"{DATA}/t10k-labels-idx1-ubyte.gz").astype(np.int64)
    mean, std = train_x.mean(), train_x.std()
    train_x = torch.from_numpy((train_x - mean) / std).unsqueeze(1)
    test_x = torch.from_numpy((test_x - mean) / std).unsqueeze(1)
    train_y, test_y = torch.from_numpy(train_y), torch.from_numpy(test_y)

    model = build_model(load_spec(args.spec))
    if args.init == "timm":
        timm_init(model)
    optimizer = torch.optim.AdamW(model.parameters(), lr=recipe["lr"], weight_decay=0.05)
    steps_per_epoch = math.ceil(len(train_x) / args.batch)
    total = steps_per_epoch * args.epochs
    step = 0
    generator = torch.Generator().manual_seed(0)
    for epoch in range(1, args.epochs + 1):
        model.train()
        start = time.time()
        order = torch.randperm(len(train_x), generator=generator)
        running = 0.0
        for i in range(steps_per_epoch):
            index = order[i * args.batch:(i + 1) * args.batch]
            x, y = train_x[index], train_y[index]
            if recipe["flip"]:
                flip = torch.rand(len(x), generator=generator) < 0.5
                x = torch.where(flip[:, None, None, None], x.flip(3), x)
            for group in optimizer.param_groups:
                group["lr"] = learning_rate(step, total, recipe["lr"], recipe["warmup"])
            optimizer.zero_grad()
            loss = F.cross_entropy(model(x), y, label_smoothing=recipe["smoothing"])
            loss.backward()
            optimizer.step()
            running += loss.item()
            step += 1
        seconds = time.time() - start
        model.eval()
        with torch.no_grad():
            correct = sum((model(test_x[i:i + 1000]).argmax(1) == test_y[i:i + 1000]).sum().item()
                          for i in range(0, len(test_x), 1000))
        accuracy = 100.0 * correct / len(test_x)
        line = (f"pytorch,{args.recipe} ({args.init} init),{epoch},"
                f"{running / steps_per_epoch:.4f},{accuracy:.2f},"
                f"{seconds:.1f},{len(train_x) / seconds:.0f}")
        print(line, flush=True)
        if args.csv:
            new = not os.path.exists(args.csv)
            with open(args.csv, "a") as f:
                if new:
                    f.write("trainer,recipe,epoch,train_loss,test_accuracy,epoch_seconds,images_per_second\n")
                f.write(line + "\n")


if __name__ == "__main__":
    main()
