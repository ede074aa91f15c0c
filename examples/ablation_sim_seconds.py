#!/usr/bin/env python3
"""Simulated training seconds a filter saves, from an `emprox compare` output folder.

For each dataset, the target is the baseline's (plain RE's) mean test accuracy (of the
best-validation cell) after AT queries (default 100). For each experiment: the first query at which its mean-over-seeds test accuracy
reaches that target, the mean simulated training seconds spent by then (trajectory.csv's
sim_seconds, the NB201 training time of the evaluated cells), and what that saves beside the
baseline's mean sim_seconds at AT queries. Estimator seconds per run are printed beside them.

    python3 examples/ablation_sim_seconds.py runs/ablation-filter [AT] [BASELINE_LABEL] [REFERENCE_LABEL]
"""
import csv
import json
import sys
from pathlib import Path


def curves(folder):
    """Mean best_test_acc and mean sim_seconds per query over the seeds of one experiment."""
    runs = []
    for f in sorted(folder.glob("seed-*/trajectory.csv")):
        with open(f) as fh:
            runs.append([(float(r["best_test_acc"]), float(r["sim_seconds"])) for r in csv.DictReader(fh)])
    n = min(len(r) for r in runs)
    acc = [sum(r[q][0] for r in runs) / len(runs) for q in range(n)]
    sim = [sum(r[q][1] for r in runs) / len(runs) for q in range(n)]
    return acc, sim, len(runs)


def per_seed(folder, queries=(50, 100, 150)):
    """{seed folder: [best_test_acc at each of `queries`]} of one experiment."""
    out = {}
    for f in sorted(folder.glob("seed-*/trajectory.csv")):
        with open(f) as fh:
            rows = list(csv.DictReader(fh))
        out[f.parent.name] = [float(rows[min(q, len(rows)) - 1]["best_test_acc"]) for q in queries]
    return out


def paired(out, rows, ref, slug):
    print(f"\n| dataset | experiment | Δ @50 vs {ref} | Δ @100 | Δ @150 |")
    print("|---|---|---|---|---|")
    for r in rows:
        base = per_seed(out / r["dataset"] / slug(ref))
        o = per_seed(out / r["dataset"] / slug(r["label"]))
        cells = []
        for i in range(3):
            d = [o[s][i] - base[s][i] for s in base]
            m = sum(d) / len(d)
            se = (sum((x - m) ** 2 for x in d) / (len(d) - 1) / len(d)) ** 0.5
            cells.append(f"{m:+.3f} ± {se:.3f}")
        print(f"| {r['dataset']} | {r['label']} | " + " | ".join(cells) + " |")


def main():
    out = Path(sys.argv[1])
    at = int(sys.argv[2]) if len(sys.argv) > 2 else 100
    base = sys.argv[3] if len(sys.argv) > 3 else "RE"
    ref = sys.argv[4] if len(sys.argv) > 4 else "RE+EmProx"
    rows = json.loads((out / "comparison.json").read_text())
    slug = lambda s: "".join(c if c.isalnum() or c in "-_" else "_" for c in s)
    print("| dataset | experiment | target | queries to target | sim hours to target | sim hours saved vs "
          f"{base} @ {at} | estimator s/run |")
    print("|---|---|---|---|---|---|---|")
    for ds in dict.fromkeys(r["dataset"] for r in rows):
        b_acc, b_sim, _ = curves(out / ds / slug(base))
        target = b_acc[at - 1]
        for r in rows:
            if r["dataset"] != ds:
                continue
            acc, sim, _ = curves(out / ds / slug(r["label"]))
            q = next((i for i, a in enumerate(acc) if a >= target - 1e-9), None)
            est = r["estimator_seconds_per_run"]
            est = "—" if est is None else f"{est:.2f}"
            if q is None:
                print(f"| {ds} | {r['label']} | {target:.2f} | not reached | — | — | {est} |")
            else:
                saved = (b_sim[at - 1] - sim[q]) / 3600
                print(f"| {ds} | {r['label']} | {target:.2f} | {q + 1} | {sim[q] / 3600:.1f} | {saved:.1f} | {est} |")
    paired(out, rows, ref, slug)


if __name__ == "__main__":
    main()
