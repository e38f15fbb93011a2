"""`make demo`, Python half: score raw phone-theft-style records with the shipped model.

The model (examples/models/phone_theft_xgb.json) is a small 10-class XGBoost model trained
on synthetic rows by examples/models/make_example_models.py; its category vocabularies
travel inside the file, so strings are encoded exactly as in training.
"""
import json
import pathlib
import time

import numpy as np
import pandas as pd

import floresta

MODELS = pathlib.Path(__file__).parent / "models"


def main():
    model = floresta.load(MODELS / "phone_theft_xgb.json")
    labels = json.loads((MODELS / "phone_theft_labels.json").read_text())
    print(model)
    print("features:", ", ".join(f"{n} ({t})" for n, t in zip(model.feature_names_in_, model.feature_types)))

    people = pd.DataFrame([
        {"bairro": "REPUBLICA", "marca": "Apple", "dia_semana": "SEXTA", "periodo": "NOITE", "idade": 23, "sexo": "MULHER"},
        {"bairro": "CAPAO REDONDO", "marca": "Samsung", "dia_semana": "SEGUNDA", "periodo": "MANHA", "idade": 41, "sexo": "HOMEM"},
        {"bairro": "SE", "marca": "Nokia", "dia_semana": "DOMINGO", "periodo": "MADRUGADA", "idade": 67, "sexo": "HOMEM"},
    ])
    proba = model.predict_proba(people)
    for (_, person), p in zip(people.iterrows(), proba):
        order = np.argsort(-p)[:3]
        ranked = ", ".join(f"{labels[k]} {100 * p[k]:.1f}%" for k in order)
        print(f"{person.bairro:14s} {person.marca:8s} {person.periodo:9s} -> {ranked}")
    print("(brand 'Nokia' was not in training: scored as a missing value)")

    rows = pd.concat([people] * 10000, ignore_index=True)
    start = time.perf_counter()
    model.predict_proba(rows)
    elapsed = time.perf_counter() - start
    print(f"scored {len(rows):,} DataFrame rows in {elapsed * 1e3:.1f} ms (including string encoding)")


if __name__ == "__main__":
    main()
