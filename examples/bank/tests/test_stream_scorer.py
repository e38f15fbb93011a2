"""bank_stream_scorer --stdin: its features equal the Python definition's on the same
transactions, its probabilities equal direct floresta scoring of those features, and bad
records are rejected with a reason while the stream goes on. The binary is BANK_STREAM_SCORER
or build/examples/bank/bank_stream_scorer; its absence is a failure (`make` builds it)."""
import json
import os
import pathlib
import subprocess

import numpy as np
import pandas as pd
import pytest

import floresta
from bank import features as F
from bank import generate

REPO = pathlib.Path(__file__).resolve().parents[3]
MODEL = REPO / "examples/models/bank_fraud.json"


def binary():
    path = pathlib.Path(os.environ.get("BANK_STREAM_SCORER", REPO / "build/examples/bank/bank_stream_scorer"))
    if not path.is_file():
        pytest.fail(f"{path} is missing: build it with `make` (cmake --build build --target bank_stream_scorer)")
    return path


def run(lines, *args):
    return subprocess.run([str(binary()), *map(str, args)], input="".join(lines), capture_output=True, text=True,
                          timeout=300)


def jsonl(frame):
    return [json.dumps(r, ensure_ascii=False) + "\n" for r in generate.records(frame)]


@pytest.fixture(scope="module")
def stream():
    frame = generate.generate(250, days=16, seed=31)  # time order, as a stream delivers it
    result = run(jsonl(frame), "--stdin", "--fraud-model", MODEL, "--emit-features", "--batch", 100)
    assert result.returncode == 0, result.stderr
    return frame, [json.loads(line) for line in result.stdout.splitlines()], result.stderr


def test_features_equal_the_python_definition(stream):
    frame, out, _ = stream
    assert [o["id_transacao"] for o in out] == frame["id_transacao"].tolist()
    expected = F.fraud_features(frame)
    got = pd.DataFrame([o["features"] for o in out], index=frame.index).astype(float)
    numeric = F.FRAUD_FEATURES[4:]  # the four record fields are the input's own
    assert sorted(got.columns) == sorted(numeric)
    for name in numeric:
        x, y = expected[name].to_numpy(float), got[name].to_numpy(float)
        assert (np.isnan(x) == np.isnan(y)).all(), name
        ok = ~np.isnan(x)
        assert np.all(np.abs(x[ok] - y[ok]) <= F.TOLERANCE * np.abs(x[ok]) + 1e-12), name


def test_scores_equal_floresta_on_the_same_features(stream):
    frame, out, summary = stream
    model = floresta.load(MODEL)
    expected = model.predict_proba(F.fraud_features(frame))[:, 1]
    got = np.array([o["fraud_probability"] for o in out])
    assert np.abs(got - expected).max() <= 1e-12
    threshold = model.metadata["alert_threshold"]
    assert [o["alert"] for o in out] == list(expected > threshold)
    assert f"records in {len(frame)}, scored {len(frame)}, rejected 0, alerts {int((expected > threshold).sum())}" in summary
    assert all(o["entry"] == f"line {k + 1}" for k, o in enumerate(out))


