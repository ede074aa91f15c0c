"""Every estimator fits and predicts on arrays; EmProx saved from Python predicts as the CLI."""

import subprocess

import numpy as np
import pytest

import emprox
from emprox import estimators as est


def data(n, offset=0):
    """n NAS-Bench-201 architectures (from a random search's journal) with their accuracies."""
    return DATA["archs"][offset:offset + n], np.array(DATA["val"][offset:offset + n])


DATA = {}


@pytest.fixture(scope="module", autouse=True)
def journal(root, tmp_path_factory):
    out = tmp_path_factory.mktemp("est") / "o"
    r = emprox.run(root / "examples" / "nb201_random.toml", out, seeds=1,
                   overrides={"budget.max_queries": 80})
    DATA["archs"] = [t["arch"] for t in r.trials]
    DATA["val"] = [t["val_acc"] for t in r.trials]


SMALL = {
    est.EmProx: {"epochs": 3, "k": 5},
    est.NAO: {"epochs": 3},
    est.GBDT: {"rounds": 30},
    est.KnnOneHot: {"k": 5},
    est.MlpEnsemble: {"ensemble_size": 2, "epochs": 20},
    est.Random: {},
}


@pytest.mark.parametrize("cls", list(SMALL))
def test_every_estimator_fits_and_predicts_on_arrays(cls):
    x, y = data(60)
    xt, yt = data(20, 60)
    e = cls(seed=1, **SMALL[cls]).fit(x, y)
    p = e.predict(xt)
    assert isinstance(p, np.ndarray) and p.shape == (20,) and np.isfinite(p).all()
    # Same seed, same predictions.
    assert np.array_equal(cls(seed=1, **SMALL[cls]).fit(x, y).predict(xt), p)
    if cls in (est.GBDT, est.KnnOneHot):
        # Learners, not noise: rank correlation with the truth on held-out cells.
        rank = lambda a: np.argsort(np.argsort(a))  # noqa: E731
        assert np.corrcoef(rank(p), rank(yt))[0, 1] > 0.3


def test_naslib_adapter_queries_like_predict():
    x, y = data(40)
    a = est.NASLibPredictor(est.GBDT(rounds=20))
    a.fit(x, y)
    assert np.array_equal(a.query(x[:5]), est.GBDT(rounds=20).fit(x, y).predict(x[:5]))


def test_emprox_saved_from_python_predicts_as_the_cli(cli, tmp_path):
    x, y = data(50)
    e = est.EmProx(epochs=3, k=5).fit(x, y)
    e.save(tmp_path / "model")
    p = subprocess.run([cli, "predict", "--model", tmp_path / "model", *x[:6]],
                       check=True, capture_output=True, text=True)
    cli_scores = [float(line.split("\t")[0]) for line in p.stdout.splitlines()]
    assert cli_scores == [round(v, 4) for v in e.predict(x[:6])]


def test_bad_estimator_arguments_are_value_errors():
    with pytest.raises(ValueError, match="unknown field"):
        est.GBDT(roundz=3)
    with pytest.raises(ValueError, match="rounds"):
        est.GBDT(rounds=0)
    with pytest.raises(ValueError, match="not an architecture"):
        est.KnnOneHot().fit(["nope"], [1.0])
    x, y = data(10)
    with pytest.raises(ValueError, match="targets"):
        est.KnnOneHot().fit(x, y[:5])
    with pytest.raises(ValueError, match="not fitted"):
        est.GBDT().predict(x)
