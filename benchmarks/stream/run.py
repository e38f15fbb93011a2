"""Throughput of the bank stream scorer on Redis, side by side in one run with a Python
consumer written the way a data team would (redis-py, the Python feature state, LightGBM's own
predict per micro-batch). Not a test: `make bench-stream`.

    .venv/bin/python benchmarks/stream/run.py [--customers 1000] [--days 21] [--repeats 3] [--rates 5000,10000,20000]

Method (written into stream.md too):
  - the same generated transactions (seed 9) are published to a fresh stream (pipelined XADDs)
    before each consumer starts, on one redis-server of our own (AOF, fsync always);
  - each consumer drains the stream through a consumer group in micro-batches of 256 and
    writes one scored record per transaction (XADD: entry, id_transacao, id_cliente,
    fraud_probability, alert, segment_id, segment_name, the customer's segment from the same
    table, python -m bank.segments's) and the acknowledgements; throughput = transactions /
    time from the first read to the last commit, median of --repeats runs;
  - bank_stream_scorer also keeps every customer's state in Redis and commits each micro-batch
    in one Lua script (exactly once across crashes); the Python consumer keeps its state in
    memory and commits its writes in one MULTI/EXEC per micro-batch, but its state would be
    lost with the process — the comparison favours it;
  - the Python consumer's records are checked against the C++ scorer's: probabilities within
    1e-9, alerts and segments equal;
  - both run on this machine's 2 shared cores beside redis-server; Redis's automatic
    append-only-file rewrites are off during the runs (a forked child that would take the
    cores from both consumers at random moments; a production Redis has its own machine);
  - latency: the scorer alone, while bank_stream_replay (C++: the Python replay would take most
    of a core at these rates) offers transactions at a fixed rate for --seconds (open loop:
    every millisecond what is due goes out in one pipelined round trip, whatever the scorer
    does); p50 / p99 from each entry's id time (when Redis took it) to the read of its
    micro-batch's commit reply, as the scorer reports them (whole milliseconds), each rate run
    --repeats times (the median run's p50 / p99, and the range of the p99s: one run's tail
    moves with whatever else the VM does in those seconds); with `appendfsync always` (the
    guarantee) and with `everysec` (what the disk costs).
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
from bank import generate, segments  # noqa: E402
from bank.replay import publish  # noqa: E402
from bank.services import RedisServer  # noqa: E402

MODEL = REPO / "examples/models/bank_fraud.json"
SCORER = REPO / "build/examples/bank/bank_stream_scorer"
REPLAY = REPO / "build/examples/bank/bank_stream_replay"
RESULTS = REPO / "benchmarks/results"


def python_consumer(client, segment_table, batch=256):
    """Drains `transactions` as a data team would; returns (records, seconds, {id_transacao: record})."""
    import lightgbm
    import numpy as np
    import pandas as pd

    document = json.loads(MODEL.read_text(encoding="utf-8"))
    booster = lightgbm.Booster(model_str=document["estimator"]["text"])
    threshold = document["metadata"]["alert_threshold"]
    client.xgroup_create("transactions", "py", id="0")
    state = F.FeatureState()
    table = pd.read_json(segment_table, lines=True, dtype={"id_cliente": str}).set_index("id_cliente")
    segment_of = dict(zip(table.index, zip(table["segment_id"], table["segment_name"])))
    written = {}
    start = None
    total = client.xlen("transactions")
    while len(written) < total:
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
            segment_id, segment_name = segment_of.get(record["id_cliente"], (-1, ""))
            scored = {"entry": entry, "id_transacao": record["id_transacao"], "id_cliente": record["id_cliente"],
                      "fraud_probability": repr(float(prob)), "alert": int(prob > threshold),
                      "segment_id": int(segment_id), "segment_name": segment_name}
            pipe.xadd("scored_py", scored)
            written[record["id_transacao"]] = scored
        pipe.xack("transactions", "py", *[entry for entry, _ in entries])
        pipe.execute()
    return len(written), time.perf_counter() - start, written


def agreement(py, cpp):
    """The largest probability difference between the two consumers' records; SystemExit when
    their sets of transactions, alerts or segments differ (entry ids differ: each has its own stream)."""
    if py.keys() != cpp.keys():
        raise SystemExit(f"the consumers scored different transactions: {len(py)} and {len(cpp)}")
    text = lambda v: v.decode() if isinstance(v, bytes) else str(v)  # noqa: E731
    for k, p in py.items():
        c = cpp[k]
        if any(text(p[f]) != c[f] for f in ("id_cliente", "alert", "segment_id", "segment_name")):
            raise SystemExit(f"{k}: the Python consumer wrote {p}, the C++ scorer {c}")
    return max(abs(float(p["fraud_probability"]) - float(cpp[k]["fraud_probability"])) for k, p in py.items())


def scorer_command(port, segment_table):
    # --reasons 0: the Python consumer does not explain alerts, so neither does the scorer here.
    return [str(SCORER), "--fraud-model", str(MODEL), "--redis-port", str(port), "--idle-exit-ms", "1000", "--block-ms",
            "100", "--reasons", "0", "--segments", str(segment_table)]


def summary_numbers(stderr):
    """(records/s, p50 ms, p99 ms) from the scorer's exit line."""
    summary = stderr.strip().splitlines()[-1]
    rate = float(summary.split(" records/s")[0].rsplit(", ", 1)[1])
    p50 = int(summary.split("latency p50 ")[1].split(" ms")[0])
    p99 = int(summary.split(" p99 ")[1].split(" ms")[0])
    return rate, p50, p99


def cpp_consumer(port, segment_table):
    result = subprocess.run(scorer_command(port, segment_table), capture_output=True, text=True, timeout=3600)
    if result.returncode:
        raise SystemExit(result.stderr)
    return summary_numbers(result.stderr)[0]


