"""Exact explanations (TreeSHAP) against the libraries that trained the models: XGBoost's
pred_contribs, LightGBM's pred_contrib, shap's TreeExplainer for scikit-learn estimators,
and a brute-force Shapley oracle written here from the definition; additivity in double;
pipelines' field sums; explain_record; refusals."""
import functools
import itertools
import json
import math

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest
import xgboost as xgb

import floresta
from synthetic import rows, signal
from test_lightgbm_parity import export as lgb_export, train as lgb_train

XGB_TOL = 1e-5   # XGBoost sums its path weights and contributions in float32
LGB_TOL = 1e-9
ADDITIVITY_TOL = 1e-9


def close(parity, name, expected, actual, tol, scale=None):
    """max |expected - actual| <= tol * max(1, |expected|) (float32 peers: relative)."""
    expected = np.asarray(expected, dtype=np.float64)
    worst = parity(name, expected, actual)
    bound = tol * max(1.0, float(np.max(np.abs(expected)))) if scale is None else tol * scale
    assert worst <= bound, f"{name}: worst difference {worst:.3g} > {bound:.3g}"


def additive(parity, name, contributions, margin):
    """Contributions (rows x [outputs x] (features + 1)) sum to the margin per row."""
    sums = contributions.sum(axis=-1)
    close(parity, name + " additivity", np.asarray(margin).reshape(sums.shape), sums, ADDITIVITY_TOL)


# ---------------------------------------------------------------------------------------------
# XGBoost


def xgb_model(booster, tmp_path, name="model.json"):
    path = tmp_path / name
    booster.save_model(path)
    return floresta.load(path), path


def xgb_leaf_sums(booster, path, X):
    """Each row's leaves added in double (XGBoost itself adds in float32), per output group,
    from the model file's leaf values and XGBoost's own leaf indices."""
    model = json.loads(path.read_text())["learner"]["gradient_booster"]["model"]
    trees, groups = model["trees"], model["tree_info"]
    leaves = booster.predict(xgb.DMatrix(X, missing=np.nan), pred_leaf=True).reshape(len(X), -1).astype(np.int64)
    sums = np.zeros((len(X), max(groups) + 1))
    for t, tree in enumerate(trees):
        leaf_values = np.asarray(tree["split_conditions"], dtype=np.float32).astype(np.float64)  # XGBoost's leaves are float32
        sums[:, groups[t]] += leaf_values[leaves[:, t]]
    return sums


def test_xgboost_binary_with_missing_values_and_fitted_base_score(parity, tmp_path):
    X = rows(600, 6, 0.15, seed=1)
    y = (signal(X) > 0.2).astype(int)
    clf = xgb.XGBClassifier(n_estimators=30, max_depth=4, learning_rate=0.3).fit(X, y)
    booster = clf.get_booster()
    model, path = xgb_model(booster, tmp_path)
    assert model.can_explain
    c = model.predict_contributions(X)
    assert c.shape == (600, 7)
    expected = booster.predict(xgb.DMatrix(X, missing=np.nan), pred_contribs=True)
    close(parity, "explain xgboost binary", expected, c, XGB_TOL)
    base = json.loads(path.read_text())["learner"]["learner_model_param"]["base_score"]
    assert float(base.strip("[]")) != 0.5  # XGBoost 3 fits it
    # Additivity in double: every row's contributions minus its leaves (added in double) leave
    # the same constant, the base margin (XGBoost's, to float32 precision).
    rest = c.sum(axis=1) - xgb_leaf_sums(booster, path, X)[:, 0]
    assert parity("explain xgboost binary additivity", np.full_like(rest, rest[0]), rest) <= ADDITIVITY_TOL
    margins = booster.predict(xgb.DMatrix(X, missing=np.nan), output_margin=True)
    close(parity, "explain xgboost binary margin", margins, c.sum(axis=1), 1e-5)


