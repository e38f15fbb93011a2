"""Regenerates the small XGBoost models and reference outputs under tests/data/.

The GoogleTest suite (tests/cpp/test_xgboost_parity.cpp) scores these files and compares
with the outputs XGBoost itself produced here, so C++ parity is checked without Python.
Run: .venv/bin/python tests/data/make_test_vectors.py   (deterministic: fixed seeds)
"""
import json
import pathlib

import numpy as np
import pandas as pd
import xgboost as xgb

HERE = pathlib.Path(__file__).parent
ROWS = 40


def numeric_data(rng, n, d, nan_rate=0.1):
    X = rng.normal(size=(n, d)).astype(np.float32)
    X[rng.random(size=X.shape) < nan_rate] = np.nan
    return X


def write(name, booster, X_eval, ext):
    path = HERE / f"{name}.{ext}"
    booster.save_model(path)
    dm = xgb.DMatrix(X_eval, feature_names=booster.feature_names, feature_types=booster.feature_types,
                     enable_categorical=True)
    raw = booster.predict(dm, output_margin=True)
    pred = booster.predict(dm)
    inputs = [[None if np.isnan(v) else float(v) for v in row] for row in np.asarray(X_eval, dtype=np.float64)]
    vectors = {
        "model": path.name,
        "xgboost_version": xgb.__version__,
        "inputs": inputs,
        "raw": np.asarray(raw, dtype=np.float64).reshape(len(inputs), -1).tolist(),
        "predict": np.asarray(pred, dtype=np.float64).reshape(len(inputs), -1).tolist(),
    }
    (HERE / f"{name}.vectors.json").write_text(json.dumps(vectors))


def main():
    rng = np.random.default_rng(20261122)

    X = numeric_data(rng, 600, 8)
    y = (np.nan_to_num(X[:, 0]) + np.nan_to_num(X[:, 1]) * 0.5 > 0).astype(int)
    b = xgb.train({"objective": "binary:logistic", "max_depth": 4, "eta": 0.3, "seed": 1},
                  xgb.DMatrix(X, y), 20)
    write("xgb_binary", b, X[:ROWS], "json")

    y = np.nan_to_num(X[:, 2]) * 3 + np.nan_to_num(X[:, 3]) ** 2
    b = xgb.train({"objective": "reg:squarederror", "max_depth": 5, "seed": 1}, xgb.DMatrix(X, y), 15)
    write("xgb_regression", b, X[:ROWS], "ubj")

    b = xgb.train({"booster": "dart", "rate_drop": 0.2, "objective": "binary:logistic", "max_depth": 3,
                   "seed": 1}, xgb.DMatrix(X, (X[:, 0] > 0.2).astype(int)), 10)
    write("xgb_dart", b, X[:ROWS], "json")

    # Phone-theft-like: 10 classes, a categorical neighbourhood and brand.
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
    write("xgb_multiclass_categorical", b, codes, "ubj")


if __name__ == "__main__":
    main()
