#!/usr/bin/env python3
"""Writes the shipped sklearn digits as 32×32 colour images (each pixel a 4×4 block, grey on
three channels, 0-16 scaled to 0-240) into an .npz (x: N×32×32×3 uint8, y: N), the CIFAR-sized
input of the throughput comparison (`compare.py --npz`). Needs numpy.

    python3 benchmarks/pytorch/digits32_npz.py /tmp/digits32.npz
"""
import csv
import gzip
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
rows = list(csv.reader(gzip.open(os.path.join(HERE, "..", "data", "sklearn_digits_8x8.csv.gz"), "rt")))[1:]
px = np.array([[int(v) for v in r[:64]] for r in rows], dtype=np.uint8).reshape(-1, 8, 8) * 15
x = np.repeat(np.repeat(px, 4, axis=1), 4, axis=2)[..., None].repeat(3, axis=3)
y = np.array([int(r[64]) for r in rows], dtype=np.uint8)
np.savez(sys.argv[1], x=x, y=y)
print(f"{sys.argv[1]}: x {x.shape} {x.dtype}, y {y.shape}")
