"""bank_stream_scorer on a real Redis (started by these tests, append-only file with fsync
always): every input entry ends up exactly once in the scored or the rejected stream, with the
scores of an uninterrupted run, when the scorer is killed with SIGKILL, when Redis itself is
killed and restarted from its append-only file, and when a consumer dies with entries pending.
The reference scores come from the --stdin mode on the same records, which
test_stream_scorer.py proves equal to the Python definition and floresta's scoring."""
import json
import os
import pathlib
import random
import signal
import struct
import subprocess
import time

import pytest

from bank import generate
from bank.replay import publish


REPO = pathlib.Path(__file__).resolve().parents[3]
MODEL = REPO / "examples/models/bank_fraud.json"
redis = pytest.importorskip("redis")


def binary():
    path = pathlib.Path(os.environ.get("BANK_STREAM_SCORER", REPO / "build/examples/bank/bank_stream_scorer"))
    if not path.is_file():
        pytest.fail(f"{path} is missing: build it with `make`")
    return path


def start_scorer(server, tmp_path, *args, consumer="c1", batch=64, idle_exit_ms=1500):
    log = open(tmp_path / f"scorer-{consumer}-{time.monotonic_ns()}.log", "w")
    command = [str(binary()), "--fraud-model", str(MODEL), "--redis-port", str(server.port), "--consumer", consumer,
               "--batch", str(batch), "--block-ms", "100", *map(str, args)]
    if idle_exit_ms:
        command += ["--idle-exit-ms", str(idle_exit_ms)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=log)
    process.log_path = pathlib.Path(log.name)
    return process


def wait_for_progress(client, before, timeout=60):
    """Until the scored stream has grown past `before` (the scorer is working)."""
    deadline = time.monotonic() + timeout
    while client.xlen("scored") <= before:
        assert time.monotonic() < deadline, "the scorer made no progress"
        time.sleep(0.01)


