"""Training, metrics, and the shipped model examples/models/phone_theft.json.

Expected values come from the training libraries (XGBoost's own predictions, scikit-learn's
metrics) or from the generator's documented truth, never from floresta's output."""
import json
import pathlib

import numpy as np
import pandas as pd
import pytest

from phone_theft import clean, generate, model
from phone_theft.constants import DIAS, FEATURES, LABELS, MARCAS, PERIODOS, SEXOS

MODELS = pathlib.Path(__file__).resolve().parents[2] / "models"
SHIPPED = MODELS / "phone_theft.json"
PERSON = MODELS / "phone_theft_person.json"


@pytest.fixture(scope="module")
def small():
    """About 11,600 cleaned rows (40,000 generated), split with seed 3."""
    return model.prepare(clean.clean(generate.generate(40_000, seed=3)), seed=3)


@pytest.fixture(scope="module")
def held_out():
    """Rows the shipped model never saw (another seed), with the generator's truth."""
    return clean.clean(generate.generate(30_000, seed=12345))


# ---------------------------------------------------------------------------------------------
# features, split, metrics


def test_split_is_stratified_and_deterministic(small):
    data = pd.concat([small.train, small.valid, small.test])
    assert not data.index.duplicated().any()
    n = len(data)
    assert abs(len(small.train) / n - 0.70) < 0.01 and abs(len(small.test) / n - 0.15) < 0.01
    for part in (small.valid, small.test):             # classes with >= 20 rows are in every split
        counts = np.bincount(data["local"], minlength=10)
        assert set(np.flatnonzero(counts >= 20)) <= set(part["local"])
    again = model.split(data.sort_index(), seed=3)
    assert list(again[2].index) == list(model.split(data.sort_index(), seed=3)[2].index)


def test_features_use_fixed_vocabularies(small):
    X = small.X_train
    assert list(X.columns) == FEATURES
    assert X["idade"].dtype == np.float64
    assert list(X["marca"].cat.categories) == MARCAS and list(X["dia"].cat.categories) == DIAS
    assert list(X["periodo"].cat.categories) == PERIODOS and list(X["sexo"].cat.categories) == SEXOS
    assert list(X["bairro"].cat.categories) == sorted(small.train["bairro"].unique())
    # a bairro the training split never saw becomes missing
    frame = small.test.head(2).copy()
    frame["bairro"] = ["NOWHERE", frame["bairro"].iloc[1]]
    X = model.features(frame, small.vocab)
    assert pd.isna(X["bairro"].iloc[0]) and X["bairro"].iloc[1] == frame["bairro"].iloc[1]


def test_metrics_agree_with_scikit_learn():
    from sklearn.metrics import log_loss, top_k_accuracy_score

    rng = np.random.default_rng(0)
    p = rng.dirichlet(np.ones(10) * 0.5, 500)
    y = rng.integers(0, 10, 500)
    assert model.log_loss(p, y) == pytest.approx(log_loss(y, p, labels=range(10)), rel=1e-9)
    for k in (1, 3):
        assert model.top_k_accuracy(p, y, k) == pytest.approx(top_k_accuracy_score(y, p, k=k, labels=range(10)))


def test_expected_calibration_error_by_hand():
    # two rows at 0.95 (one right): |0.5 - 0.95|; two at 0.55 (both right): |1 - 0.55|
    p = np.full((4, 10), 0.05 / 9)
    p[0, 9] = p[1, 9] = 0.95
    p[2:, :] = 0.45 / 9
    p[2, 8] = p[3, 8] = 0.55
    y = np.array([9, 3, 8, 8])
    table = model.reliability(p, y)
    assert list(table["count"]) == [2, 2]
    assert model.expected_calibration_error(p, y) == pytest.approx(0.5 * 0.45 + 0.5 * 0.45)
    assert model.class_prior([9, 9, 8])[9] == pytest.approx(2.5 / 8)          # (2 + 0.5) / (3 + 10 * 0.5)


# ---------------------------------------------------------------------------------------------
# training


def test_xgboost_beats_the_class_prior(small):
    clf = model.train_xgboost(small.X_train, small.y_train, small.X_valid, small.y_valid, seed=0)
    report = model.evaluate(clf.predict_proba(small.X_test), small.y_test, model.class_prior(small.y_train))
    assert report["log_loss"] < 0.95 * report["prior_log_loss"], report
    assert report["log_loss"] > generate.bayes_log_loss(small.test) - 0.02     # no model beats the truth by much
    assert report["top3"] > report["prior_top3"]
    assert report["ece"] < 0.05
    # refitted with the rounds early stopping kept: same probabilities as an early-stopped fit
    assert clf.get_booster().num_boosted_rounds() == clf.best_round_ <= len(clf.validation_curve_)


