"""The one feature definition (bank/features.json): the vectorised and the record-by-record
implementations agree on the same transactions (read from a JSON Lines file and from a
DataFrame), and both give the values worked out by hand from the definition."""
import json
import math

import numpy as np
import pandas as pd
import pytest

from bank import features as F
from bank import generate

T0 = 1_767_582_000  # 2026-01-05 00:00 local (03:00 UTC)


def tx(i, t, valor, customer="C1", transacao="Compra Cartão", device=None, beneficiary=None, saldo=1000.0,
       lat=-23.55, lon=-46.63, status="Concluída"):
    return {"id_transacao": f"T{i:03d}", "id_cliente": customer, "timestamp": t, "transacao": transacao,
            "categoria_transacao": "Outros", "metodo_pagamento": "Dinheiro", "valor_transacao": valor,
            "saldo": saldo, "status_transacao": status, "latitude": lat, "longitude": lon,
            "id_dispositivo": device, "id_beneficiario": beneficiary}


def assert_same(a, b, tolerance=F.TOLERANCE):
    for name in F.FRAUD_FEATURES:
        if name in F.CATEGORICAL:
            assert (a[name].astype(str).to_numpy() == b[name].astype(str).to_numpy()).all(), name
            continue
        x, y = a[name].to_numpy(float), b[name].to_numpy(float)
        assert (np.isnan(x) == np.isnan(y)).all(), name
        ok = ~np.isnan(x)
        # relative, with an absolute floor of 1e-12 for values at zero (features.json)
        assert np.all(np.abs(x[ok] - y[ok]) <= tolerance * np.abs(x[ok]) + 1e-12), name


def test_definition_lists_every_feature_once():
    assert len(F.FRAUD_FEATURES) == len(set(F.FRAUD_FEATURES)) == 22
    assert F.FRAUD_FEATURES[:4] == ["transacao", "categoria_transacao", "metodo_pagamento", "valor_transacao"]
    assert all(f["definition"] for f in F.DEFINITION["fraud_features"])


def test_jsonl_file_and_dataframe_give_the_same_features(tmp_path):
    frame = generate.generate(150, days=20, seed=21)
    generate.write(frame, tmp_path, formats=("jsonl",))
    records = F.read_jsonl(tmp_path / "transacoes.jsonl")
    assert len(records) == len(frame)
    streamed = F.stream_features(records)  # one record at a time, as a stream scorer
    by_id = {r["id_transacao"]: k for k, r in enumerate(records)}
    streamed = streamed.iloc[[by_id[i] for i in frame["id_transacao"]]].set_axis(frame.index)
    assert_same(F.fraud_features(frame), streamed)
    # the rows' order in the input does not matter
    shuffled = frame.sample(frac=1.0, random_state=0)
    assert_same(F.fraud_features(shuffled).loc[frame.index], F.fraud_features(frame))