def reference(records, *args):
    """id_transacao -> (fraud probability, an alert's reasons or None) from the --stdin mode, on
    the good records in order."""
    text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
    result = subprocess.run([str(binary()), "--stdin", "--fraud-model", str(MODEL), *map(str, args)], input=text,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    return {o["id_transacao"]: (o["fraud_probability"], o.get("reasons")) for o in map(json.loads, result.stdout.splitlines())}


def outputs(client):
    decode = lambda fields: {k.decode(): v.decode() for k, v in fields.items()}  # noqa: E731
    scored = [decode(f) for _, f in client.xrange("scored")]
    rejected = [decode(f) for _, f in client.xrange("rejected")]
    return scored, rejected


def assert_exactly_once(client, published, expected, bad_ids=()):
    scored, rejected = outputs(client)
    seen = [s["entry"] for s in scored] + [r["entry"] for r in rejected]
    assert sorted(seen) == sorted(published), (len(seen), len(published))  # each entry once, none lost
    assert {r["entry"] for r in rejected} == set(bad_ids)
    got = {s["id_transacao"]: (float(s["fraud_probability"]), json.loads(s["reasons"]) if "reasons" in s else None)
           for s in scored}
    assert got == expected  # the scores and the alerts' reasons of an uninterrupted run, bit for bit
    assert all(s["alert"] in ("0", "1") for s in scored)
    with_reasons = any(r is not None for _, r in expected.values())  # (none with --reasons 0)
    assert all(("reasons" in s) == (with_reasons and s["alert"] == "1") for s in scored)
    assert client.xpending("transactions", "scorers")["pending"] == 0


def test_end_to_end_with_bad_records(server, tmp_path):
    frame = generate.generate(120, days=8, seed=41)
    records = list(generate.records(frame))
    bad = ["{not json", json.dumps({**records[0], "id_transacao": "X1", "valor_transacao": "muito"}),
           json.dumps({k: v for k, v in records[1].items() if k != "id_cliente"})]
    half = len(records) // 2
    ids = publish(server.client, "transactions", records[:half])
    bad_ids = publish(server.client, "transactions", bad)
    ids += bad_ids + publish(server.client, "transactions", records[half:])
    server.client.xadd("transactions", {"other": "field"})  # an entry without `json`
    ids.append(server.client.xrevrange("transactions", count=1)[0][0].decode())
    bad_ids.append(ids[-1])
    from bank import segments

    table = segments.assign(frame)
    segments.write(table, tmp_path / "segments.jsonl")
    scorer = start_scorer(server, tmp_path, "--segments", tmp_path / "segments.jsonl")
    assert scorer.wait(timeout=120) == 0, scorer.log_path.read_text()
    assert_exactly_once(server.client, ids, reference(records), bad_ids)
    names = table.set_index("id_cliente")["segment_name"]
    scored, _ = outputs(server.client)
    alerts = [s for s in scored if s["alert"] == "1"]
    assert alerts and all(len(json.loads(s["reasons"])) == 3 for s in alerts)  # reasons on alerts only (above)
    assert all(s["segment_name"] == names[s["id_cliente"]] for s in scored)
    _, rejected = outputs(server.client)
    reasons = {r["entry"]: r["error"] for r in rejected}
    assert "parse" in reasons[bad_ids[0]] and "valor_transacao" in reasons[bad_ids[1]]
    assert "id_cliente: missing" in reasons[bad_ids[2]] and "json" in reasons[bad_ids[3]]
    summary = scorer.log_path.read_text()
    assert f"records in {len(ids)}, scored {len(records)}, rejected {len(bad_ids)}" in summary
    assert "latency p50" in summary
    state = read_state(server.client.get(f"bank:state:{records[0]['id_cliente']}"))
    assert state["version"] == 2 and state["count"] == int((frame["id_cliente"] == records[0]["id_cliente"]).sum())


class StateBytes:
    """A customer's state as stored in Redis, read and written by the layouts the scorer's
    features.hpp documents (written here from that text, not from the C++): version 1, fixed
    8-byte numbers and 4-byte counts; version 2, varints (zigzag; timestamps as differences from
    the last one), amounts and coordinates as decimal integers (cents, micro-degrees: an even
    varint) or a 1 and the double's 8 bytes."""

    def __init__(self, data=b""):
        self.data, self.at = data, 0

    def varint(self):
        value = shift = 0
        while True:
            b = self.data[self.at]
            self.at += 1
            value |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                return value

    def take(self, fmt):
        (value,) = struct.unpack_from(fmt, self.data, self.at)
        self.at += struct.calcsize(fmt)
        return value

    def integer(self, v2):
        if not v2:
            return self.take("<q")
        u = self.varint()
        return (u >> 1) ^ -(u & 1)

    def real(self, v2, digits):
        if not v2:
            return self.take("<d")
        u = self.varint()
        return self.take("<d") if u == 1 else ((u >> 2) ^ -((u >> 1) & 1)) / 10**digits

    def count(self, v2):
        return self.varint() if v2 else self.take("<I")

    def text(self, v2):
        n = self.count(v2)
        self.at += n
        return self.data[self.at - n:self.at]


def read_state(data):
    r = StateBytes(data)
    version = r.take("<b")
    v2 = version == 2
    s = {"version": version, "count": r.integer(v2), "flags": r.take("<b")}
    last_t, last_credit = r.integer(v2), r.integer(v2)
    base = last_t if v2 else 0
    s.update(last_t=last_t, last_credit=last_credit + base, last_saldo=r.real(v2, 2), last_latitude=r.real(v2, 6),
             last_longitude=r.real(v2, 6))
    s["window"] = [(r.integer(v2) + base, r.real(v2, 2), r.take("<b")) for _ in range(r.count(v2))]
    s["history"] = [(r.real(v2, 2), r.real(v2, 6), r.real(v2, 6)) for _ in range(r.count(v2))]
    s["devices"] = [(r.text(v2), r.integer(v2) + base) for _ in range(r.count(v2))]
    s["beneficiaries"] = [r.text(v2) for _ in range(r.count(v2))]
    s["bands"] = [(r.integer(v2), r.integer(v2)) for _ in range(r.count(v2))]
    assert r.at == len(data)
    return s


def version_1(s):
    """The state in the layout of version 1 (what a scorer before version 2 wrote)."""
    q, d = (lambda v: struct.pack("<q", v)), (lambda v: struct.pack("<d", v))
    text = lambda t: struct.pack("<I", len(t)) + t  # noqa: E731
    out = [b"\x01", q(s["count"]), struct.pack("<b", s["flags"]), q(s["last_t"]), q(s["last_credit"]),
           d(s["last_saldo"]), d(s["last_latitude"]), d(s["last_longitude"]), struct.pack("<I", len(s["window"]))]
    out += [q(t) + d(v) + struct.pack("<b", b) for t, v, b in s["window"]]
    out += [struct.pack("<I", len(s["history"]))] + [d(v) + d(a) + d(o) for v, a, o in s["history"]]
    out += [struct.pack("<I", len(s["devices"]))] + [text(i) + q(t) for i, t in s["devices"]]
    out += [struct.pack("<I", len(s["beneficiaries"]))] + [text(b) for b in s["beneficiaries"]]
    out += [struct.pack("<I", len(s["bands"]))] + [q(b) + q(n) for b, n in s["bands"]]
    return b"".join(out)


def test_states_written_by_the_previous_version_are_read(server, tmp_path):
    """A scorer upgraded over a Redis that holds version-1 states goes on from them: half the
    transactions scored, every state rewritten in version 1's layout, the other half scored;
    the scores are an uninterrupted run's. (Version 2 is about 45% of version 1's size.)"""
    records = list(generate.records(generate.generate(40, days=6, seed=53)))
    half = len(records) // 2
    ids = publish(server.client, "transactions", records[:half])
    assert start_scorer(server, tmp_path).wait(timeout=120) == 0
    keys = list(server.client.scan_iter("bank:state:*"))
    new = {k: server.client.get(k) for k in keys}
    old = {k: version_1(read_state(v)) for k, v in new.items()}
    assert all(read_state(old[k]) | {"version": 2} == read_state(v) for k, v in new.items())
    assert sum(map(len, new.values())) < 0.6 * sum(map(len, old.values()))
    server.client.mset(old)
    ids += publish(server.client, "transactions", records[half:])
    assert start_scorer(server, tmp_path).wait(timeout=120) == 0
    assert_exactly_once(server.client, ids, reference(records))
    again = {f"bank:state:{r['id_cliente']}".encode() for r in records[half:]}
    assert {k: server.client.get(k)[0] for k in keys} == {k: 2 if k in again else 1 for k in keys}  # rewritten when used


def test_unknown_customers_go_to_the_error_stream_when_the_segment_table_is_the_register(server, tmp_path):
    from bank import segments

    frame = generate.generate(30, days=5, seed=59)
    records = list(generate.records(frame))
    stranger = records[0]["id_cliente"]
    segments.write(segments.assign(frame[frame["id_cliente"] != stranger]), tmp_path / "segments.jsonl")
    ids = publish(server.client, "transactions", records)
    bad_ids = [entry for entry, r in zip(ids, records) if r["id_cliente"] == stranger]
    scorer = start_scorer(server, tmp_path, "--segments", tmp_path / "segments.jsonl", "--unknown-customers", "reject")
    assert scorer.wait(timeout=120) == 0, scorer.log_path.read_text()
    others = [r for r in records if r["id_cliente"] != stranger]
    assert_exactly_once(server.client, ids, reference(others), bad_ids)
    _, rejected = outputs(server.client)
    assert all(r["error"].startswith(f"id_cliente: unknown customer '{stranger}'") for r in rejected)
    assert server.client.get(f"bank:state:{stranger}") is None  # no state for a rejected customer


def test_a_damaged_state_stops_the_scorer_with_the_reason_and_loses_nothing(server, tmp_path):
    records = list(generate.records(generate.generate(20, days=3, seed=47)))
    ids = publish(server.client, "transactions", records)
    server.client.set(f"bank:state:{records[0]['id_cliente']}", b"\x01\x02\x03")
    scorer = start_scorer(server, tmp_path)
    assert scorer.wait(timeout=60) == 1
    assert "state: truncated" in scorer.log_path.read_text()
    assert server.client.xlen("scored") == 0  # the batch was not committed: its entries wait
    server.client.delete(f"bank:state:{records[0]['id_cliente']}")
    scorer = start_scorer(server, tmp_path)
    assert scorer.wait(timeout=60) == 0
    assert_exactly_once(server.client, ids, reference(records))


def test_sigkill_at_random_moments_loses_and_repeats_nothing(server, tmp_path):
    records = list(generate.records(generate.generate(250, days=14, seed=42)))
    ids = publish(server.client, "transactions", records)
    rng = random.Random(7)
    interrupted = 0
    for _ in range(4):
        before = server.client.xlen("scored")
        scorer = start_scorer(server, tmp_path, batch=16, idle_exit_ms=0)
        wait_for_progress(server.client, before)  # then a random moment of the work
        time.sleep(rng.uniform(0.0, 0.15))
        scorer.send_signal(signal.SIGKILL)
        scorer.wait(timeout=30)
        done = server.client.xlen("scored")
        interrupted += 0 < done < len(ids)
    assert interrupted >= 2, "the kills should land while entries remain"
    scorer = start_scorer(server, tmp_path, batch=16)
    assert scorer.wait(timeout=300) == 0, scorer.log_path.read_text()
    assert_exactly_once(server.client, ids, reference(records))


def test_redis_killed_and_restarted_from_its_append_only_file(server, tmp_path):
    records = list(generate.records(generate.generate(250, days=14, seed=43)))
    ids = publish(server.client, "transactions", records)
    scorer = start_scorer(server, tmp_path, batch=16, idle_exit_ms=4000)
    wait_for_progress(server.client, 0)
    # Counted just before the kill (after the restart, the reconnected scorer may already have
    # finished the rest, on a busy machine's timing).
    done_before = server.client.xlen("scored")
    server.kill()
    server.client = server.start()  # same port, same directory: the append-only file
    assert scorer.wait(timeout=300) == 0, scorer.log_path.read_text()
    assert 0 < done_before < len(ids), "Redis should go down mid-run"
    assert "reconnecting" in scorer.log_path.read_text()
    assert_exactly_once(server.client, ids, reference(records))


def test_a_dead_consumers_pending_entries_are_claimed(server, tmp_path):
    records = list(generate.records(generate.generate(60, days=6, seed=44)))
    ids = publish(server.client, "transactions", records)
    server.client.xgroup_create("transactions", "scorers", id="0")
    taken = server.client.xreadgroup("scorers", "dead", {"transactions": ">"}, count=100)
    assert len(taken[0][1]) == 100 and server.client.xpending("transactions", "scorers")["pending"] == 100
    time.sleep(0.2)
    scorer = start_scorer(server, tmp_path, "--claim-idle-ms", 100, consumer="alive")
    assert scorer.wait(timeout=120) == 0, scorer.log_path.read_text()
    assert_exactly_once(server.client, ids, reference(records))


def test_reasons_turned_off_leave_the_scored_records_as_they_were(server, tmp_path):
    records = list(generate.records(generate.generate(60, days=14, seed=36)))
    ids = publish(server.client, "transactions", records)
    scorer = start_scorer(server, tmp_path, "--reasons", 0)
    assert scorer.wait(timeout=120) == 0, scorer.log_path.read_text()
    expected = reference(records, "--reasons", 0)
    assert_exactly_once(server.client, ids, expected)
    scored, _ = outputs(server.client)
    assert any(s["alert"] == "1" for s in scored) and all("reasons" not in s for s in scored)
    assert {k: p for k, (p, _) in expected.items()} == {k: p for k, (p, _) in reference(records).items()}


def test_sigterm_finishes_the_batch_and_exits_zero(server, tmp_path):
    records = list(generate.records(generate.generate(40, days=4, seed=45)))
    ids = publish(server.client, "transactions", records)
    scorer = start_scorer(server, tmp_path, idle_exit_ms=0)
    deadline = time.monotonic() + 60
    while server.client.xlen("scored") < len(ids) and time.monotonic() < deadline:
        time.sleep(0.05)
    scorer.send_signal(signal.SIGTERM)
    assert scorer.wait(timeout=10) == 0
    assert f"exit: records in {len(ids)}, scored {len(ids)}" in scorer.log_path.read_text()


def sink_binary():
    path = pathlib.Path(os.environ.get("BANK_STREAM_SINK", REPO / "build/examples/bank/bank_stream_sink"))
    if not path.is_file():
        pytest.fail(f"{path} is missing: build it with `make`")
    return path


def start_sink(server, tmp_path, directory, records=100, idle_exit_ms=1500):
    log = open(tmp_path / f"sink-{time.monotonic_ns()}.log", "w")
    command = [str(sink_binary()), "--redis-port", str(server.port), "--dir", str(directory), "--records", str(records),
               "--seconds", "1"]
    if idle_exit_ms:
        command += ["--idle-exit-ms", str(idle_exit_ms)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=log)
    process.log_path = pathlib.Path(log.name)
    return process


def files_hold(directory):
    lines = []
    for path in sorted(directory.glob("part-*.jsonl")):
        lines += [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    return lines


def test_the_sink_holds_every_scored_record_exactly_once_across_kills(server, tmp_path):
    records = list(generate.records(generate.generate(150, days=12, seed=46)))
    publish(server.client, "transactions", records)
    scorer = start_scorer(server, tmp_path)
    assert scorer.wait(timeout=120) == 0, scorer.log_path.read_text()
    directory = tmp_path / "files"
    directory.mkdir()
    rng = random.Random(11)
    total = server.client.xlen("scored")
    for _ in range(4):  # killed at random moments, restarted
        before = len(files_hold(directory))
        sink = start_sink(server, tmp_path, directory, records=50, idle_exit_ms=0)
        deadline = time.monotonic() + 60
        while len(files_hold(directory)) <= before and before < total and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(rng.uniform(0.0, 0.05))
        sink.send_signal(signal.SIGKILL)
        sink.wait(timeout=30)
    sink = start_sink(server, tmp_path, directory, records=50)
    assert sink.wait(timeout=120) == 0, sink.log_path.read_text()
    held = files_hold(directory)
    scored = [(entry.decode(), {k.decode(): v.decode() for k, v in f.items()}) for entry, f in server.client.xrange("scored")]
    assert sorted(h["scored_entry"] for h in held) == sorted(e for e, _ in scored)  # each once, none lost
    by_entry = {h["scored_entry"]: h for h in held}
    assert all({k: v for k, v in by_entry[e].items() if k != "scored_entry"} == f for e, f in scored)
    assert not list(directory.glob("*.tmp"))
    assert server.client.xpending("scored", "sink")["pending"] == 0
    assert len(list(directory.glob("part-*.jsonl"))) >= len(held) // 50


def test_a_file_renamed_just_before_a_crash_is_not_written_twice(server, tmp_path):
    # The moment between a file's rename and its acknowledgement, made on purpose: entries
    # read by the sink's consumer and written to their file, not acknowledged.
    for k in range(30):
        server.client.xadd("scored", {"entry": f"0-{k + 1}", "id_transacao": f"T{k}", "fraud_probability": "0.5"})
    server.client.xgroup_create("scored", "sink", id="0")
    taken = server.client.xreadgroup("sink", "sink-1", {"scored": ">"}, count=10)[0][1]
    directory = tmp_path / "files"
    directory.mkdir()
    first = taken[0][0].decode()
    with open(directory / f"part-{first}.jsonl", "w", encoding="utf-8") as handle:
        for entry, fields in taken:
            handle.write(json.dumps({**{k.decode(): v.decode() for k, v in fields.items()},
                                     "scored_entry": entry.decode()}) + "\n")
    (directory / "part-9-9.jsonl.tmp").write_text("half a file\n")  # a temporary file a crash left
    sink = start_sink(server, tmp_path, directory, records=50)
    assert sink.wait(timeout=60) == 0, sink.log_path.read_text()
    assert "20 records in 1 files written; 1 files found already written" in sink.log_path.read_text()
    held = files_hold(directory)
    assert sorted(h["id_transacao"] for h in held) == sorted(f"T{k}" for k in range(30))
    assert not list(directory.glob("*.tmp")) and server.client.xpending("scored", "sink")["pending"] == 0


def test_metrics_are_served_as_prometheus_text(server, tmp_path):
    import urllib.request

    from bank.services import free_port

    records = list(generate.records(generate.generate(30, days=3, seed=48)))
    publish(server.client, "transactions", records)
    port = free_port()
    scorer = start_scorer(server, tmp_path, "--metrics-port", port, idle_exit_ms=0)
    deadline = time.monotonic() + 60
    while True:
        try:
            text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
            if f"bank_scorer_records_in_total {len(records)}" in text:
                break
        except OSError:
            pass
        assert time.monotonic() < deadline, "no metrics with every record counted"
        time.sleep(0.05)
    assert "# TYPE bank_scorer_scored_total counter" in text and f"bank_scorer_scored_total {len(records)}" in text
    assert "bank_scorer_latency_p99_ms" in text
    scorer.send_signal(signal.SIGTERM)
    assert scorer.wait(timeout=10) == 0


def test_two_consumers_one_killed_the_other_finishes_its_entries(server, tmp_path):
    records = list(generate.records(generate.generate(200, days=10, seed=49)))
    ids = publish(server.client, "transactions", records)
    first = start_scorer(server, tmp_path, "--claim-idle-ms", 300, consumer="c1", batch=32, idle_exit_ms=0)
    second = start_scorer(server, tmp_path, "--claim-idle-ms", 300, consumer="c2", batch=32, idle_exit_ms=3000)
    wait_for_progress(server.client, 0)
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=30)
    assert second.wait(timeout=300) == 0, second.log_path.read_text()
    # every entry once, across both consumers; none left pending with the dead one
    scored, rejected = outputs(server.client)
    assert sorted([s["entry"] for s in scored] + [r["entry"] for r in rejected]) == sorted(ids)
    assert server.client.xpending("transactions", "scorers")["pending"] == 0
    # a record scored out of its customer's order is rejected with that reason, never scored twice
    assert all("not after the customer's last" in r["error"] for r in rejected)


def test_the_cpp_replay_keeps_its_schedule_and_publishes_every_line_once(server, tmp_path):
    replay = binary().parent / "bank_stream_replay"
    records = list(generate.records(generate.generate(30, days=3, seed=41)))[:200]
    assert len(records) == 200
    lines = [json.dumps(r, ensure_ascii=False) for r in records]
    begin = time.monotonic()
    result = subprocess.run([str(replay), "--rate", "1000", "--redis-port", str(server.port)], input="\n".join(lines) + "\n",
                            capture_output=True, text=True, timeout=60)
    elapsed = time.monotonic() - begin
    assert result.returncode == 0, result.stderr
    assert "published 200 records" in result.stderr
    published = [f[b"json"].decode() for _, f in server.client.xrange("transactions")]
    assert published == lines  # every line once, in order, byte for byte
    assert elapsed >= 0.199  # line 199 is due 0.199 s after the start
    bad = subprocess.run([str(replay), "--rate", "zero"], input="", capture_output=True, text=True)
    assert bad.returncode == 2 and "--rate" in bad.stderr
