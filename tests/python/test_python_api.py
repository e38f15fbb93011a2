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