def test_values_worked_out_by_hand():
    rows = [tx(1, T0, 100.0, device="D1", saldo=900.0),
            tx(2, T0 + 60, 50.0, device="D1", saldo=850.0),
            tx(3, T0 + 300, 10.0, device="D2", transacao="Pix Enviar", beneficiary="B1", saldo=840.0, lat=-22.9,
               lon=-43.17),
            tx(4, T0 + 900, 200.0, transacao="Pix Receber", saldo=1040.0),
            tx(5, T0 + 4000, 30.0, device="D1", transacao="Pix Enviar", beneficiary="B1", saldo=1010.0)]
    X = F.fraud_features(pd.DataFrame(rows))
    s = F.stream_features(rows)
    assert_same(X, s)
    x = X.iloc[4]  # the fifth transaction, 4000 s after the first
    assert x["n_previous"] == 4
    assert x["seconds_since_last"] == 3100
    assert x["count_10m"] == 0 and x["sum_10m"] == 0
    assert x["count_1h"] == 1 and x["sum_1h"] == pytest.approx(200.0)  # only the one at 900 s is after 4000 - 3600
    assert x["new_device"] == 0 and x["device_age_h"] == pytest.approx(4000 / 3600)
    assert x["new_beneficiary"] == 0 and X.iloc[2]["new_beneficiary"] == 1
    assert x["new_beneficiaries_1h"] == 0
    w = X.iloc[3]  # at 900 s: the 10-minute window starts after 300 s (strictly), the hour holds all three
    assert w["count_10m"] == 0 and w["count_1h"] == 3 and w["sum_1h"] == pytest.approx(160.0)
    assert w["new_beneficiaries_1h"] == 1
    assert math.isnan(X.iloc[0]["new_beneficiary"]) and math.isnan(X.iloc[3]["new_device"])
    logs = np.log1p([100.0, 50.0, 10.0, 200.0])
    assert x["amount_z"] == pytest.approx((math.log1p(30.0) - logs.mean()) / (logs.std() + 0.1))
    assert x["amount_ratio"] == pytest.approx(30.0 / 90.0)
    assert math.isnan(X.iloc[2]["amount_z"])  # fewer than 3 previous
    assert x["balance_ratio"] == pytest.approx(30.0 / 1041.0)
    assert x["hours_since_credit"] == pytest.approx(3100 / 3600)
    assert math.isnan(X.iloc[3]["hours_since_credit"])  # the credit itself has none before it
    assert X.iloc[0]["hour"] == pytest.approx(0.0) and x["hour"] == pytest.approx(4000 / 3600)
    assert math.isnan(x["hour_share"]) and math.isnan(X.iloc[0]["distance_last_km"])
    # Rio from São Paulo: about 360 km
    assert 340 < X.iloc[2]["distance_last_km"] < 370
    assert X.iloc[3]["distance_last_km"] == pytest.approx(X.iloc[2]["distance_last_km"])


def test_customers_do_not_share_state():
    rows = [tx(1, T0, 100.0, customer="A", device="D"), tx(2, T0 + 10, 5.0, customer="B", device="D")]
    for X in (F.fraud_features(pd.DataFrame(rows)), F.stream_features(rows)):
        assert X["n_previous"].tolist() == [0, 0] and X["new_device"].tolist() == [1, 1]


def test_hour_share_and_distance_from_home_by_hand():
    # five transactions at 10 h on five days, then one at 11 h and one at 22 h
    day = 86_400
    rows = [tx(k, T0 + k * day + 10 * 3600, 10.0, lat=-23.0 - 0.1 * k, lon=-46.0) for k in range(5)]
    rows += [tx(5, T0 + 5 * day + 11 * 3600, 10.0, lat=-23.0, lon=-46.0),
             tx(6, T0 + 5 * day + 22 * 3600, 10.0, lat=-23.0, lon=-46.0)]
    X = F.fraud_features(pd.DataFrame(rows))
    assert_same(X, F.stream_features(rows))
    assert X.iloc[5]["hour_share"] == 1.0  # 11 h is in the 9-12 h band with the five before
    assert X.iloc[6]["hour_share"] == 0.0  # 22 h: none of the six before
    mean_lat = np.mean([-23.0 - 0.1 * k for k in range(5)])  # the last 20 (here: five) places
    expected = 2 * 6371.0 * math.asin(math.sqrt(math.sin(math.radians(-23.0 - mean_lat) / 2) ** 2))
    assert X.iloc[5]["distance_home_km"] == pytest.approx(expected, rel=1e-12)


