"""The rest of XGBoost's model zoo against XGBoost itself: vector-leaf trees
(multi_strategy="multi_output_tree"), gblinear boosters, ranking and survival objectives,
and the layouts older releases wrote (boolean default_left, bare NaN tokens). Real models
trained here, saved as JSON and UBJSON, compared row by row."""
import json

import numpy as np
import pandas as pd
import pytest
import xgboost as xgb

import floresta
from synthetic import rows, signal


def close(expected, actual):
    """Worst |difference| / max(1, |expected|): the corpus tolerance of issue 11."""
    expected = np.asarray(expected, dtype=np.float64)
    actual = np.asarray(actual, dtype=np.float64).reshape(expected.shape)
    return float(np.max(np.abs(expected - actual) / np.maximum(1.0, np.abs(expected))))


def data(n=600, d=6, nan_rate=0.1, seed=0):
    return rows(n, d, nan_rate, seed, np.float32)


@pytest.fixture(params=["json", "ubj"])
def ext(request):
    return request.param


def saved(booster, tmp_path, ext):
    path = tmp_path / f"model.{ext}"
    booster.save_model(path)
    return floresta.load(path)


def margins(booster, X):
    """XGBoost's margins, shaped (n, outputs) like floresta's predict_raw."""
    m = booster.predict(xgb.DMatrix(X), output_margin=True)
    return m.reshape(len(X), -1)


def predictions(booster, X):
    return booster.predict(xgb.DMatrix(X))


# ---- vector leaves ---------------------------------------------------------------------------


def test_vector_leaf_multiclass(parity, tmp_path, ext):
    X = data(n=900)
    y = np.digitize(signal(X), [-1.0, 0.0, 1.0])
    booster = xgb.train({"objective": "multi:softprob", "num_class": 4, "multi_strategy": "multi_output_tree",
                         "tree_method": "hist", "max_depth": 5, "eta": 0.3}, xgb.DMatrix(X, y), num_boost_round=15)
    model = saved(booster, tmp_path, ext)
    assert model.n_outputs_ == 4
    assert parity("vector-leaf multiclass margin", margins(booster, X), model.predict_raw(X)) <= 1e-6
    assert parity("vector-leaf multiclass proba", predictions(booster, X), model.predict_proba(X)) <= 1e-6
    np.testing.assert_array_equal(model.predict(X), np.argmax(predictions(booster, X), axis=1))


def test_vector_leaf_multi_target_regression(parity, tmp_path, ext):
    X = data(n=700)
    Y = np.stack([signal(X), np.nan_to_num(X[:, 4]) ** 2, -np.nan_to_num(X[:, 5])], axis=1)
    booster = xgb.train({"objective": "reg:squarederror", "multi_strategy": "multi_output_tree",
                         "tree_method": "hist", "max_depth": 4}, xgb.DMatrix(X, Y), num_boost_round=20)
    model = saved(booster, tmp_path, ext)
    assert model.n_outputs_ == 3
    assert parity("vector-leaf multi-target margin", margins(booster, X), model.predict_raw(X)) <= 1e-6
    assert parity("vector-leaf multi-target value", predictions(booster, X), model.predict(X)) <= 1e-6


# ---- gblinear ---------------------------------------------------------------------------------


@pytest.mark.parametrize("objective,classes", [("reg:squarederror", 0), ("binary:logistic", 2),
                                               ("multi:softprob", 3), ("count:poisson", 0)])
def test_gblinear(parity, tmp_path, ext, objective, classes):
    X = data(n=500)
    s = signal(X)
    if classes == 2:
        y = (s > 0).astype(int)
    elif classes == 3:
        y = np.digitize(s, [-0.5, 0.5])
    elif objective == "count:poisson":
        y = np.random.default_rng(1).poisson(np.exp(0.3 * s))
    else:
        y = s
    params = {"booster": "gblinear", "objective": objective, "eta": 0.5, "lambda": 0.01}
    if classes == 3:
        params["num_class"] = 3
    booster = xgb.train(params, xgb.DMatrix(X, y), num_boost_round=8)
    model = saved(booster, tmp_path, ext)
    assert close(margins(booster, X), model.predict_raw(X)) <= 1e-6
    parity(f"gblinear {objective} margin", margins(booster, X), model.predict_raw(X))
    expected = predictions(booster, X)
    actual = model.predict_proba(X)[:, 1] if classes == 2 else (
        model.predict_proba(X) if classes else model.predict(X))
    assert close(expected, actual) <= 1e-6


