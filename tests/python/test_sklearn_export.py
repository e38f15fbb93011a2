"""floresta.export against scikit-learn itself: every supported estimator is trained here,
exported, validated against docs/floresta-model.schema.json, loaded and compared row by row."""
import json
import pathlib

import jsonschema
import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest
import xgboost as xgb
from sklearn.ensemble import (ExtraTreesClassifier, ExtraTreesRegressor, GradientBoostingClassifier,
                              GradientBoostingRegressor, HistGradientBoostingClassifier,
                              HistGradientBoostingRegressor, IsolationForest, RandomForestClassifier,
                              RandomForestRegressor)
from sklearn.linear_model import LinearRegression
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

import floresta
from synthetic import rows, signal

TOL = 1e-6
SCHEMA = json.loads((pathlib.Path(__file__).parents[2] / "docs" / "floresta-model.schema.json").read_text())


def roundtrip(estimator, tmp_path, **export_options):
    path = tmp_path / "model.json"
    floresta.export(estimator, path, **export_options)
    jsonschema.validate(json.loads(path.read_text()), SCHEMA)
    return floresta.load(path)


def data(n=600, d=6, nan_rate=0.0, seed=0):
    return rows(n, d, nan_rate, seed, np.float64)


def labels(X, k):
    s = signal(X)
    return np.digitize(s, np.quantile(s, np.linspace(0, 1, k + 1)[1:-1]))


def check_classifier(parity, name, clf, model, X):
    assert parity(f"sklearn {name} proba", clf.predict_proba(X), model.predict_proba(X)) <= TOL
    np.testing.assert_array_equal(model.predict(X), clf.predict(X))
    np.testing.assert_array_equal(model.classes_, clf.classes_)


def check_regressor(parity, name, reg, model, X):
    assert parity(f"sklearn {name} prediction", reg.predict(X), model.predict(X)) <= TOL


CLASSIFIERS = {
    "DecisionTreeClassifier": lambda: DecisionTreeClassifier(max_depth=8, random_state=0),
    "RandomForestClassifier": lambda: RandomForestClassifier(n_estimators=15, max_depth=7, random_state=0),
    "ExtraTreesClassifier": lambda: ExtraTreesClassifier(n_estimators=15, max_depth=7, random_state=0),
    "GradientBoostingClassifier": lambda: GradientBoostingClassifier(n_estimators=15, max_depth=3, random_state=0),
    "HistGradientBoostingClassifier": lambda: HistGradientBoostingClassifier(max_iter=15, random_state=0),
}
REGRESSORS = {
    "DecisionTreeRegressor": lambda: DecisionTreeRegressor(max_depth=8, random_state=0),
    "RandomForestRegressor": lambda: RandomForestRegressor(n_estimators=15, max_depth=7, random_state=0),
    "ExtraTreesRegressor": lambda: ExtraTreesRegressor(n_estimators=15, max_depth=7, random_state=0),
    "GradientBoostingRegressor": lambda: GradientBoostingRegressor(n_estimators=15, max_depth=3, random_state=0),
    "HistGradientBoostingRegressor": lambda: HistGradientBoostingRegressor(max_iter=15, random_state=0),
}


@pytest.mark.parametrize("name", sorted(CLASSIFIERS))
@pytest.mark.parametrize("k", [2, 3, 10])
def test_classifiers(parity, tmp_path, name, k):
    X = data(n=1200)
    y = labels(X, k)
    clf = CLASSIFIERS[name]().fit(X, y)
    check_classifier(parity, f"{name} k={k}", clf, roundtrip(clf, tmp_path), data(n=500, seed=1))


@pytest.mark.parametrize("name", sorted(REGRESSORS))
def test_regressors(parity, tmp_path, name):
    X = data()
    reg = REGRESSORS[name]().fit(X, 3 * signal(X) + 2)
    check_regressor(parity, name, reg, roundtrip(reg, tmp_path), data(n=500, seed=1))


def test_string_class_labels(parity, tmp_path):
    X = data()
    y = np.array(["low", "mid", "high"])[labels(X, 3)]
    clf = RandomForestClassifier(n_estimators=5, random_state=0).fit(X, y)
    model = roundtrip(clf, tmp_path)
    assert list(model.classes_) == list(clf.classes_)
    check_classifier(parity, "string labels", clf, model, X)


@pytest.mark.parametrize("name", ["DecisionTreeClassifier", "RandomForestClassifier", "HistGradientBoostingClassifier"])
def test_missing_values(parity, tmp_path, name):
    X = data(n=1500, nan_rate=0.15)
    clf = CLASSIFIERS[name]().fit(X, labels(X, 3))
    check_classifier(parity, f"{name} with NaN", clf, roundtrip(clf, tmp_path), data(n=500, nan_rate=0.3, seed=2))