def test_missing_and_odd_ids():
    rows = [tx(1, T0, 10.0, device="D1"), tx(2, T0 + 5, 10.0, device=""), tx(3, T0 + 6, 10.0, device=float("nan")),
            tx(4, T0 + 7, 10.0, device="D1")]
    for X in (F.fraud_features(pd.DataFrame(rows)), F.stream_features(rows)):
        assert X["new_device"].isna().tolist() == [False, True, True, False]
        assert X.iloc[3]["new_device"] == 0
    # ids compare as text in both paths: customer 7 and "7" are one customer
    rows = [tx(1, T0, 10.0, customer=7), tx(2, T0 + 5, 10.0, customer="7")]
    for X in (F.fraud_features(pd.DataFrame(rows)), F.stream_features(rows)):
        assert X["n_previous"].tolist() == [0, 1]
    # a missing customer, or a missing column, is an error naming it
    with pytest.raises(ValueError, match="id_cliente is missing"):
        F.fraud_features(pd.DataFrame([tx(1, T0, 10.0, customer=None)]))
    with pytest.raises(ValueError, match="id_cliente is missing"):
        F.stream_features([tx(1, T0, 10.0, customer=None)])
    with pytest.raises(ValueError, match="saldo"):
        F.fraud_features(pd.DataFrame([tx(1, T0, 10.0)]).drop(columns="saldo"))


def test_zero_mean_amount_gives_a_missing_ratio():
    rows = [tx(k, T0 + k, 0.0) for k in range(3)] + [tx(3, T0 + 3, 5.0)]
    for X in (F.fraud_features(pd.DataFrame(rows)), F.stream_features(rows)):
        assert math.isnan(X.iloc[3]["amount_ratio"]) and np.isfinite(X.iloc[3]["amount_z"])


def test_a_repeated_index_keeps_one_row_per_transaction():
    frame = pd.DataFrame([tx(1, T0, 10.0), tx(2, T0 + 5, 20.0)], index=[0, 0])
    X = F.fraud_features(frame)
    assert len(X) == 2 and X["valor_transacao"].tolist() == [10.0, 20.0]


def test_unknown_category_becomes_missing():
    X = F.fraud_features(pd.DataFrame([tx(1, T0, 10.0, transacao="Boleto")]))
    assert X["transacao"].isna().all()


def test_timestamps_must_increase():
    rows = [tx(1, T0, 1.0), tx(2, T0, 2.0)]
    with pytest.raises(ValueError, match="strictly increasing"):
        F.fraud_features(pd.DataFrame(rows))
    with pytest.raises(ValueError, match="not after"):
        F.stream_features(rows)


def test_bad_json_line_names_the_line(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps(tx(1, T0, 1.0)) + "\n{not json\n", encoding="utf-8")
    with pytest.raises(ValueError, match="line 2"):
        F.read_jsonl(path)


def test_segment_features_by_hand():
    day = 86_400
    end = T0 + 56 * day
    rows = [tx(1, end - 10 * day, 100.0, customer="A"),
            tx(2, end - 5 * day, 300.0, customer="A", transacao="Pix Enviar"),
            tx(3, end - 2 * day, 50.0, customer="A", transacao="Venda Maquininha"),
            tx(4, end - 1 * day, 150.0, customer="A", transacao="Pix Receber"),
            tx(5, end - 3 * day, 999.0, customer="A", status="Recusada"),
            tx(6, end - 60 * day, 10.0, customer="B")]  # outside the 56 days
    frame = pd.DataFrame(rows)
    frame.loc[0, "categoria_transacao"] = "Viagens"
    S = F.segment_features(frame, end=end, customers=["B"])
    a, b = S.loc["A"], S.loc["B"]
    assert a["recency_days"] == pytest.approx(1.0)
    assert a["frequency_30d"] == pytest.approx(4 * 30 / 56)
    assert a["monetary_30d"] == pytest.approx(math.log1p(400.0 * 30 / 56))
    assert a["avg_ticket"] == pytest.approx(math.log1p(100.0))
    assert a["sales_share"] == pytest.approx(50.0 / 200.0)
    assert a["share_viagens"] == 1.0 and a["share_outros"] == 0.0
    assert b["recency_days"] == 56 and b["frequency_30d"] == 0 and b["share_viagens"] == 0
