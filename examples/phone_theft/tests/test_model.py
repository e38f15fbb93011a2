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


# ---------------------------------------------------------------------------------------------
# the shipped model against the generator's truth: rare places and missing fields
#
# Goals (phone_theft/model.py, "Choosing the model"), on persons the model never saw: (a) its ordered top 3
# places equal the truth's for at least 75% of fresh profiles; (b) for three persons whose
# profile makes a rare place likely, at least half the truth's probability of that place;
# (c) at least 90% of the way from the class prior's log loss to the Bayes limit; and a missing
# field answered with the truth averaged over that field's values.

TOP3_PROFILES, TOP3_SEED = 4000, 2024


@pytest.fixture(scope="module")
def shipped():
    import floresta

    return floresta.load(str(SHIPPED))


@pytest.fixture(scope="module")
def fresh_profiles():
    """Persons drawn from the generator's feature distribution, nothing missing."""
    return generate.draw_profiles(TOP3_PROFILES, seed=TOP3_SEED)


def test_shipped_model_ranks_the_places_as_the_truth_does(shipped, fresh_profiles):
    truth = generate.place_probabilities(fresh_profiles)
    agrees = model.top3_agrees(shipped.predict_proba(fresh_profiles), truth)
    # the truth's 3rd and 4th places are often nearly tied (within half a point for many of
    # the profiles), so the order is exact but fragile: the bound leaves the shipped model
    # little room (its score here: docs/benchmarks.md, model/phone-theft)
    ranked = np.sort(truth, axis=1)[:, ::-1]
    near = (ranked[:, 2] - ranked[:, 3]) < 0.005
    assert agrees.mean() >= 0.75, (agrees.mean(), agrees[~near].mean(), near.mean())


@pytest.mark.parametrize("i", range(len(generate.RARE_PLACE_PERSONS)),
                         ids=[p["bairro"] for p, _ in generate.RARE_PLACE_PERSONS])
def test_shipped_model_sees_a_profile_specific_rare_place(shipped, i):
    person, k = generate.RARE_PLACE_PERSONS[i]
    truth = generate.place_probabilities(pd.DataFrame([person]))[0, k]
    predicted = shipped.predict_proba([person])[0, k]
    assert predicted >= 0.5 * truth, (LABELS[k], predicted, truth)


def test_shipped_model_is_close_to_the_bayes_limit(shipped, held_out):
    p = shipped.predict_proba(held_out[FEATURES])
    truth = generate.place_probabilities(held_out)
    prior = np.tile(generate.SHARES, (len(held_out), 1))
    y = held_out["local"].to_numpy()
    # on the sampled places, and as expected under the truth (no sampling noise)
    sampled = model.gap_closed(model.log_loss(p, y), model.log_loss(prior, y), model.log_loss(truth, y))
    expected = model.gap_closed(model.expected_log_loss(p, truth), model.expected_log_loss(prior, truth),
                                model.expected_log_loss(truth, truth))
    assert sampled >= 0.9 and expected >= 0.9, (sampled, expected)


@pytest.fixture(scope="module")
def missing_profiles(shipped):
    profiles = generate.draw_profiles(300, seed=2025)
    error = model.total_variation(shipped.predict_proba(profiles), generate.place_probabilities(profiles)).mean()
    return profiles, error


@pytest.mark.parametrize("field", FEATURES)
def test_shipped_model_answers_a_missing_field_with_the_average(shipped, missing_profiles, field):
    """A person who leaves a field out should get the truth averaged over that field's values
    (weighted by how often each occurs: generate.marginal_probabilities).

    Tolerance, in mean total variation over 300 profiles: 0.02. A model that never saw the
    field missing (the one trained before masking) was 0.04-0.10 away (bairro 0.058, periodo
    0.10), and dropping the field's effect from the truth is 0.043 away for bairro and 0.047
    for periodo, so 0.02 tells a learned answer from an arbitrary branch; the shipped model's
    own error on the complete profiles is about 0.012, the floor of what it can do. A missing
    bairro, the field a user most often cannot give, must moreover be no further from its
    average than the complete profiles are from their truth."""
    profiles, error = missing_profiles
    target = generate.marginal_probabilities(profiles, field)
    missing = profiles.assign(**{field: np.nan if field == "idade" else None})
    distance = model.total_variation(shipped.predict_proba(missing), target).mean()
    assert distance <= 0.02, (field, distance, error)
    if field == "bairro":
        assert distance <= error, (distance, error)


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
