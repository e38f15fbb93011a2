"""`make demo`, the bank's stream half: start Redis, replay a generated stream, score it with
bank_stream_scorer, drain the scored stream into files with bank_stream_sink, print the
summary, stop Redis.

    python examples/bank/stream_demo.py BUILD_DIR WORK_DIR

Redis runs on a free port of 127.0.0.1 with its own directory under WORK_DIR (append-only file,
fsync always); the segment table comes from the same generated transactions (python -m
bank.segments does the same from files).
"""
import argparse
import collections
import json
import pathlib
import shutil
import subprocess
import sys
import time

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bank import generate, segments  # noqa: E402
from bank.replay import publish  # noqa: E402
from bank.services import RedisServer  # noqa: E402

MODELS = HERE.parent / "models"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("build", help="the build directory (bank_stream_scorer, bank_stream_sink)")
    parser.add_argument("work", help="a directory for Redis, the segment table and the files")
    parser.add_argument("--customers", type=int, default=1_000)
    parser.add_argument("--days", type=int, default=21)
    args = parser.parse_args(argv)
    build = pathlib.Path(args.build) / "examples" / "bank"
    work = pathlib.Path(args.work)
    shutil.rmtree(work, ignore_errors=True)
    (work / "redis").mkdir(parents=True)
    (work / "files").mkdir()

    frame = generate.generate(args.customers, args.days, seed=7)
    segments.write(segments.assign(frame), work / "segments.jsonl")
    server = RedisServer(work / "redis")
    client = server.start()
    try:
        begin = time.perf_counter()
        ids = publish(client, "transactions", list(generate.records(frame)))
        print(f"replayed {len(ids):,} transactions of {args.customers:,} customers into Redis (port {server.port}) "
              f"in {time.perf_counter() - begin:.1f} s")
        common = ["--redis-port", str(server.port), "--idle-exit-ms", "1500"]
        scorer = subprocess.run([str(build / "bank_stream_scorer"), "--fraud-model", str(MODELS / "bank_fraud.json"),
                                 "--segments", str(work / "segments.jsonl"), *common], capture_output=True, text=True)
        print(scorer.stderr.strip().splitlines()[-1])
        print("  (the whole stream was in Redis before the scorer started, so latency here is mostly waiting)")
        if scorer.returncode:
            raise SystemExit(scorer.stderr)
        sink = subprocess.run([str(build / "bank_stream_sink"), "--dir", str(work / "files"), "--records", "20000",
                               *common], capture_output=True, text=True)
        print(sink.stderr.strip().splitlines()[-1])
        if sink.returncode:
            raise SystemExit(sink.stderr)
        held = [json.loads(line) for p in sorted((work / "files").glob("part-*.jsonl"))
                for line in p.read_text(encoding="utf-8").splitlines()]
        pattern = dict(zip(frame["id_transacao"], frame["padrao_fraude"]))
        alerts = [h for h in held if h["alert"] == "1"]
        by_pattern = collections.Counter(pattern[h["id_transacao"]] or "(honest)" for h in alerts)
        frauds = collections.Counter(p for p in frame["padrao_fraude"] if p)
        print(f"files: {len(held):,} scored records in {work / 'files'}; {len(alerts)} alerts")
        for name in sorted(frauds):
            print(f"  {name:18s} {by_pattern.get(name, 0)} of {frauds[name]} fraudulent transactions alerted")
        print(f"  {'(honest)':18s} {by_pattern.get('(honest)', 0)} alerts on honest transactions")
        sizes = collections.Counter(h["segment_name"] or "(not segmented)" for h in held)
        print("segments of the scored transactions' customers:")
        for name, n in sizes.most_common():
            print(f"  {name:34s} {n:7,d} transactions")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
