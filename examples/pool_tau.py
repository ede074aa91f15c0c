#!/usr/bin/env python3
"""The estimator's rank correlation on the pools it scored during a search, from an
`emprox compare` output folder on NAS-Bench-201.

Every filtered run writes pools.jsonl: for each pool, the candidates it scored (all unvisited
when scored) with the estimator's score (the ensemble's mean with `[filter] ensemble`). This
script looks up each candidate's validation accuracy in the shipped table (the search's signal)
and prints, per dataset and experiment, the mean Kendall tau-b between score and validation
accuracy over the pools scored after 20-49, 50-99 and 100-149 queries, and the share of pools
whose top-scored candidate is also the pool's best cell.

    python3 examples/pool_tau.py runs/ablation-pool [LABEL ...]
"""
import csv
import gzip
import json
import sys
from pathlib import Path

TABLE = Path(__file__).resolve().parent.parent / "benchmarks" / "data" / "nb201.csv.gz"
PREFIX = {"cifar10": "c10", "cifar100": "c100", "imagenet16-120": "in16"}
BUCKETS = [(20, 50), (50, 100), (100, 150)]


def val_acc():
    """{dataset: {index: validation accuracy}} from the shipped NB201 table."""
    out = {d: {} for d in PREFIX}
    with gzip.open(TABLE, "rt") as fh:
        for r in csv.DictReader(fh):
            for d, p in PREFIX.items():
                out[d][int(r["index"])] = float(r[f"{p}_val_acc"])
    return out


def kendall_tau_b(x, y):
    """Kendall's tau-b (ties in either variable handled); 0 when either is constant."""
    conc = disc = tx = ty = 0
    n = len(x)
    for i in range(n):
        xi, yi = x[i], y[i]
        for j in range(i + 1, n):
            dx, dy = xi - x[j], yi - y[j]
            if dx == 0 and dy == 0:
                continue
            if dx == 0:
                tx += 1
            elif dy == 0:
                ty += 1
            elif (dx > 0) == (dy > 0):
                conc += 1
            else:
                disc += 1
    den = ((conc + disc + tx) * (conc + disc + ty)) ** 0.5
    return (conc - disc) / den if den > 0 else 0.0


def experiment(folder, truth):
    """Per bucket: (mean tau, share of pools whose top-scored cell is the pool's best, pools)."""
    taus = {b: [] for b in BUCKETS}
    hits = {b: [] for b in BUCKETS}
    for f in sorted(folder.glob("seed-*/pools.jsonl")):
        for line in f.read_text().splitlines():
            rec = json.loads(line)
            if rec["train_size"] == 0:
                continue  # a warm-up pool ranked by a zero-cost proxy: no estimator yet
            scored = [(truth[i], s) for i, s in rec["scored"] if i is not None]
            if len(scored) < 2:
                continue
            b = next((b for b in BUCKETS if b[0] <= rec["after_query"] < b[1]), None)
            if b is None:
                continue
            t = [v for v, _ in scored]
            s = [p for _, p in scored]
            taus[b].append(kendall_tau_b(s, t))
            top = max(range(len(s)), key=lambda i: (s[i], -i))
            hits[b].append(t[top] == max(t))
    return {
        b: (sum(taus[b]) / len(taus[b]), sum(hits[b]) / len(hits[b]), len(taus[b]))
        for b in BUCKETS
        if taus[b]
    }


def main():
    out = Path(sys.argv[1])
    only = set(sys.argv[2:])
    rows = json.loads((out / "comparison.json").read_text())
    truth = val_acc()
    head = " | ".join(f"tau {lo}-{hi - 1}" for lo, hi in BUCKETS)
    print(f"| dataset | experiment | {head} | top-1 is the pool's best |")
    print("|---|---|" + "---|" * (len(BUCKETS) + 1))
    for r in rows:
        if r["estimator_seconds_per_run"] is None or (only and r["label"] not in only):
            continue
        slug = "".join(c if c.isalnum() or c in "-_" else "_" for c in r["label"])
        folder = out / r["dataset"] / slug
        res = experiment(folder, truth[r["dataset"]])
        cells = [f"{res[b][0]:.3f}" if b in res else "-" for b in BUCKETS]
        pools = sum(v[2] for v in res.values())
        hit = sum(v[1] * v[2] for v in res.values()) / pools if pools else 0.0
        print(f"| {r['dataset']} | {r['label']} | " + " | ".join(cells) + f" | {hit:.0%} |")


if __name__ == "__main__":
    main()
