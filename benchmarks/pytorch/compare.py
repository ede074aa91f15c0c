#!/usr/bin/env python3
"""Side-by-side training throughput: emprox (candle, Rust) vs PyTorch, same network, same data,
same recipe, one thread each, interleaved runs on the same machine. Not part of CI.

    cargo build --release -p emprox-train --example train_throughput
    python3 benchmarks/pytorch/compare.py [--repeats 3] [--epochs 5] [--channels 8] [--dataset digits]
        [--npz images.npz]   # your own images on both sides: x N×H×W×C uint8, y
        [--candle-bin OLD --candle-bin NEW]   # other builds of train_throughput, interleaved

Run it with a Python that has torch (e.g. a venv with `pip install torch`). Prints one JSON line
per run and a summary table with medians and the candle/PyTorch ratio of images per second.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
RUST = os.path.join(ROOT, "target", "release", "examples", "train_throughput")
ARCHS = {
    "all nor_conv_3x3": "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|",
    "mixed (NB201 example)": "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|",
}


def run(cmd, env):
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, check=True).stdout
    return json.loads([l for l in out.splitlines() if l.startswith("{")][-1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--channels", type=int, default=8)
    ap.add_argument("--cells-per-stage", type=int, default=1)
    ap.add_argument("--dataset", default="digits")
    ap.add_argument("--npz", help="train on this .npz (x: N×H×W×C uint8, y) on both sides")
    ap.add_argument("--candle-bin", action="append",
                    help="a train_throughput binary to run (repeat the option to interleave several "
                         "builds, e.g. before and after a change); default: this checkout's release build")
    args = ap.parse_args()
    bins = args.candle_bin or [RUST]
    env = dict(os.environ, RAYON_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    rows = []
    for name, arch in ARCHS.items():
        cfg = {"epochs": args.epochs, "channels": args.channels,
               "cells_per_stage": args.cells_per_stage, "dataset": args.dataset}
        if args.npz:
            cfg["data"] = {"path": os.path.abspath(args.npz)}
        cfg = json.dumps(cfg)
        npz = ["--npz", args.npz] if args.npz else []
        rust, torch = [[] for _ in bins], []
        for r in range(args.repeats):
            for i, exe in enumerate(bins):
                a = run([exe, "--arch", arch, "--seed", str(r), "--config", cfg], env)
                print(json.dumps({"engine": "candle", "bin": exe, **a}))
                rust[i].append(a)
            b = run([sys.executable, os.path.join(HERE, "nb201_throughput.py"), "--arch", arch,
                     "--seed", str(r), "--epochs", str(args.epochs), "--channels", str(args.channels),
                     "--cells-per-stage", str(args.cells_per_stage), "--dataset", args.dataset]
                    + npz, env)
            print(json.dumps({"engine": "pytorch", **b}))
            assert all(x[-1]["params"] == b["params"] for x in rust), "the two networks differ"
            torch.append(b)
        med = lambda xs, k: statistics.median(x[k] for x in xs)
        for i, exe in enumerate(bins):
            label = name if len(bins) == 1 else f"{name} ({exe})"
            rows.append((label, rust[i][0]["params"], med(rust[i], "images_per_second"),
                         med(torch, "images_per_second"), med(rust[i], "val_acc"), med(torch, "val_acc")))
    print()
    print("| cell | params | candle img/s | PyTorch img/s | candle / PyTorch | candle val % | PyTorch val % |")
    print("|---|---|---|---|---|---|---|")
    for name, p, ri, ti, ra, ta in rows:
        print(f"| {name} | {p} | {ri:.0f} | {ti:.0f} | {ri / ti:.2f} | {ra:.1f} | {ta:.1f} |")


if __name__ == "__main__":
    main()
