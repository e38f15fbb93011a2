"""bank_stream_scorer under hostile input, on a real Redis (its own port, directory and append-only
file with `appendfsync always`, as in test_stream_redis.py, whose cases these do not repeat):

* poison at 10% of the stream, of every kind, is rejected to the error stream with a reason
  naming the problem, and touches no customer's state: the valid records score as they do alone;
* a 100 MB record is rejected unread ("record too large") with the scorer's memory bounded and
  given back; big records under --max-record-bytes keep it bounded by the micro-batch;
* Redis killed (SIGKILL) and restarted from its append-only file, and every connection cut
  (CLIENT KILL TYPE normal), again and again while records are published;
* an output stream capped by --max-output-length, drained by bank_stream_sink (killed once on
  the way): the scorer waits instead of dropping, and the sink's files hold every record once;
* a long poison-heavy run: the scorer's resident memory stays flat;
* an error stream capped by --max-errors-length keeps about that many of the newest rejections
  while a flood of bad records goes by, and the good records still score exactly once.

Each checks that every input entry comes out exactly once (scored or rejected) with the scores
of an uninterrupted --stdin run. Memory is the scorer's VmRSS / VmHWM from /proc."""
import json
import os
import pathlib
import signal
import subprocess
import threading
import time

import pytest

from bank import generate
from bank.replay import publish

REPO = pathlib.Path(__file__).resolve().parents[3]
MODEL = REPO / "examples/models/bank_fraud.json"
redis = pytest.importorskip("redis")
MiB = 1 << 20
# Under a sanitizer (scripts/sanitize.sh and tsan.sh set FLORESTA_SANITIZER) memory is the
# sanitizer's (ASan's quarantine, TSan's shadow): reported, not bounded.
MEMORY_BOUNDED = not os.environ.get("FLORESTA_SANITIZER")


def binary(name="bank_stream_scorer"):
    variable = "BANK_STREAM_SCORER" if name == "bank_stream_scorer" else "BANK_STREAM_SINK"
    path = pathlib.Path(os.environ.get(variable, REPO / "build/examples/bank" / name))
    if not path.is_file():
        pytest.fail(f"{path} is missing: build it with `make`")
    return path


def start(server, tmp_path, *args, name="bank_stream_scorer"):
    log = open(tmp_path / f"{name}-{time.monotonic_ns()}.log", "w")
    process = subprocess.Popen([str(binary(name)), "--redis-port", str(server.port), *map(str, args)],
                               stdout=subprocess.DEVNULL, stderr=log)
    process.log_path = pathlib.Path(log.name)
    return process


def start_scorer(server, tmp_path, *args, batch=64):
    """Runs until SIGTERM (no --idle-exit-ms: a Redis that is down for a while must not end it)."""
    return start(server, tmp_path, "--fraud-model", MODEL, "--consumer", "c1", "--batch", batch, "--block-ms", 100, *args)


def stop(process):
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 0, process.log_path.read_text()[-3000:]


def memory(pid):
    """(VmRSS, VmHWM) of a live process, in bytes."""
    fields = dict(line.split(":", 1) for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return int(fields["VmRSS"].split()[0]) * 1024, int(fields["VmHWM"].split()[0]) * 1024


def wait_until(condition, timeout, what):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.02)


def done(client, n):
    """Every one of the n input entries committed (scored or rejected), none pending."""
    return (client.xlen("scored") + client.xlen("rejected") >= n
            and client.xpending("transactions", "scorers")["pending"] == 0)


