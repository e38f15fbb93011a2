"""The bank's Spark jobs (bank/spark.py, jobs/backtest.py, jobs/segments.py) on a small generated
dataset written as day-partitioned Parquet: Spark's features equal training's
(features.fraud_features / segment_features) and the stream scorer's, the backtest's
probabilities and alerts' reasons equal single-process floresta, the segments equal scikit-learn's labels, one row
per input row (per customer), a damaged model fails the job with floresta's message; and the
backtest submitted with spark-submit to a standalone cluster (a master and two one-core
workers on loopback) writes what local mode writes. Spark runs in local mode with a Java
runtime from Debian (scripts/install_deps.sh)."""
import json
import os
import pathlib
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

import floresta
from bank import features as F
from bank import generate
from bank import segments as SEG

pyspark = pytest.importorskip("pyspark")
from bank import spark as S  # noqa: E402
from bank.services import SparkCluster  # noqa: E402

HERE = pathlib.Path(__file__).resolve().parents[1]
REPO = HERE.parents[1]
FRAUD = REPO / "examples/models/bank_fraud.json"
SEGMENTS = REPO / "examples/models/bank_segments.json"
SCORER = pathlib.Path(os.environ.get("BANK_STREAM_SCORER", REPO / "build/examples/bank/bank_stream_scorer"))


def close(expected, got, name):
    x, y = np.asarray(expected, float), np.asarray(got, float)
    assert (np.isnan(x) == np.isnan(y)).all(), f"{name}: missing in one and not the other"
    ok = ~np.isnan(x)
    worst = np.max(np.abs(x[ok] - y[ok]) / np.maximum(np.abs(x[ok]), 1e-300), initial=0.0)
    assert np.all(np.abs(x[ok] - y[ok]) <= F.TOLERANCE * np.abs(x[ok]) + 1e-12), f"{name}: worst relative {worst:.2e}"


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    frame = generate.generate(60, days=12, seed=3)
    folder = tmp_path_factory.mktemp("spark-data")
    generate.write(frame, folder, formats=("parquet",))
    return frame, folder / "transacoes.parquet"


@pytest.fixture(scope="module")
def spark():
    session = S.session("local[2]", "bank tests", **S.partitions(2))
    yield session
    session.stop()


@pytest.fixture(scope="module")
def spark_features(spark, data):
    frame, path = data
    X = S.fraud_features(S.read_transactions(spark, path)).toPandas()
    return X.set_index("id_transacao").loc[frame["id_transacao"].astype(str)]


def test_spark_features_equal_trainings(data, spark_features):
    frame, _ = data
    expected = F.fraud_features(frame)
    assert len(spark_features) == len(frame)
    for name in S.NUMERIC:
        close(expected[name], spark_features[name], name)
    for name in F.CATEGORICAL:
        assert spark_features[name].astype(str).tolist() == frame[name].astype(str).tolist(), name