def test_xgboost_multiclass_categorical(parity, tmp_path):
    rng = np.random.default_rng(3)
    n = 500
    frame = pd.DataFrame({
        "city": pd.Categorical(rng.choice(["a", "b", "c", "d", "e"], n)),
        "x": rng.normal(size=n),
        "kind": pd.Categorical(rng.choice(["p", "q", "r"], n)),
        "z": np.where(rng.random(n) < 0.1, np.nan, rng.normal(size=n)),
    })
    y = (frame["city"].cat.codes.to_numpy() + (frame["x"] > 0).to_numpy().astype(int)) % 3
    clf = xgb.XGBClassifier(n_estimators=12, max_depth=4, enable_categorical=True, max_cat_to_onehot=1,
                            tree_method="hist").fit(frame, y)
    booster = clf.get_booster()
    model, path = xgb_model(booster, tmp_path, "model.ubj")
    c = model.predict_contributions(frame)
    assert c.shape == (n, 3, 5)
    expected = booster.predict(xgb.DMatrix(frame, enable_categorical=True), pred_contribs=True)
    close(parity, "explain xgboost multiclass categorical", expected, c, XGB_TOL)
    close(parity, "explain xgboost multiclass float margin", model.predict_raw(frame), c.sum(axis=2), 1e-5)
    # The most likely class is the default output of explain_record, and its parts are the row's.
    record = {k: (v.item() if hasattr(v, "item") else v) for k, v in frame.iloc[7].items()}
    record = {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in record.items()}
    parts = model.explain_record(record)
    top = int(np.argmax(model.predict_proba([record])[0]))
    by_field = {p["field"]: p["contribution"] for p in parts}
    for j, name in enumerate(model.feature_names_in_):
        assert by_field[name] == pytest.approx(c[7, top, j], abs=1e-12)
    assert [p["field"] for p in parts] == sorted(by_field, key=lambda f: -abs(by_field[f]))
    assert parts[0]["value"] == record[parts[0]["field"]] or parts[0]["value"] is None


def test_xgboost_dart_and_regression(parity, tmp_path):
    X = rows(400, 5, 0.1, seed=2)
    y = signal(X) + 3.0
    booster = xgb.train({"booster": "dart", "rate_drop": 0.3, "max_depth": 3, "seed": 1, "objective": "reg:squarederror"},
                        xgb.DMatrix(X, y), 15)
    model, _ = xgb_model(booster, tmp_path)
    c = model.predict_contributions(X)
    expected = booster.predict(xgb.DMatrix(X), pred_contribs=True)
    close(parity, "explain xgboost dart", expected, c, XGB_TOL)


def test_xgboost_vector_leaves(parity, tmp_path):
    # XGBoost cannot explain multi_output_tree models; floresta can (vector leaves take the
    # path tested against shap with scikit-learn's forests): they add up to XGBoost's margins.
    X = rows(300, 4, 0.1, seed=16)
    Y = np.column_stack([signal(X), np.nan_to_num(X[:, 2]) - np.nan_to_num(X[:, 0])])
    booster = xgb.train({"multi_strategy": "multi_output_tree", "tree_method": "hist", "max_depth": 3},
                        xgb.DMatrix(X, Y), 8)
    model, _ = xgb_model(booster, tmp_path)
    c = model.predict_contributions(X)
    assert c.shape == (300, 2, 5)
    margins = booster.predict(xgb.DMatrix(X), output_margin=True)
    close(parity, "explain xgboost vector leaves margin", margins, c.sum(axis=2), 1e-5)


def test_xgboost_without_covers_predicts_but_refuses(tmp_path):
    X = rows(200, 4, 0.0, seed=4)
    booster = xgb.train({"max_depth": 3}, xgb.DMatrix(X, signal(X)), 5)
    path = tmp_path / "model.json"
    booster.save_model(path)
    document = json.loads(path.read_text())
    for tree in document["learner"]["gradient_booster"]["model"]["trees"]:
        del tree["sum_hessian"]
    stripped = tmp_path / "stripped.json"
    stripped.write_text(json.dumps(document))
    model = floresta.load(stripped)
    np.testing.assert_allclose(model.predict(X), booster.predict(xgb.DMatrix(X)), rtol=1e-6)
    assert not model.can_explain and "node covers" in model.explain_refusal_
    with pytest.raises(ValueError, match="cannot explain.*node covers"):
        model.predict_contributions(X)
    with pytest.raises(ValueError, match="node covers"):
        model.expected_value_
    # A negative cover is a damaged file: refused at load, naming the tree and node.
    document = json.loads(path.read_text())
    document["learner"]["gradient_booster"]["model"]["trees"][2]["sum_hessian"][1] = -3.0
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps(document))
    with pytest.raises(ValueError, match="tree 2: cover of node 1 is -3"):
        floresta.load(broken)


# ---------------------------------------------------------------------------------------------
# LightGBM


