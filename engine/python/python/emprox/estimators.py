"""The estimators of emprox on arrays: ``fit(archs, y)`` and ``predict(archs)``.

``archs`` are architecture strings of the space (NAS-Bench-201 CIFAR-10 unless ``space`` names
another ``[benchmark]`` table); ``y`` and the predictions are NumPy arrays (higher is better).
Parameters are those of the ``[estimator]`` table (``emprox list`` shows them)::

    est = emprox.estimators.GBDT(rounds=100)
    est.fit(archs, accuracies)
    scores = est.predict(other_archs)

In a tabular space (``space={"type": "tabular", "description": "nb101.tabular.toml"}``) an
architecture may also be its value list: one value per dimension, in the order of the space's
dimensions (a :class:`emprox.Trial`'s ``dimensions``; a sequence column gives one dimension per
position), e.g. ``[[0, 1, ..., "conv3x3-bn-relu", ...], ...]`` or a 2-D NumPy array, a row per
architecture. Values are compared as text (``0`` is ``"0"``) and looked up as the space parses
its architecture strings; a row of the wrong length or with a value that is not one of its
dimension's choices is a ``ValueError`` that names the row and the value's position.
"""

from __future__ import annotations

import json
import os
from typing import Any, List, Mapping, Optional, Sequence, Union

import numpy as np

from . import _emprox

__all__ = ["Estimator", "EmProx", "EmProxSupervised", "NAO", "GBDT", "KnnOneHot", "MlpEnsemble",
           "Random", "NASLibPredictor"]

_NB201 = {"type": "nasbench201", "dataset": "cifar10"}

#: Architectures: strings, or (a tabular space) value lists, a row each (a 2-D array).
Archs = Union[Sequence[str], Sequence[Sequence[Any]], "np.ndarray"]


def _archs(archs: Archs) -> List[Union[str, List[str]]]:
    """Each architecture string as it is, each value list as its values' text."""
    rows = archs.tolist() if isinstance(archs, np.ndarray) else archs
    return [a if isinstance(a, str) else [str(v) for v in a] for a in rows]



class Estimator:
    """An estimator of type ``kind`` (``"emprox"``, ``"gbdt"``, ...) with ``params``."""

    kind: str = ""

    def __init__(
        self,
        kind: Optional[str] = None,
        *,
        space: Optional[Mapping[str, Any]] = None,
        seed: int = 0,
        **params: Any,
    ) -> None:
        kind = kind or self.kind
        if not kind:
            raise ValueError("an estimator needs its type, e.g. Estimator('gbdt')")
        self.seed = int(seed)
        self.params = {"type": kind, **params}
        self._e = _emprox.Estimator(
            json.dumps(self.params), json.dumps(dict(space or _NB201)), os.getcwd()
        )

    def fit(self, archs: Archs, y: Any) -> "Estimator":
        """Fits on ``archs`` (architecture strings, or a tabular space's value lists) with
        targets ``y`` (array-like)."""
        targets = np.asarray(y, dtype=np.float64).ravel()
        self._e.fit(_archs(archs), targets.tolist(), self.seed)
        return self

    def predict(self, archs: Archs) -> "np.ndarray":
        """Scores of ``archs`` (as for :meth:`fit`) as a float64 array (higher is better)."""
        return np.asarray(self._e.predict(_archs(archs)), dtype=np.float64)

    def save(self, folder: "os.PathLike[str] | str") -> None:
        """Saves the fitted model (EmProx), for ``emprox predict --model FOLDER``."""
        self._e.save(str(folder))


class EmProx(Estimator):
    """Encoder-decoder embedding with a distance-weighted kNN (the paper's estimator)."""

    kind = "emprox"


class EmProxSupervised(Estimator):
    """EmProx over an embedding learnt from the accuracies (regression head and pairwise ranking
    loss), kNN's k chosen by leave-one-out: the filter estimator beyond NAS-Bench-201."""

    kind = "emprox_supervised"


class NAO(Estimator):
    """The same encoder-decoder with an MLP regression head."""

    kind = "nao"


class GBDT(Estimator):
    """Gradient-boosted trees on the one-hot encoding."""

    kind = "gbdt"


class KnnOneHot(Estimator):
    """Distance-weighted kNN on the one-hot encoding."""

    kind = "knn_onehot"


class MlpEnsemble(Estimator):
    """BANANAS-style ensemble of MLPs on the path encoding."""

    kind = "mlp_ensemble"


class Random(Estimator):
    """Random scores (a baseline)."""

    kind = "random"


class NASLibPredictor:
    """NASLib's predictor interface over an emprox estimator: ``fit(xtrain, ytrain)`` and
    ``query(xtest)``, where the x are architecture strings (or value lists, as for
    :meth:`Estimator.fit`)."""

    def __init__(self, estimator: Estimator) -> None:
        self.estimator = estimator

    def fit(self, xtrain: Archs, ytrain: Any) -> None:
        self.estimator.fit(xtrain, ytrain)

    def query(self, xtest: Archs) -> "np.ndarray":
        return self.estimator.predict(xtest)
