"""Pipelines exported with their preprocessing: scored from DataFrames, dicts and lists of
dicts exactly as the fitted pipeline scores them, with every record policy tested."""
import json
import pathlib
import pickle

import jsonschema
import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest
import xgboost as xgb
from sklearn.cluster import KMeans
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestRegressor
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import MinMaxScaler, OneHotEncoder, OrdinalEncoder, StandardScaler

import floresta

TOL = 1e-6
SCHEMA = json.loads((pathlib.Path(__file__).parents[2] / "docs" / "floresta-model.schema.json").read_text())
BRANDS = ["Samsung", "Apple", "Motorola", "Xiaomi", "Outros"]
PERIODS = ["MADRUGADA", "MANHA", "TARDE", "NOITE"]


def frame(n, seed):
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({
        "idade": rng.integers(14, 80, n).astype(float),
        "marca": rng.choice(BRANDS, n),
        "periodo": rng.choice(PERIODS, n),
        "valor": rng.gamma(2.0, 30.0, n),
        "dia": rng.integers(0, 7, n),
    })
    df.loc[rng.random(n) < 0.05, "idade"] = np.nan
    df.loc[rng.random(n) < 0.05, "marca"] = None
    return df


def target(df, k=2):
    score = (df["idade"].fillna(40) < 30) * 1.0 + (df["marca"] == "Apple") + (df["periodo"] == "NOITE") * 0.7
    score = score + (df["valor"] > 60) * 0.5 + (df["dia"] >= 5) * 0.4
    return np.digitize(score, np.quantile(score, np.linspace(0, 1, k + 1)[1:-1]))


def roundtrip(pipeline, export_options=None, **policies):
    text = floresta.export(pipeline, **(export_options or {}))
    jsonschema.validate(json.loads(text), SCHEMA)
    return floresta.load_bytes(text, name="pipeline.json", **policies)


def preprocessor(handle_unknown="ignore", **onehot):
    numeric = Pipeline([("impute", SimpleImputer(strategy="median", add_indicator=True)), ("scale", StandardScaler())])
    categorical = Pipeline([("impute", SimpleImputer(strategy="most_frequent")),
                            ("onehot", OneHotEncoder(handle_unknown=handle_unknown, sparse_output=False, **onehot))])
    return ColumnTransformer([
        ("numeric", numeric, ["idade"]),
        ("brand", categorical, ["marca"]),
        ("period", OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1), ["periodo"]),
        ("amount", MinMaxScaler(clip=True), ["valor"]),
    ], remainder="passthrough")


def unseen_rows(df):
    odd = df.copy()
    odd.loc[::3, "marca"] = "Nokia"
    odd.loc[1::3, "periodo"] = "A NOITE"
    odd.loc[::4, "valor"] = 10_000.0  # beyond the MinMaxScaler's range: clipped
    return odd


def test_encoders_scalers_and_hist_gradient_boosting(parity):
    train, test = frame(3000, 1), frame(600, 2)
    pipe = Pipeline([("pre", preprocessor()), ("model", HistGradientBoostingClassifier(max_iter=20, random_state=0))])
    pipe.fit(train, target(train, 3))
    model = roundtrip(pipe)
    assert list(model.feature_names_in_) == list(train.columns)
    assert model.feature_types == ["numeric", "categorical", "categorical", "numeric", "numeric"]
    assert model.categories("marca") == sorted(BRANDS)
    for name, rows in [("pipeline HGB DataFrame", test), ("pipeline HGB unseen categories", unseen_rows(test))]:
        assert parity(name, pipe.predict_proba(rows), model.predict_proba(rows)) <= TOL
        np.testing.assert_array_equal(model.predict(rows), pipe.predict(rows))
    # Records give exactly the DataFrame's answers.
    records = unseen_rows(test).replace({np.nan: None}).to_dict("records")
    np.testing.assert_array_equal(model.predict_proba(records), model.predict_proba(unseen_rows(test)))
    np.testing.assert_array_equal(model.predict_proba(records[0]), model.predict_proba(records[:1]))


