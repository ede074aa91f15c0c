"""emprox from Python: the same engine as the ``emprox`` command, through pyo3.

- :func:`run`, :func:`resume`, :func:`compare` do what ``emprox run``, ``emprox resume`` and
  ``emprox compare`` do (same files, same journal bytes) and return the results as data.
- :class:`Search` is an ask/tell search: the engine's own loop (strategy, filter, dedup,
  journal) with you as its evaluator.
- :func:`load` reads an output folder.

Errors are exceptions with the command's one-line messages: ``ValueError`` for a bad
configuration or argument, ``RuntimeError`` for anything else; Ctrl-C raises
``KeyboardInterrupt`` and leaves a folder that :func:`resume` continues.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterator, List, Literal, Mapping, Optional, Sequence, Tuple, Union

from . import _emprox

__version__: str = _emprox.__version__

PathLike = Union[str, "os.PathLike[str]"]

__all__ = ["run", "resume", "compare", "eval_predictors", "load", "Result", "Comparison", "Search", "Trial", "__version__"]


def _toml_value(v: Any) -> str:
    """A Python value as a TOML value (what ``--set KEY=VALUE`` reads)."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    raise ValueError(f"override value {v!r}: expected a bool, number, string or list")


def _overrides(overrides: Optional[Mapping[str, Any]]) -> List[str]:
    return [f"{k}={_toml_value(v)}" for k, v in (overrides or {}).items()]


@dataclass
class Result:
    """An experiment's output folder as data.

    ``summary`` is ``summary.json`` (``None`` while the experiment is unfinished), ``trials``
    every journal line of every run (each with its ``run`` and ``query``).
    """

    out: Path
    summary: Optional[Dict[str, Any]]
    trials: List[Dict[str, Any]] = field(default_factory=list)

    @property
    def best(self) -> Optional[Dict[str, Any]]:
        """The best architecture over the runs (as the summary reports it), or ``None``."""
        if self.summary is None:
            return None
        best = _emprox.best_of(json.dumps(self.summary))
        return None if best is None else json.loads(best)

    def to_pandas(self) -> Any:
        """The trials as a pandas DataFrame, a row per query of every run, the ``extras`` as
        columns ``extras.NAME`` (pandas is an optional dependency)."""
        import pandas as pd  # type: ignore[import-untyped,unused-ignore]  # optional

        return pd.json_normalize(self.trials)


@dataclass
class Comparison:
    """A comparison's output folder as data: each experiment's :class:`Result`, keyed by its
    folder inside the comparison (``"<benchmark>/<label>"``, as the manifest lists them)."""

    out: Path
    experiments: Dict[str, Result] = field(default_factory=dict)

    def to_pandas(self) -> Any:
        """Every experiment's trials in one DataFrame, with columns ``benchmark`` and
        ``experiment`` (pandas is an optional dependency)."""
        import pandas as pd  # type: ignore[import-untyped,unused-ignore]  # optional

        frames = []
        for key, r in self.experiments.items():
            benchmark, _, label = key.partition("/")
            frames.append(r.to_pandas().assign(benchmark=benchmark, experiment=label))
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def load(out: PathLike) -> Union[Result, Comparison]:
    """Reads the output folder of ``emprox run`` (or of :func:`run`, :class:`Search`): a
    :class:`Result`; or of ``emprox compare`` (:func:`compare`): a :class:`Comparison` of its
    experiments' results."""
    out = Path(out)
    if not out.is_dir():
        raise ValueError(f"{out}: no such folder")
    manifest_path = out / "run.json"
    if manifest_path.exists():
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        if manifest.get("kind") == "comparison":
            names = manifest.get("experiments") or []
            return Comparison(out=out, experiments={n: _load_experiment(out / n) for n in names})
    return _load_experiment(out)


def _load_experiment(out: Path) -> Result:
    """One experiment folder."""
    trials: List[Dict[str, Any]] = []
    i = 0
    while True:
        run_dir, journal = _emprox.run_files(str(out), i)
        path = Path(run_dir) / journal
        if not path.exists():
            break
        with open(path, encoding="utf-8") as f:
            trials.extend(json.loads(line) for line in f if line.strip())
        i += 1
    summary_path = out / "summary.json"
    summary = None
    if summary_path.exists():
        summary = json.loads(summary_path.read_text(encoding="utf-8"))
    return Result(out=out, summary=summary, trials=trials)


KeepWeights = Literal["all", "incumbents"]


def _flags(**flags: Any) -> List[Tuple[str, Any]]:
    """Keywords as the command's flags (``keep_weights="all"`` is ``--keep-weights=all``): the
    command's own parser reads them, with its defaults, checks and messages."""
    return list(flags.items())


