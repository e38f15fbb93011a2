"""Trains the small example model that `make demo` scores (deterministic, fixed seeds).

phone_theft_xgb.json: a 10-class XGBoost model shaped like the São Paulo phone-theft
problem (neighbourhood, phone brand, weekday, period, age, sex -> kind of place), trained on
*synthetic* rows drawn here. It is a stand-in for the demo until the real pipeline (data
generator, notebook) lands; its probabilities mean nothing about São Paulo.
Run: .venv/bin/python examples/models/make_example_models.py
"""
import json
import pathlib

import numpy as np
import pandas as pd
import xgboost as xgb

HERE = pathlib.Path(__file__).parent
BAIRROS = ["REPUBLICA", "SE", "CAPAO REDONDO", "LIBERDADE", "BELA VISTA", "PINHEIROS", "SANTA CECILIA",
           "JARDIM ANGELA", "M'BOI MIRIM", "BRAS", "MOOCA", "ITAIM BIBI", "CONSOLACAO", "TATUAPE", "SACOMA"]
MARCAS = ["Samsung", "Apple", "Motorola", "Xiaomi", "Outros", "LG"]
DIAS = ["SEGUNDA", "TERCA", "QUARTA", "QUINTA", "SEXTA", "SABADO", "DOMINGO"]
PERIODOS = ["MADRUGADA", "MANHA", "TARDE", "NOITE"]
SEXOS = ["HOMEM", "MULHER"]
LABELS = ["Escolas / Universidade", "Escritórios", "Saúde", "Entretenimento", "Alimentação",
          "Transporte Privado", "Estabelecimentos Comerciais / Indústrias", "Residência / Hospedagem",
          "Transporte Público", "Via Pública"]
SHARE = np.array([0.06, 0.06, 0.16, 0.34, 0.51, 1.7, 2.4, 2.9, 4.1, 87.7])


def frame(n, rng):
    return pd.DataFrame({
        "bairro": pd.Categorical(rng.choice(BAIRROS, n), categories=BAIRROS),
        "marca": pd.Categorical(rng.choice(MARCAS, n, p=[0.35, 0.31, 0.2, 0.08, 0.04, 0.02]), categories=MARCAS),
        "dia_semana": pd.Categorical(rng.choice(DIAS, n), categories=DIAS),
        "periodo": pd.Categorical(rng.choice(PERIODOS, n, p=[0.15, 0.2, 0.24, 0.41]), categories=PERIODOS),
        "idade": rng.integers(14, 80, n).astype(float),
        "sexo": pd.Categorical(rng.choice(SEXOS, n), categories=SEXOS),
    })


def main():
    rng = np.random.default_rng(2023)
    X = frame(20000, rng)
    logits = np.log(SHARE)[None, :].repeat(len(X), axis=0)
    logits[:, 8] += 1.2 * (X["periodo"] == "MANHA").to_numpy()          # commuting hours
    logits[:, 7] += 1.0 * (X["periodo"] == "MADRUGADA").to_numpy()
    logits[:, 0] += 2.0 * (X["idade"] < 24).to_numpy()
    logits[:, 3] += 1.0 * X["dia_semana"].isin(["SEXTA", "SABADO"]).to_numpy()
    logits[:, 5] += 0.8 * (X["marca"] == "Apple").to_numpy()
    p = np.exp(logits)
    p /= p.sum(axis=1, keepdims=True)
    y = np.array([rng.choice(10, p=row) for row in p])
    clf = xgb.XGBClassifier(n_estimators=25, max_depth=4, learning_rate=0.3, enable_categorical=True,
                            max_cat_to_onehot=1, random_state=0)
    clf.fit(X, y)
    clf.get_booster().save_model(HERE / "phone_theft_xgb.json")

    # Rows for the C++ demo: category codes as numbers (the Python demo passes strings).
    sample = frame(5, np.random.default_rng(7))
    rows = []
    for _, r in sample.iterrows():
        rows.append([BAIRROS.index(r.bairro), MARCAS.index(r.marca), DIAS.index(r.dia_semana),
                     PERIODOS.index(r.periodo), r.idade, SEXOS.index(r.sexo)])
    (HERE / "phone_theft_rows.json").write_text(json.dumps(rows) + "\n")
    (HERE / "phone_theft_labels.json").write_text(json.dumps(LABELS, ensure_ascii=False, indent=1) + "\n")


if __name__ == "__main__":
    main()
