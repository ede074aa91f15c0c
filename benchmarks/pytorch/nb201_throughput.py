#!/usr/bin/env python3
"""PyTorch twin of emprox's candle trainer, for a throughput comparison (not part of CI).

Builds the same NAS-Bench-201 network (3x3 conv stem + BN; three stages of N cells with C, 2C,
4C channels; residual reduction blocks; BN + ReLU; global average pooling; linear classifier),
trains it on the same shipped sklearn digits (or MNIST) with the same recipe (SGD, Nesterov
momentum 0.9, weight decay 5e-4, cosine learning rate per step from 0.1, batch 64, 60/20/20
split, standardised pixels) on ONE thread, and prints one JSON line with accuracy and training
images per second. The split and initialisation use torch's RNG, so accuracies are comparable in
distribution, not bit for bit.

    python3 benchmarks/pytorch/nb201_throughput.py [--arch ARCH] [--epochs 5] [--channels 8]
        [--cells-per-stage 1] [--batch-size 64] [--dataset digits|mnist] [--seed 0]

Needs only `torch` (CPU is enough; no numpy, no torchvision).
"""
import argparse
import csv
import gzip
import io
import json
import math
import os
import struct
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "..", "data")
ALL_CONV = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|"


def load(dataset, npz=None):
    if npz:
        # x: N×H×W×C uint8 (as emprox's `data = { path = "….npz" }` reads it), y: N labels.
        import numpy as np

        arrays = np.load(npz)
        x = torch.from_numpy(arrays["x"]).float().permute(0, 3, 1, 2).contiguous() / 255.0
        return x, torch.from_numpy(arrays["y"]).long()
    if dataset == "digits":
        with gzip.open(os.path.join(DATA, "sklearn_digits_8x8.csv.gz"), "rt") as f:
            rows = list(csv.reader(f))[1:]
        x = torch.tensor([[float(v) / 16.0 for v in r[:64]] for r in rows]).view(-1, 1, 8, 8)
        y = torch.tensor([int(r[64]) for r in rows])
    else:
        with gzip.open(os.path.join(DATA, "mnist10k-images-idx3-ubyte.gz"), "rb") as f:
            raw = f.read()
        n = struct.unpack(">I", raw[4:8])[0]
        x = torch.frombuffer(bytearray(raw[16:]), dtype=torch.uint8).float().view(n, 1, 28, 28) / 255.0
        with gzip.open(os.path.join(DATA, "mnist10k-labels-idx1-ubyte.gz"), "rb") as f:
            y = torch.frombuffer(bytearray(f.read()[8:]), dtype=torch.uint8).long()
    return x, y


