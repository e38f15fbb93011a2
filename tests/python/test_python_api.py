"""The Python API's contract: inputs accepted, errors raised, pickling, threads."""
import pickle
import threading

import numpy as np
import pandas as pd
import pytest
import xgboost as xgb

import floresta

DATA = "tests/data"


@pytest.fixture(scope="module")
def binary():
    return floresta.load(f"{DATA}/xgb_binary.json")


@pytest.fixture(scope="module")
def rows():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(3000, 8))
    X[rng.random(size=X.shape) < 0.1] = np.nan
    return X


def test_float32_float64_and_fortran_order_agree(binary, rows):
    expected = binary.predict_proba(rows)
    np.testing.assert_array_equal(binary.predict_proba(rows.astype(np.float32)), expected)
    np.testing.assert_array_equal(binary.predict_proba(np.asfortranarray(rows)), expected)
    np.testing.assert_array_equal(binary.predict_proba(rows[::-1])[::-1], expected)  # negative strides
    np.testing.assert_array_equal(binary.predict_proba(rows.astype(">f8")), expected)  # big-endian
    np.testing.assert_array_equal(binary.predict_proba(rows.tolist()), expected)  # lists


def test_output_shapes(binary, rows):
    assert binary.predict_raw(rows).shape == (3000, 1)
    assert binary.predict_proba(rows).shape == (3000, 2)
    assert binary.predict(rows).shape == (3000,)
    assert binary.predict(rows).dtype == np.int64
    assert list(binary.classes_) == [0, 1]
    assert list(binary.feature_names_in_) == [f"f{i}" for i in range(8)]


def test_threads_agree(binary, rows):
    expected = binary.predict_proba(rows)
    binary.n_threads = 2
    try:
        np.testing.assert_array_equal(binary.predict_proba(rows), expected)
    finally:
        binary.n_threads = 1
    results = [None] * 4

    def work(i):
        results[i] = binary.predict_proba(rows)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for r in results:
        np.testing.assert_array_equal(r, expected)


def test_pickle_roundtrip(binary, rows):
    clone = pickle.loads(pickle.dumps(binary))
    np.testing.assert_array_equal(clone.predict_proba(rows), binary.predict_proba(rows))
    assert repr(clone) == repr(binary)


@pytest.mark.parametrize("name", ["xgb_binary.json", "lgb_multiclass.json", "skl_hist_gradient_boosting.json"])
def test_quantized_and_plain_walks_agree(name):
    """quantize=False scores with the value walk: bit-identical answers, kept by pickling."""
    fast = floresta.load(f"{DATA}/{name}")
    plain = floresta.load(f"{DATA}/{name}", quantize=False)
    rng = np.random.default_rng(1)
    X = rng.normal(size=(3000, fast.n_features_in_))
    X[rng.random(size=X.shape) < 0.1] = np.nan
    for batch in (X, X[:7], X[:1]):
        np.testing.assert_array_equal(fast.predict_raw(batch), plain.predict_raw(batch))
    clone = pickle.loads(pickle.dumps(plain))
    assert clone._quantize is False
    np.testing.assert_array_equal(clone.predict_raw(X), plain.predict_raw(X))


def test_wrong_column_count(binary):
    with pytest.raises(ValueError, match="input has 5 columns, the model expects 8 features"):
        binary.predict(np.zeros((2, 5)))


def test_one_dimensional_input(binary):
    with pytest.raises(ValueError, match="2-dimensional"):
        binary.predict(np.zeros(8))


def test_non_numeric_array(binary):
    with pytest.raises(ValueError, match="must hold numbers"):
        binary.predict(np.array([["a"] * 8]))


def test_missing_dataframe_column(binary):
    frame = pd.DataFrame(np.zeros((2, 7)), columns=[f"f{i}" for i in range(7)])
    with pytest.raises(ValueError, match=r"lacks the model's feature column\(s\) \['f7'\]"):
        binary.predict(frame)


def test_dataframe_columns_matched_by_name(binary, rows):
    frame = pd.DataFrame(rows, columns=[f"f{i}" for i in range(8)])
    reordered = frame[frame.columns[::-1]].assign(extra=1.0)
    np.testing.assert_array_equal(binary.predict_proba(reordered), binary.predict_proba(rows))


