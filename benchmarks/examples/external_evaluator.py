#!/usr/bin/env python3
"""A tiny external evaluator for emprox's `[evaluator] type = "command"`.

emprox runs it once per candidate, for example as
    python3 benchmarks/examples/external_evaluator.py --spec {spec} --arch {arch} --seed {seed}
and reads the last JSON line it prints:
    {"val_acc": ..., "test_acc": ..., "cost_seconds": ...}

A real script would train the network described by the spec file (or submit a cluster job and
wait for it) here. This one needs only the standard library: it scores the cell with a toy,
deterministic formula (3x3 convolutions help, a cut path from input to output gives chance),
so the whole loop can be tried in seconds. Exit non-zero, or print {"error": "..."}, to report a
failed trial; emprox records the reason and the search goes on.
"""
import argparse
import json
import random
import sys
import time


def connected(ops):
    # ops: edge name "to<-from" -> op name (NAS-Bench-201 cells).
    reach = [True, False, False, False]
    for edge in sorted(ops, key=lambda e: (int(e.split("<-")[0]), int(e.split("<-")[1]))):
        to, frm = (int(x) for x in edge.split("<-"))
        if ops[edge] != "none" and reach[frm]:
            reach[to] = True
    return reach[3]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--spec", required=True, help="JSON file with the full spec")
    ap.add_argument("--arch", help="NB201 arch string (also in the spec)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--sleep", type=float, default=0.0, help="pretend to train this long")
    args = ap.parse_args()
    start = time.time()
    with open(args.spec) as f:
        spec = json.load(f)
    # The cell's value in each dimension of its space (for NAS-Bench-201: one op per edge).
    ops = dict(zip(spec["dimensions"], spec["values"]))
    if args.arch is not None and args.arch != spec["arch"]:
        print(json.dumps({"error": "arch argument and spec disagree"}))
        return 1
    print(f"evaluating {spec['arch']} (index {spec['index']}, seed {spec['seed']})", file=sys.stderr)
    time.sleep(args.sleep)
    rng = random.Random(f"{spec['arch']}/{args.seed}")
    if not connected(ops):
        val = test = 10.0
    else:
        score = sum({"nor_conv_3x3": 6.0, "nor_conv_1x1": 3.0, "skip_connect": 1.5,
                     "avg_pool_3x3": 0.5}.get(op, 0.0) for op in ops.values())
        val = min(99.0, 60.0 + score + rng.gauss(0.0, 0.5))
        test = min(99.0, val - 0.5 + rng.gauss(0.0, 0.5))
    print(json.dumps({"val_acc": round(val, 4), "test_acc": round(test, 4),
                      "cost_seconds": round(time.time() - start, 4)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