class ReLUConvBN(nn.Module):
    def __init__(self, c_in, c_out, k, stride):
        super().__init__()
        self.op = nn.Sequential(nn.ReLU(inplace=False),
                                nn.Conv2d(c_in, c_out, k, stride, k // 2, bias=False),
                                nn.BatchNorm2d(c_out))

    def forward(self, x):
        return self.op(x)


class Zero(nn.Module):
    def forward(self, x):
        return x.mul(0.0)


def make_op(name, c):
    return {
        "none": lambda: Zero(),
        "skip_connect": lambda: nn.Identity(),
        "nor_conv_1x1": lambda: ReLUConvBN(c, c, 1, 1),
        "nor_conv_3x3": lambda: ReLUConvBN(c, c, 3, 1),
        "avg_pool_3x3": lambda: nn.AvgPool2d(3, 1, 1, count_include_pad=False),
    }[name]()


class Cell(nn.Module):
    def __init__(self, arch, c):
        super().__init__()
        self.edges = []  # (to, from) in arch-string order
        layers = []
        for to, group in enumerate(arch.strip().split("+"), start=1):
            for frm, e in enumerate(group.strip("|").split("|")):
                op, src = e.split("~")
                assert int(src) == frm
                self.edges.append((to, frm))
                layers.append(make_op(op, c))
        self.layers = nn.ModuleList(layers)

    def forward(self, x):
        nodes = [x]
        for to in (1, 2, 3):
            nodes.append(sum(l(nodes[f]) for (t, f), l in zip(self.edges, self.layers) if t == to))
        return nodes[3]


class Reduction(nn.Module):
    def __init__(self, c_in, c_out):
        super().__init__()
        self.conv_a = ReLUConvBN(c_in, c_out, 3, 2)
        self.conv_b = ReLUConvBN(c_out, c_out, 3, 1)
        self.downsample = nn.Sequential(nn.AvgPool2d(2, 2), nn.Conv2d(c_in, c_out, 1, bias=False))

    def forward(self, x):
        return self.conv_b(self.conv_a(x)) + self.downsample(x)


class Net(nn.Module):
    def __init__(self, arch, c, n, classes=10, in_channels=1):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(in_channels, c, 3, padding=1, bias=False),
                                  nn.BatchNorm2d(c))
        blocks, c_prev = [], c
        for stage in range(3):
            cs = c << stage
            if stage > 0:
                blocks.append(Reduction(c_prev, cs))
            blocks += [Cell(arch, cs) for _ in range(n)]
            c_prev = cs
        self.blocks = nn.Sequential(*blocks)
        self.lastact = nn.Sequential(nn.BatchNorm2d(c_prev), nn.ReLU())
        self.classifier = nn.Linear(c_prev, classes)

    def forward(self, x):
        h = self.lastact(self.blocks(self.stem(x)))
        return self.classifier(h.mean(dim=(2, 3)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--arch", default=ALL_CONV)
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--channels", type=int, default=8)
    ap.add_argument("--cells-per-stage", type=int, default=1)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--lr", type=float, default=0.1)
    ap.add_argument("--dataset", default="digits", choices=["digits", "mnist"])
    ap.add_argument("--npz", help="images x (N×H×W×C uint8) and labels y instead of --dataset")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    x, y = load(args.dataset, args.npz)
    perm = torch.randperm(len(y))
    n_val = round(len(y) * 0.2)
    n_test = round(len(y) * 0.2)
    val_i, test_i, train_i = perm[:n_val], perm[n_val:n_val + n_test], perm[n_val + n_test:]
    # Per channel, as emprox standardises (one channel: the same as over all pixels).
    mean = x[train_i].mean(dim=(0, 2, 3), keepdim=True)
    std = x[train_i].std(dim=(0, 2, 3), keepdim=True, unbiased=False)
    x = (x - mean) / std
    net = Net(args.arch, args.channels, args.cells_per_stage, in_channels=x.shape[1])
    opt = torch.optim.SGD(net.parameters(), lr=args.lr, momentum=0.9, nesterov=True,
                          weight_decay=5e-4)
    steps_per_epoch = math.ceil(len(train_i) / args.batch_size)
    total = steps_per_epoch * args.epochs
    step = 0
    start = time.perf_counter()
    net.train()
    for _ in range(args.epochs):
        order = train_i[torch.randperm(len(train_i))]
        for b in range(0, len(order), args.batch_size):
            idx = order[b:b + args.batch_size]
            for g in opt.param_groups:
                g["lr"] = args.lr * 0.5 * (1 + math.cos(math.pi * step / total))
            loss = F.cross_entropy(net(x[idx]), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step += 1
    train_s = time.perf_counter() - start
    net.eval()
    with torch.no_grad():
        acc = lambda i: 100.0 * (net(x[i]).argmax(1) == y[i]).float().mean().item()
        val_acc, test_acc = acc(val_i), acc(test_i)
    print(json.dumps({
        "framework": f"pytorch {torch.__version__}", "threads": torch.get_num_threads(),
        "arch": args.arch, "dataset": args.dataset, "channels": args.channels,
        "cells_per_stage": args.cells_per_stage, "epochs": args.epochs,
        "batch_size": args.batch_size, "train_images": len(train_i),
        "params": sum(p.numel() for p in net.parameters()),
        "val_acc": val_acc, "test_acc": test_acc, "final_loss": loss.item(),
        "train_seconds": train_s, "images_per_second": len(train_i) * args.epochs / train_s,
    }))


if __name__ == "__main__":
    main()
