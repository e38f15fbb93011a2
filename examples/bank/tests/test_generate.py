"""The transaction generator: determinism, balances, refusals, the anomaly rule, fraud labels,
files and streams. Expected values come from the generator's documented rules."""
import io
import json

import numpy as np
import pandas as pd
import pytest

from bank import generate
from bank.constants import CATEGORIAS, METODOS, PADROES, SAIDAS, STATUS, TIPOS_CONTA, TRANSACOES


@pytest.fixture(scope="module")
def month():
    return generate.generate(1_500, days=30, seed=5, with_customers=True)


def test_same_seed_same_rows_other_seed_other_rows():
    a = generate.generate(120, days=10, seed=11)
    b = generate.generate(120, days=10, seed=11)
    pd.testing.assert_frame_equal(a, b)
    c = generate.generate(120, days=10, seed=12)
    assert not a["valor_transacao"].head(200).equals(c["valor_transacao"].head(200))


def test_columns_and_vocabularies(month):
    frame, profiles = month
    assert list(frame.columns) == generate.COLUMNS
    assert set(frame["transacao"]) == set(TRANSACOES)
    assert set(frame["categoria_transacao"]) <= set(CATEGORIAS)
    assert set(frame["metodo_pagamento"]) <= set(METODOS)
    assert set(frame["status_transacao"]) <= set(STATUS)
    assert set(frame["tipo_conta"]) <= set(TIPOS_CONTA)
    assert frame["id_transacao"].is_unique
    # stable customers: a few thousand ids, each with many transactions, one account type each
    assert frame["id_cliente"].nunique() == len(profiles) == 1_500
    assert frame.groupby("id_cliente")["tipo_conta"].nunique().max() == 1
    assert frame.groupby("id_cliente").size().median() > 30
    # transfers sent carry a beneficiary, nothing else does
    sent = frame["transacao"].isin(["Pix Enviar", "TED Enviar"])
    assert frame.loc[sent, "id_beneficiario"].notna().all()
    assert frame.loc[~sent, "id_beneficiario"].isna().all()
    # the local date and time agree with the Unix time (UTC-3)
    local = pd.to_datetime(frame["timestamp"] - 3 * 3600, unit="s")
    assert (local.dt.strftime("%Y-%m-%d") == frame["data"]).all()
    assert (local.dt.strftime("%H:%M:%S") == frame["horario"]).all()
    assert (frame["localizacao"] == frame["latitude"].map("{:.6f}".format) + ", "
            + frame["longitude"].map("{:.6f}".format)).all()


def test_timestamps_strictly_increase_per_customer(month):
    frame, _ = month
    ordered = frame.sort_values(["id_cliente", "timestamp"])
    steps = ordered.groupby("id_cliente")["timestamp"].diff().dropna()
    assert (steps > 0).all()


def test_balances_follow_the_transactions_and_never_go_negative(month):
    frame, _ = month
    assert (frame["saldo"] >= 0).all()
    for _, rows in frame.sort_values(["id_cliente", "timestamp"]).groupby("id_cliente"):
        cents = np.round(rows["saldo"].to_numpy() * 100).astype(np.int64)
        value = np.round(rows["valor_transacao"].to_numpy() * 100).astype(np.int64)
        fee = np.round(rows["valor_taxa"].to_numpy() * 100).astype(np.int64)
        out = rows["transacao"].isin(SAIDAS).to_numpy()
        refused = (rows["status_transacao"] == "Recusada").to_numpy()
        delta = np.where(refused, 0, np.where(out, -(value + fee), value - fee))
        # each balance is the previous one plus this transaction's effect
        assert (cents[1:] == cents[:-1] + delta[1:]).all()
        # refused exactly when an outgoing transaction costs more than the balance before it
        before = cents[:-1]
        assert (refused[1:] == (out[1:] & (value[1:] + fee[1:] > before))).all()
    assert set(frame.loc[frame["status_transacao"] == "Recusada", "transacao"]) <= SAIDAS
    assert 0.001 < (frame["status_transacao"] == "Recusada").mean() < 0.05


def test_fees(month):
    frame, _ = month
    charged = frame["transacao"].isin(["TED Enviar", "Venda Maquininha"])
    assert (frame.loc[~charged, "valor_taxa"] == 0).all()
    fees = frame.loc[charged & (frame["valor_transacao"] >= 4.8), "valor_taxa"]
    assert fees.between(1.0, 4.8).all()


def test_anomaly_rule_rate_and_range(month):
    frame, _ = month
    anomalous = frame["anomalia"] == 1
    n = len(frame)
    rate = anomalous.mean()
    assert abs(rate - generate.ANOMALY_RATE) < 4 * np.sqrt(generate.ANOMALY_RATE / n)
    assert frame.loc[anomalous, "valor_transacao"].between(1_000, 4_000).all()
    assert (frame.loc[anomalous, "descricao"] == "Desconhecido").all()
    assert frame.loc[~anomalous, "descricao"].isna().all()
    off = generate.generate(200, days=10, seed=5, anomalies=False)
    assert off["anomalia"].sum() == 0


