"""Writes the fuzzers' seed corpora (tests/fuzz/corpus/<harness>/): small real models of each
format, exported by the libraries themselves, and records. Committed; rerun to refresh.

    .venv/bin/python tests/fuzz/make_corpus.py
"""
import json
import pathlib

import lightgbm as lgb
import numpy as np
import pandas as pd
import xgboost as xgb
from sklearn.ensemble import HistGradientBoostingClassifier, IsolationForest, RandomForestClassifier
from sklearn.tree import DecisionTreeRegressor

import floresta

OUT = pathlib.Path(__file__).parent / "corpus"


def write(harness, name, data):
    folder = OUT / harness
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(data if isinstance(data, bytes) else data.encode())


def main():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 4))
    X[rng.random(X.shape) < 0.1] = np.nan
    y = (np.nan_to_num(X[:, 0]) + np.nan_to_num(X[:, 1]) > 0).astype(int)
    three = np.digitize(np.nan_to_num(X[:, 0]), [-0.5, 0.5])
    frame = pd.DataFrame({"c": pd.Categorical(rng.choice(list("abcd"), 200)), "x": X[:, 0]})

    for name, params, target, rounds in [("binary", {"objective": "binary:logistic"}, y, 3),
                                         ("multiclass", {"objective": "multi:softprob", "num_class": 3}, three, 2),
                                         ("dart", {"booster": "dart", "rate_drop": 0.5}, np.nan_to_num(X[:, 1]), 3)]:
        booster = xgb.train({**params, "max_depth": 2, "seed": 0}, xgb.DMatrix(X, target), rounds)
        write("xgboost_json", f"{name}.json", bytes(booster.save_raw("json")))
        write("xgboost_ubjson", f"{name}.ubj", bytes(booster.save_raw("ubj")))
    categorical = xgb.train({"max_depth": 2, "max_cat_to_onehot": 1, "tree_method": "hist"},
                            xgb.DMatrix(frame, y, enable_categorical=True), 2)
    write("xgboost_json", "categorical.json", bytes(categorical.save_raw("json")))
    write("xgboost_ubjson", "categorical.ubj", bytes(categorical.save_raw("ubj")))

    base = {"verbose": -1, "num_leaves": 4, "min_data_in_leaf": 5, "seed": 0}
    for name, params, target in [("binary", {"objective": "binary"}, y),
                                 ("multiclass", {"objective": "multiclass", "num_class": 3}, three),
                                 ("linear", {"objective": "regression", "linear_tree": True}, np.nan_to_num(X[:, 2]))]:
        data = lgb.Dataset(np.nan_to_num(X) if name == "linear" else X, target)
        booster = lgb.train({**base, **params}, data, 2)
        write("lightgbm_text", f"{name}.txt", booster.model_to_string())
        write("lightgbm_json", f"{name}.json", json.dumps(booster.dump_model()))
    cat = lgb.train({**base, "objective": "binary", "max_cat_to_onehot": 1, "min_data_per_group": 5},
                    lgb.Dataset(frame, y), 2)
    write("lightgbm_text", "categorical.txt", cat.model_to_string())
    write("lightgbm_json", "categorical.json", json.dumps(cat.dump_model()))

    Z = np.nan_to_num(X)
    write("floresta_json", "tree.json", floresta.export(DecisionTreeRegressor(max_depth=2).fit(Z, Z[:, 0])))
    write("floresta_json", "forest.json", floresta.export(RandomForestClassifier(n_estimators=2, max_depth=2, random_state=0).fit(Z, three)))
    write("floresta_json", "hist.json", floresta.export(HistGradientBoostingClassifier(max_iter=2, max_depth=2).fit(X, y)))
    write("floresta_json", "iforest.json", floresta.export(IsolationForest(n_estimators=2, max_samples=16, random_state=0).fit(Z)))

    for i, record in enumerate([
        {"bairro": "SE", "marca": "Apple", "dia": "SABADO", "periodo": "NOITE", "idade": 30, "sexo": "F"},
        {"bairro": " sé ", "marca": "IPHONE 11", "dia": "sábado", "periodo": "noite", "idade": None, "sexo": None},
        {"bairro": "Pinheiros", "marca": "samsung", "idade": 200},
        {},
    ]):
        write("record", f"record{i}.json", json.dumps(record, ensure_ascii=False))

    # POST /predict bodies for the phone-theft service: one person, a batch, refusals.
    person = json.loads((pathlib.Path(__file__).resolve().parents[2] / "examples/models/phone_theft_person.json").read_text())
    for name, body in [("person", person),
                       ("batch", [person, {**person, "bairro": " sé ", "marca": "IPHONE 11", "idade": None}]),
                       ("refused", {**person, "idade": 200, "dia": "noite"}),
                       ("empty_batch", [])]:
        write("phone_theft_request", f"{name}.json", json.dumps(body, ensure_ascii=False))

    bank_corpus()


def bank_corpus():
    """Transactions from the bank generator, and customers' states saved by the stream scorer
    (--save-state) before the transactions that follow them: fuzz_bank_transaction's input."""
    import subprocess
    import sys
    import tempfile
    repo = pathlib.Path(__file__).resolve().parents[2]
    sys.path.insert(0, str(repo / "examples/bank"))
    from bank import generate
    lines = [json.dumps(r) for r in generate.records(generate.generate(n_customers=4, days=4, seed=1))]
    write("bank_transaction", "day.jsonl", "\n".join(lines[:30]))
    frauds = [json.dumps(r) for r in generate.records(generate.generate(n_customers=40, days=3, seed=2, fraud_rate=0.2))]
    write("bank_transaction", "fraud.jsonl", "\n".join(frauds[:40]))
    with tempfile.TemporaryDirectory() as tmp:
        state = pathlib.Path(tmp) / "state.jsonl"
        subprocess.run([str(repo / "build/examples/bank/bank_stream_scorer"), "--stdin", "--fraud-model",
                        str(repo / "examples/models/bank_fraud.json"), "--save-state", str(state)],
                       input="\n".join(lines[:20]) + "\n", text=True, check=True, capture_output=True)
        write("bank_transaction", "state_then_day.txt", state.read_text().strip() + "\n--\n" + "\n".join(lines[20:30]))


if __name__ == "__main__":
    main()
