"""Older and newer XGBoost file layouts than the installed XGBoost writes, made by rewriting
a real model's JSON, must score exactly like the original."""
import json

import numpy as np
import xgboost as xgb

import floresta


def trained(booster_kind="gbtree", num_class=0, rounds=6):
    rng = np.random.default_rng(5)
    X = rng.normal(size=(400, 5)).astype(np.float32)
    X[rng.random(X.shape) < 0.1] = np.nan
    params = {"max_depth": 3, "booster": booster_kind}
    if num_class:
        y = rng.integers(0, num_class, len(X))
        params.update(objective="multi:softprob", num_class=num_class)
    else:
        y = (np.nan_to_num(X[:, 0]) > 0).astype(int)
        params.update(objective="binary:logistic")
    if booster_kind == "dart":
        params.update(rate_drop=0.3, skip_drop=0.0, seed=1)
    booster = xgb.train(params, xgb.DMatrix(X, y), rounds)
    document = json.loads(booster.save_raw("json"))
    return booster, document, X


def score(document, X, **options):
    return floresta.load_bytes(json.dumps(document).encode(), **options).predict_raw(X)


def test_scalar_base_score_of_xgboost_up_to_3_0():
    booster, document, X = trained()
    expected = score(document, X)
    param = document["learner"]["learner_model_param"]
    assert param["base_score"].startswith("[")
    param["base_score"] = param["base_score"].strip("[]")
    np.testing.assert_array_equal(score(document, X), expected)


def test_files_without_iteration_indptr():
    booster, document, X = trained(num_class=3)
    expected = score(document, X)
    del document["learner"]["gradient_booster"]["model"]["iteration_indptr"]
    np.testing.assert_array_equal(score(document, X), expected)
    # best_iteration still cuts whole rounds (3 trees each).
    document["learner"]["attributes"]["best_iteration"] = "1"
    model = floresta.load_bytes(json.dumps(document).encode(), use_best_iteration=True)
    assert model.n_trees == 6
    np.testing.assert_allclose(model.predict_raw(X), booster.predict(xgb.DMatrix(X), output_margin=True,
                                                                     iteration_range=(0, 2)), atol=1e-6)


def test_dart_in_the_3_3_layout():
    booster, document, X = trained("dart")
    legacy = document["learner"]["gradient_booster"]
    weights = legacy["weight_drop"]
    new = {"name": "gbtree", "model": dict(legacy["gbtree"]["model"], weight_drop=weights)}
    document["learner"]["gradient_booster"] = new
    np.testing.assert_array_equal(score(document, X), booster.predict(xgb.DMatrix(X), output_margin=True).reshape(-1, 1))


def test_trees_listed_out_of_id_order():
    booster, document, X = trained()
    expected = score(document, X)
    trees = document["learner"]["gradient_booster"]["model"]["trees"]
    trees.reverse()
    np.testing.assert_array_equal(score(document, X), expected)


def test_pruned_nodes_left_in_the_arrays_are_ignored():
    booster, document, X = trained()
    expected = score(document, X)
    tree = document["learner"]["gradient_booster"]["model"]["trees"][0]
    # Append an unreachable split node, as XGBoost's pruner leaves behind.
    for key, value in [("left_children", -1), ("right_children", -1), ("parents", 0), ("split_indices", 0),
                       ("split_conditions", 123.0), ("default_left", 0), ("split_type", 0),
                       ("base_weights", 0.0), ("loss_changes", 0.0), ("sum_hessian", 0.0)]:
        tree[key].append(value)
    tree["tree_param"]["num_nodes"] = str(len(tree["left_children"]))
    np.testing.assert_array_equal(score(document, X), expected)
