"""The Python reference for benchmarks/serve: the kind of server the original project deployed
(FastAPI + XGBoost's own predictor), on the same model and the same requests as
phone_theft_server.

    PHONE_THEFT_MODEL=examples/models/phone_theft.json \
        python -m uvicorn reference_server:app --app-dir benchmarks/serve --workers 2 --port 8081

The floresta file embeds the XGBoost model document (estimator.document): it is loaded into an
xgboost.Booster; each request's values are encoded to the model's category codes (its stored
vocabularies) in a float32 numpy row and scored by Booster.inplace_predict — the fastest
per-row path measured here, well ahead of a one-row pandas DataFrame with categories or a
DMatrix (docs/benchmarks.md, bench-serve), with the same probabilities.
Same checks as the C++ server (unknown values refused with 422), same answer.

PHONE_THEFT_REFERENCE=original scores the way the original project did instead: a one-row
pandas DataFrame with the model's categories, an xgboost.DMatrix(enable_categorical=True) and
Booster.predict (without its append-to-a-CSV step).
"""
import json
import os
import time

import numpy as np
import pandas as pd
import xgboost as xgb
from fastapi import Body, FastAPI
from fastapi.responses import JSONResponse

MODEL_PATH = os.environ.get("PHONE_THEFT_MODEL", "examples/models/phone_theft.json")
MODE = os.environ.get("PHONE_THEFT_REFERENCE", "codes")  # codes | original
RANGES = {"idade": (0, 120)}


def _load(path):
    with open(path, encoding="utf-8") as handle:
        document = json.load(handle)
    estimator = document["estimator"]
    if estimator.get("format") != "xgboost":
        raise SystemExit(f"{path}: the reference server needs an embedded XGBoost model")
    booster = xgb.Booster()
    booster.load_model(bytearray(json.dumps(estimator["document"]).encode()))
    # One predictor thread per worker process: with uvicorn --workers = cores, the workers
    # are the parallelism (XGBoost's own threads on a one-row call only contend).
    booster.set_param({"nthread": 1})
    rounds = booster.num_boosted_rounds()
    if estimator.get("use_best_iteration") and "best_iteration" in booster.attributes():
        rounds = int(booster.attr("best_iteration")) + 1
    names = booster.feature_names
    # XGBoost >= 3.1 stores each categorical feature's vocabulary in the model
    # (gradient_booster.model.cats.enc[f]: string categories as UTF-8 bytes cut by offsets).
    encodings = estimator["document"]["learner"]["gradient_booster"]["model"].get("cats", {}).get("enc", [])
    vocab = {}
    for f, (name, kind) in enumerate(zip(names, booster.feature_types)):
        vocab[name] = None
        if kind == "c":
            column = encodings[f]
            if "offsets" in column:
                data, cuts = bytes(column["values"]), column["offsets"]
                vocab[name] = [data[a:b].decode() for a, b in zip(cuts, cuts[1:])]
            else:
                vocab[name] = list(column["values"])
    labels = [str(c) for c in document.get("classes", range(int(booster.attr("num_class") or 0)))]
    return booster, rounds, names, vocab, labels


BOOSTER, ROUNDS, NAMES, VOCAB, LABELS = _load(MODEL_PATH)
CODES = {name: {value: code for code, value in enumerate(values)} for name, values in VOCAB.items() if values is not None}
KNOWN = CODES
DTYPES = {name: pd.CategoricalDtype(values) for name, values in VOCAB.items() if values is not None}
STARTED = time.time()
app = FastAPI()


def _problem(status, rule, message, field=None):
    return JSONResponse({"error": message, "rule": rule, "field": field}, status_code=status)


def _check(person):
    if not isinstance(person, dict):
        return _problem(400, "body", "a person must be a JSON object")
    for name in NAMES:
        if name not in person:
            return _problem(422, "required", f"missing field '{name}'", name)
        value = person[name]
        if name in KNOWN:
            if not isinstance(value, str):
                return _problem(422, "type", f"field '{name}' must be a string", name)
            if value not in KNOWN[name]:
                return _problem(422, "vocabulary", f"field '{name}': unknown value {value!r}", name)
        else:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                return _problem(422, "type", f"field '{name}' must be a number", name)
            low, high = RANGES.get(name, (-np.inf, np.inf))
            if not low <= value <= high:
                return _problem(422, "range", f"field '{name}' must be between {low} and {high}", name)
    return None


def _answer(row):
    order = sorted(range(len(row)), key=lambda k: (-row[k], k))
    return [{"position": i + 1, "label": LABELS[k], "value": float(row[k])} for i, k in enumerate(order)]


@app.post("/predict")
async def predict(body=Body(...)):  # computed inline: the worker process is the unit of parallelism
    persons = body if isinstance(body, list) else [body]
    for person in persons:
        problem = _check(person)
        if problem is not None:
            return problem
    if MODE == "original":
        frame = pd.DataFrame({name: pd.Series([p[name] for p in persons], dtype=DTYPES.get(name, "float32"))
                              for name in NAMES})
        proba = BOOSTER.predict(xgb.DMatrix(frame, enable_categorical=True), iteration_range=(0, ROUNDS))
    else:
        rows = np.array([[CODES[name][p[name]] if name in CODES else p[name] for name in NAMES] for p in persons],
                        dtype=np.float32)
        proba = BOOSTER.inplace_predict(rows, iteration_range=(0, ROUNDS))
    answers = [_answer(row) for row in np.atleast_2d(proba)]
    return answers if isinstance(body, list) else answers[0]


@app.get("/health")
async def health():
    return {"status": "ok", "model": os.path.basename(MODEL_PATH), "uptime_seconds": time.time() - STARTED}