@pytest.mark.parametrize("onehot", [{"drop": "first"}, {"drop": "if_binary"}, {"min_frequency": 400}])
def test_one_hot_variants(parity, onehot):
    train, test = frame(2000, 3), unseen_rows(frame(400, 4))
    handle = "infrequent_if_exist" if "min_frequency" in onehot else "ignore"
    pipe = Pipeline([("pre", preprocessor(handle_unknown=handle, **onehot)),
                     ("model", RandomForestRegressor(n_estimators=10, max_depth=6, random_state=0))])
    pipe.fit(train, target(train, 4).astype(float))
    assert parity(f"pipeline one-hot {onehot}", pipe.predict(test), roundtrip(pipe).predict(test)) <= TOL


def test_xgboost_wrapper_at_the_end(parity):
    train, test = frame(3000, 5), unseen_rows(frame(500, 6))
    y = target(train, 3)
    pipe = Pipeline([("pre", preprocessor()), ("model", xgb.XGBClassifier(n_estimators=200, max_depth=4,
                                                                          early_stopping_rounds=5))])
    valid = frame(600, 7)
    pre = pipe.named_steps["pre"].fit(train)
    pipe.named_steps["model"].fit(pre.transform(train), y, eval_set=[(pre.transform(valid), target(valid, 3))],
                                  verbose=False)
    model = roundtrip(pipe)
    assert parity("pipeline XGBClassifier (best_iteration)", pipe.predict_proba(test), model.predict_proba(test)) <= TOL
    np.testing.assert_array_equal(model.predict(test), pipe.predict(test))


def test_lightgbm_wrapper_with_string_labels(parity):
    train, test = frame(3000, 8), unseen_rows(frame(500, 9))
    labels = np.array(["baixo", "medio", "alto"])[target(train, 3)]
    pipe = Pipeline([("pre", preprocessor()), ("model", lgb.LGBMClassifier(n_estimators=30, num_leaves=15, verbose=-1))])
    pipe.fit(train, labels)
    model = roundtrip(pipe)
    assert list(model.classes_) == list(pipe.classes_)
    assert parity("pipeline LGBMClassifier", pipe.predict_proba(test), model.predict_proba(test)) <= TOL
    np.testing.assert_array_equal(model.predict(test), pipe.predict(test))


def customer_segments():
    rng = np.random.default_rng(10)
    customers = pd.DataFrame({"recency": rng.exponential(30, 1500), "frequency": rng.poisson(12, 1500).astype(float),
                              "monetary": rng.gamma(2, 500, 1500)})
    pipe = Pipeline([("scale", StandardScaler()), ("kmeans", KMeans(n_clusters=7, n_init=3, random_state=0))])
    return pipe.fit(customers), customers


def test_kmeans_at_the_end(parity):
    pipe, customers = customer_segments()
    model = roundtrip(pipe)
    np.testing.assert_array_equal(model.predict(customers), pipe.predict(customers))
    distances = pipe.transform(customers)
    assert np.max(np.abs(model.transform(customers) - distances) / np.maximum(distances, 1e-3)) <= 1e-6
    assert abs(model.score(customers) - pipe.score(customers)) <= 1e-6 * abs(pipe.score(customers))
    np.testing.assert_array_equal(model.predict(customers.to_dict("records")), pipe.predict(customers))


SEGMENTS = ["recent big spenders", "regulars", "lapsed", "new", "occasional", "bargain hunters", "whales"]


def test_kmeans_pipeline_with_cluster_names_and_metadata():
    pipe, customers = customer_segments()
    metadata = {"segments_reviewed": "2026-11", "marketing": {"budget_share": [0.3, 0.2, 0.1, 0.1, 0.1, 0.1, 0.1]}}
    model = roundtrip(pipe, {"cluster_names": SEGMENTS, "metadata": metadata})
    np.testing.assert_array_equal(model.predict(customers), pipe.predict(customers))
    distances = pipe.transform(customers)
    assert np.max(np.abs(model.transform(customers) - distances) / np.maximum(distances, 1e-3)) <= 1e-6
    assert model.cluster_names_.dtype == object and list(model.cluster_names_) == SEGMENTS
    first = customers[:5]
    assert list(model.cluster_names_[model.predict(first)]) == [SEGMENTS[k] for k in pipe.predict(first)]
    assert model.schema["clusters"] == SEGMENTS and "classes" not in model.schema
    assert model.metadata == metadata
    with pytest.raises(AttributeError, match="only for classifiers"):
        model.classes_
    clone = pickle.loads(pickle.dumps(model))  # the state is the file's bytes: names and metadata come along
    assert list(clone.cluster_names_) == SEGMENTS and clone.metadata == metadata
    # Without names: the cluster indices, as strings.
    assert list(roundtrip(pipe).cluster_names_) == [str(k) for k in range(7)]


