#!/usr/bin/env python3
"""Joins the NAS-Bench-201 CIFAR-10 metrics with the HW-NAS-Bench / HELP device latencies into the
gzip CSV table nb201_cifar10_hw.csv.gz shipped in benchmarks/data (described by
nb201_cifar10_hw.tabular.toml), so that multi-objective experiments can use latency_<device>_ms
columns as objectives.

Usage: python3 convert_nb201_hw.py SHARED_DATA_DIR OUT_DIR
  e.g. python3 benchmarks/data/scripts/convert_nb201_hw.py /work/shared/data benchmarks/data

Inputs (see shared/data/README.md, sections 1 and 2):
  nb201/nb201.csv               the NAS-Bench-201 table (the same content as nb201.csv.gz here;
                                its SHA-256 is checked against CHECKSUMS when that file is given)
  nb201/nb201_latency_help.csv  latencies in ms of all 15,625 cells on 27 device / batch-size
                                settings, from GitHub HayeonLee/HELP @ 45f70eb9,
                                data/nasbench201/latency/*.pt (MIT); HELP takes eyeriss, fpga,
                                pixel3 and raspi4 from HW-NAS-Bench and pixel2, samsung_a50,
                                samsung_s7 and essential_ph_1 from BRP-NAS / Eagle.
Every value is copied as the text it is in the inputs (no re-formatting); rows are joined on the
NB201 index, which both files hold in the same order (checked). Outputs are deterministic (gzip
mtime 0); the script prints the row count and the SHA-256 of the uncompressed CSV for
benchmarks/data/CHECKSUMS.
"""
import csv
import gzip
import hashlib
import io
import sys

NB201_COLUMNS = ["index", "arch", "ops", "iso_rep_index", "c10_val_acc", "c10_test_acc",
                 "c10_params_M", "c10_flops_M", "c10_latency_s", "c10_train_time_s"]
NB201_SHA256 = "640e72aab7c6c301bf254c31efaf46f098b06e0db0d3c0cb0199c70f39a78eee"


def main(src, out):
    raw = open(f"{src}/nb201/nb201.csv", "rb").read()
    assert hashlib.sha256(raw).hexdigest() == NB201_SHA256, "nb201.csv is not the shipped table"
    nb201 = list(csv.DictReader(io.StringIO(raw.decode())))
    lat = list(csv.DictReader(open(f"{src}/nb201/nb201_latency_help.csv", newline="")))
    assert len(nb201) == len(lat) == 15625
    devices = [c for c in lat[0].keys() if c != "index"]
    assert len(devices) == 27 and all(d.endswith("_ms") for d in devices)
    header = NB201_COLUMNS + [f"latency_{d}" for d in devices]
    rows = []
    for i, (a, b) in enumerate(zip(nb201, lat)):
        assert a["index"] == b["index"] == str(i)
        values = [b[d] for d in devices]
        for v in values:
            assert float(v) > 0.0, (i, v)
        rows.append([a[c] for c in NB201_COLUMNS] + values)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    w.writerows(rows)
    data = buf.getvalue().encode()
    path = f"{out}/nb201_cifar10_hw.csv.gz"
    with open(path, "wb") as f:
        f.write(gzip.compress(data, compresslevel=9, mtime=0))
    print(f"nb201_cifar10_hw.csv.gz  {len(rows)}  {hashlib.sha256(data).hexdigest()}")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
