#!/usr/bin/env python3
"""Side-by-side fit cost: our EmProx (candle, `emprox eval-predictors`) vs the authors' PyTorch
EmProx (github.com/GideonFr/EmProx, `naslib/predictors/emprox_score.py`), interleaved in one run
on one machine, one thread each, same n = 121 NAS-Bench-201 CIFAR-10 training cells per repetition.

    cargo build --release -p emprox-engine
    python3 estimators/bench/authors_compare/compare.py /path/to/EmProx-checkout [--reps 15]

The authors' code is loaded from the checkout given as the argument (nothing of it is copied
here). Their `emprox_score.py`, `predictor.py` and `utils/encodings.py` are imported unchanged;
only the NASLib modules they import but the NB201 fit does not use (the NB101/DARTS/NLP/ASR
encoders, `loguniform`, the plotting libraries) are replaced by stubs, and `AverageMeter` (a
running mean) by an equivalent of our own, so that the whole of NASLib need not be installed.
Needs torch and numpy (and scipy, which their kNN uses).

Per repetition r: (1) our binary runs `eval-predictors` with seed r, trials = 1, n = 121 and two
EmProx entries (our defaults, and our network widened to the authors' width); the per-fit thread
CPU seconds come from its `results.csv`, the child process's total CPU (startup, data loading,
splits, both fits, queries) from getrusage; (2) the authors' `EmProxPredictor.fit` runs on the
same 121 cells (read from the binary's `splits.json`) with the settings of their
`experiments/run_experiments.py` (k_nn = 60, hidden_lay = 32, seminas encoding) and their fit
defaults (50 epochs, batch 100, Adam 1e-3, weight decay 1e-4, clip 5, dropout 0.1); its thread
and process CPU are measured around `fit`, and, separately, the train-set query that their `fit`
ends with. Repetition 0 is a warm-up and is not counted. Prints one JSON line per repetition,
then a table of medians and ratios.
"""
import argparse
import contextlib
import csv
import hashlib
import importlib.machinery
import importlib.util
import io
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import types

# One thread for torch / BLAS, no GPU; set before torch is imported.
for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ[var] = "1"
os.environ["CUDA_VISIBLE_DEVICES"] = ""

import numpy as np  # noqa: E402
import torch  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
BINARY = os.path.join(ROOT, "target", "release", "emprox")

# Our op codes (benchmarks/data/README.md: 0 none, 1 skip_connect, 2 nor_conv_1x1,
# 3 nor_conv_3x3, 4 avg_pool_3x3; edges 1<-0, 2<-0, 2<-1, 3<-0, 3<-1, 3<-2) to NASLib's op indices
# (OP_NAMES Identity, Zero, ReLUConvBN3x3, ReLUConvBN1x1, AvgPool1x1; EDGE_LIST order
# 1<-0, 2<-0, 3<-0, 2<-1, 3<-1, 3<-2).
OP_TO_NASLIB = {0: 1, 1: 0, 2: 3, 3: 2, 4: 4}
EDGE_TO_NASLIB = [0, 1, 3, 2, 4, 5]


class Arch:
    """The one method of a NASLib NB201 graph that the seminas encoding calls."""

    def __init__(self, ops):
        self.ops = [OP_TO_NASLIB[o] for o in ops]

    def get_op_indices(self):
        return [self.ops[e] for e in EDGE_TO_NASLIB]


class RunningMean:
    """Stands in for NASLib's AverageMeter (sum, count, mean)."""

    def __init__(self):
        self.avg, self.sum, self.cnt = 0, 0, 0

    def update(self, val, n=1):
        self.sum += val * n
        self.cnt += n
        self.avg = self.sum / self.cnt


def stub(name, **attrs):
    m = types.ModuleType(name)
    m.__path__ = []
    m.__spec__ = importlib.machinery.ModuleSpec(name, None, is_package=True)
    m.__dict__.update(attrs)
    sys.modules[name] = m
    return m


