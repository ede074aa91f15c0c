"""Trains one member of examples/declared_space_command.toml: an MLP of the member's depth, widths,
activation and learning rate, on the shipped 8x8 digits (sklearn's 1,797 images, a gzip CSV of
64 pixels 0..16 and a label), with numpy.

    python3 declared_space_train.py '{values_json}' --seed N --epochs E --data DIGITS.csv.gz

The split is fixed (1,000 train, 397 validation, 400 test images); the weights and the batch
order come from --seed, so a member and a seed give the same accuracies every time. Prints
{"val_acc": ..., "test_acc": ..., "params": ...} (percent) as its last line.
"""
import argparse, csv, gzip, json, sys

try:
    import numpy as np
except ImportError:
    print("declared_space_train.py needs numpy: pip install numpy", file=sys.stderr)
    sys.exit(3)

ap = argparse.ArgumentParser()
ap.add_argument("values_json")
ap.add_argument("--seed", type=int, required=True)
ap.add_argument("--epochs", type=int, default=10)
ap.add_argument("--data", required=True)
args = ap.parse_args()
v = json.loads(args.values_json)

with gzip.open(args.data, "rt", newline="") as f:
    rows = list(csv.reader(f))
if rows[0][-1] != "label" or len(rows[0]) != 65:
    sys.exit(f"{args.data}: expected 64 pixel columns and `label`")
data = np.array(rows[1:], dtype=np.float64)
x, y = data[:, :64] / 16.0, data[:, 64].astype(np.int64)
order = np.random.default_rng(0).permutation(len(y))  # the same split for every member
tr, va, te = order[:1000], order[1000:1397], order[1397:]
mean = x[tr].mean(axis=0)
x = x - mean

widths = [v[k] for k in ("width1", "width2", "width3")[: v["depth"]]]  # one per layer
act, dact = {
    "relu": (lambda z: np.maximum(z, 0.0), lambda z, a: (z > 0).astype(z.dtype)),
    "tanh": (np.tanh, lambda z, a: 1.0 - a * a),
    "sigmoid": (lambda z: 1.0 / (1.0 + np.exp(-z)), lambda z, a: a * (1.0 - a)),
}[v["activation"]]
rng = np.random.default_rng(args.seed)
sizes = [64] + widths + [10]
W = [rng.normal(0.0, np.sqrt(2.0 / a), (a, b)) for a, b in zip(sizes, sizes[1:])]
B = [np.zeros(b) for b in sizes[1:]]
mW = [np.zeros_like(w) for w in W]
mB = [np.zeros_like(b) for b in B]


def forward(xb):
    zs, acts = [], [xb]
    for i, (w, b) in enumerate(zip(W, B)):
        z = acts[-1] @ w + b
        zs.append(z)
        acts.append(z if i == len(W) - 1 else act(z))
    return zs, acts


def accuracy(idx):
    return float((forward(x[idx])[1][-1].argmax(axis=1) == y[idx]).mean() * 100.0)


lr, batch = float(v["lr"]), 32
for _ in range(args.epochs):
    perm = rng.permutation(tr)
    for s in range(0, len(perm), batch):
        idx = perm[s : s + batch]
        zs, acts = forward(x[idx])
        logits = acts[-1] - acts[-1].max(axis=1, keepdims=True)
        p = np.exp(logits)
        p /= p.sum(axis=1, keepdims=True)
        p[np.arange(len(idx)), y[idx]] -= 1.0
        g = p / len(idx)
        for i in reversed(range(len(W))):
            gW, gB = acts[i].T @ g, g.sum(axis=0)
            if i > 0:
                g = (g @ W[i].T) * dact(zs[i - 1], acts[i])
            mW[i] = 0.9 * mW[i] + gW  # SGD with momentum 0.9
            mB[i] = 0.9 * mB[i] + gB
            W[i] -= lr * mW[i]
            B[i] -= lr * mB[i]

val, test = accuracy(va), accuracy(te)
if not (np.isfinite(W[0]).all() and np.isfinite(val)):
    print(json.dumps({"error": "training diverged (the weights are not finite)"}))
    sys.exit(0)
params = sum(w.size + b.size for w, b in zip(W, B))
print(json.dumps({"val_acc": round(val, 2), "test_acc": round(test, 2), "params": params}))