def test_non_numeric_dataframe_column(binary):
    frame = pd.DataFrame({f"f{i}": [0.0] for i in range(8)}).astype({"f3": object})
    frame.loc[0, "f3"] = "high"
    with pytest.raises(ValueError, match="column 'f3' must hold numbers"):
        binary.predict(frame)


def test_malformed_and_missing_files(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"learner": {')
    with pytest.raises(ValueError, match="bad.json: malformed or truncated JSON"):
        floresta.load(bad)
    with pytest.raises(ValueError, match="cannot open model file"):
        floresta.load(tmp_path / "absent.json")
    with pytest.raises(floresta.FlorestaError):
        floresta.load_bytes(b"\x00\x01garbage")
    truncated = open(f"{DATA}/xgb_regression.ubj", "rb").read()[:500]
    with pytest.raises(ValueError, match="UBJSON"):
        floresta.load_bytes(truncated, name="cut.ubj")


def test_unknown_objective(tmp_path):
    text = open(f"{DATA}/xgb_binary.json").read().replace("binary:logistic", "reg:made_up")
    with pytest.raises(ValueError, match="unsupported objective 'reg:made_up'"):
        floresta.load_bytes(text.encode())


def test_classes_absent_on_regressors():
    reg = floresta.load(f"{DATA}/xgb_regression.ubj")
    with pytest.raises(AttributeError):
        reg.classes_


def test_gil_released_during_scoring(rows):
    # Two Python threads scoring a big batch overlap in time only if the GIL is released.
    rng = np.random.default_rng(1)
    X = rng.normal(size=(20000, 8)).astype(np.float32)
    y = (X[:, 0] > 0).astype(int)
    booster = xgb.train({"objective": "binary:logistic", "max_depth": 8}, xgb.DMatrix(X, y), 200)
    model = floresta.load_bytes(booster.save_raw("json"))
    inside = []
    overlap = []

    def work():
        inside.append(1)
        model.predict_raw(X)
        overlap.append(len(inside))

    threads = [threading.Thread(target=work) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert max(overlap) == 2


def _categorical_classifier():
    rng = np.random.default_rng(4)
    n = 600
    frame = pd.DataFrame({"bairro": pd.Categorical(rng.choice(["SE", "REPUBLICA", "MOOCA", "BRAS"], n)),
                          "idade": rng.integers(14, 80, n).astype(float)})
    y = (frame["bairro"].cat.codes.to_numpy() + (frame["idade"] > 40)) % 3
    clf = xgb.XGBClassifier(n_estimators=8, max_depth=3, enable_categorical=True, max_cat_to_onehot=1).fit(frame, y)
    return clf, frame


def test_export_with_class_labels_carries_labels_and_vocabularies(tmp_path):
    clf, frame = _categorical_classifier()
    labels = ["Via Pública", "Transporte Público", "Saúde"]
    path = floresta.export(clf, tmp_path / "m.json", class_labels=labels)
    model = floresta.load(path)
    assert list(model.classes_) == labels
    assert model.feature_types == ["categorical", "numeric"]
    assert model.categories("bairro") == list(frame["bairro"].cat.categories)
    np.testing.assert_allclose(model.predict_proba(frame), clf.predict_proba(frame), rtol=0, atol=1e-6)
    assert list(model.predict(frame)) == [labels[k] for k in clf.predict(frame)]
    # A record with strings: encoded through the vocabulary stored in the file.
    one = pd.DataFrame({"bairro": ["MOOCA"], "idade": [33.0]})
    np.testing.assert_allclose(model.predict_proba(one), clf.predict_proba(one.astype({"bairro": frame["bairro"].dtype})),
                               rtol=0, atol=1e-6)


def test_export_class_labels_errors(tmp_path):
    clf, _ = _categorical_classifier()
    with pytest.raises(ValueError, match="class_labels has 2 labels, the model has 3 classes"):
        floresta.export(clf, class_labels=["a", "b"])
    with pytest.raises(ValueError, match="repeated"):
        floresta.export(clf, class_labels=["a", "b", "a"])
    with pytest.raises(ValueError, match=r"class_labels\[1\] = 7 is not a string"):
        floresta.export(clf, class_labels=["a", 7, "c"])
    reg = xgb.XGBRegressor(n_estimators=2).fit(np.zeros((10, 2)), np.arange(10.0))
    with pytest.raises(ValueError, match="not a classifier"):
        floresta.export(reg, class_labels=["a"])


def test_export_metadata_errors_name_the_problem():
    clf, _ = _categorical_classifier()
    bad = {"list": ([("threshold", 0.8)], "metadata must be a dict, not list"),
           "json text": ('{"threshold": 0.8}', "metadata must be a dict, not str"),
           "NaN": ({"threshold": float("nan")}, "metadata cannot be written as JSON: Out of range float values"),
           "infinity": ({"card": {"limit": np.inf}}, "metadata cannot be written as JSON: Out of range float values"),
           "numpy integer": ({"rows": np.int64(3)}, "cannot be written as JSON: .*int64 is not JSON serializable"),
           "int key": ({1: "one"}, "metadata has the key 1: JSON object keys must be strings"),
           "nested float key": ({"card": [{0.5: "half"}]}, r"metadata\['card'\]\[0\] has the key 0.5: JSON object"),
           "tuple key": ({("a", "b"): 1}, "metadata cannot be written as JSON: keys must be str")}
    for metadata, message in bad.values():
        with pytest.raises(floresta.FlorestaError, match=message):
            floresta.export(clf, metadata=metadata)
    cycle = {}
    cycle["self"] = cycle
    with pytest.raises(floresta.FlorestaError, match="Circular reference"):
        floresta.export(clf, metadata=cycle)


def test_metadata_and_cluster_names_defaults_and_pickling(tmp_path):
    clf, frame = _categorical_classifier()
    metadata = {"alert_threshold": 0.83, "model_card": {"owner": "risco", "tags": ["a", "b"]}}
    model = floresta.load(floresta.export(clf, tmp_path / "m.json", metadata=metadata, class_labels=["x", "y", "z"]))
    clone = pickle.loads(pickle.dumps(model))
    assert clone.metadata == model.metadata == metadata
    assert list(clone.classes_) == ["x", "y", "z"]
    np.testing.assert_array_equal(clone.predict_proba(frame), model.predict_proba(frame))
    assert floresta.load(f"{DATA}/xgb_binary.json").metadata == {}  # other formats carry none
    assert floresta.load(f"{DATA}/skl_kmeans.json").metadata == {}
    # Cluster names: k-means only; a file without names gives the indices as strings.
    assert list(floresta.load(f"{DATA}/skl_kmeans.json").cluster_names_) == [str(k) for k in range(7)]
    assert floresta.load(f"{DATA}/skl_kmeans.json").schema["clusters"] == [str(k) for k in range(7)]
    with pytest.raises(AttributeError, match="cluster_names_ exists only for k-means models"):
        model.cluster_names_
    assert "clusters" not in model.schema


# ---- the binding's surface: policies as enums, ranking and predict's output chosen in C++ ----

def test_binding_exports_only_what_the_python_layer_uses():
    from floresta import _core
    assert sorted(name for name in vars(_core) if not name.startswith("_")) == [
        "ExtraFields", "FlorestaError", "InputError", "Model", "OutputKind", "UnknownCategory", "available_kernels",
        "fold_text"]
    assert sorted(name for name in dir(_core.Model) if not name.startswith("_")) == [
        "best_iteration", "can_explain", "categories", "decision_offset", "encode_records", "encode_values",
        "expected_value", "explain_record", "explain_refusal", "feature_names", "feature_types", "format", "from_bytes",
        "inertia", "input_rule", "is_classifier", "is_clusterer", "is_outlier_detector", "kernel", "metadata",
        "num_classes", "num_features", "num_outputs", "num_trees", "objective", "output_labels", "plan",
        "predict_contributions", "predict_ranked", "predict_scorer", "score", "scorer"]
    # One spelling per value: the public strings are the enum members' names.
    assert list(_core.UnknownCategory.__members__) == ["as_trained", "error"]
    assert list(_core.ExtraFields.__members__) == ["ignore", "error"]
    assert list(_core.OutputKind.__members__) == ["raw", "value", "proba", "class_", "decision", "distances"]


def test_scorers_score_float_matrices_and_leave_the_rest_to_the_python_layer(binary, rows):
    # Model.predict / predict_proba call these builtin functions (bound to the model and kind)
    # on every row; they must answer as the binding's score method and XGBoost do.
    from floresta import _core
    proba = binary._core.scorer(_core.OutputKind.proba)
    labels = binary._core.predict_scorer()
    booster = xgb.Booster(model_file=f"{DATA}/xgb_binary.json")
    p1 = booster.predict(xgb.DMatrix(rows, missing=np.nan))
    for X in (rows, rows.astype(np.float32), np.asfortranarray(rows), rows[::-1][::-1], rows[:1], rows[:0]):
        out = proba(X, 1)
        np.testing.assert_array_equal(out, binary._core.score(_core.OutputKind.proba, X, 1))
        np.testing.assert_allclose(out[:, 1], p1[:len(X)], rtol=1e-6, atol=1e-7)
        np.testing.assert_array_equal(labels(X, 1), (p1[:len(X)] > 0.5).astype(float))
    np.testing.assert_array_equal(proba(rows, 2), proba(rows, 1))
    # Anything but a 2-D ndarray of native float32/float64: None, for as_matrix to convert.
    for other in (rows.tolist(), rows[0], rows[None], rows.astype(np.float16), rows.astype(">f8"), np.nan_to_num(rows).astype(int),
                  np.asmatrix(rows), pd.DataFrame(rows), None, "x"):
        assert proba(other, 1) is None
    with pytest.raises(ValueError, match="8 features"):
        proba(rows[:, :7], 1)
    with pytest.raises(ValueError, match="n_threads"):
        proba(rows, -1)
    with pytest.raises(TypeError, match="two arguments"):
        proba(rows)
    with pytest.raises(TypeError):
        proba(rows, "1")


def test_a_scorer_keeps_its_model_alive():
    import gc
    model = floresta.load(f"{DATA}/xgb_binary.json")
    X = np.zeros((3, 8))
    expected = model.predict_proba(X)
    scorer = model._core_proba
    del model
    gc.collect()
    np.testing.assert_array_equal(scorer(X, 1), expected)


@pytest.mark.parametrize("policy, good, message", [
    ("unknown_category", ("as_trained", "error"), "unknown_category must be 'as_trained' or 'error'"),
    ("extra_fields", ("ignore", "error"), "extra_fields must be 'ignore' or 'error'")])
def test_policy_strings(policy, good, message):
    for bad in ("As_Trained", "", "raise", None, 1, ["error"]):
        with pytest.raises(ValueError, match=f"^{message}$"):
            floresta.load(f"{DATA}/xgb_binary.json", **{policy: bad})
    model = floresta.load(f"{DATA}/xgb_binary.json")
    for value in good:
        model_with = floresta.load(f"{DATA}/xgb_binary.json", **{policy: value})
        assert getattr(model_with, policy) == value
        setattr(model, policy, value)
        assert getattr(model, policy) == value
        assert getattr(pickle.loads(pickle.dumps(model)), policy) == value
    with pytest.raises(ValueError, match=f"^{message}$"):  # set later: checked the same way, value kept
        setattr(model, policy, "sometimes")
    assert getattr(model, policy) == good[-1]


def test_policies_reach_the_encoder():
    model = floresta.load(f"{DATA}/skl_pipeline.json")
    record = {feature["name"]: (feature["categories"][0] if "categories" in feature else 1.0)
              for feature in model.schema["features"]}
    unseen = dict(record, **{next(f["name"] for f in model.schema["features"] if "categories" in f): "never seen"})
    model.predict_proba([unseen, dict(record, surplus=1)])  # defaults: as trained, extra ignored
    model.unknown_category = "error"
    with pytest.raises(ValueError, match="never seen"):
        model.predict_proba(unseen)
    model.extra_fields = "error"
    with pytest.raises(ValueError, match="surplus"):
        model.predict_proba(dict(record, surplus=1))


def _reference_ranking(model, X, k):
    labels = list(model.classes_)
    out = []
    for row in model.predict_proba(X):
        order = sorted(range(len(labels)), key=lambda c: -row[c])  # stable: ties keep class order
        out.append([(labels[c], float(row[c])) for c in order[:k]])
    return out


@pytest.mark.parametrize("name", ["lgb_multiclass.json", "xgb_binary.json", "xgb_multiclass_categorical.ubj"])
def test_predict_ranked_matches_sorting_the_probabilities(name):
    model = floresta.load(f"{DATA}/{name}")
    rng = np.random.default_rng(3)
    X = rng.normal(size=(200, model.n_features_in_))
    for k in (None, 1, 2, 3, 50, 0, -1):
        assert model.predict_ranked(X, k) == _reference_ranking(model, X, k)


def test_predict_ranked_ties_keep_class_order(tmp_path):
    """A constant input and equal counts of classes 1 and 2: those two tie, above class 0."""
    X = np.zeros((30, 2))
    y = np.array([0] * 4 + [1] * 13 + [2] * 13)
    xgb.XGBClassifier(n_estimators=3).fit(X, y).save_model(tmp_path / "tie.json")
    model = floresta.load(tmp_path / "tie.json")
    proba = model.predict_proba(X[:1])[0]
    assert proba[1] == proba[2] > proba[0]
    ranked = model.predict_ranked(X[:2])
    assert [[label for label, _ in row] for row in ranked] == [[1, 2, 0], [1, 2, 0]]
    assert ranked[0] == [(1, proba[1]), (2, proba[2]), (0, proba[0])]
    assert model.predict_ranked(X[:1], k=1) == [[(1, proba[1])]]
    assert model.predict_ranked(X[:3], k=0) == [[], [], []]
    regression = floresta.load(f"{DATA}/xgb_regression.ubj")
    with pytest.raises(ValueError, match="predict_proba is only for classifiers"):
        regression.predict_ranked(np.zeros((1, regression.n_features_in_)))


@pytest.mark.parametrize("name, dtype", [("xgb_binary.json", np.int64), ("xgb_regression.ubj", np.float64),
                                         ("skl_isolation_forest.json", np.int64), ("skl_kmeans.json", np.int64)])
def test_predict_output_per_model_kind(name, dtype):
    """predict's output is chosen by the core: classes, values, -1/1, cluster labels."""
    model = floresta.load(f"{DATA}/{name}")
    X = np.random.default_rng(4).normal(size=(50, model.n_features_in_))
    out = model.predict(X)
    assert out.shape == (50,) and out.dtype == dtype
    if model.is_classifier:
        np.testing.assert_array_equal(out, model.classes_[np.argmax(model.predict_proba(X), axis=1)])
    elif model.is_outlier_detector:
        np.testing.assert_array_equal(out, np.where(model.decision_function(X) < 0, -1, 1))
    elif name == "skl_kmeans.json":
        np.testing.assert_array_equal(out, np.argmin(model.transform(X), axis=1))
    else:
        assert not np.array_equal(out, np.zeros(50))


def test_every_load_option_is_reachable_and_pickled():
    kernel = floresta.available_kernels()[-1]
    options = dict(use_best_iteration=True, num_iterations=3, quantize=False, kernel=kernel, max_depth=64,
                   load_threads=2, n_threads=2, unknown_category="error", extra_fields="error")
    model = floresta.load(f"{DATA}/xgb_binary.json", **options)
    clone = pickle.loads(pickle.dumps(model))
    for m in (model, clone):
        assert (m._use_best_iteration, m._num_iterations, m._quantize, m._kernel, m._max_depth, m._load_threads,
                m.n_threads, m.unknown_category, m.extra_fields) == (True, 3, False, kernel, 64, 2, 2, "error", "error")
        assert m.kernel == kernel
    X = np.random.default_rng(5).normal(size=(20, 8))
    np.testing.assert_array_equal(clone.predict_raw(X), model.predict_raw(X))
    with pytest.raises(ValueError, match="deep"):
        floresta.load(f"{DATA}/xgb_binary.json", max_depth=1)