def test_every_fraud_pattern_is_present_and_labelled(month):
    frame, _ = month
    fraud = frame["fraude"] == 1
    assert set(frame.loc[fraud, "padrao_fraude"]) == set(PADROES)
    assert (frame.loc[~fraud, "padrao_fraude"] == "").all()
    assert 0.0005 < fraud.mean() < 0.006  # default 0.2%: well under 1%
    takeover = frame[frame["padrao_fraude"] == "account_takeover"]
    assert takeover["transacao"].isin(["Pix Enviar", "TED Enviar"]).all()
    assert takeover["id_dispositivo"].str.startswith("F").all()  # a device the customer never had
    testing = frame[frame["padrao_fraude"] == "card_testing"]
    assert (testing["transacao"] == "Compra Cartão").all()
    assert (testing.groupby("id_cliente").size() >= 6).all()
    # fraud rate is a parameter
    more = generate.generate(400, days=30, seed=5, fraud_rate=0.01)
    assert more["fraude"].mean() > 2 * fraud.mean()


def test_honest_look_alikes_exist(month):
    frame, _ = month
    honest = frame[frame["fraude"] == 0]
    # honest bursts of small purchases, honest transfers to new beneficiaries, honest trips
    small = honest[(honest["transacao"] == "Compra Cartão") & (honest["valor_transacao"] < 25)]
    assert len(small) > 1000
    per_city = honest.groupby("id_cliente")["cidade"].nunique()
    assert (per_city > 1).mean() > 0.1


def test_files_partitioned_by_day_round_trip(tmp_path):
    frame = generate.generate(60, days=3, seed=2)
    paths = generate.write(frame, tmp_path)
    days = sorted(frame["data"].unique())
    assert {p.parent.name for p in paths} == {f"dia={d}" for d in days}
    back = pd.read_parquet(tmp_path / "transacoes.parquet")
    back = back.drop(columns="dia").sort_values(["timestamp", "id_transacao"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(back[frame.columns].astype(frame.dtypes.to_dict()), frame, check_dtype=False)
    lines = [json.loads(line) for p in sorted((tmp_path / "transacoes.jsonl").rglob("*.jsonl"))
             for line in p.read_text(encoding="utf-8").splitlines()]
    assert len(lines) == len(frame) and lines[0].keys() == set(frame.columns)
    assert sum(len(pd.read_csv(p)) for p in (tmp_path / "transacoes.csv").rglob("*.csv")) == len(frame)


def test_generate_to_writes_the_rows_generate_returns(tmp_path, monkeypatch):
    monkeypatch.setattr(generate, "BLOCK", 50)  # three blocks of customers, as 15,000 would be
    frame = generate.generate(120, days=4, seed=9)
    generate.generate_to(tmp_path, 120, days=4, seed=9, formats=("parquet",))
    back = pd.read_parquet(tmp_path / "transacoes.parquet").drop(columns="dia")
    back = back.sort_values(["timestamp", "id_transacao"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(back[frame.columns], frame, check_dtype=False)
    assert len(pd.read_csv(tmp_path / "clientes.csv")) == 120
    with pytest.raises(ValueError, match="exists"):  # parts of two runs never mix
        generate.generate_to(tmp_path, 120, days=4, seed=9, formats=("parquet",))


def test_fraud_patterns_look_as_documented(month):
    frame, profiles = month
    home = profiles.set_index("id_cliente")["cidade"]
    coords = {c[0]: (c[2], c[3]) for c in generate.CIDADES}
    far = frame[frame["padrao_fraude"] == "far_from_home"]
    lat, lon = zip(*far["id_cliente"].map(home).map(coords))
    assert (generate._distance_km(np.array(lat), np.array(lon), *zip(*far["cidade"].map(coords))) >= 300).all()
    testing = frame[frame["padrao_fraude"] == "card_testing"]
    assert (testing["valor_transacao"] <= 12).mean() > 0.9 and testing["id_dispositivo"].isna().all()
    takeover = frame[frame["padrao_fraude"] == "account_takeover"].drop_duplicates("id_dispositivo")
    away = (takeover["cidade"] != takeover["id_cliente"].map(home)).mean()
    assert 0.25 < away < 0.75  # half of the events from another city
    spikes = frame[frame["padrao_fraude"] == "amount_spike"]
    assert (spikes["cidade"] == spikes["id_cliente"].map(home)).all()


def test_turning_the_anomaly_rule_off_changes_only_the_anomalies():
    on = generate.generate(200, days=10, seed=5)
    off = generate.generate(200, days=10, seed=5, anomalies=False)
    assert off["anomalia"].sum() == 0 and on["anomalia"].sum() > 0
    same = on["anomalia"] == 0
    assert (on.loc[same, "id_transacao"] == off.loc[same, "id_transacao"]).all()
    assert (on.loc[same, "latitude"] == off.loc[same, "latitude"]).all()
    assert (on["valor_transacao"] != off["valor_transacao"]).sum() == on["anomalia"].sum()


def test_stream_keeps_time_order_and_rate():
    frame = generate.generate(30, days=1, seed=4).head(40)
    out = io.StringIO()
    import time
    start = time.perf_counter()
    assert generate.stream(frame, rate=400, out=out) == 40
    assert time.perf_counter() - start >= 39 / 400
    records = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [r["id_transacao"] for r in records] == frame["id_transacao"].tolist()
    assert all(r["id_beneficiario"] is None or isinstance(r["id_beneficiario"], str) for r in records)


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="customer"):
        generate.generate(0)
    with pytest.raises(ValueError, match="fraud_rate"):
        generate.generate(10, fraud_rate=0.7)
    with pytest.raises(ValueError, match="format"):
        generate.write(generate.generate(5, days=1), "/tmp/unused", formats=("xlsx",))
