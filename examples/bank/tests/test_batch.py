"""The demo's C++ host (bank_batch) on a generated day: its alerts are those LightGBM's own
predictor gives at the model file's threshold, bad lines are reported and skipped, and the
Python half of the demo runs. The binary is BANK_BATCH or build/examples/bank/bank_batch;
its absence is a failure (`make` builds it)."""
import json
import os
import pathlib
import re
import subprocess
import sys

import pandas as pd
import pytest

from bank import features as F

EXAMPLE = pathlib.Path(__file__).resolve().parent.parent
REPO = EXAMPLE.parents[1]
MODELS = REPO / "examples/models"
sys.path.insert(0, str(EXAMPLE))

import demo  # noqa: E402


def binary():
    path = pathlib.Path(os.environ.get("BANK_BATCH", REPO / "build/examples/bank/bank_batch"))
    if not path.is_file():
        pytest.fail(f"{path} is missing: build it with `make` (cmake --build build --target bank_batch)")
    return path


@pytest.fixture(scope="module")
def day(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bank_demo")
    demo.prepare(folder, customers=300, days=15, seed=7)
    return folder


def run(*args):
    return subprocess.run([str(binary()), *map(str, args)], capture_output=True, text=True, timeout=120)


def test_alerts_equal_lightgbm_at_the_files_threshold(day):
    import lightgbm

    document = json.loads((MODELS / "bank_fraud.json").read_text(encoding="utf-8"))
    booster = lightgbm.Booster(model_str=document["estimator"]["text"])
    rows = pd.read_json(day / "day.jsonl", lines=True, dtype={"id_dispositivo": str, "id_beneficiario": str})
    X = rows[F.FRAUD_FEATURES].copy()
    for name, categories in F.CATEGORICAL.items():
        X[name] = pd.Categorical(X[name], categories=categories)
    # (test_models.py proves this text is what LightGBM itself trains from train_model.py's steps)
    expected = set(rows["id_transacao"][booster.predict(X) > document["metadata"]["alert_threshold"]])
    assert expected  # the demo day has alerts
    result = run("--fraud-model", MODELS / "bank_fraud.json", "--transactions", day / "day.jsonl",
                 "--segments-model", MODELS / "bank_segments.json", "--customers", day / "customers.jsonl",
                 "--top", 100_000)
    assert result.returncode == 0, result.stderr
    assert f"{len(rows)} transactions scored (0 lines rejected)" in result.stdout
    assert re.search(rf"^{len(expected)} alerts", result.stdout, re.M), result.stdout
    listed = set(re.findall(r"^  (T\d{14}) ", result.stdout, re.M))
    assert listed == expected
    customers = sum(1 for _ in open(day / "customers.jsonl", encoding="utf-8"))
    assert f"{customers} customers segmented (0 lines rejected)" in result.stdout
    names = json.loads((MODELS / "bank_segments.json").read_text(encoding="utf-8"))["classes"]
    assert len(names) == 7 and all(name in result.stdout for name in names)


def test_bad_lines_are_reported_and_skipped(day, tmp_path):
    lines = (day / "day.jsonl").read_text(encoding="utf-8").splitlines()[:20]
    broken = json.loads(lines[3])
    broken["valor_transacao"] = "muito"
    lines[3] = json.dumps(broken, ensure_ascii=False)
    lines.insert(5, "{not json")
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = run("--fraud-model", MODELS / "bank_fraud.json", "--transactions", path)
    assert result.returncode == 0
    assert "19 transactions scored (2 lines rejected)" in result.stdout
    assert "line 4" in result.stderr and "valor_transacao" in result.stderr and "line 6" in result.stderr


def test_lines_without_the_features_are_refused_not_scored_on_nans(tmp_path):
    path = tmp_path / "raw.jsonl"
    path.write_text("{}\n", encoding="utf-8")
    result = run("--fraud-model", MODELS / "bank_fraud.json", "--transactions", path)
    assert result.returncode == 1
    assert "lacks the model's feature(s) transacao" in result.stderr and "no line could be scored" in result.stderr


def test_usage_errors(tmp_path):
    assert run("--help").returncode == 0 and "--fraud-model" in run("--help").stdout
    result = run("--transactions", "x.jsonl")
    assert result.returncode == 2 and "--fraud-model and --transactions are required" in result.stderr
    result = run("--fraud-model", MODELS / "bank_fraud.json", "--transactions", "x.jsonl", "--top", "")
    assert result.returncode == 2 and "--top takes a count" in result.stderr
    result = run("--fraud-model", MODELS / "bank_fraud.json", "--transactions", tmp_path / "absent.jsonl")
    assert result.returncode == 1 and "absent.jsonl: cannot open" in result.stderr
    result = run("--fraud-model", MODELS / "bank_segments.json", "--transactions", tmp_path / "absent.jsonl")
    assert result.returncode == 1 and "no numeric alert_threshold" in result.stderr
    result = run("--fraud-model", MODELS / "bank_fraud.json", "--transactions", tmp_path)
    assert result.returncode == 1 and "cannot be read" in result.stderr


def test_python_half_of_the_demo(day, capsys):
    demo.score(day)
    out = capsys.readouterr().out
    assert "Python:" in out and "customers segmented" in out