# ---- ranking and survival ---------------------------------------------------------------------


@pytest.mark.parametrize("objective", ["rank:pairwise", "rank:ndcg", "rank:map"])
def test_ranking_objectives_give_raw_scores(parity, tmp_path, ext, objective):
    X = data(n=600)
    rng = np.random.default_rng(5)
    qid = np.repeat(np.arange(60), 10)
    relevance = np.clip(np.round(signal(X) + rng.normal(scale=0.3, size=len(X))), 0, 4).astype(int)
    if objective == "rank:map":
        relevance = (relevance > 1).astype(int)
    booster = xgb.train({"objective": objective, "max_depth": 4, "eta": 0.3},
                        xgb.DMatrix(X, relevance, qid=qid), num_boost_round=12)
    model = saved(booster, tmp_path, ext)
    assert model.objective == objective
    assert parity(f"{objective} score", predictions(booster, X), model.predict(X)) <= 1e-6
    assert parity(f"{objective} margin", margins(booster, X), model.predict_raw(X)) <= 1e-6


def test_survival_cox(parity, tmp_path, ext):
    X = data(n=600)
    rng = np.random.default_rng(6)
    time = rng.exponential(np.exp(-0.5 * signal(X)))
    censored = rng.random(len(X)) < 0.3
    label = np.where(censored, -time, time)  # XGBoost's Cox convention: negative = censored
    booster = xgb.train({"objective": "survival:cox", "max_depth": 3, "eta": 0.2},
                        xgb.DMatrix(X, label), num_boost_round=15)
    model = saved(booster, tmp_path, ext)
    assert close(margins(booster, X), model.predict_raw(X)) <= 1e-6
    assert close(predictions(booster, X), model.predict(X)) <= 1e-6
    parity("survival:cox hazard ratio (relative)", 0, close(predictions(booster, X), model.predict(X)))


@pytest.mark.parametrize("distribution", ["normal", "logistic", "extreme"])
def test_survival_aft(parity, tmp_path, ext, distribution):
    X = data(n=600)
    rng = np.random.default_rng(8)
    time = rng.exponential(np.exp(0.5 * signal(X))) + 0.1
    lower = time
    upper = np.where(rng.random(len(X)) < 0.3, np.inf, time)  # right-censored rows
    dtrain = xgb.DMatrix(X)
    dtrain.set_float_info("label_lower_bound", lower)
    dtrain.set_float_info("label_upper_bound", upper)
    booster = xgb.train({"objective": "survival:aft", "aft_loss_distribution": distribution,
                         "aft_loss_distribution_scale": 1.2, "max_depth": 3, "eta": 0.1}, dtrain, num_boost_round=15)
    model = saved(booster, tmp_path, ext)
    assert close(margins(booster, X), model.predict_raw(X)) <= 1e-6
    assert close(predictions(booster, X), model.predict(X)) <= 1e-6
    parity(f"survival:aft {distribution} time (relative)", 0, close(predictions(booster, X), model.predict(X)))


# ---- layouts of older releases ----------------------------------------------------------------


def _binary_document(tmp_path, categorical=False):
    rng = np.random.default_rng(9)
    n = 500
    if categorical:
        X = pd.DataFrame({"c": pd.Categorical(rng.choice(list("abcdef"), n)), "x": rng.normal(size=n)})
        y = (X["c"].isin(["a", "d"]) ^ (X["x"] > 0.5)).astype(int)
        dm = xgb.DMatrix(X, y, enable_categorical=True)
    else:
        X = data(n=n)
        y = (signal(X) > 0).astype(int)
        dm = xgb.DMatrix(X, y)
    booster = xgb.train({"objective": "binary:logistic", "max_depth": 3, "max_cat_to_onehot": 1}, dm, 6)
    path = tmp_path / "new.json"
    booster.save_model(path)
    return booster, json.loads(path.read_text()), X