@pytest.mark.parametrize("loss", ["squared_error", "absolute_error", "huber", "quantile"])
def test_gradient_boosting_regressor_losses(parity, tmp_path, loss):
    X = data()
    reg = GradientBoostingRegressor(n_estimators=10, loss=loss, random_state=0).fit(X, signal(X))
    check_regressor(parity, f"GradientBoostingRegressor loss={loss}", reg, roundtrip(reg, tmp_path), X)


@pytest.mark.parametrize("init", [None, "zero"])
@pytest.mark.parametrize("loss", ["log_loss", "exponential"])
def test_gradient_boosting_classifier_init_and_loss(parity, tmp_path, init, loss):
    X = data()
    clf = GradientBoostingClassifier(n_estimators=10, loss=loss, init=init, random_state=0).fit(X, labels(X, 2))
    model = roundtrip(clf, tmp_path)
    check_classifier(parity, f"GradientBoostingClassifier loss={loss} init={init}", clf, model, X)
    assert parity("GradientBoosting decision_function", clf.decision_function(X), model.decision_function(X)) <= TOL


def test_gradient_boosting_with_a_non_constant_init_is_refused(tmp_path):
    X = data()
    reg = GradientBoostingRegressor(n_estimators=3, init=LinearRegression()).fit(X, signal(X))
    with pytest.raises(ValueError, match="init=LinearRegression is not supported"):
        floresta.export(reg, tmp_path / "m.json")


@pytest.mark.parametrize("loss", ["squared_error", "absolute_error", "poisson", "gamma", "quantile"])
def test_hist_gradient_boosting_losses(parity, tmp_path, loss):
    X = data(nan_rate=0.05)
    y = np.exp(0.3 * signal(X)) + 0.1
    extra = {"quantile": 0.7} if loss == "quantile" else {}
    reg = HistGradientBoostingRegressor(max_iter=10, loss=loss, random_state=0, **extra).fit(X, y)
    check_regressor(parity, f"HistGradientBoostingRegressor loss={loss}", reg, roundtrip(reg, tmp_path), X)


def hist_frame(n, seed):
    rng = np.random.default_rng(seed)
    cities = ["Sao Paulo", "Rio", "Recife", "Curitiba", "Manaus", "Natal"]
    return pd.DataFrame({
        "amount": rng.gamma(2.0, 40.0, n),
        "city": pd.Categorical(rng.choice(cities, n), categories=cities),
        "hour": rng.integers(0, 24, n).astype(float),
        "kind": pd.Categorical(rng.choice(["pix", "ted", "card"], n), categories=["pix", "ted", "card"]),
    })


def test_hist_gradient_boosting_categorical_dataframe(parity, tmp_path):
    train = hist_frame(3000, 1)
    y = ((train["city"].isin(["Rio", "Natal"])) ^ (train["kind"] == "card") | (train["amount"] > 150)).astype(int)
    clf = HistGradientBoostingClassifier(max_iter=20, categorical_features="from_dtype", random_state=0).fit(train, y)
    model = roundtrip(clf, tmp_path)
    assert model.feature_types == ["numeric", "categorical", "numeric", "categorical"]
    assert model.categories("city") == ["Curitiba", "Manaus", "Natal", "Recife", "Rio", "Sao Paulo"]
    test = hist_frame(600, 2)
    test.loc[::9, "city"] = np.nan
    check_classifier(parity, "HistGradientBoosting categorical (columns reordered internally)", clf, model, test)
    unseen = test.copy()
    unseen["city"] = unseen["city"].cat.add_categories(["Belem"])
    unseen.loc[::4, "city"] = "Belem"
    assert parity("HistGradientBoosting unseen category", clf.predict_proba(unseen), model.predict_proba(unseen)) <= TOL


def test_hist_gradient_boosting_categorical_codes(parity, tmp_path):
    # Numeric categories with a gap (5 never seen): scikit-learn's internal encoder maps each
    # value to its position; floresta carries that mapping. Scored with unseen values (5, 12,
    # 13, 300), negative values, fractions and NaN: all take the missing direction.
    rng = np.random.default_rng(4)
    X = np.column_stack([rng.integers(0, 12, 2000), rng.normal(size=2000)]).astype(float)
    X[X[:, 0] == 5, 0] = 7
    y = (np.isin(X[:, 0], [1, 3, 7, 11]) ^ (X[:, 1] > 0)).astype(int)
    clf = HistGradientBoostingClassifier(max_iter=10, categorical_features=[0], random_state=0).fit(X, y)
    model = roundtrip(clf, tmp_path)
    T = np.column_stack([np.resize(np.r_[np.arange(-2, 14), 300, 2.5, -0.5], 400), rng.normal(size=400)]).astype(float)
    T[::11, 0] = np.nan
    check_classifier(parity, "HistGradientBoosting categorical codes (unknown, negative, NaN)", clf, model, T)


