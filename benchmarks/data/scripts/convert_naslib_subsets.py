#!/usr/bin/env python3
"""Converts the NASLib NAS-Bench-101 and -301 subsets (JSON lines) into the gzip CSV tables
shipped in benchmarks/data, for the generic tabular benchmark.

Usage: python3 convert_naslib_subsets.py SHARED_DATA_DIR OUT_DIR
  e.g. python3 benchmarks/data/scripts/convert_naslib_subsets.py /work/shared/data benchmarks/data

Inputs (see shared/data/README.md, sections 7 and 8):
  nb101/nb101_subset500_naslib.jsonl  (NASLib zc_nasbench101.json, blob 82227ea3 @ 22280f71)
  nb301/nb301_subset_naslib.jsonl     (NASLib zc_nasbench301.json, blobs 4487b7ba @ 6639fd15
                                       and 43d9c95a @ 22280f71)
NASLib is Apache-2.0. Outputs are deterministic (gzip mtime 0); the script prints row counts and
the SHA-256 of each uncompressed CSV for benchmarks/data/CHECKSUMS.
"""
import csv
import gzip
import hashlib
import io
import json
import sys

NB101_OPS = ["conv3x3-bn-relu", "conv1x1-bn-relu", "maxpool3x3"]


def nb101_prune(matrix, ops):
    """Removes vertices not on a path from input to output (as nasbench's ModelSpec does)."""
    n = len(matrix)
    fwd, bwd = {0}, {n - 1}
    for i in range(n):
        if i in fwd:
            fwd |= {j for j in range(n) if matrix[i][j]}
    for j in reversed(range(n)):
        if j in bwd:
            bwd |= {i for i in range(n) if matrix[i][j]}
    keep = sorted(fwd & bwd)
    return [[matrix[i][j] for j in keep] for i in keep], [ops[i] for i in keep]


def nb101_hash(matrix, ops):
    """nasbench.lib.graph_util.hash_module on the pruned spec (labels -1 input, -2 output)."""
    matrix, ops = nb101_prune(matrix, ops)
    labels = [-1] + [NB101_OPS.index(o) for o in ops[1:-1]] + [-2]
    n = len(matrix)
    in_edges = [sum(matrix[i][j] for i in range(n)) for j in range(n)]
    out_edges = [sum(matrix[i]) for i in range(n)]
    hashes = [hashlib.md5(str(h).encode()).hexdigest()
              for h in zip(out_edges, in_edges, labels)]
    for _ in range(n):
        hashes = [hashlib.md5((''.join(sorted(hashes[w] for w in range(n) if matrix[w][v])) + '|'
                               + ''.join(sorted(hashes[w] for w in range(n) if matrix[v][w])) + '|'
                               + hashes[v]).encode()).hexdigest() for v in range(n)]
    return hashlib.md5(str(sorted(hashes)).encode()).hexdigest()


def write(path, header, rows):
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    w.writerows(rows)
    data = buf.getvalue().encode()
    with open(path, "wb") as f:
        f.write(gzip.compress(data, compresslevel=9, mtime=0))
    print(f"{path.rsplit('/', 1)[-1]}  {len(rows)}  {hashlib.sha256(data).hexdigest()}")


def nb101(src, out):
    rows, seen = [], set()
    for line in open(f"{src}/nb101/nb101_subset500_naslib.jsonl"):
        r = json.loads(line)
        m, ops = r["matrix"], r["ops"]
        assert len(m) == 7 and ops[0] == "input" and ops[-1] == "output"
        bits = "".join(str(m[i][j]) for i in range(7) for j in range(i + 1, 7))
        assert all(m[i][j] == 0 for i in range(7) for j in range(i + 1))
        key = (bits, tuple(ops))
        assert key not in seen
        seen.add(key)
        rows.append([bits, " ".join(ops[1:-1]), nb101_hash(m, ops),
                     repr(r["val_accuracy"]), repr(r["params_M"]), repr(r["flops_M"])])
    write(f"{out}/nb101_subset500.csv.gz",
          ["matrix", "ops", "iso", "val_accuracy", "params_M", "flops_M"], rows)


def nb301(src, out):
    rows, seen = [], set()
    for line in open(f"{src}/nb301/nb301_subset_naslib.jsonl"):
        r = json.loads(line)
        g = r["genotype"]
        cols = []
        for cell in ("normal", "reduce"):
            assert len(g[cell]) == 8
            cols.append(" ".join(op for op, _ in g[cell]))
            cols.append(" ".join(str(i) for _, i in g[cell]))
        key = tuple(cols)
        assert key not in seen
        seen.add(key)
        # The two inputs of an intermediate node commute: sort each node's pair.
        iso = "/".join(
            ";".join(",".join(f"{op}~{i}" for op, i in sorted(map(tuple, g[cell][2 * k:2 * k + 2])))
                     for k in range(4))
            for cell in ("normal", "reduce"))
        rows.append(cols + [iso, repr(r["val_accuracy"]), repr(r["params_M"]),
                            repr(r["flops_M"]), r["source"]])
    write(f"{out}/nb301_subset.csv.gz",
          ["normal_ops", "normal_inputs", "reduce_ops", "reduce_inputs", "iso",
           "val_accuracy", "params_M", "flops_M", "source"], rows)


if __name__ == "__main__":
    src, out = sys.argv[1], sys.argv[2]
    nb101(src, out)
    nb301(src, out)