def test_cluster_names_errors():
    pipe, customers = customer_segments()
    with pytest.raises(floresta.FlorestaError, match="cluster_names has 2 labels, the model has 7 clusters"):
        floresta.export(pipe, cluster_names=["a", "b"])
    with pytest.raises(floresta.FlorestaError, match="cluster_names has repeated labels"):
        floresta.export(pipe, cluster_names=SEGMENTS[:6] + [SEGMENTS[0]])
    with pytest.raises(floresta.FlorestaError, match=r"cluster_names\[3\] = 3 is not a string"):
        floresta.export(pipe, cluster_names=SEGMENTS[:3] + [3] + SEGMENTS[4:])
    with pytest.raises(floresta.FlorestaError, match="cluster_names must be a list of strings, one per cluster"):
        floresta.export(pipe, cluster_names="regulars")
    with pytest.raises(floresta.FlorestaError, match="class_labels given, but Pipeline is not a classifier"):
        floresta.export(pipe, class_labels=SEGMENTS)
    classifier = Pipeline([("scale", StandardScaler()), ("model", xgb.XGBClassifier(n_estimators=3))])
    classifier.fit(customers, (customers["recency"] > 30).astype(int))
    with pytest.raises(floresta.FlorestaError, match="cluster_names given, but Pipeline is not a k-means model"):
        floresta.export(classifier, cluster_names=["a", "b"])
    with pytest.raises(floresta.FlorestaError, match="cluster_names given, but XGBClassifier is not a k-means model"):
        floresta.export(classifier.named_steps["model"], cluster_names=["a", "b"])
    # A file whose names break the rules is refused by the loader too.
    document = json.loads(floresta.export(pipe, cluster_names=SEGMENTS))
    document["classes"][6] = document["classes"][0]
    with pytest.raises(floresta.FlorestaError, match="/classes/6: repeats the cluster name 'recent big spenders'"):
        floresta.load_bytes(json.dumps(document))


@pytest.fixture(scope="module")
def phone_model():
    train = frame(2000, 11)
    pipe = Pipeline([("pre", preprocessor()), ("model", HistGradientBoostingClassifier(max_iter=10, random_state=0))])
    pipe.fit(train, target(train, 3))
    return floresta.export(pipe), pipe


RECORD = {"idade": 23, "marca": "Apple", "periodo": "NOITE", "valor": 55.0, "dia": 5}


def test_policy_unknown_category(phone_model):
    text, pipe = phone_model
    model = floresta.load_bytes(text)
    unseen = dict(RECORD, marca="Nokia")
    expected = pipe.predict_proba(pd.DataFrame([unseen]))  # OneHotEncoder(handle_unknown="ignore")
    np.testing.assert_allclose(model.predict_proba(unseen), expected, atol=TOL, rtol=0)
    strict = floresta.load_bytes(text, unknown_category="error")
    with pytest.raises(ValueError, match="field 'marca': unknown category \"Nokia\""):
        strict.predict_proba(unseen)
    with pytest.raises(ValueError, match="unknown category \"Nokia\""):
        strict.predict_proba(pd.DataFrame([unseen]))
    strict.predict_proba(RECORD)  # known categories pass


def test_policy_missing_field_is_a_missing_value(phone_model):
    text, pipe = phone_model
    model = floresta.load_bytes(text)
    partial = {k: v for k, v in RECORD.items() if k != "idade"}
    np.testing.assert_array_equal(model.predict_proba(partial), model.predict_proba(dict(RECORD, idade=None)))
    expected = pipe.predict_proba(pd.DataFrame([dict(RECORD, idade=np.nan)]))
    np.testing.assert_allclose(model.predict_proba(partial), expected, atol=TOL, rtol=0)


def test_policy_extra_fields(phone_model):
    text, _ = phone_model
    extra = dict(RECORD, nome="Maria")
    np.testing.assert_array_equal(floresta.load_bytes(text).predict_proba(extra),
                                  floresta.load_bytes(text).predict_proba(RECORD))
    strict = floresta.load_bytes(text, extra_fields="error")
    with pytest.raises(ValueError, match="field 'nome' is not one of the model's features"):
        strict.predict_proba(extra)
    with pytest.raises(ValueError, match=r"\['nome'\] are not among the model's features"):
        strict.predict_proba(pd.DataFrame([extra]))


