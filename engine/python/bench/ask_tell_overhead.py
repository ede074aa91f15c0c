"""Time per ask+tell pair from Python against the same loop in the engine, on the same table.

Random search over NAS-Bench-201 CIFAR-10, no filter, N queries, one process:
  engine  emprox.run: the engine's loop looks each cell up in the table itself (report=False:
          an ask/tell search writes no report.html either);
  python  emprox.Search: the same loop asks Python, which looks the cell up in a dict of the
          values the engine run found (the same cells: random search proposes independently
          of the values) and tells it;
  optuna  optuna's ask/tell with its RandomSampler over the same six categorical edges, told
          from the same dict (where optuna is installed).
Each is timed best of --repeat; the ratios are printed. The work differs a little: the engine's
table evaluations are simulated, so its journal lines also carry the table's cost, simulated
seconds and extras (about 1.4 times the bytes of a told result's line). A Python evaluation is a
real one to the engine (as a command's is), but its journal line is synced to the disk only when
it took 0.1 s or more (engine/src/pipeline/search.rs, SYNC_SECONDS); --dir /dev/shm (tmpfs)
rules the disk out.

    python engine/python/bench/ask_tell_overhead.py [--queries 3000] [--repeat 3] [--dir DIR]
"""

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import emprox

ROOT = Path(__file__).resolve().parents[3]
SPACE = {"type": "nasbench201", "dataset": "cifar10"}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--queries", type=int, default=3000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--dir", default=None, help="where the output folders go (default: $TMPDIR)")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(dir=args.dir))
    try:
        measure(args.queries, args.repeat, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def measure(n: int, repeat: int, tmp: Path) -> None:
    """Times the three ways on n queries, best of `repeat`, with their folders in `tmp`."""
    over = {"budget.max_queries": n, "strategy.type": "random"}
    file = ROOT / "examples" / "nb201_random.toml"

    def engine() -> emprox.Result:
        shutil.rmtree(tmp / "engine", ignore_errors=True)
        return emprox.run(file, tmp / "engine", seeds=1, seed=0, overrides=over, threads=1,
                          report=False)

    lookup = {t["arch"]: t["val_acc"] for t in engine().trials}

    def python() -> int:
        shutil.rmtree(tmp / "python", ignore_errors=True)
        s = emprox.Search(space=SPACE, strategy="random", seed=0, budget={"max_queries": n},
                          out=tmp / "python")
        k = 0
        for t in s:
            s.tell(t, lookup[t.arch])
            k += 1
        return k

    def best_of(f) -> float:  # type: ignore[no-untyped-def]
        times = []
        for _ in range(repeat):
            start = time.perf_counter()
            f()
            times.append(time.perf_counter() - start)
        return min(times)

    t_engine = best_of(engine)
    t_python = best_of(python)
    assert (tmp / "python" / "seed-0" / "trials.jsonl").read_bytes().count(b"\n") == n
    print(f"queries {n}; per query: engine loop {t_engine / n * 1e6:.1f} us, "
          f"Python ask+tell {t_python / n * 1e6:.1f} us; ratio {t_python / t_engine:.2f}x")
    try:
        import optuna  # type: ignore[import-not-found]
    except ImportError:
        print("optuna not installed: no comparison")
        return
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    ops = ["none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3"]
    edges = ["1<-0", "2<-0", "2<-1", "3<-0", "3<-1", "3<-2"]

    def study() -> None:
        st = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0),
                                 direction="maximize")
        for _ in range(n):
            tr = st.ask()
            o = [tr.suggest_categorical(e, ops) for e in edges]
            arch = f"|{o[0]}~0|+|{o[1]}~0|{o[2]}~1|+|{o[3]}~0|{o[4]}~1|{o[5]}~2|"
            st.tell(tr, lookup.get(arch, 0.0))

    t_optuna = best_of(study)
    print(f"optuna {optuna.__version__} random ask+tell {t_optuna / n * 1e6:.1f} us per query; "
          f"emprox Python ask+tell is {t_optuna / t_python:.1f}x faster")


if __name__ == "__main__":
    main()
