"""examples/python: ask/tell around a NumPy model on the shipped digits images, and around a
PyTorch model."""

import os
import subprocess
import sys

import pytest

import emprox


def test_the_digits_example_searches_and_the_cli_refuses_its_folder(root, cli, tmp_path):
    script = root / "examples" / "python" / "digits_ask_tell.py"
    out = tmp_path / "digits"
    p = subprocess.run([sys.executable, script, "--out", out, "--queries", "6"],
                       check=True, capture_output=True, text=True, timeout=300)
    assert p.stdout.splitlines()[-1].startswith("best: depth=")
    r = emprox.load(out)
    assert [t["query"] for t in r.trials] == list(range(1, 7))
    # A trained MLP beats chance (10%) on held-out digits.
    assert r.best is not None and r.best["val_acc"] > 50
    # Resuming a finished search asks nothing more and changes nothing.
    before = (out / "seed-0" / "trials.jsonl").read_bytes()
    again = subprocess.run([sys.executable, script, "--out", out, "--resume"],
                           check=True, capture_output=True, text=True, timeout=300)
    assert again.stdout.startswith("best: ")
    assert (out / "seed-0" / "trials.jsonl").read_bytes() == before
    # Results from Python only: the command refuses such an experiment and says where to go.
    file = tmp_path / "py.toml"
    file.write_text((out / "config.resolved.toml").read_text())
    c = subprocess.run([cli, "run", file, "--out", tmp_path / "cli"], capture_output=True,
                       text=True)
    assert c.returncode == 2 and "emprox.Search" in c.stderr
    assert not (tmp_path / "cli").exists()


def torch_python():
    """The interpreter with PyTorch: $EMPROX_TORCH_PYTHON (CI's environment with torch, where
    the emprox wheel is installed too), else this one. Skips where it has no torch, unless
    $EMPROX_CI is set: there the test must run."""
    python = os.environ.get("EMPROX_TORCH_PYTHON") or sys.executable
    p = subprocess.run([python, "-c", "import torch, emprox"], capture_output=True, text=True)
    if p.returncode != 0:
        why = f"{python} cannot import torch and emprox: {p.stderr.strip().splitlines()[-1:]}"
        if os.environ.get("EMPROX_CI"):
            pytest.fail(f"{why} (EMPROX_CI is set: the torch example must run)")
        pytest.skip(why)
    return python


def test_the_torch_example(root, tmp_path):
    script = root / "examples" / "python" / "torch_ask_tell.py"
    # One thread: these small MLPs train in seconds so, and in about a minute on every core of
    # a busy machine (the threads wait for each other at each step).
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    p = subprocess.run([torch_python(), script, "--out", tmp_path / "t", "--queries", "4"],
                       check=True, capture_output=True, text=True, timeout=600, env=env)
    assert p.stdout.splitlines()[-1].startswith("best: depth=")
    assert [t["query"] for t in emprox.load(tmp_path / "t").trials] == [1, 2, 3, 4]
