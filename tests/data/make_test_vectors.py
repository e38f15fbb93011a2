"""Regenerates the small models and reference outputs under tests/data/.

Each model is saved in its library's own format (or exported with floresta.export for
scikit-learn), and the outputs that library itself computes are written beside it as
<name>.vectors.json. The GoogleTest suite (tests/cpp/test_parity_vectors.cpp) scores the files
and compares, so C++ parity is checked without Python.
Run: .venv/bin/python tests/data/make_test_vectors.py   (deterministic: fixed seeds)
"""
import json
import pathlib

import lightgbm as lgb
import numpy as np
import pandas as pd
import xgboost as xgb
from sklearn.cluster import KMeans
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor, IsolationForest, RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler

import floresta

HERE = pathlib.Path(__file__).parent
ROWS = 40


def numeric_data(rng, n, d, nan_rate=0.1):
    X = rng.normal(size=(n, d)).astype(np.float32)
    X[rng.random(size=X.shape) < nan_rate] = np.nan
    return X


def matrix(values, rows):
    return np.asarray(values, dtype=np.float64).reshape(rows, -1).tolist()


def write_vectors(name, model_file, library, version, X, records=None, **outputs):
    """outputs: raw, proba, value, decision, label (class index), distances — each rows x k.
    records: the same rows as JSON objects of raw values (strings for categories)."""
    X = np.asarray(X, dtype=np.float64)
    vectors = {"model": model_file, "library": library, "version": version,
               "inputs": [[None if np.isnan(v) else float(v) for v in row] for row in X]}
    if records is not None:
        vectors["records"] = records
    for key, value in outputs.items():
        vectors[key] = matrix(value, len(X))
    (HERE / f"{name}.vectors.json").write_text(json.dumps(vectors))


def write_xgboost(name, booster, X_eval, ext):
    path = HERE / f"{name}.{ext}"
    booster.save_model(path)
    dm = xgb.DMatrix(X_eval, feature_names=booster.feature_names, feature_types=booster.feature_types,
                     enable_categorical=True)
    raw = booster.predict(dm, output_margin=True)
    out = booster.predict(dm)
    objective = json.loads(booster.save_config())["learner"]["objective"]["name"]
    outputs = {"raw": raw}
    if objective == "binary:logistic":
        outputs["proba"] = np.column_stack([np.float32(1) - out, out])
    elif objective == "multi:softprob":
        outputs["proba"] = out
        outputs["label"] = out.argmax(axis=1)
    else:
        outputs["value"] = out
    write_vectors(name, path.name, "xgboost", xgb.__version__, X_eval, **outputs)