def test_every_alert_carries_its_top_three_reasons_by_floresta_treeshap(stream):
    """`reasons` on alerts only: the 3 features with the largest |contribution| to the fraud
    margin, their values as scored and contributions equal to floresta Python's
    predict_contributions on the same feature row; with the expected value the full row sums to
    the margin (the logit of the probability)."""
    frame, out, _ = stream
    model = floresta.load(MODEL)
    X = F.fraud_features(frame)
    alerts = np.flatnonzero([o["alert"] for o in out])
    assert len(alerts) >= 10  # the test data must exercise it
    assert all("reasons" not in out[i] for i in set(range(len(out))) - set(alerts))
    contributions = model.predict_contributions(X.iloc[alerts])  # only the alerts: ~2 ms a row
    assert contributions.shape == (len(alerts), len(F.FRAUD_FEATURES) + 1)
    names = list(model.feature_names_in_)
    expected_value = float(model.expected_value_)
    assert np.all(contributions[:, -1] == expected_value)
    margin = model.predict_raw(X.iloc[alerts]).ravel()
    for row, i in enumerate(alerts):
        o, c = out[i], contributions[row]
        reasons = o["reasons"]
        assert len(reasons) == 3 and [sorted(r) for r in reasons] == [["contribution", "field", "value"]] * 3
        for r in reasons:
            k = names.index(r["field"])
            assert abs(r["contribution"] - c[k]) <= 1e-9, (o["id_transacao"], r)
            x = X.iloc[i][r["field"]]  # its value as scored
            if isinstance(x, str):
                assert r["value"] == x
            elif pd.isna(x):
                assert r["value"] is None
            else:
                assert abs(r["value"] - float(x)) <= F.TOLERANCE * abs(float(x)) + 1e-12, (r, x)
        # the top 3 by |contribution|, largest first
        size = [abs(r["contribution"]) for r in reasons]
        assert size == sorted(size, reverse=True)
        others = np.delete(np.abs(c[:-1]), [names.index(r["field"]) for r in reasons])
        assert size[-1] >= others.max() - 1e-9
        # the full row (its 22 features and the expected value) sums to the fraud margin
        p = o["fraud_probability"]
        assert abs(c.sum() - margin[row]) <= 1e-9
        logit = np.log(p) - np.log1p(-p)
        assert abs(c.sum() - logit) <= 1e-9 + 4e-16 / (p * (1 - p)), (p, c.sum(), logit)  # p's own rounding
    # and Python's explain_record on the same record names the same reasons
    i = alerts[0]
    record = {k: (None if not isinstance(v, str) and pd.isna(v) else v) for k, v in X.iloc[i].items()}
    python = model.explain_record(record, 3)
    assert [r["field"] for r in python] == [r["field"] for r in out[i]["reasons"]]


def test_the_reasons_flag_sets_their_number_and_zero_turns_them_off():
    lines = jsonl(generate.generate(60, days=14, seed=36))
    runs = {}
    for n in (0, 1, 5):
        result = run(lines, "--stdin", "--fraud-model", MODEL, "--reasons", n)
        assert result.returncode == 0, result.stderr
        runs[n] = [json.loads(line) for line in result.stdout.splitlines()]
    assert any(o["alert"] for o in runs[0])
    for n, out in runs.items():
        assert all(len(o["reasons"]) == n if o["alert"] and n else "reasons" not in o for o in out)
    strip = lambda o: {k: v for k, v in o.items() if k != "reasons"}  # noqa: E731
    assert [strip(o) for o in runs[1]] == [strip(o) for o in runs[0]] == [strip(o) for o in runs[5]]
    assert all(o1["reasons"] == o5["reasons"][:1] for o1, o5 in zip(runs[1], runs[5]) if o1["alert"])
    result = run([], "--stdin", "--fraud-model", MODEL, "--reasons", "-1")
    assert result.returncode == 2 and "--reasons" in result.stderr


def test_bad_records_are_rejected_with_a_reason_and_the_stream_goes_on():
    frame = generate.generate(30, days=3, seed=32)
    lines = jsonl(frame)
    good = len(lines)
    record = json.loads(lines[0])
    bad = ["{not json\n",
           json.dumps({**record, "id_transacao": "X1", "valor_transacao": "muito"}) + "\n",
           json.dumps({k: v for k, v in record.items() if k != "id_cliente"} | {"id_transacao": "X2"}) + "\n",
           json.dumps({**record, "id_transacao": "X3", "latitude": 123.0}) + "\n",
           json.dumps({**record, "id_transacao": "X4", "timestamp": 1.5}) + "\n",
           json.dumps([1, 2]) + "\n"]
    # the same transaction again: not later than the customer's last, refused without touching the state
    late = json.dumps({**json.loads(lines[10]), "id_transacao": "X5"}) + "\n"
    stream = lines[:5] + bad + lines[5:12] + [late] + lines[12:]
    result = run(stream, "--stdin", "--fraud-model", MODEL)
    assert result.returncode == 0, result.stderr
    scored = [json.loads(line) for line in result.stdout.splitlines()]
    errors = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    assert [s["id_transacao"] for s in scored] == frame["id_transacao"].tolist()  # every good one, in order
    assert len(errors) == len(bad) + 1
    reasons = {e["id_transacao"]: e["error"] for e in errors if e["id_transacao"]}
    assert "valor_transacao" in reasons["X1"] and "latitude" in reasons["X3"] and "timestamp" in reasons["X4"]
    assert "not after the customer's last" in reasons["X5"]
    assert any("id_cliente: missing" in e["error"] for e in errors)
    assert errors[0]["entry"] == "line 6" and "parse" in errors[0]["error"]
    assert f"records in {good + len(bad) + 1}, scored {good}, rejected {len(bad) + 1}" in result.stderr
    # and the scores are those of a stream without the bad records
    clean = run(lines, "--stdin", "--fraud-model", MODEL)
    assert [json.loads(line)["fraud_probability"] for line in clean.stdout.splitlines()] == \
        [s["fraud_probability"] for s in scored]


