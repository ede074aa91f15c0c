"""Ask/tell: the engine's loop with the test as its evaluator."""

import os
import signal
import subprocess
import sys
import time

import pytest

import emprox

SPACE = {"type": "nasbench201", "dataset": "cifar10"}


def score(trial):
    """A deterministic stand-in for training: a number from the cell's index."""
    return (trial.index * 7919 % 1000) / 10.0


def search(out, workers=1, queries=30, **kw):
    return emprox.Search(space=SPACE, strategy="regularized_evolution", seed=5,
                         budget={"max_queries": queries}, out=out, workers=workers, **kw)


def loop(s, stop_after=None):
    """Asks while it can, telling the oldest outstanding trial when the window is full,
    failing every seventh query. Returns the (run, query, arch) asked."""
    asked, held, told = [], [], 0
    while True:
        try:
            t = s.ask()
        except RuntimeError:
            t = "full"
        if t is None:
            break
        if t != "full":
            asked.append((t.run, t.query, t.arch))
            held.append(t)
            continue
        # Tell the newest first, then the oldest: results are still journaled in order.
        for t in sorted(held, key=lambda t: -t.query):
            if t.query % 7 == 0:
                s.tell_failed(t, "diverged")
            else:
                s.tell(t, score(t), test_acc=score(t) - 1.0, cost_seconds=1.5)
            told += 1
            if stop_after is not None and told >= stop_after:
                print("ready", flush=True)
                time.sleep(600)
        held = []
    return asked


def test_several_outstanding_trials_and_the_journal(tmp_path):
    s = search(tmp_path / "o", workers=3)
    a, b, c = s.ask(), s.ask(), s.ask()
    assert [a.query, b.query, c.query] == [1, 2, 3]
    assert s.outstanding() == [(0, 1), (0, 2), (0, 3)]
    assert len({a.arch, b.arch, c.arch}) == 3
    assert a.genotype.startswith("|") and len(a.dimensions) == len(a.values) == 6
    with pytest.raises(RuntimeError, match="waits for the result of query 1"):
        s.ask()
    s.tell(b, 50.0)
    with pytest.raises(RuntimeError, match="query 1"):
        s.ask()
    s.tell(a, 40.0)
    d = s.ask()
    assert d.query == 4
    with pytest.raises(ValueError, match="not an outstanding trial"):
        s.tell(a, 1.0)
    s.tell_failed(c, "out of memory")
    s.tell(d, 60.0)
    for t in s:
        s.tell(t, score(t))
    r = s.result()
    assert [t["query"] for t in r.trials] == list(range(1, 31))
    assert r.trials[0]["val_acc"] == 40.0 and r.trials[1]["val_acc"] == 50.0
    assert r.trials[2]["val_acc"] is None and r.trials[2]["error"] == "out of memory"
    assert r.summary is not None and r.summary["failed"] == 1
    assert r.best["val_acc"] == max(t["val_acc"] or 0 for t in r.trials)


def test_bad_arguments_raise_the_documented_exceptions(tmp_path):
    with pytest.raises(ValueError, match="max_querie"):
        emprox.Search(space=SPACE, strategy="random", budget={"max_querie": 3}, out=tmp_path / "a")
    with pytest.raises(ValueError, match="workers"):
        search(tmp_path / "b", workers=0)
    with pytest.raises(ValueError, match="not both"):
        emprox.Search("examples/nb201_random.toml", strategy="random", out=tmp_path / "d")
    with pytest.raises(ValueError, match="cannot read"):
        emprox.Search(tmp_path / "missing.toml", out=tmp_path / "d")
    with pytest.raises(ValueError, match="no such folder"):
        emprox.load(tmp_path / "nothing")
    s = search(tmp_path / "c")
    t = s.ask()
    with pytest.raises(ValueError, match="finite"):
        s.tell(t, float("nan"))
    with pytest.raises(ValueError, match="cost_seconds"):
        s.tell(t, 1.0, cost_seconds=-1)
    s.tell(t, 1.0)
    # The folder is the search's: a second search there is refused, as `emprox run` does.
    with pytest.raises(RuntimeError):
        search(tmp_path / "c")


KILLED = """
import sys
sys.path.insert(0, sys.argv[1])
import test_search as ts
s = ts.search(sys.argv[2], workers=2)
ts.loop(s, stop_after=int(sys.argv[3]))
"""


@pytest.mark.parametrize("workers", [1, 2])
def test_sigkill_and_resume_give_the_uninterrupted_journal(tmp_path, workers):
    whole = search(tmp_path / "whole", workers=workers)
    asked_whole = loop(whole)
    out = tmp_path / "killed"
    p = subprocess.Popen(
        [sys.executable, "-c", KILLED.replace("workers=2", f"workers={workers}"),
         os.path.dirname(__file__), str(out), "13"],
        stdout=subprocess.PIPE, text=True)
    assert p.stdout is not None and p.stdout.readline().strip() == "ready"
    p.send_signal(signal.SIGKILL)
    p.wait(timeout=30)
    journal = out / "seed-0" / "trials.jsonl"
    done = journal.read_bytes().count(b"\n")
    assert 0 < done < 30
    resumed = emprox.Search.resume(out)
    asked_after = loop(resumed)
    # The next proposals are those of the uninterrupted loop.
    assert asked_after == asked_whole[done:], (done, asked_after[:3], asked_whole[done:done + 3])
    assert journal.read_bytes() == (tmp_path / "whole" / "seed-0" / "trials.jsonl").read_bytes()