def load(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    m = importlib.util.module_from_spec(spec)
    sys.modules[name] = m
    spec.loader.exec_module(m)
    return m


def load_authors(checkout):
    pkg = os.path.join(checkout, "naslib")
    for name in ("naslib", "naslib.utils", "naslib.predictors", "naslib.predictors.utils",
                 "naslib.predictors.trees"):
        stub(name)
    stub("naslib.utils.utils", AverageMeter=RunningMean, AverageMeterGroup=RunningMean)
    stub("naslib.predictors.trees.ngb", loguniform=None)
    for sub, fn in (("nb101", "encode_101"), ("darts", "encode_darts"), ("nlp", "encode_nlp"),
                    ("asr", "encode_asr")):
        stub(f"naslib.predictors.utils.encodings_{sub}", **{fn: None})
    for mod in ("sklearn", "sklearn.manifold", "sklearn.preprocessing", "matplotlib",
                "matplotlib.pyplot"):
        try:
            importlib.import_module(mod)
        except ImportError:  # only their t-SNE plot uses these
            stub(mod, TSNE=None, MinMaxScaler=None)
    load("naslib.predictors.predictor", os.path.join(pkg, "predictors", "predictor.py"))
    load("naslib.predictors.utils.encodings",
         os.path.join(pkg, "predictors", "utils", "encodings.py"))
    with contextlib.redirect_stdout(io.StringIO()):
        mod = load("authors_emprox_score", os.path.join(pkg, "predictors", "emprox_score.py"))
    # Their NB201 adjacency matrix is float32, so their token sequences hold numpy floats, which
    # current torch refuses to put in a LongTensor (their pinned torch 1.9 presumably did not):
    # cast the tokens to int (once per architecture and fit; no effect on the training).
    to_seq = mod.convert_arch_to_seq
    mod.convert_arch_to_seq = lambda *a, **kw: [int(t) for t in to_seq(*a, **kw)]
    return mod


def read_nb201():
    import gzip
    with gzip.open(os.path.join(ROOT, "benchmarks", "data", "nb201.csv.gz"), "rt") as f:
        rows = list(csv.DictReader(f))
    return [([int(c) for c in r["ops"]], float(r["c10_val_acc"])) for r in rows]


EVAL = """[benchmark]
type = "nasbench201"
dataset = "cifar10"

[evaluation]
train_sizes = [{n}]
test_size = 100
trials = 1
seed = {seed}
jobs = 1
"""
OURS = {
    "ours_default": '[[estimators]]\ntype = "emprox"\nname = "ours_default"\nk = {k}\n',
    "ours_width32": '[[estimators]]\ntype = "emprox"\nname = "ours_width32"\nk = {k}\n'
                    'hidden_size = 32\n',
}


def run_ours(binary, n, k, seed, tmp):
    cfg = os.path.join(tmp, f"eval_{seed}.toml")
    out = os.path.join(tmp, f"out_{seed}")
    with open(cfg, "w") as f:
        f.write(EVAL.format(n=n, seed=seed))
        # The first fit of the process pays its warm-up: alternate which of ours goes first.
        for name in sorted(OURS, reverse=seed % 2 == 1):
            f.write("\n" + OURS[name].format(k=k))
    env = dict(os.environ, RAYON_NUM_THREADS="1")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run([binary, "eval-predictors", cfg, "--out", out], env=env, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    process_cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    with open(os.path.join(out, "results.csv")) as f:
        rows = {r["estimator"]: r for r in csv.DictReader(f)}
    with open(os.path.join(out, "splits.json")) as f:
        train = json.load(f)["trials"][0]["train"][:n]
    res = {"ours_process_cpu_s": process_cpu}
    for name, r in rows.items():
        res[f"{name}_cpu_s"] = float(r["fit_cpu_seconds"])
        res[f"{name}_wall_s"] = float(r["fit_seconds"])
        res[f"{name}_tau"] = float(r["kendall_tau"])
    return train, res


def run_authors(mod, cells, xs, ys, k, hidden, seed):
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    pred = mod.EmProxPredictor(encoding_type="seminas", semi=True, hpo_wrapper=False,
                               k_nn=k, hidden_lay=hidden)
    pred.set_ss_type("nasbench201")
    pred.reset_hyperparams()
    xtrain = [Arch(cells[i][0]) for i in xs]
    ytrain = np.array(ys)
    query = pred.query
    spent = {"cpu": 0.0}

    def timed_query(*a, **kw):  # the train-set query their fit ends with
        c = time.thread_time()
        try:
            return query(*a, **kw)
        finally:
            spent["cpu"] += time.thread_time() - c

    pred.query = timed_query
    with contextlib.redirect_stdout(io.StringIO()):
        c0, p0, w0 = time.thread_time(), time.process_time(), time.perf_counter()
        pred.fit(xtrain, ytrain)
        c1, p1, w1 = time.thread_time(), time.process_time(), time.perf_counter()
    return {"authors_cpu_s": c1 - c0, "authors_process_cpu_s": p1 - p0,
            "authors_wall_s": w1 - w0, "authors_query_in_fit_cpu_s": spent["cpu"],
            "authors_train_cpu_s": (c1 - c0) - spent["cpu"],
            "authors_reference_embeddings": len(pred.model.embedding_list)}


def environment(args):
    def git(d):
        try:
            return subprocess.run(["git", "-C", d, "rev-parse", "HEAD"], capture_output=True,
                                  text=True, check=True).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            return None

    cpu = None
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as f:
        cpu = next((l.split(":", 1)[1].strip() for l in f if l.startswith("model name")), None)
    return {"date_utc": time.strftime("%Y-%m-%d %H:%M", time.gmtime()), "cpu": cpu,
            "cores": os.cpu_count(), "loadavg": os.getloadavg(), "torch": torch.__version__,
            "numpy": np.__version__, "python": sys.version.split()[0],
            "emprox_commit": git(ROOT), "authors_commit": git(args.authors),
            "authors_emprox_score_sha256": hashlib.sha256(open(os.path.join(
                args.authors, "naslib", "predictors", "emprox_score.py"), "rb").read()).hexdigest(),
            "binary": args.binary}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("authors", help="checkout of github.com/GideonFr/EmProx")
    ap.add_argument("--reps", type=int, default=15, help="counted repetitions (plus 1 warm-up)")
    ap.add_argument("--n", type=int, default=121)
    ap.add_argument("--k", type=int, default=60, help="kNN neighbours (their run_experiments: 60)")
    ap.add_argument("--binary", default=BINARY)
    args = ap.parse_args()
    torch.set_num_threads(1)
    torch.set_num_interop_threads(1)
    mod = load_authors(os.path.abspath(args.authors))
    assert str(mod.device) == "cpu"
    cells = read_nb201()
    print(json.dumps(environment(args)), flush=True)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.reps + 1):
            train, ours = run_ours(args.binary, args.n, args.k, r, tmp)
            theirs = run_authors(mod, cells, train, [cells[i][1] for i in train], args.k, 32, r)
            row = {"rep": r, "warmup": r == 0, **ours, **theirs}
            print(json.dumps(row), flush=True)
            if r > 0:
                rows.append(row)
    med = {key: statistics.median(x[key] for x in rows) for key in rows[0]
           if isinstance(rows[0][key], float)}
    a = med["authors_cpu_s"]
    print()
    print(f"CPU seconds per fit, median of {len(rows)} interleaved repetitions, n = {args.n}, "
          "one thread each")
    print("| fit | CPU s (median) | authors' fit / this (medians) | (median of per-rep ratios) |")
    print("|---|---:|---:|---:|")
    for label, key in (
        ("authors' EmProx fit() (PyTorch, as their evaluator times it)", "authors_cpu_s"),
        ("  of which training (fit minus its train-set query)", "authors_train_cpu_s"),
        ("ours, defaults (encoder hidden 16 per direction)", "ours_default_cpu_s"),
        ("ours, encoder hidden 32 per direction (the authors' width)", "ours_width32_cpu_s"),
    ):
        paired = statistics.median(x["authors_cpu_s"] / x[key] for x in rows)
        print(f"| {label} | {med[key]:.3f} | {a / med[key]:.2f} | {paired:.2f} |")
    print()
    print("authors' process CPU per fit (median): "
          f"{med['authors_process_cpu_s']:.3f} s; our whole eval-predictors process "
          f"(load, both fits, queries): {med['ours_process_cpu_s']:.3f} s")
    print(json.dumps({"medians": med, "reps": len(rows), "n": args.n, "k": args.k}))


if __name__ == "__main__":
    main()