def _trees(document):
    return document["learner"]["gradient_booster"]["model"]["trees"]


def test_boolean_default_left_as_written_by_xgboost_1_0_to_1_5(parity, tmp_path):
    booster, document, X = _binary_document(tmp_path)
    for tree in _trees(document):
        tree["default_left"] = [bool(v) for v in tree["default_left"]]
    path = tmp_path / "old.json"
    path.write_text(json.dumps(document))
    assert "false" in path.read_text()
    model = floresta.load(path)
    assert parity("boolean default_left margin", margins(booster, X), model.predict_raw(X)) <= 1e-6


def test_bare_nan_tokens_as_written_by_xgboost_1_6_to_2_1(parity, tmp_path):
    booster, document, X = _binary_document(tmp_path, categorical=True)
    text = json.dumps(document)
    # XGBoost 1.6-2.1 wrote a categorical node's split_condition as a bare NaN token.
    marked = 0
    for tree in _trees(document):
        for node in tree["categories_nodes"]:
            tree["split_conditions"][node] = float("nan")
            marked += 1
    assert marked > 0
    text = json.dumps(document, allow_nan=True)  # writes bare NaN, as those releases did
    assert "NaN" in text
    path = tmp_path / "old.json"
    path.write_text(text)
    model = floresta.load(path)
    expected = booster.predict(xgb.DMatrix(X, enable_categorical=True), output_margin=True)
    assert parity("bare NaN tokens margin", expected.reshape(-1, 1), model.predict_raw(X)) <= 1e-6
    # Infinity tokens are read as numbers too (XGBoost's writer emits them for infinite values).
    path.write_text(text.replace('"base_score":"', '"ignored":Infinity,"base_score":"', 1))
    floresta.load(path)


def test_nan_token_where_a_string_belongs_is_refused(tmp_path):
    _, document, _ = _binary_document(tmp_path, categorical=True)
    text = json.dumps(document)
    text = text.replace('"name": "binary:logistic"', '"name": NaN', 1)
    assert 'NaN' in text
    path = tmp_path / "bad.json"
    path.write_text(text)
    with pytest.raises(ValueError, match=r"objective/name: expected a string, found the bare token NaN"):
        floresta.load(path)


def test_floresta_json_stays_strict_about_nan_tokens(tmp_path):
    from sklearn.tree import DecisionTreeRegressor

    X = data(n=200, nan_rate=0)
    tree = DecisionTreeRegressor(max_depth=3, random_state=0).fit(X, signal(X))
    text = floresta.export(tree)
    document = json.loads(text)
    document["trees"][0]["threshold"][0] = float("nan")
    path = tmp_path / "model.json"
    path.write_text(json.dumps(document, allow_nan=True))
    with pytest.raises(ValueError, match="malformed"):
        floresta.load(path)
    # An embedded XGBoost document does not make the floresta file lenient either.
    booster = xgb.train({"objective": "binary:logistic"}, xgb.DMatrix(X, signal(X) > 0), 2)
    clf_doc = {"floresta_format": 1, "num_features": 6,
               "estimator": {"format": "xgboost", "document": json.loads(booster.save_raw("json"))}}
    clf_doc["estimator"]["document"]["learner"]["learner_model_param"]["num_feature"] = float("nan")
    path.write_text(json.dumps(clf_doc, allow_nan=True))
    with pytest.raises(ValueError, match="malformed"):
        floresta.load(path)


def test_gblinear_refuses_wrong_weight_count(tmp_path):
    X = data(n=100, nan_rate=0)
    booster = xgb.train({"booster": "gblinear"}, xgb.DMatrix(X, signal(X)), 2)
    document = json.loads(booster.save_raw("json"))
    document["learner"]["gradient_booster"]["model"]["weights"].pop()
    path = tmp_path / "model.json"
    path.write_text(json.dumps(document))
    with pytest.raises(ValueError, match=r"gradient_booster/model/weights: has 6 weights, expected \(num_feature \+ 1\)"):
        floresta.load(path)
