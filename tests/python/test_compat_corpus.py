"""Compatibility corpus: model files written by OLD XGBoost and LightGBM releases
(tests/data/compat/<library>-<version>/, made by tests/data/compat/make_compat_corpus.py),
each with the outputs that release itself computed in <model file>.vectors.json. Every file
found there is loaded with floresta.load and scored (a new release needs no edit here):
margins and transformed outputs within 1e-6 x max(1, |expected|), classes identical."""
import json
import pathlib

import numpy as np
import pytest

import floresta

CORPUS = pathlib.Path(__file__).resolve().parents[1] / "data" / "compat"
SUFFIX = ".vectors.json"
TOL = 1e-6
VECTORS = sorted(CORPUS.glob(f"*/*{SUFFIX}"))


def _id(path):
    return str(path.relative_to(CORPUS))[: -len(SUFFIX)]


def read_vectors(path):
    vectors = json.loads(path.read_text())
    inputs = np.array([[np.nan if x is None else x for x in row] for row in vectors["inputs"]], dtype=np.float64)
    return vectors, path.parent / vectors["model"], inputs


def check(parity, name, expected, actual):
    expected = np.asarray(expected, dtype=np.float64)
    actual = np.asarray(actual, dtype=np.float64).reshape(expected.shape)
    worst = parity(name, expected, actual)
    scaled = np.abs(actual - expected) / np.maximum(1.0, np.abs(expected))
    assert not np.isnan(actual).any(), f"{name}: NaN outputs"
    assert scaled.max() <= TOL, f"{name}: worst |difference| {worst:.3g} (scaled {scaled.max():.3g})"


def test_the_corpus_is_complete():
    """Every model file has <file>.vectors.json beside it, naming it (so each is checked)."""
    assert len(VECTORS) >= 10, f"the corpus under {CORPUS} looks empty"
    models = sorted(p for p in CORPUS.glob("*/*") if p.is_file() and not p.name.endswith(SUFFIX))
    for model in models:
        assert (model.parent / (model.name + SUFFIX)).is_file(), f"{model} has no vectors"
    for path in VECTORS:
        assert read_vectors(path)[1] == path.with_name(path.name[: -len(SUFFIX)]), f"{path} names another model"
    assert len(models) == len(VECTORS)


@pytest.mark.parametrize("path", VECTORS, ids=_id)
def test_outputs_match_the_release_that_wrote_the_file(parity, path):
    vectors, model_path, X = read_vectors(path)
    name = _id(path)
    model = floresta.load(model_path)
    assert model.n_features_in_ == X.shape[1]
    # XGBoost casts rows to float32: float32 rows must give its outputs too.
    inputs = [X, X.astype(np.float32)] if vectors["library"] == "xgboost" else [X]
    for rows in inputs:
        check(parity, f"compat {name} raw", vectors["raw"], model.predict_raw(rows))
        if "proba" in vectors:
            check(parity, f"compat {name} proba", vectors["proba"], model.predict_proba(rows))
        if "value" in vectors:
            check(parity, f"compat {name} value", vectors["value"], model.predict(rows))
        if "label" in vectors:
            expected = np.asarray(model.classes_)[np.asarray(vectors["label"], dtype=int).ravel()]
            np.testing.assert_array_equal(model.predict(rows), expected, err_msg=f"{name} classes")
