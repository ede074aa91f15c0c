#!/usr/bin/env python3
"""Wall time of a whole search against a cold start, measured side by side (interleaved).

    python3 engine/bench/search_vs_startup.py [--reps 20] [--bin target/release/emprox]

A: `emprox run examples/nb201_evolution.toml --seeds 100` (100 runs x 150 queries of regularized
evolution on NAS-Bench-201, table load and every output file included).
B: `emprox arch 0` (a cold start that loads the table and prints one cell).
Prints the median of each and the ratio of medians; only the ratio means anything across
machines.
"""
import argparse
import shutil
import statistics
import subprocess
import tempfile
import time


def timed(cmd):
    t = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=20)
    ap.add_argument("--bin", default="target/release/emprox")
    args = ap.parse_args()
    out = tempfile.mkdtemp()
    search = [args.bin, "-q", "run", "examples/nb201_evolution.toml", "--seeds", "100",
              "--out", out + "/r", "--overwrite"]
    start = [args.bin, "arch", "0"]
    timed(search), timed(start)  # warm-up
    a, b = [], []
    for _ in range(args.reps):
        a.append(timed(search))
        b.append(timed(start))
    shutil.rmtree(out)
    ma, mb = statistics.median(a), statistics.median(b)
    print(f"search {ma * 1000:.1f} ms, cold start {mb * 1000:.1f} ms (medians of {args.reps}, "
          f"interleaved); ratio {ma / mb:.2f}")


if __name__ == "__main__":
    main()