def test_policy_wrong_type(phone_model):
    text, _ = phone_model
    model = floresta.load_bytes(text)
    with pytest.raises(ValueError, match="field 'idade' is numeric; got the string \"vinte\""):
        model.predict_proba(dict(RECORD, idade="vinte"))
    with pytest.raises(ValueError, match="field 'marca' takes one of its categories as a string; got the number 3"):
        model.predict_proba(dict(RECORD, marca=3))
    with pytest.raises(ValueError, match=r"record 1: field 'periodo' holds a list"):
        model.predict_proba([RECORD, dict(RECORD, periodo=["NOITE"])])


def test_encoder_that_refuses_unknown_categories():
    train = frame(1000, 12)
    pipe = Pipeline([("enc", ColumnTransformer([("cat", OrdinalEncoder(), ["marca", "periodo"])], remainder="drop")),
                     ("model", HistGradientBoostingClassifier(max_iter=3))])
    pipe.fit(train.fillna({"marca": "Outros"}), target(train))
    model = roundtrip(pipe)
    with pytest.raises(ValueError, match="OrdinalEncoder on 'marca': unknown category"):
        model.predict_proba({"marca": "Nokia", "periodo": "NOITE"})
    with pytest.raises(ValueError, match="OrdinalEncoder on 'marca': missing value"):
        model.predict_proba({"marca": None, "periodo": "NOITE"})


def test_unsupported_pipeline_steps_are_named():
    from sklearn.decomposition import PCA

    train = frame(300, 13)[["idade", "valor"]].fillna(0)
    pipe = Pipeline([("pca", PCA(n_components=2)), ("model", RandomForestRegressor(n_estimators=2))]).fit(train, train["valor"])
    with pytest.raises(ValueError, match="does not support PCA in a pipeline"):
        floresta.export(pipe)


def test_one_hot_encoder_that_refuses_unknown_categories():
    train = frame(800, 14).fillna({"marca": "Outros"})
    pipe = Pipeline([("enc", ColumnTransformer([("cat", OneHotEncoder(handle_unknown="error"), ["marca"])])),
                     ("model", RandomForestRegressor(n_estimators=3, random_state=0))]).fit(train, target(train).astype(float))
    model = roundtrip(pipe)
    assert model.predict({"marca": "Apple"}).shape == (1,)
    with pytest.raises(ValueError, match="OneHotEncoder on 'marca': unknown category"):
        model.predict({"marca": "Nokia"})
    # In a batch split over threads, the refusal comes from a worker thread (rows 3,000-3,999 of
    # 4,000 on 4 threads) and reaches the caller naming the row; the model keeps serving.
    brands = frame(4000, 15)["marca"].fillna("Outros").replace("Nokia", "Apple")
    batch = pd.DataFrame({name: brands if name == "marca" else np.nan for name in model.feature_names_in_})
    alone = model.predict(batch)
    model.n_threads = 4
    good = model.predict(batch)
    np.testing.assert_array_equal(good, alone)
    kept = batch.loc[3500, "marca"]
    batch.loc[3500, "marca"] = "Nokia"
    assert model.can_explain
    for call in (model.predict, model.predict_contributions):
        with pytest.raises(ValueError, match="row 3500: OneHotEncoder on 'marca': unknown category"):
            call(batch)
    batch.loc[3500, "marca"] = kept
    np.testing.assert_array_equal(model.predict(batch), good)


def test_ranked_answers_and_schema(phone_model):
    text, pipe = phone_model
    model = floresta.load_bytes(text)
    ranked = model.predict_ranked(RECORD, k=2)[0]
    proba = pipe.predict_proba(pd.DataFrame([RECORD]))[0]
    order = np.argsort(-proba, kind="stable")
    assert [label for label, _ in ranked] == list(pipe.classes_[order[:2]])
    assert [p for _, p in ranked] == pytest.approx(list(proba[order[:2]]), abs=TOL)
    assert len(model.predict_ranked([RECORD, RECORD])) == 2
    schema = model.schema
    assert [f["name"] for f in schema["features"]] == list(frame(1, 0).columns)
    assert schema["features"][1] == {"name": "marca", "type": "categorical", "categories": sorted(BRANDS)}
    assert schema["classes"] == list(pipe.classes_)
