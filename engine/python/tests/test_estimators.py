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
    est.EmProxSupervised: {"ensemble_size": 1},
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
    if cls in (est.GBDT, est.KnnOneHot, est.EmProxSupervised):
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


# A tabular space (NAS-Bench-301's shipped subset: 32 dimensions, a sequence column each of ops
# and inputs) given by its description file: value lists give what architecture strings give.
def nb301(root):
    return {"type": "tabular",
            "description": str(root / "benchmarks" / "data" / "nb301_subset.tabular.toml")}


@pytest.fixture(scope="module")
def tabular(root, tmp_path_factory):
    """60 rows of the table as (architecture strings, value lists, scores), from ask/tell."""
    s = emprox.Search(space=nb301(root), strategy="random", seed=3,
                      budget={"max_queries": 60}, out=tmp_path_factory.mktemp("tab") / "o")
    archs, values, y = [], [], []
    for t in s:
        archs.append(t.arch)
        # Numbers as numbers (the input nodes "0".."4"), as a user's lists hold them.
        values.append([int(v) if v.isdigit() else v for v in t.values])
        y.append((t.index * 7919 % 1000) / 10.0)
        s.tell(t, y[-1])
    return archs, values, np.array(y)


@pytest.mark.parametrize("cls", [est.EmProx, est.GBDT, est.KnnOneHot, est.MlpEnsemble])
def test_value_lists_of_a_tabular_space_predict_as_its_architecture_strings(root, tabular, cls):
    archs, values, y = tabular
    make = lambda: cls(space=nb301(root), seed=1, **SMALL[cls])  # noqa: E731
    p = make().fit(archs[:45], y[:45]).predict(archs[45:])
    assert p.shape == (15,) and np.isfinite(p).all()
    assert np.array_equal(make().fit(values[:45], y[:45]).predict(values[45:]), p)
    # A 2-D NumPy array, a row per architecture; strings and value lists mixed.
    grid = np.array(values, dtype=object)
    assert np.array_equal(make().fit(grid[:45], y[:45]).predict(grid[45:]), p)
    mixed = archs[:20] + values[20:45]
    assert np.array_equal(make().fit(mixed, y[:45]).predict(values[45:]), p)


def test_a_bad_value_list_is_a_value_error_naming_its_position(root, tabular):
    archs, values, y = tabular
    e = est.KnnOneHot(space=nb301(root), k=5).fit(values[:30], y[:30])
    with pytest.raises(ValueError, match=r"row 1 of space \"nb301-subset\": 31 values, "
                                         r"expected 32 \(one per dimension: normal_ops\[0\], "):
        e.predict([values[0], values[1][:-1]])
    bad = list(values[2])
    bad[3] = "conv9x9"
    with pytest.raises(ValueError, match=r"row 2 .*: value 3 \(normal_ops\[3\]\): \"conv9x9\" "
                                         r"is not one of \[max_pool_3x3, "):
        e.predict(values[:2] + [bad])
    bad[3], bad[8] = values[2][3], 7
    with pytest.raises(ValueError, match=r"row 0 .*: value 8 \(normal_inputs\[0\]\): \"7\""):
        e.fit([bad], [1.0])
    # Known values, but no row of the table (1,218 of the DARTS space's cells) has them.
    absent = list(values[0])
    absent[0] = next(v for v in ["max_pool_3x3", "avg_pool_3x3"] if v != values[0][0])
    with pytest.raises(ValueError, match="row 0 .*not in the table"):
        e.predict([absent])
    # NAS-Bench-201 is not a table: its cells are architecture strings.
    with pytest.raises(ValueError, match="value lists need a tabular space"):
        est.KnnOneHot(k=5).fit([["none"] * 6], [1.0])
