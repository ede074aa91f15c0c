#!/usr/bin/env python3
"""What Slurm costs a search, measured side by side (interleaved) on the running cluster.

    python3 engine/bench/slurm_overhead.py [--reps 3] [--queries 20] [--example-reps 2]
                                           [--bin target/release/emprox]

1. Overhead per job: the same search (regularized evolution, the toy Python evaluator of
   examples/external_command.toml, `--queries` candidates, one evaluation at a time) through
   the command evaluator and through the Slurm evaluator, alternately `--reps` times. Both
   journals are the same cells; the difference of the mean wall seconds per query is what a
   Slurm job adds (submission, scheduling, job start, polling), split with the `slurm_job`
   records of timings.jsonl into queue wait (submission to job start) and the rest.
2. The example: examples/slurm_digits_evolution.toml (30 trainings) with 1 and with 2 jobs in
   flight (`--set evaluator.workers=N`), alternately `--example-reps` times; the ratio of
   median wall times.
Start the cluster first (.ci/slurm/start). Only the ratios and differences mean anything across
machines and clusters.
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPT = os.path.join(ROOT, "benchmarks/examples/external_evaluator.py")


def experiment(path, evaluator, queries):
    extra = "\npoll_seconds = 5" if evaluator == "slurm" else ""
    with open(path, "w") as f:
        f.write(f"""name = "overhead"
seed = 0
[benchmark]
type = "nasbench201"
dataset = "cifar10"
[strategy]
type = "regularized_evolution"
population_size = 10
sample_size = 3
[budget]
max_queries = {queries}
[evaluator]
type = "{evaluator}"
workers = 1
[evaluator.{evaluator}]
command = ["python3", "{SCRIPT}", "--spec", "{{spec}}", "--arch", "{{arch}}", "--seed", "{{seed}}"]{extra}
""")


def timed(cmd):
    t = time.perf_counter()
    subprocess.run(cmd, check=True, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t


def records(out, kind):
    with open(os.path.join(out, "seed-0/timings.jsonl")) as f:
        return [r for r in map(json.loads, f) if r["kind"] == kind]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--queries", type=int, default=20)
    ap.add_argument("--example-reps", type=int, default=2)
    ap.add_argument("--bin", default="target/release/emprox")
    args = ap.parse_args()
    tmp = tempfile.mkdtemp()
    files = {}
    for ev in ("command", "slurm"):
        files[ev] = os.path.join(tmp, ev + ".toml")
        experiment(files[ev], ev, args.queries)
    per_query = {"command": [], "slurm": []}
    queue, rest = [], []
    journals = {}
    for _ in range(args.reps):
        for ev in ("command", "slurm"):
            out = os.path.join(tmp, ev)
            wall = timed([args.bin, "-q", "run", files[ev], "--out", out, "--overwrite"])
            per_query[ev].append(wall / args.queries)
            with open(os.path.join(out, "seed-0/trials.jsonl")) as f:
                journals[ev] = f.read()
            if ev == "slurm":
                evals = {r["query"]: r["wall_seconds"] for r in records(out, "evaluation")}
                for j in records(out, "slurm_job"):
                    queue.append(j["queue_seconds"])
                    rest.append(evals[j["query"]] - j["queue_seconds"] - j["run_seconds"])
    assert journals["command"] == journals["slurm"], "the two searches differ"
    c, s = statistics.mean(per_query["command"]), statistics.mean(per_query["slurm"])
    print(f"overhead per job ({args.queries} candidates x {args.reps} reps, one at a time, "
          f"interleaved, identical journals): command evaluator {c * 1000:.0f} ms/query, "
          f"Slurm {s * 1000:.0f} ms/query: +{(s - c) * 1000:.0f} ms per job, ratio {s / c:.1f}; "
          f"of a Slurm query, queue wait (submission to start) {statistics.mean(queue) * 1000:.0f} ms, "
          f"sbatch + result pickup outside the job {statistics.mean(rest) * 1000:.0f} ms (means)")

    walls = {1: [], 2: []}
    for _ in range(args.example_reps):
        for w in (1, 2):
            out = os.path.join(tmp, f"example{w}")
            walls[w].append(timed([args.bin, "-q", "run", "examples/slurm_digits_evolution.toml",
                                   "--out", out, "--overwrite", "--set", f"evaluator.workers={w}"]))
    m1, m2 = statistics.median(walls[1]), statistics.median(walls[2])
    print(f"examples/slurm_digits_evolution.toml (30 trainings), medians of {args.example_reps} "
          f"interleaved: 1 job in flight {m1:.1f} s, 2 jobs {m2:.1f} s: ratio {m1 / m2:.2f}")
    shutil.rmtree(tmp)


if __name__ == "__main__":
    main()
