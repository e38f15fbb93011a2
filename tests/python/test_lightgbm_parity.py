"""floresta against LightGBM itself: real models trained here, saved as text and as
dump_model JSON, compared row by row with Booster.predict and the scikit-learn wrapper."""
import json

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest

import floresta
from synthetic import rows, signal

TOL = 1e-6


def data(n=800, d=8, nan_rate=0.1, seed=0):
    return rows(n, d, nan_rate, seed, np.float64)


@pytest.fixture(params=["text", "json"])
def form(request):
    return request.param


def export(booster, form, tmp_path):
    if form == "text":
        path = tmp_path / "model.txt"
        booster.save_model(path)
    else:
        path = tmp_path / "model.json"
        path.write_text(json.dumps(booster.dump_model()))
    return floresta.load(path)


def train(params, X, y, rounds=20, **dataset):
    base = {"verbose": -1, "num_leaves": 15, "min_data_in_leaf": 5, "seed": 1, "deterministic": True}
    return lgb.train({**base, **params}, lgb.Dataset(X, y, **dataset), rounds)


def compare(parity, name, booster, model, X, classifier=None):
    raw = booster.predict(X, raw_score=True)
    assert parity(f"lightgbm {name} raw", raw.reshape(model.predict_raw(X).shape), model.predict_raw(X)) <= TOL
    out = booster.predict(X)
    if model.is_classifier:
        proba = model.predict_proba(X)
        expected = out if out.ndim == 2 else np.column_stack([1 - out, out])
        assert parity(f"lightgbm {name} proba", expected, proba) <= TOL
        if classifier is not None:
            np.testing.assert_array_equal(model.predict(X), classifier.predict(X))
    else:
        assert parity(f"lightgbm {name} prediction", out, model.predict(X)) <= TOL


def test_binary_with_missing_values(parity, tmp_path, form):
    X = data()
    y = (signal(X) > 0).astype(int)
    clf = lgb.LGBMClassifier(n_estimators=40, num_leaves=15, verbose=-1).fit(X, y)
    model = export(clf.booster_, form, tmp_path)
    compare(parity, "binary", clf.booster_, model, X, clf)
    assert parity("lightgbm binary sklearn proba", clf.predict_proba(X), model.predict_proba(X)) <= TOL


def test_binary_sigmoid_parameter(parity, tmp_path, form):
    X = data()
    booster = train({"objective": "binary", "sigmoid": 0.7}, X, (signal(X) > 0).astype(int))
    compare(parity, "binary sigmoid:0.7", booster, export(booster, form, tmp_path), X)


@pytest.mark.parametrize("objective", ["multiclass", "multiclassova"])
def test_ten_classes(parity, tmp_path, form, objective):
    X = data(n=2000, d=6)
    y = np.digitize(signal(X), np.quantile(signal(X), np.linspace(0.1, 0.9, 9)))
    booster = train({"objective": objective, "num_class": 10}, X, y, rounds=10)
    model = export(booster, form, tmp_path)
    assert model.predict_proba(X).shape == (len(X), 10)
    compare(parity, objective, booster, model, X)
    np.testing.assert_array_equal(model.predict(X), booster.predict(X).argmax(axis=1))


REGRESSION = ["regression", "regression_l1", "huber", "fair", "quantile", "mape", "poisson", "gamma", "tweedie",
              "cross_entropy"]


@pytest.mark.parametrize("objective", REGRESSION)
def test_regression_objectives(parity, tmp_path, form, objective):
    X = data()
    s = signal(X)
    if objective == "cross_entropy":
        y = 1 / (1 + np.exp(-s))
    elif objective in ("poisson", "gamma", "tweedie", "mape"):
        y = np.exp(0.5 * s) + 0.1
    else:
        y = 3 * s + 1
    booster = train({"objective": objective}, X, y)
    compare(parity, objective, booster, export(booster, form, tmp_path), X)


def test_regression_sqrt(parity, tmp_path, form):
    X = data()
    booster = train({"objective": "regression", "reg_sqrt": True}, X, 3 * signal(X))
    compare(parity, "regression sqrt", booster, export(booster, form, tmp_path), X)


def test_custom_objective_is_raw_output(parity, tmp_path, form):
    X = data()
    y = signal(X)

    def l2(preds, dataset):
        return preds - dataset.get_label(), np.ones_like(preds)

    booster = lgb.train({"objective": l2, "verbose": -1, "num_leaves": 7}, lgb.Dataset(X, y), 10)
    model = export(booster, form, tmp_path)
    assert parity("lightgbm custom objective raw", booster.predict(X, raw_score=True), model.predict_raw(X)[:, 0]) <= TOL
    assert parity("lightgbm custom objective prediction", booster.predict(X), model.predict(X)) <= TOL


@pytest.mark.parametrize("zero_as_missing", [False, True])
def test_missing_types_and_zeros(parity, tmp_path, form, zero_as_missing):
    # Zeros and NaNs in training and in scoring; missing types None, Zero and NaN all occur.
    rng = np.random.default_rng(3)
    X = rng.normal(size=(1500, 5))
    X[rng.random(X.shape) < 0.2] = 0.0
    X[:, 3][rng.random(1500) < 0.3] = np.nan
    y = (np.nan_to_num(X[:, 0]) + (X[:, 1] == 0) + np.isnan(X[:, 3]) > 0.5).astype(int)
    booster = train({"objective": "binary", "zero_as_missing": zero_as_missing}, X, y, rounds=15)
    model = export(booster, form, tmp_path)
    T = rng.normal(size=(600, 5))
    T[rng.random(T.shape) < 0.2] = 0.0
    T[rng.random(T.shape) < 0.2] = np.nan
    T[:5] = 1e-36  # inside LightGBM's zero threshold
    T[5:10] = -1e-36
    compare(parity, f"zero_as_missing={zero_as_missing}", booster, model, T)