def reference(records, *args):
    """id_transacao -> (fraud probability, an alert's reasons or None), --stdin on the records in order."""
    text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
    result = subprocess.run([str(binary()), "--stdin", "--fraud-model", str(MODEL), *map(str, args)], input=text,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    return {o["id_transacao"]: (o["fraud_probability"], o.get("reasons")) for o in map(json.loads, result.stdout.splitlines())}


def decode(fields):
    return {k.decode(): v.decode() for k, v in fields.items()}


def outputs(client):
    return [decode(f) for _, f in client.xrange("scored")], [decode(f) for _, f in client.xrange("rejected")]


def scores(scored):
    return {s["id_transacao"]: (float(s["fraud_probability"]), json.loads(s["reasons"]) if "reasons" in s else None)
            for s in scored}


def assert_exactly_once(published, scored, rejected, expected, poison):
    """Each input entry once across the scored and rejected records, the rejected ones exactly the
    poison (entry id -> a text the reason must hold), the scores and reasons those of `expected`."""
    seen = [s["entry"] for s in scored] + [r["entry"] for r in rejected]
    assert len(seen) == len(set(seen)) and sorted(seen) == sorted(published), (len(seen), len(set(seen)), len(published))
    reasons = {r["entry"]: r["error"] for r in rejected}
    assert set(reasons) == set(poison)
    wrong = {e: (reasons[e], want) for e, want in poison.items() if want.lower() not in reasons[e].lower()}
    assert not wrong, wrong
    assert scores(scored) == expected


# --- poison: every kind of bad record, each with the text its reason must hold --------------

def poison_kinds(good, earlier):
    """[(what the reason says, fields of the entry as a list of (name, bytes))] made from a valid
    record `good` (a dict) — same customer, a later time, so that one taken in would change the
    scores after it — and `earlier`, an already published record of the same customer."""
    def text(d):
        return json.dumps(d, ensure_ascii=False).encode()

    def json_field(value):
        return [("json", value if isinstance(value, bytes) else value.encode())]

    g = dict(good)
    body = text(g)
    valor = f'"valor_transacao": {json.dumps(g["valor_transacao"])}'.encode()
    assert valor in body
    deep = b'{"id_transacao": "deep", "descricao": ' + b"[" * 20_000 + b"]" * 20_000 + b"}"
    kinds = [
        ("parse", b"{not json"),
        ("parse", body[: len(body) // 2]),  # cut short
        ("JSON object", b"[1, 2, 3]"),
        ("JSON object", b"42"),
        ("JSON object", b"null"),
        ("JSON object", b'"a text"'),
        ("valor_transacao: missing", text({k: v for k, v in g.items() if k != "valor_transacao"})),
        ("id_cliente: missing", text({k: v for k, v in g.items() if k != "id_cliente"})),
        ("id_cliente: missing", text({**g, "id_cliente": ""})),
        ("valor_transacao: not a number", text({**g, "valor_transacao": "muito"})),
        ("timestamp: not a whole number", text({**g, "timestamp": "2026-01-05"})),
        ("timestamp: not a whole number", text({**g, "timestamp": g["timestamp"] + 0.5})),
        ("id_cliente: not a string or an integer", text({**g, "id_cliente": {"id": g["id_cliente"]}})),
        ("latitude: not a number", text({**g, "latitude": True})),
        ("saldo: not a number", text({**g, "saldo": [1.0]})),
        ("parse", body.replace(valor, b'"valor_transacao": NaN')),
        ("parse", body.replace(valor, b'"valor_transacao": Infinity')),
        ("parse", body.replace(valor, b'"valor_transacao": -Infinity')),
        ("parse", body.replace(valor, b'"valor_transacao": 1e400')),  # overflows a double
        ("valor_transacao: 1e+300 out of range", text({**g, "valor_transacao": 1e300})),
        ("latitude: 91.0 out of range", text({**g, "latitude": 91.0})),
        ("timestamp: 9223372036854775807 out of range", text({**g, "timestamp": 2**63 - 1})),  # would block the customer
        ("timestamp: 18446744073709551615 out of range", text({**g, "timestamp": 2**64 - 1})),
        ("timestamp: -1 out of range", text({**g, "timestamp": -1})),
        ("parse", text({**g, "timestamp": 10**30})),
        ("parse", text({**g, "id_transacao": 10**30})),
        ("UTF-8", body.replace(b'"id_cliente"', b'"id_cliente\xff\xfe"')),  # invalid UTF-8 bytes
        ("UTF-8", body[:-1] + b', "x": "\xc3\x28"}'),
        ("parse", body.replace(b'"id_cliente"', b'"id_cliente\\ud800"')),  # a lone surrogate
        ("parse", body + b"\x00"),
        ("parse", b""),  # an empty entry
        ("parse", b"  \r\n "),
        ("too deep", deep),  # 20,000 nested arrays
        ("valor_transacao: the key appears more than once", body[:-1] + b', "valor_transacao": 1.0}'),
        ("id_cliente: the key appears more than once", body[:-1] + b', "id_cliente": "C-other"}'),
        ("not after the customer's last", text({**earlier, "id_transacao": "replayed-" + earlier["id_transacao"]})),
        ("record too large", text({**g, "descricao": "x" * (80 * 1024)})),  # over --max-record-bytes 65536
    ]
    entries = [(reason, json_field(value)) for reason, value in kinds]
    entries.append(("no `json` field", [("other", b"field")]))
    entries.append(("more than one `json` field", [("json", body), ("json", text({**g, "valor_transacao": 1.0}))]))
    return entries


def publish_entries(client, entries):
    """XADDs each entry (a list of (field, bytes)) to the input stream, pipelined; the entry ids."""
    ids = []
    for start_ in range(0, len(entries), 500):
        pipe = client.pipeline(transaction=False)
        for fields in entries[start_:start_ + 500]:
            pipe.execute_command("XADD", "transactions", "*", *[x for pair in fields for x in pair])
        ids += [i.decode() for i in pipe.execute()]
    return ids


def valid(record):
    return [("json", json.dumps(record, ensure_ascii=False).encode())]


def test_poison_at_ten_percent_is_rejected_with_its_reason_and_touches_no_state(server, tmp_path):
    records = list(generate.records(generate.generate(80, days=10, seed=61)))
    last_of = {}
    entries, reasons, unknown, fed = [], [], [], []  # reasons: None for a valid entry
    for k, r in enumerate(records):
        entries.append(valid(r))
        reasons.append(None)
        fed.append(r)
        earlier = last_of.get(r["id_cliente"])
        last_of[r["id_cliente"]] = r
        poisoned = sum(x is not None for x in reasons)
        if poisoned < (k + 1) // 9 and earlier is not None:  # one entry in ten is poison
            following = next((q for q in records[k + 1:k + 2000] if q["id_cliente"] == r["id_cliente"]), None)
            if following is not None:
                kinds = poison_kinds({**following, "id_transacao": f"P{k}"}, r)
                reason, fields = kinds[poisoned % len(kinds)]
                entries.append(fields)
                reasons.append(reason)
        if k % 300 == 150:  # a customer never seen before is not poison: scored from an empty state
            stranger = {**r, "id_cliente": f"STRANGER-{k}", "id_transacao": f"S{k}"}
            entries.append(valid(stranger))
            reasons.append(None)
            unknown.append(stranger)
            fed.append(stranger)
    published = publish_entries(server.client, entries)
    poison = {e: reason for e, reason in zip(published, reasons) if reason is not None}
    all_kinds = poison_kinds(records[1], records[0])
    assert len(set(poison.values())) == len({reason for reason, _ in all_kinds})  # every kind, several times
    assert len(poison) >= 3 * len(all_kinds)
    assert 0.09 <= len(poison) / len(published) <= 0.11
    scorer = start_scorer(server, tmp_path, "--max-record-bytes", 65536, batch=32)
    wait_until(lambda: done(server.client, len(published)), 120, "the scorer did not finish")
    stop(scorer)
    scored, rejected = outputs(server.client)
    expected = reference(fed)
    assert_exactly_once(published, scored, rejected, expected, poison)
    # the valid records score as they do alone: no poison record touched a state
    alone = reference(records)
    assert {i: v for i, v in expected.items() if not i.startswith("S")} == alone
    strangers = {s["id_transacao"] for s in scored if s["id_cliente"].startswith("STRANGER")}
    assert strangers == {u["id_transacao"] for u in unknown}
    # a record rejected for a field says which transaction it was
    ids = {r["entry"]: r["id_transacao"] for r in rejected}
    assert all(ids[e].startswith("P") for e, reason in poison.items() if ":" in reason), ids
    log = scorer.log_path.read_text()
    assert f"records in {len(published)}, scored {len(fed)}, rejected {len(poison)}" in log


# --- a 100 MB record, and big records that are allowed ---------------------------------------

def test_a_100_mb_record_is_rejected_unread_and_memory_is_given_back(server, tmp_path):
    records = list(generate.records(generate.generate(40, days=6, seed=62)))
    half = len(records) // 2
    ids = publish(server.client, "transactions", records[:half])
    scorer = start_scorer(server, tmp_path, batch=16)
    wait_until(lambda: done(server.client, len(ids)), 60, "the first half was not scored")
    _, before = memory(scorer.pid)  # the peak of a normal run: the model, the states, the buffers
    huge = json.dumps({**records[half], "id_transacao": "HUGE", "descricao": "x" * (100 * MiB)})
    big = server.client.xadd("transactions", {"json": huge}).decode()
    del huge
    ids += [big] + publish(server.client, "transactions", records[half:])
    wait_until(lambda: done(server.client, len(ids)), 120, "the rest was not scored")
    after, peak = memory(scorer.pid)
    stop(scorer)
    scored, rejected = outputs(server.client)
    assert_exactly_once(ids, scored, rejected, reference(records), {big: "record too large: 1048"})
    # hiredis holds the reply in its read buffer while it arrives (one copy: the value is not
    # copied out into the reply, Redis::append's cap), and gives it back once read
    print(f"\nscorer VmHWM before {before / MiB:.1f} MiB, with the 100 MB record {peak / MiB:.1f} MiB, "
          f"VmRSS after {after / MiB:.1f} MiB")
    if MEMORY_BOUNDED:
        assert peak - before <= 100 * MiB * 1.15 + 16 * MiB
        assert after <= before + 16 * MiB


def test_big_records_under_the_limit_keep_memory_within_the_micro_batches(server, tmp_path):
    """Each of 192 records holds 240 KiB (a long `descricao`), under --max-record-bytes 256 KiB:
    all scored, and the scorer's memory above its normal peak stays within 15 micro-batches of
    the largest records allowed (README: up to about 12 micro-batches' entries are held at once —
    three in flight, those queued, a read-ahead of three — plus the reply being read, in
    hiredis's read buffer)."""
    records = list(generate.records(generate.generate(40, days=6, seed=63)))
    small = publish(server.client, "transactions", records[:200])
    batch, most = 16, 256 * 1024
    scorer = start_scorer(server, tmp_path, "--max-record-bytes", most, batch=batch)
    wait_until(lambda: done(server.client, len(small)), 60, "the first records were not scored")
    _, before = memory(scorer.pid)
    padded = [{**r, "descricao": "y" * (240 * 1024)} for r in records[200:392]]
    assert all(len(json.dumps(r)) <= most for r in padded)
    scorer.send_signal(signal.SIGSTOP)  # so that they wait in the stream: full micro-batches, read ahead
    try:
        ids = small + publish(server.client, "transactions", padded, batch=50)
    finally:
        scorer.send_signal(signal.SIGCONT)
    wait_until(lambda: done(server.client, len(ids)), 120, "the big records were not scored")
    after, peak = memory(scorer.pid)
    stop(scorer)
    scored, rejected = outputs(server.client)
    assert_exactly_once(ids, scored, rejected, reference(records[:392]), {})
    print(f"\nscorer VmHWM before {before / MiB:.1f} MiB, with 192 records of 240 KiB {peak / MiB:.1f} MiB "
          f"(bound {15 * batch * most / MiB:.0f} MiB more), VmRSS after {after / MiB:.1f} MiB")
    if MEMORY_BOUNDED:
        assert peak - before <= 15 * batch * most


# --- Redis going away again and again while records flow ------------------------------------

class Publisher(threading.Thread):
    """Publishes the records one by one with ids of its own ("<ms>-<n>"), through Redis restarts
    and cut connections: after an error it sends the same entry again, and Redis's answer that
    the id is not above the last one means the first try was written. So every record is in the
    stream exactly once, whatever the failures."""

    def __init__(self, port, records, pause=0.0005):
        super().__init__(daemon=True)
        self.port, self.records, self.pause = port, records, pause
        self.ids, self.errors, self.failure = [], 0, None
        self.base = int(time.time() * 1000)

    def run(self):
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        client = redis.Redis(port=self.port, socket_timeout=5, retry=Retry(NoBackoff(), 0))  # retried here
        try:
            for n, record in enumerate(self.records, start=1):
                entry = f"{self.base}-{n}"
                while True:
                    try:
                        client.xadd("transactions", {"json": json.dumps(record, ensure_ascii=False)}, id=entry)
                        break
                    except redis.ResponseError as error:
                        if "equal or smaller" in str(error):
                            break  # the try before was written
                        raise
                    except (redis.ConnectionError, redis.TimeoutError):
                        self.errors += 1
                        time.sleep(0.02)
                self.ids.append(entry)
                time.sleep(self.pause)
        except Exception as error:  # reported by the test
            self.failure = error


def test_repeated_redis_kills_and_cut_connections_while_records_flow(server, tmp_path):
    records = list(generate.records(generate.generate(100, days=8, seed=64)))
    publisher = Publisher(server.port, records, pause=0.001)
    scorer = start_scorer(server, tmp_path, batch=16)
    publisher.start()
    admin = server.client
    disruptions = ["redis SIGKILL", "CLIENT KILL", "redis SIGKILL", "CLIENT KILL", "CLIENT KILL", "redis SIGKILL"]
    during = []
    for what in disruptions:
        before = admin.xlen("scored")
        wait_until(lambda: admin.xlen("scored") > before + 20, 60, f"no progress before {what}")
        if what == "CLIENT KILL":
            assert admin.execute_command("CLIENT", "KILL", "TYPE", "normal") >= 1  # (not this connection)
        else:
            server.kill()
            time.sleep(0.3)  # down a while: the scorer and the publisher retry
            admin = server.client = server.start()  # same port and directory: from the append-only file
        during.append(len(publisher.ids))
    publisher.join(timeout=120)
    assert not publisher.is_alive() and publisher.failure is None, publisher.failure
    assert during[-1] < len(records), "the disruptions should land while records are being published"
    wait_until(lambda: done(admin, len(records)), 120, "the scorer did not finish")
    stop(scorer)
    assert admin.xlen("transactions") == len(records)
    scored, rejected = outputs(admin)
    assert_exactly_once(publisher.ids, scored, rejected, reference(records), {})
    log = scorer.log_path.read_text()
    assert log.count("reconnecting") >= len(disruptions), log[-3000:]
    print(f"\n{len(disruptions)} disruptions, scorer reconnections {log.count('reconnecting')}, "
          f"publisher retries {publisher.errors}")


# --- a capped output stream, drained by the sink --------------------------------------------

def files_hold(directory):
    lines = []
    for path in sorted(directory.glob("part-*.jsonl")):
        lines += [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    return lines


def test_a_capped_output_stream_makes_the_scorer_wait_and_loses_nothing(server, tmp_path):
    records = list(generate.records(generate.generate(60, days=8, seed=65)))[:1500]
    entries, bad = [], []
    for k, r in enumerate(records):
        entries.append(valid(r))
        bad.append(False)
        if k % 10 == 9:
            entries.append([("json", b"[\"poison\"]")])
            bad.append(True)
    ids = publish_entries(server.client, entries)
    poison = {e: "JSON object" for e, b in zip(ids, bad) if b}
    cap, batch = 100, 32
    scorer = start_scorer(server, tmp_path, "--max-output-length", cap, batch=batch)
    client = server.client
    longest = [0]

    def watch(condition):
        def check():
            longest[0] = max(longest[0], client.xlen("scored"))
            return condition()
        return check

    # no consumer group on the output stream yet: nothing may be trimmed, so the scorer stops at the cap
    wait_until(watch(lambda: "waiting for its consumer groups" in scorer.log_path.read_text()), 60, "no backpressure")
    time.sleep(1.0)
    assert cap <= client.xlen("scored") < cap + batch
    assert client.xlen("scored") + client.xlen("rejected") < len(ids)  # it waits, its entries pending
    directory = tmp_path / "files"
    directory.mkdir()
    sink_args = ("--dir", directory, "--records", 50, "--seconds", 1)
    sink = start(server, tmp_path, *sink_args, name="bank_stream_sink")
    wait_until(watch(lambda: len(files_hold(directory)) >= 400), 120, "the sink did not drain")
    sink.send_signal(signal.SIGKILL)  # with entries read and not acknowledged: they must not be trimmed
    sink.wait(timeout=30)
    time.sleep(0.5)
    sink = start(server, tmp_path, *sink_args, name="bank_stream_sink")
    wait_until(watch(lambda: len(files_hold(directory)) >= len(records)), 120, "the sink did not finish")
    wait_until(watch(lambda: client.xpending("transactions", "scorers")["pending"] == 0), 60, "entries left pending")
    stop(sink)
    stop(scorer)
    held = files_hold(directory)
    _, rejected = outputs(client)
    assert_exactly_once(ids, held, rejected, reference(records), poison)
    assert longest[0] < cap + batch and client.xlen("scored") < cap + batch
    assert client.xpending("scored", "sink")["pending"] == 0
    print(f"\noutput stream at most {longest[0]} entries seen (cap {cap}, batch {batch}); "
          f"{sum(1 for line in scorer.log_path.read_text().splitlines() if 'waiting' in line)} waits reported")


# --- memory over a long poison-heavy run ----------------------------------------------------

def test_memory_stays_flat_over_a_long_poison_heavy_run(server, tmp_path):
    """Three rounds of 6,000 entries, half of them poison of every kind (some over the record
    limit, 1.5 MiB each): the scorer's resident memory after the third round is within 8 MiB of
    after the first (a leak of a few hundred bytes per record would show)."""
    records = list(generate.records(generate.generate(100, days=36, seed=66)))
    assert len(records) >= 9000
    kinds = poison_kinds(records[1], records[0])
    too_big = [("json", b"[" + b" " * int(1.5 * MiB) + b"]")]
    scorer = start_scorer(server, tmp_path, batch=64)
    total, samples = 0, []
    rounds = [records[k * 3000:(k + 1) * 3000] for k in range(3)]
    for round_ in rounds:
        pipe = server.client.pipeline(transaction=False)
        for k, r in enumerate(round_):
            pipe.xadd("transactions", {"json": json.dumps(r, ensure_ascii=False)})
            fields = too_big if k % 300 == 0 else kinds[k % len(kinds)][1]
            pipe.execute_command("XADD", "transactions", "*", *[x for f in fields for x in f])
        pipe.execute()
        total += 2 * len(round_)
        wait_until(lambda: done(server.client, total), 120, "a round was not scored")
        samples.append(memory(scorer.pid))
    stop(scorer)
    scored, rejected = outputs(server.client)
    assert len(scored) + len(rejected) == total == server.client.xlen("transactions")
    rss = [r for r, _ in samples]
    print("\nscorer VmRSS after each round " + ", ".join(f"{r / MiB:.1f}" for r in rss) +
          f" MiB; VmHWM {samples[-1][1] / MiB:.1f} MiB")
    if MEMORY_BOUNDED:
        assert rss[2] <= rss[0] + 8 * MiB
        assert samples[-1][1] <= samples[0][1] + 8 * MiB  # no new peak either


def test_a_capped_error_stream_keeps_the_newest_rejections_through_a_flood(server, tmp_path):
    """Nine bad records after each of 217 good ones (1,953) with --max-errors-length 200: the error stream
    ends with 200 to 200 + one Redis stream node (100 entries) of the newest rejections, in
    order; every entry is acknowledged, each valid one scored once as --stdin scores it; the
    scorer counted every rejection."""
    records = list(generate.records(generate.generate(20, days=3, seed=67)))  # 217
    kinds = poison_kinds(records[1], records[0])
    entries, bad = [], []
    for k, r in enumerate(records):
        entries.append(valid(r))
        for j in range(9):
            entries.append(kinds[(9 * k + j) % len(kinds)][1])
            bad.append(len(entries) - 1)
    published = publish_entries(server.client, entries)
    scorer = start_scorer(server, tmp_path, "--max-errors-length", 200, "--max-record-bytes", 65536, batch=64)

    def committed():
        groups = server.client.xinfo_groups("transactions")  # none until the scorer makes its group
        return bool(groups) and groups[0]["last-delivered-id"].decode() == published[-1] and groups[0]["pending"] == 0

    wait_until(committed, 120, "the scorer did not commit every entry")
    stop(scorer)
    scored, rejected = outputs(server.client)
    assert sorted(s["entry"] for s in scored) == sorted(published[i] for i in range(len(published)) if i not in set(bad))
    assert scores(scored) == reference(records)
    kept = [r["entry"] for r in rejected]
    assert 200 <= len(kept) <= 300, len(kept)
    assert kept == [published[i] for i in bad[-len(kept):]]  # the newest, in the order they came
    assert f"rejected {len(bad)}" in scorer.log_path.read_text()