def test_isolation_forest(parity, tmp_path):
    rng = np.random.default_rng(5)
    X = np.vstack([rng.normal(size=(500, 4)), rng.uniform(-6, 6, size=(25, 4))])
    forest = IsolationForest(n_estimators=40, max_features=0.75, contamination=0.05, random_state=0).fit(X)
    model = roundtrip(forest, tmp_path)
    T = np.vstack([X, rng.uniform(-8, 8, size=(100, 4))])
    assert parity("IsolationForest score_samples", forest.score_samples(T), model.score_samples(T)) <= TOL
    assert parity("IsolationForest decision_function", forest.decision_function(T), model.decision_function(T)) <= TOL
    np.testing.assert_array_equal(model.predict(T), forest.predict(T))
    assert model.offset_ == forest.offset_
    with pytest.raises(ValueError, match="only for classifiers"):
        model.predict_proba(T)


def test_isolation_forest_on_amounts_like_the_bank_seed(parity, tmp_path):
    rng = np.random.default_rng(6)
    amounts = rng.uniform(10, 100, size=(3000, 1))
    amounts[rng.random(3000) < 0.005] = rng.uniform(1000, 2000, size=(1, 1))
    forest = IsolationForest(contamination=0.01, random_state=0).fit(amounts)
    model = roundtrip(forest, tmp_path)
    np.testing.assert_array_equal(model.predict(amounts), forest.predict(amounts))
    assert parity("IsolationForest (amount only)", forest.decision_function(amounts), model.decision_function(amounts)) <= TOL


def test_dataframe_feature_names(parity, tmp_path):
    X = pd.DataFrame(data(), columns=["idade", "valor", "hora", "dia", "lat", "lon"])
    reg = RandomForestRegressor(n_estimators=5, random_state=0).fit(X, signal(X.to_numpy()))
    model = roundtrip(reg, tmp_path)
    assert list(model.feature_names_in_) == list(X.columns)
    assert parity("RandomForest DataFrame by name", reg.predict(X), model.predict(X[X.columns[::-1]])) <= TOL


def test_unsupported_estimators_are_named(tmp_path):
    with pytest.raises(ValueError, match="does not support LinearRegression"):
        floresta.export(LinearRegression().fit(data(), signal(data())), tmp_path / "m.json")
    with pytest.raises(ValueError, match="not fitted"):
        floresta.export(RandomForestClassifier(), tmp_path / "m.json")
    multi = DecisionTreeRegressor().fit(data(), np.column_stack([signal(data()), signal(data())]))
    with pytest.raises(ValueError, match="2 outputs is not supported"):
        floresta.export(multi, tmp_path / "m.json")


def test_export_returns_text_and_rejects_bad_versions():
    X = data()
    text = floresta.export(DecisionTreeRegressor(max_depth=2).fit(X, signal(X)))
    document = json.loads(text)
    document["floresta_format"] = 99
    with pytest.raises(ValueError, match="format version 99 is not supported"):
        floresta.load_bytes(json.dumps(document))
    document["floresta_format"] = 1
    document["link"] = "cubic"
    with pytest.raises(ValueError, match="unknown value 'cubic'"):
        floresta.load_bytes(json.dumps(document))


# ---- metadata: carried in the file, given back as written, the answers unchanged ----

METADATA = {"alert_threshold": 0.83,
            "model_card": {"owner": "equipe de risco", "version": 3, "tags": ["fraude", "cartão"], "approved": True,
                           "retired": None, "auc": 0.9123456789012345, "rows": 12345678901234},
            "feature_descriptions": {"x0": "idade", "x1": "valor em R$"},
            "empty": {}, "list": []}

METADATA_MODELS = {
    "XGBClassifier": lambda: xgb.XGBClassifier(n_estimators=20, max_depth=3),  # an embedded estimator
    "LGBMClassifier": lambda: lgb.LGBMClassifier(n_estimators=20, num_leaves=15, verbose=-1),
    "IsolationForest": lambda: IsolationForest(n_estimators=30, random_state=0),
}


@pytest.mark.parametrize("name", sorted(METADATA_MODELS))
def test_metadata_travels_with_the_model(parity, tmp_path, name):
    X, T = data(n=1200), data(n=500, seed=1)
    y = None if name == "IsolationForest" else labels(X, 3)
    estimator = METADATA_MODELS[name]().fit(X, y)
    model = roundtrip(estimator, tmp_path, metadata=METADATA)
    assert model.metadata == METADATA
    assert json.loads((tmp_path / "model.json").read_text())["metadata"] == METADATA
    model.metadata["alert_threshold"] = 0.5  # a new dict each time: the model's stays as written
    assert model.metadata == METADATA
    if name == "IsolationForest":
        assert parity("IsolationForest with metadata", estimator.score_samples(T), model.score_samples(T)) <= TOL
        np.testing.assert_array_equal(model.predict(T), estimator.predict(T))
    else:
        check_classifier(parity, f"{name} with metadata", estimator, model, T)
    assert roundtrip(estimator, tmp_path).metadata == {}  # none given: none written
