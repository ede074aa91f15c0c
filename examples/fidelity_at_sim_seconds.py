#!/usr/bin/env python3
"""Test accuracy of the incumbent at simulated-time budgets, from an `emprox compare` folder.

The incumbent at budget B is the run's best-validation cell among trials at the highest
fidelity (what trajectory.csv holds) after the last query whose cumulative simulated training
seconds (trials.jsonl `sim_seconds`, each trial at its own cost) are at most B. Mean ± standard
deviation over the seeds (as everywhere in emprox), one Markdown row per experiment; a run without an incumbent by B is counted
in "none".

    python3 examples/fidelity_at_sim_seconds.py runs/nb201-fidelity-cifar10 50000 100000 200000
"""
import csv
import json
import sys
from pathlib import Path


def at_budgets(trajectory, budgets):
    """Incumbent test accuracy of one run at each budget (None: no incumbent yet)."""
    with open(trajectory) as fh:
        rows = [(float(r["sim_seconds"]), float(r["best_test_acc"])) for r in csv.DictReader(fh)]
    out = []
    for b in budgets:
        within = [t for s, t in rows if s <= b]
        out.append(within[-1] if within else None)
    return out


def main():
    out = Path(sys.argv[1])
    budgets = [float(b) for b in sys.argv[2:]]
    rows = json.loads((out / "comparison.json").read_text())
    slug = lambda s: "".join(c if c.isalnum() or c in "-_" else "_" for c in s)
    head = " | ".join(f"{b:,.0f} s" for b in budgets)
    print(f"| benchmark | experiment | {head} | none |")
    print("|---|---|" + "---|" * len(budgets) + "---|")
    for r in rows:
        folder = out / r["dataset"] / slug(r["label"])
        runs = [at_budgets(f, budgets) for f in sorted(folder.glob("seed-*/trajectory.csv"))]
        cells, none = [], 0
        for i in range(len(budgets)):
            v = [x[i] for x in runs if x[i] is not None]
            none = max(none, len(runs) - len(v))
            if len(v) < 2:
                cells.append("—")
                continue
            m = sum(v) / len(v)
            sd = (sum((x - m) ** 2 for x in v) / (len(v) - 1)) ** 0.5
            cells.append(f"{m:.2f} ± {sd:.2f}")
        print(f"| {r['dataset']} | {r['label']} | " + " | ".join(cells) + f" | {none} |")


if __name__ == "__main__":
    main()