def test_spark_features_equal_the_stream_scorers(data, spark_features):
    if not SCORER.is_file():
        pytest.fail(f"{SCORER} is missing: build it with `make`")
    frame, _ = data
    lines = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in generate.records(frame))
    result = subprocess.run([str(SCORER), "--stdin", "--fraud-model", str(FRAUD), "--emit-features"], input=lines,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert [o["id_transacao"] for o in out] == frame["id_transacao"].astype(str).tolist()
    stream = pd.DataFrame([o["features"] for o in out]).astype(float)
    for name in F.FRAUD_FEATURES[4:]:  # the numbers; the first four are the record's own fields
        close(stream[name], spark_features[name], name)


def assert_reasons_equal_single_process_floresta(frame, scored, k=3):
    """`scored` (frame's rows in order): `reasons` null for non-alerts; for each alert the top `k`
    features by |contribution| to the fraud margin, each contribution equal to floresta's
    predict_contributions of the same row (single process) within 1e-9, its value as scored."""
    model = floresta.load(FRAUD)
    X = F.fraud_features(frame)
    alert = scored["alert"].to_numpy(bool)
    assert scored["reasons"][~alert].isna().all()
    rows = np.flatnonzero(alert)
    assert len(rows) >= 10  # the data must exercise it
    names = list(model.feature_names_in_)
    for c, i in zip(model.predict_contributions(X.iloc[rows]), rows):  # only the alerts (~2 ms a row)
        reasons = json.loads(scored["reasons"].iloc[i])
        assert len(reasons) == k
        size = [abs(r["contribution"]) for r in reasons]
        assert size == sorted(size, reverse=True)
        top = [names.index(r["field"]) for r in reasons]
        assert size[-1] >= np.delete(np.abs(c[:-1]), top).max() - 1e-9  # the top k
        for r, j in zip(reasons, top):
            assert abs(r["contribution"] - c[j]) <= 1e-9, (scored.index[i], r, c[j])
            x = X.iloc[i][names[j]]
            if isinstance(x, str):
                assert r["value"] == x
            elif pd.isna(x):
                assert r["value"] is None
            else:
                assert abs(r["value"] - float(x)) <= F.TOLERANCE * abs(float(x)) + 1e-12, (r, x)


def test_backtest_scores_equal_single_process_floresta(spark, data):
    frame, path = data
    model_bytes, model = S.load_model(FRAUD)
    threshold = model.metadata["alert_threshold"]
    X = S.fraud_features(S.read_transactions(spark, path))
    scored = S.score(X, spark.sparkContext.broadcast(model_bytes), threshold, reasons=3).toPandas()
    assert len(scored) == len(frame) and scored["id_transacao"].is_unique
    scored = scored.set_index("id_transacao").loc[frame["id_transacao"].astype(str)]
    expected = floresta.load(FRAUD).predict_proba(F.fraud_features(frame))[:, 1]
    assert np.abs(scored["fraud_probability"].to_numpy() - expected).max() <= 1e-12
    assert (scored["alert"].to_numpy() == (expected > threshold)).all()
    assert (scored["fraude"].to_numpy() == frame["fraude"].to_numpy()).all()
    assert_reasons_equal_single_process_floresta(frame, scored)


def test_segments_equal_scikit_learns_labels(spark, data):
    from sklearn.cluster import KMeans
    from sklearn.preprocessing import StandardScaler

    frame, path = data
    end = int(frame["timestamp"].max()) + 1
    tx = S.read_transactions(spark, path)
    got = S.segment_features(tx, end).toPandas().set_index("id_cliente").sort_index()
    expected = F.segment_features(frame, end=end).sort_index()
    assert got.index.tolist() == expected.index.astype(str).tolist()  # one row per customer
    for name in F.SEGMENT_FEATURES:
        close(expected[name], got[name], name)
    model_bytes, _ = S.load_model(SEGMENTS)
    segments = S.assign_segments(S.segment_features(tx, end), spark.sparkContext.broadcast(model_bytes)).toPandas()
    segments = segments.set_index("id_cliente").sort_index()
    # scikit-learn's own StandardScaler and KMeans with the shipped pipeline's parameters
    document = json.loads(SEGMENTS.read_text(encoding="utf-8"))
    steps = [c["steps"][0] for c in document["preprocessing"]["columns"]]
    scaler = StandardScaler()
    scaler.mean_ = np.array([s["a"] for s in steps])
    scaler.scale_ = np.array([s["b"] for s in steps])
    scaler.n_features_in_ = len(steps)
    kmeans = KMeans(n_clusters=len(document["kmeans"]["centers"]))
    kmeans.cluster_centers_ = np.array(document["kmeans"]["centers"])
    kmeans._n_threads = 1
    labels = kmeans.predict(scaler.transform(expected[F.SEGMENT_FEATURES].to_numpy()))
    assert segments["segment_id"].tolist() == labels.tolist()
    assert segments["segment_name"].tolist() == [document["classes"][k] for k in labels]
    table = SEG.assign(frame, SEGMENTS, end=end).set_index("id_cliente").sort_index()  # the stream scorer's table
    assert table["segment_id"].tolist() == labels.tolist()


def run_job(script, *args):
    return subprocess.run([sys.executable, str(HERE / "jobs" / script), *map(str, args)], capture_output=True,
                          text=True, timeout=900)


def test_the_jobs_end_to_end_and_a_damaged_model(data, tmp_path):
    frame, path = data
    result = run_job("segments.py", "--input", path, "--output", tmp_path / "segments", "--table",
                     tmp_path / "segments.jsonl", "--master", "local[2]", "--shuffle-partitions", "2")
    assert result.returncode == 0, result.stderr[-3000:]
    table = pd.read_json(tmp_path / "segments.jsonl", lines=True, dtype={"id_cliente": str})
    assert sorted(table["id_cliente"]) == sorted(frame["id_cliente"].astype(str).unique())
    assert len(pd.read_parquet(tmp_path / "segments")) == frame["id_cliente"].nunique()

    result = run_job("backtest.py", "--input", path, "--output", tmp_path / "scored", "--segments",
                     tmp_path / "segments.jsonl", "--summary", tmp_path / "summary.json", "--master", "local[2]",
                     "--shuffle-partitions", "2", "--reasons")
    assert result.returncode == 0, result.stderr[-3000:]
    scored = pd.read_parquet(tmp_path / "scored")
    assert len(scored) == len(frame) and sorted(scored["id_transacao"]) == sorted(frame["id_transacao"].astype(str))
    assert_reasons_equal_single_process_floresta(frame, scored.set_index("id_transacao").loc[frame["id_transacao"]])
    assert (scored["segment_id"] >= 0).all()
    merged = scored.merge(table, on="id_cliente", suffixes=("", "_table"))
    assert (merged["segment_id"] == merged["segment_id_table"]).all()
    # the summary, recomputed here from the labels
    summary = json.loads((tmp_path / "summary.json").read_text())
    labels = frame.set_index("id_transacao").loc[scored["id_transacao"]]
    caught = (labels["fraude"].to_numpy() == 1) & scored["alert"].to_numpy()
    assert summary["alerts"] == int(scored["alert"].sum()) and summary["frauds"] == int(frame["fraude"].sum())
    assert summary["recall"] == pytest.approx(caught.sum() / frame["fraude"].sum())
    assert summary["precision"] == pytest.approx(caught.sum() / scored["alert"].sum())
    value = labels["valor_transacao"].to_numpy()
    assert summary["fraud_value_caught"] == pytest.approx(value[caught].sum() / value[labels["fraude"] == 1].sum())
    assert sum(d["transactions"] for d in summary["days"]) == len(frame)

    damaged = tmp_path / "damaged.json"
    damaged.write_bytes(FRAUD.read_bytes()[:5000])
    result = run_job("backtest.py", "--input", path, "--output", tmp_path / "never", "--fraud-model", damaged)
    assert result.returncode != 0
    with pytest.raises(ValueError) as floresta_says:
        floresta.load(damaged)
    assert str(floresta_says.value).splitlines()[0] in result.stderr  # floresta's own message, in the driver's output
    assert not (tmp_path / "never").exists()


def test_backtest_on_a_standalone_cluster_with_spark_submit(data, tmp_path):
    frame, path = data
    local = run_job("backtest.py", "--input", path, "--output", tmp_path / "local", "--master", "local[2]",
                    "--shuffle-partitions", "2")
    assert local.returncode == 0, local.stderr[-3000:]
    env = {**os.environ, "PYSPARK_PYTHON": sys.executable, "PYSPARK_DRIVER_PYTHON": sys.executable}
    with SparkCluster(tmp_path / "cluster", workers=2, cores=1) as cluster:
        assert cluster.alive_workers() == 2
        result = subprocess.run([cluster.submit, "--master", cluster.url, str(HERE / "jobs" / "backtest.py"), "--input",
                                 str(path), "--output", str(tmp_path / "cluster-out"), "--shuffle-partitions", "2"],
                                capture_output=True, text=True, env=env, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "alerts" in json.loads(result.stdout[result.stdout.index("{"):])
    a = pd.read_parquet(tmp_path / "cluster-out").set_index("id_transacao").sort_index()
    b = pd.read_parquet(tmp_path / "local").set_index("id_transacao").sort_index()
    assert len(a) == len(frame) and a.index.equals(b.index)
    assert "reasons" not in a.columns and "reasons" not in b.columns  # without --reasons, the columns as they were
    assert (a["fraud_probability"] == b["fraud_probability"]).all() and (a["alert"] == b["alert"]).all()
