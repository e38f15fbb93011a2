"""Throughput of the bank stream scorer on Redis, side by side in one run with a Python
consumer written the way a data team would (redis-py, the Python feature state, LightGBM's own
predict per micro-batch). Not a test: `make bench-stream`.

    .venv/bin/python benchmarks/stream/run.py [--customers 1000] [--days 21] [--repeats 3]

Method (written into stream.md too):
  - the same generated transactions (seed 9) are published to a fresh stream (pipelined XADDs)
    before each consumer starts, on one redis-server of our own (AOF, fsync always);
  - each consumer drains the stream through a consumer group in micro-batches of 256 and
    writes one scored record per transaction (XADD) and the acknowledgements; throughput =
    transactions / time from the first read to the last commit, median of --repeats runs;
  - bank_stream_scorer also keeps every customer's state in Redis and commits each micro-batch
    in one MULTI/EXEC (exactly once across crashes); the Python consumer keeps its state in
    memory and commits its writes in one MULTI/EXEC per micro-batch too, but its state would
    be lost with the process — the comparison favours it;
  - the Python consumer's probabilities are checked against the C++ scorer's (1e-9);
  - both run on this machine's 2 shared cores beside redis-server.
Writes benchmarks/results/stream.json and stream.md.
"""
import argparse
import datetime
import json
import pathlib
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time

REPO = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "examples" / "bank"))

from bank import features as F  # noqa: E402
from bank import generate  # noqa: E402
from bank.replay import publish  # noqa: E402
from bank.services import RedisServer  # noqa: E402

MODEL = REPO / "examples/models/bank_fraud.json"
SCORER = REPO / "build/examples/bank/bank_stream_scorer"
RESULTS = REPO / "benchmarks/results"


def python_consumer(client, batch=256):
    """Drains `transactions` as a data team would; returns (records, seconds, probabilities)."""
    import lightgbm
    import numpy as np
    import pandas as pd

    document = json.loads(MODEL.read_text(encoding="utf-8"))
    booster = lightgbm.Booster(model_str=document["estimator"]["text"])
    threshold = document["metadata"]["alert_threshold"]
    client.xgroup_create("transactions", "py", id="0")
    state = F.FeatureState()
    probabilities = {}
    start = None
    total = client.xlen("transactions")
    while len(probabilities) < total:
        reply = client.xreadgroup("py", "py-1", {"transactions": ">"}, count=batch, block=1000)
        if not reply:
            break
        start = start or time.perf_counter()
        entries = reply[0][1]
        records = [json.loads(fields[b"json"]) for _, fields in entries]
        rows = pd.DataFrame([state.score_inputs(r) for r in records], columns=F.FRAUD_FEATURES)
        for name, categories in F.CATEGORICAL.items():
            rows[name] = pd.Categorical(rows[name], categories=categories)
        p = booster.predict(rows)
        pipe = client.pipeline(transaction=True)
        for (entry, _), record, prob in zip(entries, records, p):
            pipe.xadd("scored_py", {"entry": entry, "id_transacao": record["id_transacao"],
                                    "fraud_probability": repr(float(prob)), "alert": int(prob > threshold)})
            probabilities[record["id_transacao"]] = float(prob)
        pipe.xack("transactions", "py", *[entry for entry, _ in entries])
        pipe.execute()
    return len(probabilities), time.perf_counter() - start, probabilities


def cpp_consumer(port):
    result = subprocess.run([str(SCORER), "--fraud-model", str(MODEL), "--redis-port", str(port), "--idle-exit-ms",
                             "1000", "--block-ms", "100"], capture_output=True, text=True, timeout=3600)
    if result.returncode:
        raise SystemExit(result.stderr)
    summary = result.stderr.strip().splitlines()[-1]
    rate = float(summary.split(" records/s")[0].rsplit(", ", 1)[1])
    return summary, rate


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--customers", type=int, default=1_000)
    parser.add_argument("--days", type=int, default=21)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    if not SCORER.is_file():
        raise SystemExit(f"{SCORER} is missing: run `make` first")
    records = list(generate.records(generate.generate(args.customers, args.days, seed=9)))
    runs = {"bank_stream_scorer (C++)": [], "Python consumer": []}
    check = None
    for _ in range(args.repeats):
        for name in runs:
            folder = pathlib.Path(tempfile.mkdtemp(prefix="bench-stream-"))
            server = RedisServer(folder)
            client = server.start()
            try:
                publish(client, "transactions", records)
                if name.startswith("bank"):
                    summary, rate = cpp_consumer(server.port)
                    cpp = {f[b"id_transacao"].decode(): float(f[b"fraud_probability"]) for _, f in client.xrange("scored")}
                else:
                    n, seconds, py = python_consumer(client)
                    rate = n / seconds
                    check = max(abs(py[k] - cpp[k]) for k in py)
                runs[name].append(rate)
            finally:
                server.stop()
                shutil.rmtree(folder, ignore_errors=True)
    if check is None or check > 1e-9:
        raise SystemExit(f"the Python consumer's probabilities differ from the C++ scorer's by {check}")
    median = {name: statistics.median(rates) for name, rates in runs.items()}
    ratio = median["bank_stream_scorer (C++)"] / median["Python consumer"]
    result = {"date": datetime.date.today().isoformat(), "machine": platform.processor() or platform.machine(),
              "transactions": len(records), "repeats": args.repeats, "records_per_second": runs,
              "median": median, "ratio": ratio, "max_probability_difference": check}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "stream.json").write_text(json.dumps(result, indent=1) + "\n")
    lines = [f"# Bank stream scorer throughput ({result['date']})", "",
             textwrap.dedent(__doc__.split("Method (written into stream.md too):\n")[1].split("Writes benchmarks")[0]).strip(), "",
             f"{len(records):,} transactions, median of {args.repeats} runs:", "",
             "| consumer | transactions/s |", "|---|---|"]
    lines += [f"| {name} | {rate:,.0f} |" for name, rate in median.items()]
    lines += ["", f"The C++ scorer: {ratio:.1f}× the Python consumer; probabilities agree within {check:.1e}."]
    (RESULTS / "stream.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