def main():
    rng = np.random.default_rng(20261122)

    # ---- XGBoost ----
    X = numeric_data(rng, 600, 8)
    y = (np.nan_to_num(X[:, 0]) + np.nan_to_num(X[:, 1]) * 0.5 > 0).astype(int)
    b = xgb.train({"objective": "binary:logistic", "max_depth": 4, "eta": 0.3, "seed": 1}, xgb.DMatrix(X, y), 20)
    write_xgboost("xgb_binary", b, X[:ROWS], "json")

    y = np.nan_to_num(X[:, 2]) * 3 + np.nan_to_num(X[:, 3]) ** 2
    b = xgb.train({"objective": "reg:squarederror", "max_depth": 5, "seed": 1}, xgb.DMatrix(X, y), 15)
    write_xgboost("xgb_regression", b, X[:ROWS], "ubj")

    b = xgb.train({"booster": "dart", "rate_drop": 0.2, "objective": "binary:logistic", "max_depth": 3,
                   "seed": 1}, xgb.DMatrix(X, (X[:, 0] > 0.2).astype(int)), 10)
    write_xgboost("xgb_dart", b, X[:ROWS], "json")

    n = 2000
    bairro = rng.choice([f"B{i:02d}" for i in range(30)], n)
    marca = rng.choice(["Samsung", "Apple", "Motorola", "Xiaomi", "Outros"], n)
    idade = rng.integers(16, 80, n).astype(np.float32)
    hora = rng.uniform(0, 24, n).astype(np.float32)
    df = pd.DataFrame({"bairro": pd.Categorical(bairro), "marca": pd.Categorical(marca),
                       "idade": idade, "hora": hora})
    label = (pd.Categorical(bairro).codes + (idade > 40) * 3 + (hora > 18) * 2) % 10
    b = xgb.train({"objective": "multi:softprob", "num_class": 10, "max_depth": 4, "seed": 1},
                  xgb.DMatrix(df, label, enable_categorical=True), 8)
    ev = df.iloc[:ROWS].copy()
    codes = np.stack([ev["bairro"].cat.codes.astype(np.float32), ev["marca"].cat.codes.astype(np.float32),
                      ev["idade"].to_numpy(), ev["hora"].to_numpy()], axis=1)
    codes[3, 0] = np.nan   # a missing category
    codes[4, 1] = 57       # a code never seen in training
    write_xgboost("xgb_multiclass_categorical", b, codes, "ubj")

    # ---- LightGBM ----
    n = 3000
    L = rng.normal(size=(n, 6))
    L[rng.random(L.shape) < 0.1] = np.nan
    L[:, 5] = rng.integers(0, 20, n)
    L[rng.random(n) < 0.05, 5] = np.nan
    y = ((np.nan_to_num(L[:, 0]) > 0) ^ np.isin(L[:, 5], [2, 3, 5, 7, 11, 13])).astype(int)
    booster = lgb.train({"objective": "binary", "verbose": -1, "num_leaves": 15, "min_data_per_group": 10,
                         "seed": 1, "deterministic": True}, lgb.Dataset(L, y, categorical_feature=[5]), 25)
    booster.save_model(HERE / "lgb_binary_categorical.txt")
    T = L[:ROWS].copy()
    T[::7, 5] = [25, -1, 3.5, np.nan, 19, 40][: len(T[::7, 5])]
    raw = booster.predict(T, raw_score=True)
    p = booster.predict(T)
    write_vectors("lgb_binary_categorical", "lgb_binary_categorical.txt", "lightgbm", lgb.__version__, T,
                  raw=raw, proba=np.column_stack([1 - p, p]))

    y = np.digitize(np.nan_to_num(L[:, 0]) + np.nan_to_num(L[:, 1]), [-1, 0, 1])
    booster = lgb.train({"objective": "multiclass", "num_class": 4, "verbose": -1, "num_leaves": 7, "seed": 1},
                        lgb.Dataset(L[:, :5], y), 10)
    (HERE / "lgb_multiclass.json").write_text(json.dumps(booster.dump_model()))
    T = L[:ROWS, :5]
    write_vectors("lgb_multiclass", "lgb_multiclass.json", "lightgbm", lgb.__version__, T,
                  raw=booster.predict(T, raw_score=True), proba=booster.predict(T),
                  label=booster.predict(T).argmax(axis=1))

    # ---- scikit-learn (exported by floresta) ----
    import sklearn

    S = rng.normal(size=(800, 5))
    y = np.digitize(S[:, 0] + S[:, 1], [-0.5, 0.5])
    forest = RandomForestClassifier(n_estimators=8, max_depth=6, random_state=0).fit(S, y)
    floresta.export(forest, HERE / "skl_random_forest.json")
    T = S[:ROWS]
    write_vectors("skl_random_forest", "skl_random_forest.json", "scikit-learn", sklearn.__version__, T,
                  proba=forest.predict_proba(T), label=forest.predict(T))

    S[rng.random(S.shape) < 0.1] = np.nan
    hgb = HistGradientBoostingRegressor(max_iter=12, random_state=0).fit(S, np.nan_to_num(S[:, 0]) * 2 + 1)
    floresta.export(hgb, HERE / "skl_hist_gradient_boosting.json")
    T = S[:ROWS]
    write_vectors("skl_hist_gradient_boosting", "skl_hist_gradient_boosting.json", "scikit-learn",
                  sklearn.__version__, T, raw=hgb._raw_predict(T), value=hgb.predict(T))

    A = np.vstack([rng.normal(size=(400, 3)), rng.uniform(-6, 6, size=(20, 3))])
    iforest = IsolationForest(n_estimators=20, contamination=0.05, random_state=0).fit(A)
    floresta.export(iforest, HERE / "skl_isolation_forest.json")
    T = A[-ROWS:]
    write_vectors("skl_isolation_forest", "skl_isolation_forest.json", "scikit-learn", sklearn.__version__, T,
                  value=iforest.score_samples(T), decision=iforest.decision_function(T), label=iforest.predict(T))

    # ---- scikit-learn pipelines (preprocessing inside the model) ----
    n = 1500
    people = pd.DataFrame({
        "bairro": rng.choice(["REPUBLICA", "SE", "LIBERDADE", "CAPAO REDONDO", "M'BOI MIRIM"], n),
        "marca": rng.choice(["Samsung", "Apple", "Motorola", "Xiaomi"], n),
        "idade": rng.integers(14, 80, n).astype(float),
    })
    people.loc[rng.random(n) < 0.05, "idade"] = np.nan
    y = ((people["marca"] == "Apple").astype(int) + (people["idade"].fillna(40) < 25) + (people["bairro"] == "SE")) % 3
    pre = ColumnTransformer([
        ("bairro", OneHotEncoder(handle_unknown="ignore", sparse_output=False), ["bairro"]),
        ("marca", OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1), ["marca"]),
        ("idade", Pipeline([("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler())]), ["idade"]),
    ])
    pipe = Pipeline([("pre", pre), ("model", HistGradientBoostingClassifier(max_iter=10, random_state=0))]).fit(people, y)
    floresta.export(pipe, HERE / "skl_pipeline.json")
    sample = people.iloc[:ROWS].copy()
    sample.loc[sample.index[::5], "marca"] = "Nokia"         # unseen: the encoder's unknown_value
    sample.loc[sample.index[1::7], "bairro"] = "PINHEIROS"   # unseen: one-hot all zeros
    sample.loc[sample.index[2::9], "idade"] = np.nan
    model = floresta.load(HERE / "skl_pipeline.json")
    records = sample.replace({np.nan: None}).to_dict("records")
    write_vectors("skl_pipeline", "skl_pipeline.json", "scikit-learn", sklearn.__version__,
                  model._core.encode_records(records), records=records,
                  proba=pipe.predict_proba(sample), label=pipe.predict(sample))

    customers = pd.DataFrame({"recency": rng.exponential(30, 800), "frequency": rng.poisson(12, 800).astype(float),
                              "monetary": rng.gamma(2, 500, 800)})
    segments = Pipeline([("scale", StandardScaler()), ("kmeans", KMeans(n_clusters=7, n_init=3, random_state=0))]).fit(customers)
    floresta.export(segments, HERE / "skl_kmeans.json")
    sample = customers.iloc[:ROWS]
    write_vectors("skl_kmeans", "skl_kmeans.json", "scikit-learn", sklearn.__version__, sample,
                  label=segments.predict(sample), distances=segments.transform(sample))


if __name__ == "__main__":
    main()
