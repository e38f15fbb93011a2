"""Inputs on and around every split threshold, against the training library itself.

floresta's quantized plan replaces each input by its bin among the thresholds of its feature
(src/engine/quantized.hpp, built by src/compile/quantize.cpp). These tests aim at the places
where that rewrite could go wrong: a value exactly on a threshold, the next representable
value either side (in float32 and in float64, which XGBoost casts to float32), infinities,
signed zeros, LightGBM's zero band (|x| <= 1e-35 is missing when zero_as_missing), and NaN,
in batches (lanes of rows) and one row at a time (lanes of trees)."""
import json

import lightgbm as lgb
import numpy as np
import pytest
import xgboost as xgb

import floresta

ZERO_BAND = 1.0000000180025095e-35  # LightGBM's kZeroThreshold as a double


def edge_rows(thresholds_by_feature, n_features, rows, dtype, seed):
    """Rows whose every value sits on or next to one of that feature's thresholds, or on
    a special value."""
    rng = np.random.default_rng(seed)
    specials = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, ZERO_BAND, -ZERO_BAND, 1e-36, -1e-36,
                         np.nextafter(ZERO_BAND, 1.0), np.nextafter(-ZERO_BAND, -1.0), 1e300, -1e300])
    X = np.empty((rows, n_features))
    for f in range(n_features):
        t = np.asarray(thresholds_by_feature.get(f, [0.0]), dtype=dtype)
        pick = rng.choice(t, size=rows)
        if dtype == np.float32:
            up, down = np.nextafter(pick, np.float32(np.inf)), np.nextafter(pick, np.float32(-np.inf))
            pick = pick.astype(np.float64)
            # float64 values between float32 neighbours: XGBoost casts them onto the threshold.
            near = pick + (up.astype(np.float64) - pick) * rng.choice([-0.25, 0.25, 0.49], size=rows)
        else:
            up, down = np.nextafter(pick, np.inf), np.nextafter(pick, -np.inf)
            near = pick
        variants = np.stack([pick, up, down, near, rng.choice(specials, size=rows)], axis=1)
        X[:, f] = variants[np.arange(rows), rng.integers(0, 5, size=rows)]
    return X


def lightgbm_thresholds(booster):
    found = {}

    def visit(node):
        if "split_feature" in node:
            if node.get("decision_type") == "<=":
                found.setdefault(node["split_feature"], []).append(node["threshold"])
            visit(node["left_child"])
            visit(node["right_child"])

    for tree in booster.dump_model()["tree_info"]:
        visit(tree["tree_structure"])
    return found


def xgboost_thresholds(booster):
    found = {}
    for tree in json.loads(booster.save_raw("json"))["learner"]["gradient_booster"]["model"]["trees"]:
        for i, left in enumerate(tree["left_children"]):
            if left != -1:
                found.setdefault(tree["split_indices"][i], []).append(tree["split_conditions"][i])
    return found


def assert_same_everywhere(model, X, expected):
    np.testing.assert_array_equal(model.predict_raw(X).reshape(expected.shape), expected)
    for i in range(0, len(X), 37):  # single rows walk lanes of trees
        np.testing.assert_array_equal(model.predict_raw(X[i:i + 1]).reshape(expected[i:i + 1].shape),
                                      expected[i:i + 1])


@pytest.mark.parametrize("missing", ["nan", "zero", "none"])
def test_lightgbm_on_its_thresholds(tmp_path, missing):
    rng = np.random.default_rng(3)
    X = rng.normal(size=(3000, 6)).round(2)  # repeated values: many ties with bin bounds
    X[rng.random(X.shape) < 0.1] = np.nan
    X[rng.random(X.shape) < 0.1] = 0.0
    y = np.nan_to_num(X[:, 0]) + np.nan_to_num(X[:, 1]) ** 2 + (X[:, 2] == 0) + np.isnan(X[:, 3])
    params = {"objective": "regression", "num_leaves": 31, "min_data_in_leaf": 5, "verbose": -1, "seed": 1,
              "deterministic": True, "zero_as_missing": missing == "zero", "use_missing": missing != "none"}
    booster = lgb.train(params, lgb.Dataset(X, y), 60)
    booster.save_model(tmp_path / "m.txt")
    model = floresta.load(tmp_path / "m.txt")
    T = edge_rows(lightgbm_thresholds(booster), 6, 2000, np.float64, seed=4)
    assert_same_everywhere(model, T, booster.predict(T, raw_score=True))


def test_xgboost_on_its_thresholds(tmp_path):
    rng = np.random.default_rng(5)
    X = rng.normal(size=(3000, 6)).astype(np.float32).round(2)
    X[rng.random(X.shape) < 0.1] = np.nan
    y = (np.nan_to_num(X[:, 0]) + np.nan_to_num(X[:, 1]) ** 2 > 0.7).astype(int)
    booster = xgb.train({"objective": "binary:logistic", "max_depth": 7, "seed": 1}, xgb.DMatrix(X, y), 40)
    booster.save_model(tmp_path / "m.json")
    model = floresta.load(tmp_path / "m.json")
    T = edge_rows(xgboost_thresholds(booster), 6, 2000, np.float32, seed=6)
    expected = booster.inplace_predict(T, predict_type="margin")
    assert_same_everywhere(model, T, expected)
    with np.errstate(over="ignore"):  # +-1e300 become +-inf in float32, on purpose
        T32 = T.astype(np.float32)
    assert_same_everywhere(model, T32, booster.inplace_predict(T32, predict_type="margin"))


def test_xgboost_exact_method_many_thresholds(tmp_path):
    """tree_method='exact' splits between any two data values: over a thousand thresholds
    per feature, so the bins are found block by block (quantized.hpp keys)."""
    rng = np.random.default_rng(7)
    X = rng.normal(size=(4000, 3)).astype(np.float32)
    X[rng.random(X.shape) < 0.05] = np.nan
    y = np.sin(3 * np.nan_to_num(X[:, 0])) + rng.normal(scale=0.3, size=4000)
    booster = xgb.train({"objective": "reg:squarederror", "max_depth": 8, "tree_method": "exact", "seed": 1},
                        xgb.DMatrix(X, y), 60)
    booster.save_model(tmp_path / "m.json")
    model = floresta.load(tmp_path / "m.json")
    thresholds = xgboost_thresholds(booster)
    assert max(len(set(t)) for t in thresholds.values()) > 1000
    T = edge_rows(thresholds, 3, 2000, np.float32, seed=8)
    with np.errstate(over="ignore"):
        T32 = T.astype(np.float32)
    assert_same_everywhere(model, T32, booster.inplace_predict(T32, predict_type="margin"))