@pytest.mark.parametrize("form", ["text", "json"])
def test_lightgbm_binary_missing_and_zero(parity, tmp_path, form):
    X = rows(600, 6, 0.1, seed=5)
    X[::7, 2] = 0.0
    y = (signal(X) > 0).astype(int)
    booster = lgb_train({"objective": "binary", "zero_as_missing": form == "json"}, X, y)
    model = lgb_export(booster, form, tmp_path)
    c = model.predict_contributions(X)
    close(parity, f"explain lightgbm binary {form}", booster.predict(X, pred_contrib=True), c, LGB_TOL)
    additive(parity, f"explain lightgbm binary {form}", c, booster.predict(X, raw_score=True))


@pytest.mark.parametrize("form", ["text", "json"])
def test_lightgbm_multiclass_categorical(parity, tmp_path, form):
    rng = np.random.default_rng(6)
    X = rows(900, 5, 0.05, seed=6)
    X[:, 0] = rng.integers(0, 12, size=len(X))
    X[rng.random(len(X)) < 0.05, 0] = np.nan
    y = (np.nan_to_num(X[:, 0]) % 3 + (np.nan_to_num(X[:, 1]) > 0)).astype(int) % 3
    booster = lgb_train({"objective": "multiclass", "num_class": 3, "max_cat_to_onehot": 2}, X, y,
                        categorical_feature=[0])
    model = lgb_export(booster, form, tmp_path)
    c = model.predict_contributions(X)
    assert c.shape == (900, 3, 6)
    expected = booster.predict(X, pred_contrib=True).reshape(900, 3, 6)
    close(parity, f"explain lightgbm multiclass categorical {form}", expected, c, LGB_TOL)
    additive(parity, f"explain lightgbm multiclass {form}", c, booster.predict(X, raw_score=True))


def test_lightgbm_random_forest_mode(parity, tmp_path):
    X = rows(500, 5, 0.1, seed=7)
    y = signal(X)
    booster = lgb_train({"objective": "regression", "boosting": "rf", "bagging_fraction": 0.7, "bagging_freq": 1,
                         "feature_fraction": 0.8}, X, y, rounds=10)
    model = lgb_export(booster, "text", tmp_path)
    c = model.predict_contributions(X)
    close(parity, "explain lightgbm rf", booster.predict(X, pred_contrib=True), c, LGB_TOL)
    # LightGBM's contributions add up to its raw score, the trees' sum (it averages only predict).
    additive(parity, "explain lightgbm rf", c, booster.predict(X, raw_score=True))
    np.testing.assert_allclose(booster.predict(X), booster.predict(X, raw_score=True) / 10, rtol=1e-12)


def test_lightgbm_linear_trees_refused(tmp_path):
    X = rows(300, 4, 0.0, seed=8)
    booster = lgb_train({"objective": "regression", "linear_tree": True}, X, signal(X), rounds=3)
    model = lgb_export(booster, "text", tmp_path)
    assert model.predict(X).shape == (300,)
    with pytest.raises(ValueError, match="linear trees"):
        model.predict_contributions(X)


# ---------------------------------------------------------------------------------------------
# The definition: Shapley values of the path-dependent value function, by brute force


def _expectation(tree, node, x, known):
    """E[tree(x) | x_known] with unknown features averaged by cover (Lundberg's Algorithm 1)."""
    if tree["left"][node] == -1:
        return tree["value"][node]
    f = tree["feature"][node]
    left, right = tree["left"][node], tree["right"][node]
    if f in known:
        return _expectation(tree, tree["goes_left"](node, x[f]) and left or right, x, known)
    cover = tree["cover"]
    return (_expectation(tree, left, x, known) * cover[left] + _expectation(tree, right, x, known) * cover[right]) / cover[node]


def shapley(trees, x, n_features):
    """Exact Shapley values of v(S) = sum over trees of E[tree | x_S], and v(empty set)."""
    def v(known):
        return sum(_expectation(t, 0, x, known) for t in trees)
    phi = np.zeros(n_features + 1)
    for i in range(n_features):
        others = [j for j in range(n_features) if j != i]
        for size in range(n_features):
            weight = math.factorial(size) * math.factorial(n_features - size - 1) / math.factorial(n_features)
            for subset in itertools.combinations(others, size):
                phi[i] += weight * (v(set(subset) | {i}) - v(set(subset)))
    phi[n_features] = v(set())
    return phi