def run(
    file: PathLike,
    out: Optional[PathLike] = None,
    *,
    seed: Optional[int] = None,
    seeds: Optional[int] = None,
    overrides: Optional[Mapping[str, Any]] = None,
    threads: Optional[int] = None,
    overwrite: bool = False,
    keep_weights: Optional[KeepWeights] = None,
    keep_checkpoints: bool = False,
    report: bool = True,
    quiet: bool = True,
) -> Result:
    """Runs an experiment file, as ``emprox run FILE --out OUT --seed S --seeds N --set K=V``.

    ``overrides`` maps keys to values (``{"benchmark.dataset": "cifar100"}``);
    ``keep_weights`` (``"all"`` or ``"incumbents"``), ``keep_checkpoints`` and ``report=False``
    are ``--keep-weights``, ``--keep-checkpoints`` and ``--no-report``, read and checked by the
    command's own parser (a bad value is a ``ValueError`` with its message).

    The GIL is released while it runs. Ctrl-C does what it does to ``emprox run``: every run
    this process has going stops before its next journal line, the commands of a command
    evaluator are stopped (SIGTERM to their process groups, SIGKILL after 2 s), trainings stop
    at their next step and Slurm jobs in flight are cancelled, none of them journaled; then it
    raises ``KeyboardInterrupt``. The folder is continued by :func:`resume`, to the
    uninterrupted journal.
    """
    _, out_dir = _emprox.run(
        str(file),
        _flags(
            out=None if out is None else str(out),
            seed=seed,
            seeds=seeds,
            set=_overrides(overrides),
            threads=threads,
            overwrite=overwrite,
            keep_weights=keep_weights,
            keep_checkpoints=keep_checkpoints,
            no_report=not report,
        ),
        quiet,
    )
    return _load_experiment(Path(out_dir))


def resume(
    out: PathLike,
    *,
    threads: Optional[int] = None,
    allow_version_change: bool = False,
    keep_weights: Optional[KeepWeights] = None,
    keep_checkpoints: bool = False,
    report: bool = True,
    quiet: bool = True,
) -> Result:
    """Continues an interrupted experiment, as ``emprox resume OUT`` (the keywords are its
    flags, as for :func:`run`; Ctrl-C as there)."""
    _emprox.resume(
        str(out),
        _flags(
            threads=threads,
            allow_version_change=allow_version_change,
            keep_weights=keep_weights,
            keep_checkpoints=keep_checkpoints,
            no_report=not report,
        ),
        quiet,
    )
    return _load_experiment(Path(out))


def compare(
    file: PathLike,
    out: Optional[PathLike] = None,
    *,
    seed: Optional[int] = None,
    seeds: Optional[int] = None,
    threads: Optional[int] = None,
    overwrite: bool = False,
    resume: bool = False,
    allow_version_change: bool = False,
    keep_checkpoints: bool = False,
    report: bool = True,
    quiet: bool = True,
) -> str:
    """Runs a comparison file, as ``emprox compare`` (the keywords are its flags, as for
    :func:`run`); returns its Markdown table."""
    table, _ = _emprox.compare(
        str(file),
        _flags(
            out=None if out is None else str(out),
            seed=seed,
            seeds=seeds,
            threads=threads,
            overwrite=overwrite,
            resume=resume,
            allow_version_change=allow_version_change,
            keep_checkpoints=keep_checkpoints,
            no_report=not report,
        ),
        quiet,
    )
    return table


def eval_predictors(
    file: PathLike,
    out: Optional[PathLike] = None,
    *,
    overwrite: bool = False,
    quiet: bool = True,
) -> str:
    """Evaluates estimators as predictors, as ``emprox eval-predictors``; returns its Markdown
    table (the files are in ``out``)."""
    table, _ = _emprox.eval_predictors(
        str(file), _flags(out=None if out is None else str(out), overwrite=overwrite), quiet
    )
    return table


@dataclass(frozen=True)
class Trial:
    """A cell to evaluate: its architecture string (for NAS-Bench-201 the genotype string
    ``|op~0|+|op~0|op~1|+|...|``), its index in a table, its dimensions and values, and a seed."""

    run: int
    query: int
    arch: str
    index: Optional[int]
    dimensions: List[str]
    values: List[str]
    seed: int
    space: str

    @property
    def genotype(self) -> str:
        """NAS-Bench-201's genotype string (the architecture string)."""
        return self.arch

    def as_dict(self) -> Dict[str, str]:
        """Dimension name → value."""
        return dict(zip(self.dimensions, self.values))


def _table(v: Union[str, Mapping[str, Any], None]) -> Optional[Dict[str, Any]]:
    if v is None:
        return None
    if isinstance(v, str):
        return {"type": v}
    return dict(v)


