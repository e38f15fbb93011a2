"""The shipped models in examples/models/: what they carry, how they rank fraud on data they
never saw, and that floresta equals the training libraries on each (1e-6; segment ids
identical). Expected values come from LightGBM and scikit-learn models trained again here with
train_model.py's steps (deterministic), never from floresta."""
import json
import pathlib

import numpy as np
import pytest

import floresta
from bank import features as F
from bank import generate, model

MODELS = pathlib.Path(__file__).resolve().parents[2] / "models"


def load(name):
    path = MODELS / name
    assert path.is_file(), f"{path} is missing: run examples/bank/train_model.py"
    return floresta.load(path)


@pytest.fixture(scope="module")
def unseen():
    """Five weeks of 1,000 customers the models never saw (another seed): the last week is a test week."""
    frame = generate.generate(1_000, days=35, seed=101)
    X = F.fraud_features(frame)
    return model.split_by_time(frame, X, warmup_days=7, valid_days=7, test_days=7)


@pytest.fixture(scope="module")
def training():
    """train_model.py's data (5,000 customers, 70 days, seed 0) and split, rebuilt."""
    frame = generate.generate()
    return frame, model.split_by_time(frame, F.fraud_features(frame))


@pytest.fixture(scope="module")
def retrained(training):
    """The fraud classifier trained again by LightGBM itself, with train_model.py's steps."""
    return model.train_fraud(training[1])


def test_files_carry_names_threshold_and_model_card():
    fraud = load("bank_fraud.json")
    assert list(fraud.classes_) == model.CLASS_LABELS
    assert list(fraud.feature_names_in_) == F.FRAUD_FEATURES
    for name, categories in F.CATEGORICAL.items():
        assert fraud.categories(name) == categories  # accents intact
    meta = fraud.metadata
    assert 0 < meta["alert_threshold"] < 1 and meta["alert_budget"] == model.ALERT_BUDGET
    assert meta["features"] == {"definition": F.DEFINITION["name"], "version": F.DEFINITION["version"]}
    card = meta["model_card"]
    assert card["data"].startswith("synthetic") and card["generator"]["seed"] == 0
    assert card["test_week"]["average_precision"]["LightGBM (shipped)"]["ap"] > 0.5

    segments = load("bank_segments.json")
    names = list(segments.cluster_names_)
    assert len(names) == model.N_SEGMENTS == len(set(names)) and set(names) <= set(model.SEGMENT_NAMES)
    assert list(segments.feature_names_in_) == F.SEGMENT_FEATURES
    assert segments.metadata["segment_names"] == names

    forest = load("bank_fraud_iforest.json")
    assert list(forest.feature_names_in_) == ["valor_transacao"] and "alert_threshold" in forest.metadata


def test_fraud_model_beats_both_original_approaches_on_an_unseen_test_week(unseen):
    s = unseen
    assert s.y_test.sum() >= 10
    fraud = load("bank_fraud.json")
    ap_model = model.average_precision(s.y_test, fraud.predict_proba(s.X_test)[:, 1])
    original_forest = model.train_amount_iforest(s)  # the original's approach, fitted on these data
    ap_forest = model.average_precision(s.y_test, -original_forest.score_samples(s.test[["valor_transacao"]]))
    ap_rule = model.average_precision(s.y_test, model.five_times_mean_score(s.X_test))
    assert ap_model > 0.5
    assert ap_model > 5 * max(ap_forest, ap_rule), (ap_model, ap_forest, ap_rule)
    # and the shipped threshold keeps the alert rate near the 0.5% budget on new data
    alerts = fraud.predict_proba(s.X_test)[:, 1] > fraud.metadata["alert_threshold"]
    assert 0.002 < alerts.mean() < 0.01


def test_the_shipped_fraud_model_is_what_lightgbm_trains(retrained):
    document = json.loads((MODELS / "bank_fraud.json").read_text(encoding="utf-8"))
    assert document["estimator"]["text"] == retrained.booster_.model_to_string()


def test_floresta_equals_lightgbm_on_the_fraud_model(unseen, retrained):
    s = unseen
    expected = retrained.predict_proba(s.X_test)[:, 1]  # LightGBM's own predictor
    got = load("bank_fraud.json").predict_proba(s.X_test)[:, 1]
    assert np.abs(got - expected).max() <= 1e-6
    # and from raw records, strings encoded by the vocabularies the file carries
    records = s.X_test.head(300).astype(object).where(s.X_test.head(300).notna(), None).to_dict("records")
    from_records = load("bank_fraud.json").predict_proba(records)[:, 1]
    assert np.abs(from_records - expected[:300]).max() <= 1e-6


def test_floresta_equals_scikit_learn_on_the_iforest_and_the_segments(training):
    frame, s = training
    forest = model.train_amount_iforest(s)  # train_model.py's steps, same seed: the same forest
    rows = s.test[["valor_transacao"]]
    got = load("bank_fraud_iforest.json").score_samples(rows)
    assert np.abs(got - forest.score_samples(rows)).max() <= 1e-6
    S = F.segment_features(frame, end=int(frame["timestamp"].max()) + 1)
    pipeline = model.train_segments(S)
    segments = load("bank_segments.json")
    assert (segments.predict(S) == pipeline.predict(S[F.SEGMENT_FEATURES])).all()
    assert list(segments.cluster_names_) == pipeline.segment_names_


def test_segment_names_follow_the_centres():
    import pandas as pd

    centres = pd.DataFrame(0.0, index=range(3), columns=F.SEGMENT_FEATURES)
    centres.loc[0, "sales_share"] = 0.9
    centres.loc[1, "share_viagens"] = 0.6
    centres.loc[2, "monetary_30d"] = 11.0
    assert model.name_segments(centres) == ["Lojistas (vendas na maquininha)", "Viajantes", "Alta renda"]


def test_split_by_time_keeps_weeks_apart(unseen):
    s = unseen
    assert s.train["data"].max() < s.valid["data"].min() <= s.valid["data"].max() < s.test["data"].min()
    assert s.test["data"].nunique() == 7 and s.valid["data"].nunique() == 7
    with pytest.raises(ValueError, match="days"):
        model.split_by_time(s.test, s.X_test)


def test_alert_budget_arithmetic():
    import pandas as pd

    rows = pd.DataFrame({"fraude": [1, 1, 0, 0], "status_transacao": ["Concluída", "Recusada", "Concluída", "Concluída"],
                         "valor_transacao": [100.0, 50.0, 10.0, 10.0], "data": ["d1", "d1", "d2", "d2"],
                         "padrao_fraude": ["card_testing", "card_testing", "", ""]})
    out = model.at_budget([0.9, 0.1, 0.8, 0.2], rows, threshold=0.5)
    assert out["alerts"] == 2 and out["alerts_per_day"] == 1.0
    assert out["precision"] == 0.5 and out["recall"] == 0.5
    assert out["fraud_value"] == 100.0 and out["fraud_value_caught"] == 100.0  # the refused one cost nothing
    assert out["recall_card_testing"] == 0.5
    assert model.alert_threshold(np.arange(1000.0), budget=0.01) == pytest.approx(989.01)