def xgb_trees_for_oracle(path):
    trees = []
    for tree in json.loads(path.read_text())["learner"]["gradient_booster"]["model"]["trees"]:
        thresholds = np.asarray(tree["split_conditions"], dtype=np.float32)
        default = tree["default_left"]

        def goes_left(node, value, thresholds=thresholds, default=default):
            return bool(default[node]) if math.isnan(value) else bool(np.float32(value) < thresholds[node])
        trees.append({"left": tree["left_children"], "right": tree["right_children"], "feature": tree["split_indices"],
                      "cover": tree["sum_hessian"], "value": [float(v) for v in thresholds], "goes_left": goes_left})
    return trees


def test_matches_brute_force_shapley_values(parity, tmp_path):
    X = rows(40, 5, 0.2, seed=9)
    booster = xgb.train({"max_depth": 4, "base_score": 0.0, "seed": 3}, xgb.DMatrix(X, signal(X), missing=np.nan), 6)
    model, path = xgb_model(booster, tmp_path)
    trees = xgb_trees_for_oracle(path)
    expected = np.array([shapley(trees, x, 5) for x in X])
    close(parity, "explain brute-force Shapley", expected, model.predict_contributions(X), 1e-12)


# ---------------------------------------------------------------------------------------------
# threads, inputs, errors


def test_threads_inputs_and_errors(tmp_path):
    X = rows(300, 6, 0.1, seed=10)
    booster = lgb_train({"objective": "regression"}, X, signal(X))
    model = lgb_export(booster, "text", tmp_path)
    one = model.predict_contributions(X)
    model.n_threads = 2
    np.testing.assert_array_equal(model.predict_contributions(X), one)
    np.testing.assert_array_equal(model.predict_contributions(X.astype(np.float32)),
                                  floresta.load(tmp_path / "model.txt").predict_contributions(X.astype(np.float32)))
    np.testing.assert_array_equal(model.predict_contributions(np.asfortranarray(X)), one)
    np.testing.assert_array_equal(model.predict_contributions(X[:0]).shape, (0, 7))
    with pytest.raises(ValueError, match="input has 5 columns, the model expects 6"):
        model.predict_contributions(X[:, :5])
    assert model.expected_value_ == pytest.approx(one[0, -1], abs=0)


def test_kmeans_is_refused():
    from sklearn.cluster import KMeans
    X = rows(100, 3, 0.0, seed=11)
    model = floresta.Model(floresta.export(KMeans(n_clusters=3, n_init=2, random_state=0).fit(X)).encode())
    assert not model.can_explain
    with pytest.raises(ValueError, match="tree models"):
        model.predict_contributions(X)


# ---------------------------------------------------------------------------------------------
# pipelines: the raw fields' parts are the sums of their encoded columns' parts


def test_pipeline_fields_sum_their_columns(parity):
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler

    rng = np.random.default_rng(12)
    n = 1500
    frame = pd.DataFrame({"age": rng.integers(14, 80, n).astype(float), "brand": rng.choice(["A", "B", "C", "D"], n),
                          "period": rng.choice(["night", "day", "dawn"], n), "amount": rng.gamma(2.0, 30.0, n)})
    frame.loc[rng.random(n) < 0.05, "age"] = np.nan
    score = (frame["age"].fillna(40) < 30) + (frame["brand"] == "B") * 1.5 + (frame["period"] == "night") + (frame["amount"] > 60)
    y = np.digitize(score, [1, 2])
    pre = ColumnTransformer([
        ("age", Pipeline([("impute", SimpleImputer(strategy="median", add_indicator=True)), ("scale", StandardScaler())]), ["age"]),
        ("brand", OneHotEncoder(handle_unknown="ignore", sparse_output=False), ["brand"]),
        ("period", OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1), ["period"]),
    ], remainder="passthrough")
    pipe = Pipeline([("pre", pre), ("model", HistGradientBoostingClassifier(max_iter=15, random_state=0))]).fit(frame, y)
    model = floresta.load_bytes(floresta.export(pipe), name="pipeline.json")
    test = frame.iloc[:200]
    fields = model.predict_contributions(test)
    assert fields.shape == (200, 3, 5)
    # The same estimator alone, on the columns scikit-learn's preprocessing gives it.
    alone = floresta.load_bytes(floresta.export(pipe[-1]), name="estimator.json")
    columns = alone.predict_contributions(pipe[:-1].transform(test).astype(np.float64))
    names = list(model.feature_names_in_)
    grouped = np.zeros_like(fields)
    for name, block in pipe[0].output_indices_.items():
        field = names.index(name if name != "remainder" else "amount")
        grouped[:, :, field] += columns[:, :, block].sum(axis=2)
    grouped[:, :, -1] = columns[:, :, -1]
    close(parity, "explain pipeline fields = summed columns", grouped, fields, 1e-12)
    additive(parity, "explain pipeline", fields, model.predict_raw(test))
    # explain_record: the record's own values, the most likely class's parts.
    record = {"age": None, "brand": "B", "period": "night", "amount": 75.0}
    parts = model.explain_record(record, k=2)
    assert len(parts) == 2
    full = model.predict_contributions([record])[0]
    top = int(np.argmax(model.predict_proba([record])[0]))
    assert {p["field"]: p["value"] for p in parts}.items() <= record.items()
    for p in parts:
        assert p["contribution"] == pytest.approx(full[top, names.index(p["field"])], abs=1e-12)
    assert abs(parts[0]["contribution"]) >= abs(parts[1]["contribution"])
    assert abs(parts[1]["contribution"]) >= np.sort(np.abs(full[top, :-1]))[-2] - 1e-15