def fresh_redis(fsync="always"):
    folder = pathlib.Path(tempfile.mkdtemp(prefix="bench-stream-"))
    server = RedisServer(folder)
    client = server.start()
    client.config_set("auto-aof-rewrite-percentage", 0)
    client.config_set("appendfsync", fsync)
    return folder, server, client


def latency_at(rate, records, segment_table, seconds, fsync):
    """The scorer's p50 / p99 while `rate` transactions a second are offered for `seconds`."""
    folder, server, client = fresh_redis(fsync)
    try:
        wanted = folder / "offered.jsonl"
        wanted.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records[:int(rate * seconds)]))
        count = int(rate * seconds)
        scorer = subprocess.Popen(scorer_command(server.port, segment_table), stderr=subprocess.PIPE, text=True)
        time.sleep(0.3)  # model loaded, group created (it exits after 1 s without entries)
        begin = time.perf_counter()
        with open(wanted) as lines:
            subprocess.run([str(REPLAY), "--rate", str(rate), "--redis-port", str(server.port)], stdin=lines,
                           check=True, capture_output=True)
        offered = count / (time.perf_counter() - begin)
        _, stderr = scorer.communicate(timeout=600)
        if scorer.returncode:
            raise SystemExit(stderr)
        if client.xlen("scored") != count:
            raise SystemExit(f"at {rate}/s: {client.xlen('scored')} scored of {count}")
        _, p50, p99 = summary_numbers(stderr)
        return {"rate": rate, "appendfsync": fsync, "offered": offered, "transactions": count, "p50_ms": p50,
                "p99_ms": p99}
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)


def repeated_latency(rate, records, segment_table, seconds, fsync, repeats):
    """latency_at `repeats` times: the run of the median p99, with every run's p50 and p99."""
    runs = sorted((latency_at(rate, records, segment_table, seconds, fsync) for _ in range(repeats)),
                  key=lambda x: x["p99_ms"])
    middle = dict(runs[len(runs) // 2])
    middle["p50_runs_ms"] = [x["p50_ms"] for x in runs]
    middle["p99_runs_ms"] = [x["p99_ms"] for x in runs]
    return middle


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--customers", type=int, default=1_000)
    parser.add_argument("--days", type=int, default=21)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--rates", default="5000,10000,20000", help="offered rates for the latency runs")
    parser.add_argument("--seconds", type=float, default=3.0, help="length of each latency run")
    args = parser.parse_args(argv)
    for program in (SCORER, REPLAY):
        if not program.is_file():
            raise SystemExit(f"{program} is missing: run `make` first")
    frame = generate.generate(args.customers, args.days, seed=9)
    records = list(generate.records(frame))
    scratch = tempfile.TemporaryDirectory(prefix="bench-stream-segments-")  # (removed at exit whatever happens)
    segment_table = pathlib.Path(scratch.name) / "segments.jsonl"
    segments.write(segments.assign(frame), segment_table)
    runs = {"bank_stream_scorer (C++)": [], "Python consumer": []}
    check = None
    for _ in range(args.repeats):
        for name in runs:
            folder, server, client = fresh_redis()
            try:
                publish(client, "transactions", records)
                if name.startswith("bank"):
                    rate = cpp_consumer(server.port, segment_table)
                    cpp = {f[b"id_transacao"].decode(): {k.decode(): v.decode() for k, v in f.items()}
                           for _, f in client.xrange("scored")}
                else:
                    n, seconds, py = python_consumer(client, segment_table)
                    rate = n / seconds
                    check = agreement(py, cpp)
                runs[name].append(rate)
            finally:
                server.stop()
                shutil.rmtree(folder, ignore_errors=True)
    if check is None or check > 1e-9:
        raise SystemExit(f"the Python consumer's probabilities differ from the C++ scorer's by {check}")
    latency = [repeated_latency(int(r), records, segment_table, args.seconds, fsync, args.repeats)
               for fsync in ("always", "everysec") for r in args.rates.split(",")]
    scratch.cleanup()
    median = {name: statistics.median(rates) for name, rates in runs.items()}
    ratio = median["bank_stream_scorer (C++)"] / median["Python consumer"]
    result = {"date": datetime.date.today().isoformat(), "machine": platform.processor() or platform.machine(),
              "transactions": len(records), "repeats": args.repeats, "records_per_second": runs,
              "median": median, "ratio": ratio, "max_probability_difference": check, "latency": latency}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "stream.json").write_text(json.dumps(result, indent=1) + "\n")
    lines = [f"# Bank stream scorer throughput ({result['date']})", "",
             textwrap.dedent(__doc__.split("Method (written into stream.md too):\n")[1].split("Writes benchmarks")[0]).strip(), "",
             f"{len(records):,} transactions, median of {args.repeats} runs:", "",
             "| consumer | transactions/s |", "|---|---|"]
    lines += [f"| {name} | {rate:,.0f} |" for name, rate in median.items()]
    lines += ["", f"The C++ scorer: {ratio:.1f}× the Python consumer; probabilities agree within {check:.1e}, alerts and "
              "segments equal.", "",
              f"Latency of bank_stream_scorer at fixed offered rates ({args.seconds:g} s each, {args.repeats} runs "
              "each; the median run):", "",
              "| appendfsync | offered (transactions/s) | achieved | p50 (ms) | p99 (ms) | p99 of each run (ms) |",
              "|---|---|---|---|---|---|"]
    lines += [f"| {x['appendfsync']} | {x['rate']:,} | {x['offered']:,.0f} | {x['p50_ms']} | {x['p99_ms']} | "
              f"{', '.join(map(str, x['p99_runs_ms']))} |" for x in latency]
    (RESULTS / "stream.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