def test_usage_and_model_errors(tmp_path):
    assert run([], "--help").returncode == 0
    from bank.services import free_port

    result = run([], "--fraud-model", MODEL, "--redis-port", free_port())  # Redis mode, nobody listening
    assert result.returncode == 1 and "cannot connect" in result.stderr
    result = run([], "--stdin")
    assert result.returncode == 2 and "--fraud-model is required" in result.stderr
    result = run([], "--stdin", "--fraud-model", MODEL, "--batch", "0")
    assert result.returncode == 2 and "--batch" in result.stderr
    result = run([], "--stdin", "--fraud-model", REPO / "examples/models/bank_segments.json")
    assert result.returncode == 1 and "alert_threshold" in result.stderr
    broken = tmp_path / "broken.json"
    broken.write_text(MODEL.read_text(encoding="utf-8")[:5000], encoding="utf-8")
    result = run([], "--stdin", "--fraud-model", broken)
    assert result.returncode == 1 and "broken.json" in result.stderr


def test_a_run_resumed_from_its_saved_state_scores_as_one_that_never_stopped(tmp_path):
    lines = jsonl(generate.generate(120, days=16, seed=33))
    whole = run(lines, "--stdin", "--fraud-model", MODEL, "--emit-features")
    assert whole.returncode == 0, whole.stderr
    state = tmp_path / "state.jsonl"
    parts, start = [], 0
    for cut in (len(lines) // 5, len(lines) // 2, len(lines)):  # three runs, the state saved between them
        args = ["--stdin", "--fraud-model", MODEL, "--emit-features", "--save-state", state]
        if start:
            args += ["--load-state", state]
        result = run(lines[start:cut], *args)
        assert result.returncode == 0, result.stderr
        parts += [json.loads(line) for line in result.stdout.splitlines()]
        start = cut
    expected = [json.loads(line) for line in whole.stdout.splitlines()]
    strip = lambda o: {k: v for k, v in o.items() if k != "entry"}  # noqa: E731 (line numbers restart)
    assert [strip(o) for o in parts] == [strip(o) for o in expected]  # bit for bit
    assert not (tmp_path / "state.jsonl.tmp").exists()


def test_a_damaged_state_file_is_refused_by_line_and_field(tmp_path):
    lines = jsonl(generate.generate(20, days=2, seed=34))
    state = tmp_path / "state.jsonl"
    assert run(lines, "--stdin", "--fraud-model", MODEL, "--save-state", state).returncode == 0
    saved = state.read_text(encoding="utf-8").splitlines()
    record = json.loads(saved[1])
    record["state"]["window"] = [["x", 1, 0]]
    saved[1] = json.dumps(record)
    state.write_text("\n".join(saved) + "\n", encoding="utf-8")
    result = run(lines, "--stdin", "--fraud-model", MODEL, "--load-state", state)
    assert result.returncode == 1 and "state.jsonl: line 2: state: window" in result.stderr


@pytest.mark.parametrize("field, value, words", [
    ("last_t", 2 ** 63 - 1, "state: last_t: 9223372036854775807 out of range (1970 to 9999)"),
    ("last_t", None, "state: last_t: missing, with count"),
    ("count", -5, "state: count: -5 out of range"),
    ("window", [[-(2 ** 63), 1.0, 0]], "state: window: -9223372036854775808 out of range"),
    ("devices", {"D1": 2 ** 62}, "state: devices: 4611686018427387904 out of range"),
    ("bands", {"3": -1}, "state: bands: entry 3 = -1 out of range"),
])
def test_a_state_the_scorer_could_not_have_written_is_refused(tmp_path, field, value, words):
    # Values inside JSON's types but outside what the scorer writes: read as they are, they
    # would overflow the features' arithmetic (or read a last time that is not there).
    lines = jsonl(generate.generate(20, days=2, seed=34))
    state = tmp_path / "state.jsonl"
    assert run(lines, "--stdin", "--fraud-model", MODEL, "--save-state", state).returncode == 0
    saved = state.read_text(encoding="utf-8").splitlines()
    record = json.loads(saved[0])
    record["state"][field] = value
    saved[0] = json.dumps(record)
    state.write_text("\n".join(saved) + "\n", encoding="utf-8")
    result = run(lines, "--stdin", "--fraud-model", MODEL, "--load-state", state)
    assert result.returncode == 1 and "state.jsonl: line 1: " + words in result.stderr, result.stderr


def test_each_record_carries_its_customers_segment(tmp_path):
    from bank import segments

    frame = generate.generate(80, days=10, seed=35)
    table = segments.assign(frame[frame["id_cliente"] != frame["id_cliente"].iloc[0]])  # one customer left out
    path = tmp_path / "segments.jsonl"
    segments.write(table, path)
    # the table's segments are scikit-learn's: the shipped pipeline's labels, through floresta
    model = floresta.load(REPO / "examples/models/bank_segments.json")
    assert list(table["segment_name"]) == [model.cluster_names_[k] for k in table["segment_id"]]
    result = run(jsonl(frame), "--stdin", "--fraud-model", MODEL, "--segments", path)
    assert result.returncode == 0, result.stderr
    by_customer = table.set_index("id_cliente")
    for o in map(json.loads, result.stdout.splitlines()):
        if o["id_cliente"] in by_customer.index:
            row = by_customer.loc[o["id_cliente"]]
            assert (o["segment_id"], o["segment_name"]) == (row["segment_id"], row["segment_name"])
        else:
            assert (o["segment_id"], o["segment_name"]) == (-1, "")
    path.write_text('{"id_cliente": "C1"}\n', encoding="utf-8")
    result = run([], "--stdin", "--fraud-model", MODEL, "--segments", path)
    assert result.returncode == 1 and "segments.jsonl: line 1" in result.stderr and "segment_id" in result.stderr


def test_unknown_customers_are_rejected_when_the_segment_table_is_the_register(tmp_path):
    """--unknown-customers reject: a customer the segment table does not list is a bad record
    (the reason names it; the other customers score as in a run without those records); the
    default scores it from an empty state."""
    from bank import segments

    frame = generate.generate(40, days=8, seed=38)
    stranger = frame["id_cliente"].iloc[3]
    path = tmp_path / "segments.jsonl"
    segments.write(segments.assign(frame[frame["id_cliente"] != stranger]), path)
    lines = jsonl(frame)
    result = run(lines, "--stdin", "--fraud-model", MODEL, "--segments", path, "--unknown-customers", "reject")
    assert result.returncode == 0, result.stderr
    scored = [json.loads(line) for line in result.stdout.splitlines()]
    errors = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    theirs = frame.loc[frame["id_cliente"] == stranger, "id_transacao"].tolist()
    assert theirs and sorted(e["id_transacao"] for e in errors) == sorted(theirs)
    assert all(f"id_cliente: unknown customer '{stranger}'" in e["error"] for e in errors)
    assert stranger not in {s["id_cliente"] for s in scored}
    others = [line for line in lines if json.loads(line)["id_cliente"] != stranger]
    alone = run(others, "--stdin", "--fraud-model", MODEL, "--segments", path)
    drop_entry = lambda o: {k: v for k, v in o.items() if k != "entry"}  # noqa: E731 (line numbers differ)
    assert [drop_entry(json.loads(line)) for line in alone.stdout.splitlines()] == [drop_entry(o) for o in scored]
    default = run(lines, "--stdin", "--fraud-model", MODEL, "--segments", path)
    assert sum(json.loads(line)["id_cliente"] == stranger for line in default.stdout.splitlines()) == len(theirs)
    result = run([], "--stdin", "--fraud-model", MODEL, "--unknown-customers", "reject")
    assert result.returncode == 2 and "needs --segments" in result.stderr
    result = run([], "--stdin", "--fraud-model", MODEL, "--segments", path, "--unknown-customers", "maybe")
    assert result.returncode == 2 and "score or reject" in result.stderr