# ---------------------------------------------------------------------------------------------
# scikit-learn, against shap's TreeExplainer (the reference its users plot with)


def shap_values(estimator, X):
    import shap
    explainer = shap.TreeExplainer(estimator)
    values = np.asarray(explainer.shap_values(X, check_additivity=False))
    return values, np.asarray(explainer.expected_value).reshape(-1)


@functools.lru_cache(maxsize=1)
def sklearn_cases():
    from sklearn.ensemble import (ExtraTreesRegressor, GradientBoostingClassifier, GradientBoostingRegressor,
                                  HistGradientBoostingRegressor, RandomForestClassifier, RandomForestRegressor)
    from sklearn.tree import DecisionTreeClassifier
    X = rows(600, 5, 0.0, seed=13).astype(np.float32).astype(np.float64)  # float32 values: scikit-learn's trees read float32
    y = signal(X)
    three = np.digitize(y, [-0.5, 0.5])
    return [
        ("random forest regressor", RandomForestRegressor(n_estimators=8, max_depth=6, random_state=0).fit(X, y), X),
        ("random forest classifier", RandomForestClassifier(n_estimators=6, max_depth=5, random_state=0).fit(X, three), X),
        ("extra trees regressor", ExtraTreesRegressor(n_estimators=6, max_depth=6, random_state=0).fit(X, y), X),
        ("decision tree classifier", DecisionTreeClassifier(max_depth=6, random_state=0).fit(X, y > 0), X),
        ("gradient boosting regressor", GradientBoostingRegressor(n_estimators=20, max_depth=3, random_state=0).fit(X, y), X),
        ("gradient boosting classifier", GradientBoostingClassifier(n_estimators=20, max_depth=3, random_state=0).fit(X, y > 0), X),
        ("hist gradient boosting regressor, missing values",
         HistGradientBoostingRegressor(max_iter=15, random_state=0).fit(rows(600, 5, 0.1, seed=14), y), rows(600, 5, 0.1, seed=14)),
    ]


@pytest.mark.parametrize("case", range(7))
def test_sklearn_estimators_match_shap(parity, case):
    name, estimator, X = sklearn_cases()[case]
    model = floresta.load_bytes(floresta.export(estimator), name=f"{name}.json")
    assert model.can_explain, model.explain_refusal_
    c = model.predict_contributions(X)
    values, expected = shap_values(estimator, X)
    if c.ndim == 3:  # (rows, outputs, features + 1) against shap's (rows, features, outputs)
        ours, bias = np.moveaxis(c[:, :, :-1], 1, 2), c[0, :, -1]
    else:
        ours, bias = c[:, :-1], c[:1, -1]
    close(parity, f"explain sklearn {name}", values.reshape(ours.shape), ours, 1e-9)
    close(parity, f"explain sklearn {name} expected value", expected, bias, 1e-9)
    np.testing.assert_allclose(model.expected_value_, expected if expected.size > 1 else expected[0], rtol=0, atol=1e-9)


def test_isolation_forest_mean_path_length(parity):
    from sklearn.ensemble import IsolationForest
    X = rows(400, 4, 0.0, seed=15).astype(np.float32).astype(np.float64)  # shap reads inputs as given
    forest = IsolationForest(n_estimators=10, random_state=0).fit(X)
    model = floresta.load_bytes(floresta.export(forest), name="iforest.json")
    c = model.predict_contributions(X)
    values, expected = shap_values(forest, X)
    close(parity, "explain sklearn isolation forest", values, c[:, :-1], 1e-9)
    close(parity, "explain sklearn isolation forest expected value", expected, c[:1, -1], 1e-9)
    # Explained in mean path length: the anomaly score is -2^(-mean / c(max_samples)).
    from sklearn.ensemble._iforest import _average_path_length
    normaliser = _average_path_length([forest._max_samples])[0]
    close(parity, "explain sklearn isolation forest score", forest.score_samples(X), -(2.0 ** (-c.sum(axis=1) / normaliser)), 1e-9)