class Search:
    """An ask/tell search: the engine's loop with you as its evaluator.

    ``config`` is an experiment file or a dict of its tables; or give the tables as keywords
    (``space`` is ``[benchmark]``). Every told result goes to the same journal as
    ``emprox run`` writes, in the order the trials were asked, so :meth:`Search.resume`
    continues a killed script with the same next proposals. Up to ``workers`` trials may be
    outstanding at once (as with the worker pool). The experiment's ``[evaluator]`` becomes
    ``type = "python"`` (any space: NAS-Bench-201, a table's rows, a declared space).

    The loop runs on a thread of its own, which holds the output folder's lock until the
    search ends (or the process exits: a search left unfinished keeps its folder locked until
    then, and :meth:`Search.resume` continues it from another process). ``ask`` waits with the
    GIL released; Ctrl-C while it waits raises ``KeyboardInterrupt`` and the search stays usable.
    """

    def __init__(
        self,
        config: Union[PathLike, Mapping[str, Any], None] = None,
        *,
        out: PathLike,
        space: Union[str, Mapping[str, Any], None] = None,
        strategy: Union[str, Mapping[str, Any], None] = None,
        estimator: Union[str, Mapping[str, Any], None] = None,
        filter: Optional[Mapping[str, Any]] = None,  # noqa: A002 - the TOML table's name
        budget: Optional[Mapping[str, Any]] = None,
        seed: Optional[int] = None,
        name: str = "python",
        overrides: Optional[Mapping[str, Any]] = None,
        workers: int = 1,
        overwrite: bool = False,
        _native: Any = None,
    ) -> None:
        if _native is not None:
            self._s = _native
            return
        tables = [space, strategy, estimator, filter, budget]
        if isinstance(config, (str, os.PathLike)):
            if any(t is not None for t in tables):
                raise ValueError(
                    "give the tables in the experiment file or as keywords, not both "
                    "(overrides={'strategy.type': ...} changes a file's keys)"
                )
            path = Path(config)
            try:
                text = path.read_text(encoding="utf-8")
            except OSError as e:
                raise ValueError(f"{path}: cannot read experiment file: {e}") from None
        else:
            table: Dict[str, Any] = dict(config or {})
            table.setdefault("name", name)
            for key, value in [
                ("benchmark", _table(space)),
                ("strategy", _table(strategy)),
                ("estimator", _table(estimator)),
                ("filter", _table(filter)),
                ("budget", _table(budget)),
            ]:
                if value is not None:
                    table[key] = value
            table.setdefault("seeds", 1)
            text = _emprox.toml_of_json(json.dumps(table))
            path = Path.cwd() / f"{table['name']}.toml"
        extra = _overrides(overrides)
        if seed is not None:
            extra.append(f"seed={int(seed)}")
        self._s = _emprox.Search.start(text, str(path), str(out), extra, overwrite, workers)

    @classmethod
    def resume(cls, out: PathLike) -> "Search":
        """The search in ``out`` continued (its journal replayed, with its ``workers``): the
        trials asked and not told when it stopped are asked again."""
        return cls(out=out, _native=_emprox.Search.resume(str(out)))

    @property
    def out(self) -> Path:
        """The output folder."""
        return Path(self._s.out)

    def ask(self) -> Optional[Trial]:
        """The next trial, or ``None`` once the search has ended (its budget spent).

        Raises ``RuntimeError`` when the search cannot propose before an outstanding trial is
        told (``workers`` trials outstanding, or the budget spent with trials outstanding)."""
        got = self._s.ask()
        if got is None:
            return None
        run_, query, space, arch, index, dimensions, values, seed = got
        return Trial(run_, query, arch, index, dimensions, values, seed, space)

    def tell(
        self,
        trial: Trial,
        val_acc: float,
        test_acc: Optional[float] = None,
        cost_seconds: float = 0.0,
    ) -> None:
        """The result of ``trial``: its validation score (the search signal), optionally its
        test score (reported only) and what it cost (to ``timings.jsonl``)."""
        self._s.tell(
            trial.run,
            trial.query,
            float(val_acc),
            None if test_acc is None else float(test_acc),
            float(cost_seconds),
            None,
        )

    def tell_failed(self, trial: Trial, reason: str, cost_seconds: float = 0.0) -> None:
        """``trial`` could not be evaluated, for ``reason`` (journaled as a failure)."""
        self._s.tell(trial.run, trial.query, None, None, float(cost_seconds), str(reason))

    def outstanding(self) -> List[Sequence[int]]:
        """The (run, query) pairs asked and not yet told."""
        return [tuple(p) for p in self._s.outstanding()]

    def __iter__(self) -> Iterator[Trial]:
        while True:
            t = self.ask()
            if t is None:
                return
            yield t

    def result(self) -> Result:
        """The output folder as data (:func:`load`)."""
        return _load_experiment(Path(self.out))