def test_nan_never_seen_in_training(parity, tmp_path, form):
    X = data(nan_rate=0.0)
    booster = train({"objective": "binary"}, X, (signal(X) > 0).astype(int))
    T = data(nan_rate=0.3, seed=9)
    compare(parity, "NaN unseen in training (missing None)", booster, export(booster, form, tmp_path), T)


def frame(n, seed):
    rng = np.random.default_rng(seed)
    places = [f"P{i}" for i in range(60)]
    return pd.DataFrame({
        "amount": rng.gamma(2.0, 50.0, n),
        "place": pd.Categorical(rng.choice(places, n), categories=places),
        "hour": rng.integers(0, 24, n).astype(float),
        "method": pd.Categorical(rng.choice(["credit", "debit", "cash"], n), categories=["credit", "debit", "cash"]),
    })


def test_categorical_dataframe(parity, tmp_path, form):
    train_frame = frame(4000, 1)
    y = ((train_frame["place"].cat.codes % 5 == 0) | (train_frame["method"] == "cash")).astype(int)
    clf = lgb.LGBMClassifier(n_estimators=20, num_leaves=15, min_data_per_group=5, cat_smooth=1, verbose=-1)
    clf.fit(train_frame, y)
    model = export(clf.booster_, form, tmp_path)
    assert model.feature_types == ["numeric", "categorical", "numeric", "categorical"]
    assert model.categories("method") == ["credit", "debit", "cash"]
    test = frame(800, 2)
    test.loc[::7, "place"] = np.nan
    assert parity("lightgbm categorical proba", clf.predict_proba(test), model.predict_proba(test)) <= TOL
    np.testing.assert_array_equal(model.predict(test), clf.predict(test))
    # Other category order, and unseen categories (LightGBM: NaN -> right, as floresta).
    other = test.copy()
    other["method"] = other["method"].cat.reorder_categories(["cash", "debit", "credit"])
    other["place"] = other["place"].cat.add_categories(["NEW"])
    other.loc[::5, "place"] = "NEW"
    assert parity("lightgbm categorical, reordered and unseen", clf.predict_proba(other), model.predict_proba(other)) <= TOL
    # Codes outside every bitset and negative codes through numpy.
    codes = np.column_stack([test["amount"], np.resize([0, 3, 59, 60, 200, -1, -3], len(test)), test["hour"],
                             np.resize([0, 1, 2, 7], len(test))]).astype(np.float64)
    assert parity("lightgbm categorical raw codes", clf.booster_.predict(codes, raw_score=True),
                  model.predict_raw(codes)[:, 0]) <= TOL


def test_random_forest_mode(parity, tmp_path, form):
    X = data()
    booster = train({"objective": "binary", "boosting": "rf", "bagging_fraction": 0.6, "bagging_freq": 1,
                     "feature_fraction": 0.8}, X, (signal(X) > 0).astype(int), rounds=15)
    compare(parity, "random forest (average_output)", booster, export(booster, form, tmp_path), X)


def test_linear_trees(parity, tmp_path, form):
    X = data(nan_rate=0.05)
    y = 2 * np.nan_to_num(X[:, 0]) + np.where(np.nan_to_num(X[:, 1]) > 0, 3 * np.nan_to_num(X[:, 2]), 0)
    booster = train({"objective": "regression", "linear_tree": True}, X, y, rounds=10)
    compare(parity, "linear trees", booster, export(booster, form, tmp_path), X)


def test_num_iterations(parity, tmp_path):
    X = data()
    booster = train({"objective": "binary"}, X, (signal(X) > 0).astype(int), rounds=30)
    booster.save_model(tmp_path / "m.txt")
    model = floresta.load(tmp_path / "m.txt", num_iterations=12)
    assert model.n_trees == 12
    assert parity("lightgbm num_iteration=12", booster.predict(X, num_iteration=12), model.predict_proba(X)[:, 1]) <= TOL


def test_single_leaf_trees(parity, tmp_path, form):
    X = data()
    booster = train({"objective": "regression", "min_data_in_leaf": 10000}, X, signal(X), rounds=3)
    compare(parity, "single-leaf trees", booster, export(booster, form, tmp_path), X)


def test_feature_names_and_dataframe_order(tmp_path):
    X = pd.DataFrame(data(), columns=[f"col_{i}" for i in range(8)])
    clf = lgb.LGBMRegressor(n_estimators=10, verbose=-1).fit(X, signal(X.to_numpy()))
    clf.booster_.save_model(tmp_path / "m.txt")
    model = floresta.load(tmp_path / "m.txt")
    assert list(model.feature_names_in_) == list(X.columns)
    np.testing.assert_allclose(model.predict(X[X.columns[::-1]]), clf.predict(X), atol=TOL, rtol=0)