def test_lightgbm_long_paths(parity, tmp_path):
    # Paths with more than 16 distinct features take the generic (not unrolled) step and the
    # wide quadrature rule.
    # A caterpillar: rows of level j have features 0 .. j-1 at 1, feature j at 0 and the rest
    # random bits, so only "feature j is 0" tells level j from the levels above: one distinct
    # feature per level along the spine, up to 24.
    rng = np.random.default_rng(17)
    levels = np.repeat(np.arange(25), 100)
    columns = np.arange(30)[None, :]
    X = np.where(columns < levels[:, None], 1.0, np.where(columns == levels[:, None], 0.0,
                                                           rng.integers(0, 2, size=(len(levels), 30)).astype(float)))
    y = levels.astype(float)
    booster = lgb_train({"objective": "regression", "num_leaves": 255, "min_data_in_leaf": 3, "min_sum_hessian_in_leaf": 0},
                        X, y, rounds=4)
    structure = booster.dump_model()["tree_info"]

    def longest(node, seen):
        if "leaf_value" in node:
            return len(seen)
        seen = seen | {node["split_feature"]}
        return max(longest(node["left_child"], seen), longest(node["right_child"], seen))
    assert max(longest(t["tree_structure"], frozenset()) for t in structure) > 16
    model = lgb_export(booster, "text", tmp_path)
    c = model.predict_contributions(X[:300])
    close(parity, "explain lightgbm long paths", booster.predict(X[:300], pred_contrib=True), c, LGB_TOL)


def floresta_json_trees_for_oracle(document):
    """A floresta JSON document's trees (HistGradientBoosting's rule: x <= t, NaN to the
    default side, categorical sets of the codes going left, unknown codes the default way)."""
    trees = []
    for tree in document["trees"]:
        sets = {}
        if "categorical" in tree:
            c = tree["categorical"]
            sets = {node: (set(codes), count) for node, codes, count in zip(c["nodes"], c["categories"], c["category_counts"])}

        def goes_left(node, value, tree=tree, sets=sets):
            if math.isnan(value):
                return bool(tree["default_left"][node])
            if node in sets:
                codes, count = sets[node]
                code = int(value)
                return bool(tree["default_left"][node]) if not 0 <= code < count else code in codes
            return value <= tree["threshold"][node]
        trees.append({"left": tree["left_children"], "right": tree["right_children"], "feature": tree["split_feature"],
                      "cover": tree["cover"], "value": tree["leaf_value"], "goes_left": goes_left})
    return trees


def test_hist_gradient_boosting_categorical_matches_brute_force(parity):
    # shap 0.51 ignores HistGradientBoosting's categorical splits; the definition decides here.
    from sklearn.ensemble import HistGradientBoostingRegressor
    rng = np.random.default_rng(18)
    n = 800
    frame = pd.DataFrame({"city": pd.Categorical(rng.choice(list("abcdefgh"), n)), "x": rng.normal(size=n),
                          "kind": pd.Categorical(rng.choice(["p", "q", "r"], n)), "z": rng.normal(size=n)})
    frame.loc[rng.random(n) < 0.1, "x"] = np.nan
    y = frame["city"].cat.codes.to_numpy() % 3 + np.nan_to_num(frame["x"].to_numpy()) + (frame["kind"] == "q") * 2.0
    hgb = HistGradientBoostingRegressor(max_iter=6, max_depth=4, categorical_features="from_dtype", random_state=0)
    hgb.fit(frame, y)
    text = floresta.export(hgb)
    document = json.loads(text)
    assert any("categorical" in t for t in document["trees"])
    model = floresta.load_bytes(text, name="hgb.json")
    test = frame.iloc[:40]
    encoded = model.encode(test)
    trees = floresta_json_trees_for_oracle(document)
    expected = np.array([shapley(trees, x, 4) for x in encoded])
    expected[:, -1] += document["base_margin"][0]
    close(parity, "explain sklearn hist gradient boosting categorical (brute force)", expected,
          model.predict_contributions(test), 1e-12)
    np.testing.assert_allclose(model.predict_contributions(test).sum(axis=1), hgb.predict(test), rtol=0, atol=1e-12)
