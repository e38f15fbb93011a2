"""Publishes transactions to a Redis Stream, one entry per transaction with its JSON Lines
record in the field ``json`` — the input of bank_stream_scorer.

    python -m bank.replay --port 6379 --customers 500 --days 20                # as fast as possible
    python -m bank.replay --port 6379 --jsonl day.jsonl --rate 2000             # 2,000 a second

``--rate`` keeps a fixed schedule (open loop): record i is due at start + i / rate whatever the
reader does, and what is due goes in one pipelined round trip, so a slow scorer shows up as
latency, not as a slower replay. Without it the records go in pipelined batches as fast as
Redis takes them.
"""
import argparse
import json
import sys
import time

from . import generate
from .features import read_jsonl


def publish(client, stream, records, rate=None, batch=500):
    """XADDs each record (a dict, or a line of JSON text) to ``stream``; returns the entry ids.

    With ``rate``, record i is due at start + i / rate: whatever is due is sent at once in one
    pipeline (one round trip), so the schedule holds at rates one XADD a round trip could not
    reach, and a slow reader never slows it down (open loop)."""
    texts = [r if isinstance(r, str) else json.dumps(r, ensure_ascii=False) for r in records]
    ids = []
    begin = time.perf_counter()
    sent = 0
    while sent < len(texts):
        if rate:
            due = min(len(texts), int((time.perf_counter() - begin) * rate) + 1)
            if due <= sent:
                time.sleep(max(0.0, begin + sent / rate - time.perf_counter()))
                continue
        else:
            due = min(len(texts), sent + batch)
        pipe = client.pipeline(transaction=False)
        for text in texts[sent:due]:
            pipe.xadd(stream, {"json": text})
        ids += pipe.execute()
        sent = due
    return [i.decode() if isinstance(i, bytes) else i for i in ids]


def main(argv=None):
    import redis

    parser = argparse.ArgumentParser(prog="python -m bank.replay", description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=6379)
    parser.add_argument("--stream", default="transactions", help="the stream to add to (default %(default)s)")
    parser.add_argument("--jsonl", help="records from this JSON Lines file (or partitioned directory) instead of generating")
    parser.add_argument("--customers", type=int, default=500)
    parser.add_argument("--days", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--rate", type=float, default=None, help="records a second (default: as fast as possible)")
    args = parser.parse_args(argv)
    if args.jsonl:
        records = read_jsonl(args.jsonl)
    else:
        records = list(generate.records(generate.generate(args.customers, args.days, seed=args.seed)))
    client = redis.Redis(host=args.host, port=args.port)
    begin = time.perf_counter()
    ids = publish(client, args.stream, records, rate=args.rate)
    print(f"published {len(ids):,} transactions to {args.stream} in {time.perf_counter() - begin:.1f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
