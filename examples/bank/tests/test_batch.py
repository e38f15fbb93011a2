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
    expected = int((booster.predict(X) > document["metadata"]["alert_threshold"]).sum())
    result = run("--fraud-model", MODELS / "bank_fraud.json", "--transactions", day / "day.jsonl",
                 "--segments-model", MODELS / "bank_segments.json", "--customers", day / "customers.jsonl")
    assert result.returncode == 0, result.stderr
    assert f"{len(rows)} transactions scored (0 lines rejected)" in result.stdout
    assert re.search(rf"^{expected} alerts", result.stdout, re.M), result.stdout
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


def test_usage_errors():
    assert run("--help").returncode == 0
    result = run("--transactions", "x.jsonl")
    assert result.returncode == 2 and "--fraud-model" in result.stderr
    result = run("--fraud-model", MODELS / "bank_segments.json", "--transactions", "/nonexistent.jsonl")
    assert result.returncode == 1 and "bank_batch:" in result.stderr


def test_python_half_of_the_demo(day, capsys):
    demo.score(day)
    out = capsys.readouterr().out
    assert "Python:" in out and "customers segmented" in out