def test_lightgbm_beats_the_class_prior(small):
    clf = model.train_lightgbm(small.X_train, small.y_train, small.X_valid, small.y_valid, seed=0)
    report = model.evaluate(clf.predict_proba(small.X_test), small.y_test, model.class_prior(small.y_train))
    assert report["log_loss"] < 0.95 * report["prior_log_loss"], report


def test_a_class_absent_from_training_still_gets_a_column(small):
    keep = small.y_train != 0
    clf = model.train_xgboost(small.X_train[keep], small.y_train[keep], small.X_valid, small.y_valid,
                              n_estimators=20, early_stopping_rounds=None)
    p = clf.predict_proba(small.X_test)
    assert p.shape == (len(small.X_test), 10) and p[:, 0].max() < 1e-3


def test_export_and_floresta_parity(small, tmp_path):
    import floresta

    clf = model.train_xgboost(small.X_train, small.y_train, small.X_valid, small.y_valid, seed=0)
    path = tmp_path / "m.json"
    model.export(clf, path)
    loaded = floresta.load(str(path))
    assert list(loaded.classes_) == LABELS
    expected = clf.predict_proba(small.X_test)
    assert np.abs(loaded.predict_proba(small.X_test) - expected).max() <= 1e-6


# ---------------------------------------------------------------------------------------------
# the shipped model


def _xgboost_booster(tmp_path):
    import xgboost

    document = json.loads(SHIPPED.read_text(encoding="utf-8"))
    assert document["estimator"]["format"] == "xgboost"
    path = tmp_path / "embedded_xgboost.json"
    path.write_text(json.dumps(document["estimator"]["document"]), encoding="utf-8")
    return xgboost.Booster(model_file=str(path)), document


def test_shipped_model_is_small_and_carries_labels_and_vocabularies():
    import floresta

    assert SHIPPED.stat().st_size < 2 * 1024 * 1024
    loaded = floresta.load(str(SHIPPED))
    assert list(loaded.classes_) == LABELS
    assert list(loaded.feature_names_in_) == FEATURES
    vocab = {f["name"]: f.get("categories") for f in loaded.schema["features"]}
    assert vocab["marca"] == MARCAS and vocab["dia"] == DIAS
    assert vocab["periodo"] == PERIODOS and vocab["sexo"] == SEXOS and vocab["idade"] is None
    # trained on the full synthetic file: every bairro of the generator, sorted
    assert vocab["bairro"] == sorted(generate.bairros()["key"])


def test_shipped_model_equals_its_xgboost_model(tmp_path, held_out):
    import floresta
    import xgboost

    booster, _ = _xgboost_booster(tmp_path)
    loaded = floresta.load(str(SHIPPED))
    vocab = {f["name"]: f.get("categories") for f in loaded.schema["features"]}
    # categories listed in another order: XGBoost and floresta both re-code by name
    shuffled = {k: (list(reversed(v)) if v else v) for k, v in vocab.items()}
    X = model.features(held_out, shuffled)
    best = booster.attr("best_iteration")
    rounds = (0, int(best) + 1) if best is not None else (0, 0)
    expected = booster.predict(xgboost.DMatrix(X, enable_categorical=True), iteration_range=rounds)
    assert expected.shape == (len(X), 10)
    assert np.abs(loaded.predict_proba(X) - expected).max() <= 1e-6
    # raw records, as the web service receives them
    records = [{k: (None if pd.isna(v) else v) for k, v in row.items()} for row in held_out[FEATURES].to_dict("records")]
    assert np.abs(loaded.predict_proba(records[:2000]) - expected[:2000]).max() <= 1e-6


def test_shipped_model_beats_the_prior_on_new_data(tmp_path, held_out):
    import xgboost

    booster, _ = _xgboost_booster(tmp_path)
    X = model.features(held_out, model.vocabularies(held_out))
    p = booster.predict(xgboost.DMatrix(X, enable_categorical=True))
    y = held_out["local"].to_numpy()
    prior = model.log_loss(np.tile(generate.SHARES, (len(y), 1)), y)
    bayes = generate.bayes_log_loss(held_out)
    assert bayes < model.log_loss(p, y) < prior - 0.5 * (prior - bayes)    # at least half-way to the truth


def test_example_person():
    import floresta

    person = json.loads(PERSON.read_text(encoding="utf-8"))
    assert list(person) == FEATURES
    loaded = floresta.load(str(SHIPPED))
    for feature in FEATURES:
        categories = loaded.categories(feature)
        if categories is not None:
            assert person[feature] in list(categories), feature
    assert isinstance(person["idade"], int)
