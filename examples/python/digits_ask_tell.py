"""Ask/tell around your own training: a small NumPy MLP on the shipped 8x8 digits images.

emprox proposes (its strategy, dedup, journal), this script trains and tells. Kill it and run
it again with --resume: the search goes on from its journal with the same next proposals.

    pip install ./engine/python numpy
    python examples/python/digits_ask_tell.py --out runs/digits-py [--resume]
"""

import argparse
import gzip
import time
from pathlib import Path

import numpy as np

import emprox

DATA = Path(__file__).resolve().parents[2] / "benchmarks" / "data" / "sklearn_digits_8x8.csv.gz"

SPACE = {
    "type": "declared",
    "space": {
        "name": "digits-mlp",
        "dimension": [
            {"name": "depth", "values": [1, 2]},
            {"name": "width", "range": [16, 64], "step": 16},
            {"name": "lr", "log_range": [1e-3, 3e-1], "levels": 6},
            {"name": "activation", "values": ["relu", "tanh"]},
        ],
    },
}


def digits():
    """(x, y) of the 1,797 shipped images: 64 pixels in [0, 1] and the digit."""
    with gzip.open(DATA, "rt") as f:
        rows = np.loadtxt(f, delimiter=",", skiprows=1)
    return rows[:, :64] / 16.0, rows[:, 64].astype(int)


def train(cfg, x, y, seed, epochs=20):
    """Trains an MLP of ``cfg`` by minibatch SGD: (validation accuracy, test accuracy) in %."""
    rng = np.random.default_rng(seed)
    order = np.random.default_rng(0).permutation(len(y))  # one fixed split for every trial
    tr, va, te = order[:1200], order[1200:1500], order[1500:]
    act = np.tanh if cfg["activation"] == "tanh" else (lambda z: np.maximum(z, 0))
    dact = (lambda a: 1 - a * a) if cfg["activation"] == "tanh" else (lambda a: (a > 0) * 1.0)
    sizes = [64] + [int(cfg["width"])] * int(cfg["depth"]) + [10]
    ws = [rng.normal(0, np.sqrt(2 / m), (m, n)) for m, n in zip(sizes, sizes[1:])]
    bs = [np.zeros(n) for n in sizes[1:]]
    lr = float(cfg["lr"])

    def forward(xb):
        acts = [xb]
        for w, b in zip(ws[:-1], bs[:-1]):
            acts.append(act(acts[-1] @ w + b))
        z = acts[-1] @ ws[-1] + bs[-1]
        p = np.exp(z - z.max(1, keepdims=True))
        return acts, p / p.sum(1, keepdims=True)

    for _ in range(epochs):
        for batch in np.array_split(rng.permutation(tr), len(tr) // 32):
            acts, p = forward(x[batch])
            g = p
            g[np.arange(len(batch)), y[batch]] -= 1
            g /= len(batch)
            for i in range(len(ws) - 1, -1, -1):
                gw, gb = acts[i].T @ g, g.sum(0)
                if i:
                    g = (g @ ws[i].T) * dact(acts[i])
                ws[i] -= lr * gw
                bs[i] -= lr * gb
    accuracy = lambda idx: 100.0 * (forward(x[idx])[1].argmax(1) == y[idx]).mean()  # noqa: E731
    return accuracy(va), accuracy(te)


def main(train=train, default_out="runs/digits-py"):
    """The ask/tell loop around ``train(cfg, x, y, seed) -> (val, test)`` (torch_ask_tell.py
    hands in its own)."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=default_out)
    ap.add_argument("--queries", type=int, default=30)
    ap.add_argument("--resume", action="store_true")
    args = ap.parse_args()
    x, y = digits()
    if args.resume:
        search = emprox.Search.resume(args.out)
    else:
        search = emprox.Search(space=SPACE, strategy="regularized_evolution", seed=0,
                               budget={"max_queries": args.queries}, out=args.out)
    for trial in search:
        start = time.perf_counter()
        val, test = train(trial.as_dict(), x, y, trial.seed)
        search.tell(trial, val_acc=val, test_acc=test, cost_seconds=time.perf_counter() - start)
        print(f"{trial.query:3d} {trial.arch:60s} val {val:5.1f}", flush=True)
    best = search.result().best
    print(f"best: {best['arch']} val {best['val_acc']:.1f} test {best['test_acc']:.1f}")


if __name__ == "__main__":
    main()
