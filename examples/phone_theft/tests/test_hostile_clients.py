"""phone_theft_server under hostile clients: slowloris, a flood of connections, bodies at and past
every limit, deeply nested and huge JSON, invalid UTF-8, request smuggling. Each attack runs
from threads while well-behaved clients keep sending POST /predict; the contract checked:

  - every well-behaved request gets 200 and the answer the same server gives when idle;
  - each attacker gets a 4xx (a JSON {"error", "rule", ...}) or a closed connection, within a
    "no hang" bound, never a 5xx;
  - the server is alive afterwards, and its memory (VmRSS, VmHWM of /proc/<pid>/status) stays
    within a bound (see RSS_GROWTH_MIB).

The server runs with small limits so that the attacks are quick: 4 worker threads, a 2 s read
timeout (a whole request, from its first byte), 1 s keep-alive, 256 KiB bodies, 512
connections. The good clients' p50/p99 and the RSS are printed for each attack (pytest -s
shows them); speeds are not asserted beyond NO_HANG. How the server does it:
server/front_door.hpp.
"""
import concurrent.futures
import http.client
import json
import math
import os
import random
import re
import selectors
import socket
import threading
import time

import pytest

from server_support import PhoneTheftServer, phone_theft_server_factory, server_model  # noqa: F401

THREADS = 4
READ_TIMEOUT = 2
KEEP_ALIVE = 1
MAX_BODY = 256 * 1024
MAX_CONNECTIONS = 512
NO_HANG = 15  # seconds: anything slower than this counts as a hang

# The gate holds each connection's first 64 KiB outside its budget and 64 MiB beyond that over
# all connections; a worker parses at most 4 x 256 KiB bodies at
# once (a few MB as nlohmann::json). The attacks below stay far from the 64 MiB budget, so
# more growth than this means something is held that should not be: before the fix one
# chunked body grew the server by over 600 MB in 3 s.
RSS_GROWTH_MIB = 48
# Under a sanitizer (scripts/sanitize.sh and tsan.sh set FLORESTA_SANITIZER) memory is the
# sanitizer's: ASan keeps freed blocks resident in its quarantine (256 MiB), TSan shadows every
# byte. There the resident set is reported, not bounded.
MEMORY_BOUNDED = not os.environ.get("FLORESTA_SANITIZER")

HEADERS = {"Content-Type": "application/json"}


# ---------------------------------------------------------------------------------------------
# the server, its memory, the good clients


def memory_mib(pid):
    """(VmRSS, VmHWM) of a process, in MiB."""
    values = {}
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(("VmRSS:", "VmHWM:")):
                values[line[:5]] = int(line.split()[1]) / 1024
    return values["VmRSS"], values["VmHWM"]


def open_fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = PhoneTheftServer(server_model(), tmp_path_factory.mktemp("hostile"),
                           "--threads", str(THREADS), "--read-timeout", str(READ_TIMEOUT),
                           "--keep-alive-timeout", str(KEEP_ALIVE), "--max-body-bytes", str(MAX_BODY),
                           "--max-connections", str(MAX_CONNECTIONS))
    yield srv
    code = srv.stop()
    assert code == 0, f"phone_theft_server exited with {code}: {srv.log()}"


@pytest.fixture(scope="module")
def reference(server):
    """People drawn from /schema, each body with the answer the server gives when idle; and the
    server's memory after that warm-up (the baseline)."""
    status, _, schema = server.request("GET", "/schema")
    assert status == 200
    people = []
    for i in range(24):
        person = {}
        for j, field in enumerate(schema["fields"]):
            if field["type"] == "numeric":
                person[field["name"]] = int(field.get("min", 0)) + (7 * i + j) % 90
            else:
                values = field["values"]
                person[field["name"]] = values[(5 * i + 3 * j) % len(values)]
        people.append(person)
    answers = {}
    for person in people:
        body = json.dumps(person).encode()
        status, _, answer = server.request("POST", "/predict", body, headers=HEADERS)
        assert status == 200, answer
        answers[body] = answer
    rss, _ = memory_mib(server.process.pid)
    return {"people": people, "answers": answers, "baseline_rss": rss}


class GoodClients:
    """Well-behaved clients sending POST /predict until stopped: one on a keep-alive connection,
    one opening a new connection for each request. Every result is kept."""

    def __init__(self, server, reference):
        self.server, self.bodies, self.answers = server, list(reference["answers"]), reference["answers"]
        self.latencies, self.failures = [], []
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.threads = [threading.Thread(target=self.run, args=(fresh,), daemon=True) for fresh in (False, True)]

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        deadline = time.monotonic() + NO_HANG  # a short attack still sees a few good requests
        while len(self.latencies) + len(self.failures) < 5 and time.monotonic() < deadline:
            time.sleep(0.01)
        self.stopping.set()
        for t in self.threads:
            t.join(NO_HANG + 5)
        return False

    def run(self, fresh):
        conn, i = None, 0 if fresh else 11
        while not self.stopping.is_set():
            body = self.bodies[i % len(self.bodies)]
            i += 1
            sent = time.monotonic()
            try:
                if conn is None:
                    conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=NO_HANG)
                conn.request("POST", "/predict", body=body, headers=HEADERS)
                response = conn.getresponse()
                data = response.read()
                elapsed = time.monotonic() - sent
                problem = None
                if response.status != 200:
                    problem = f"status {response.status}: {data[:300]!r}"
                elif json.loads(data) != self.answers[body]:
                    problem = f"a different answer: {data[:300]!r}"
                with self.lock:
                    self.latencies.append(elapsed)
                    if problem:
                        self.failures.append(problem)
                if fresh or response.getheader("Connection", "").lower() == "close":
                    conn.close()
                    conn = None
            except (OSError, http.client.HTTPException) as error:
                with self.lock:
                    self.failures.append(f"{'fresh' if fresh else 'keep-alive'} client after "
                                         f"{time.monotonic() - sent:.2f} s: {error!r}")
                if conn is not None:
                    conn.close()
                conn = None
        if conn is not None:
            conn.close()

    def check(self, server, reference, attack):
        """Asserts every good request was answered right and the memory bound; prints p50/p99/RSS."""
        assert not self.failures, f"{attack}: {len(self.failures)} good requests failed: {self.failures[:5]}"
        assert len(self.latencies) >= 5, f"{attack}: only {len(self.latencies)} good requests in the attack"
        ordered = sorted(self.latencies)

        def quantile(q):
            return ordered[max(0, math.ceil(q * len(ordered)) - 1)] * 1000

        rss, hwm = memory_mib(server.process.pid)
        print(f"\n[{attack}] good requests: {len(ordered)}, all 200 and right; p50 {quantile(0.5):.2f} ms, "
              f"p99 {quantile(0.99):.2f} ms, max {ordered[-1] * 1000:.2f} ms; server RSS {rss:.1f} MiB "
              f"(peak {hwm:.1f} MiB, baseline {reference['baseline_rss']:.1f} MiB)")
        assert server.process.poll() is None, f"{attack}: the server died: {server.log()[-2000:]}"
        if MEMORY_BOUNDED:
            assert rss - reference["baseline_rss"] < RSS_GROWTH_MIB, f"{attack}: RSS {rss:.1f} MiB"
            assert hwm - reference["baseline_rss"] < RSS_GROWTH_MIB, f"{attack}: peak RSS {hwm:.1f} MiB"
        status, _, health = server.request("GET", "/health")
        assert status == 200 and health["status"] == "ok"


# ---------------------------------------------------------------------------------------------
# raw HTTP


def connect(server, timeout=NO_HANG):
    return socket.create_connection(("127.0.0.1", server.port), timeout=timeout)


def read_until_closed(sock, limit=NO_HANG):
    """Everything the server sends until it closes (b"" or a reset): (bytes, closed in time)."""
    data, deadline = b"", time.monotonic() + limit
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return data, False
        sock.settimeout(remaining)
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            return data, False
        except ConnectionResetError:
            return data, True
        if not chunk:
            return data, True
        data += chunk


def split_responses(data):
    """The HTTP responses in `data`, in order: (status, headers with lower-case names, body)."""
    responses = []
    while data:
        head, sep, rest = data.partition(b"\r\n\r\n")
        assert sep, f"a truncated response: {data[:300]!r}"
        lines = head.split(b"\r\n")
        status = int(lines[0].split()[1])
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            headers[name.strip().lower().decode()] = value.strip().decode("latin-1")
        length = int(headers.get("content-length", "0")) if status >= 200 else 0
        assert len(rest) >= length, f"a truncated body: {data[:300]!r}"
        responses.append((status, headers, rest[:length]))
        data = rest[length:]
    return responses


def read_one(sock):
    """One response from a connection that stays open (its body by Content-Length)."""
    data = b""
    sock.settimeout(NO_HANG)
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"closed before a response: {data!r}"
        data += chunk
    head = data.split(b"\r\n\r\n", 1)[0]
    found = re.search(rb"\r\nContent-Length: (\d+)", head, re.I)
    length = int(found.group(1)) if found else 0
    while len(data) < len(head) + 4 + length:
        chunk = sock.recv(65536)
        assert chunk, "closed inside a body"
        data += chunk
    assert len(data) == len(head) + 4 + length, f"more than one response: {data[:300]!r}"
    return split_responses(data)[0]


def exchange(server, raw, half_close=True):
    """Sends `raw` on a new connection (then, unless told not to, says it sends no more) and
    reads until the server closes it: the responses."""
    with connect(server) as sock:
        sock.sendall(raw)
        if half_close:
            sock.shutdown(socket.SHUT_WR)
        data, closed = read_until_closed(sock)
    assert closed, f"the server kept the connection past {NO_HANG} s: {raw[:200]!r}"
    return split_responses(data)


def request(method, target, body=b"", headers=(), length=True):
    head = f"{method} {target} HTTP/1.1\r\nHost: x\r\n".encode()
    for name, value in headers:
        head += (name if isinstance(name, bytes) else name.encode()) + b": " + \
            (value if isinstance(value, bytes) else str(value).encode()) + b"\r\n"
    if length:
        head += b"Content-Length: %d\r\n" % len(body)
    return head + b"\r\n" + body


def chunked(body, size):
    out = b""
    for i in range(0, len(body), size):
        piece = body[i:i + size]
        out += b"%x\r\n" % len(piece) + piece + b"\r\n"
    return out + b"0\r\n\r\n"


def assert_problem(response, status, rule=None, *words):
    got, headers, body = response
    assert got == status, (got, body[:300])
    assert headers.get("content-type", "").startswith("application/json")
    problem = json.loads(body.decode("utf-8"))  # strict UTF-8: the reply is valid JSON whatever was sent
    assert isinstance(problem["error"], str) and problem["error"]
    if rule:
        assert problem["rule"] == rule, problem
    for word in words:
        assert word in problem["error"], (word, problem["error"])
    return problem


def assert_refused_and_closed(server, raw, status, rule, *words):
    """One response (status, JSON reason, Connection: close) and the connection closed: whatever
    follows in `raw` (a smuggled request) is never answered."""
    responses = exchange(server, raw)
    assert len(responses) == 1, [r[:2] for r in responses]
    assert responses[0][1].get("connection") == "close"
    return assert_problem(responses[0], status, rule, *words)


# ---------------------------------------------------------------------------------------------
# slowloris and floods


def test_slowloris_beyond_threads_keeps_good_clients_served(server, reference):
    """6x --threads connections dribbling a byte a second: the request line and headers (the
    classic), or a body (slow POST). cpp-httplib's read timeout is per recv(), so each held a
    worker for ever and good clients starved (a GET /health waited > 8 s). Now each gets 408
    within --read-timeout of its first byte (plus the 0.1 s sweep) and is closed; the attackers
    reconnect at once, for 5 s."""
    results, lock, stop = [], threading.Lock(), threading.Event()

    def loris(k):
        while not stop.is_set():
            with connect(server) as sock:
                if k % 2:
                    opening, drip = b"POST /predict HTTP/1.1\r\nHost: x\r\nX-Slow: ", b"a"
                else:
                    opening = (b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                               b"Content-Length: 500\r\n\r\n")
                    drip = b" "
                begun = time.monotonic()
                sock.sendall(opening)
                data, closed = b"", False
                while not closed and time.monotonic() - begun < NO_HANG:
                    try:
                        sock.sendall(drip)
                    except OSError:
                        pass
                    chunk, closed = read_until_closed(sock, limit=1.0)
                    data += chunk
                with lock:
                    results.append((data, closed, time.monotonic() - begun))

    with GoodClients(server, reference) as good:
        attackers = [threading.Thread(target=loris, args=(k,), daemon=True) for k in range(6 * THREADS)]
        for t in attackers:
            t.start()
        time.sleep(5)
        stop.set()
        for t in attackers:
            t.join(NO_HANG + 5)
    good.check(server, reference, "slowloris")
    assert len(results) >= 6 * THREADS
    for data, closed, seconds in results:
        assert closed, f"an attacker still connected after {seconds:.1f} s"
        if data:
            (response,) = split_responses(data)
            assert_problem(response, 408, "http", "read timeout")
        assert seconds < READ_TIMEOUT + 2.5, f"an attacker held on for {seconds:.1f} s"
    print(f"[slowloris] {len(results)} attacker connections, each answered 408 and closed after "
          f"{min(r[2] for r in results):.2f}..{max(r[2] for r in results):.2f} s")


def test_a_flood_of_idle_connections_beyond_threads(server, reference):
    """300 silent connections (75x --threads), each reopened 0.1-0.3 s after the server closes
    it, and 20 clients pipelining 200 GET /schema each without ever reading. Before the fix each
    silent connection held a worker until the keep-alive timeout and good clients queued behind
    them. Now they cost the server a socket each: it closes the silent ones after the keep-alive
    timeout without a word, and keeps answering the good clients."""
    stop = threading.Event()
    stats = {"closed": 0, "spoke": [], "lifetimes": [], "kept": 0}

    def flood():
        selector, reopen = selectors.DefaultSelector(), []

        def open_one():
            try:
                sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
            except OSError:
                reopen.append(time.monotonic() + 0.1)
                return
            sock.setblocking(False)
            selector.register(sock, selectors.EVENT_READ, time.monotonic())

        for _ in range(300):
            open_one()
        while not stop.is_set():
            now = time.monotonic()
            for key, _ in selector.select(timeout=0.05):
                try:
                    data = key.fileobj.recv(4096)
                except BlockingIOError:
                    continue
                except ConnectionResetError:
                    data = b""
                if data:
                    stats["spoke"].append(data[:200])
                selector.unregister(key.fileobj)
                key.fileobj.close()
                stats["closed"] += 1
                stats["lifetimes"].append(now - key.data)
                reopen.append(now + random.uniform(0.1, 0.3))
            due = [t for t in reopen if t <= now]
            reopen[:] = [t for t in reopen if t > now]
            for _ in due:
                open_one()
        for key in list(selector.get_map().values()):
            if time.monotonic() - key.data > KEEP_ALIVE + 1.5:
                stats["kept"] += 1
            key.fileobj.close()

    def non_reader():
        with connect(server) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            try:
                sock.sendall(b"GET /schema HTTP/1.1\r\nHost: x\r\n\r\n" * 200)
            except OSError:
                pass
            stop.wait()

    with GoodClients(server, reference) as good:
        threads = [threading.Thread(target=flood, daemon=True)]
        threads += [threading.Thread(target=non_reader, daemon=True) for _ in range(20)]
        for t in threads:
            t.start()
        time.sleep(4)
        stop.set()
        for t in threads:
            t.join(NO_HANG)
    good.check(server, reference, "connection flood")
    assert not stats["spoke"], f"the server sent silent connections something: {stats['spoke'][:3]}"
    assert stats["closed"] >= 300 and stats["kept"] == 0
    assert max(stats["lifetimes"]) < KEEP_ALIVE + 1.5, max(stats["lifetimes"])
    print(f"[connection flood] {stats['closed']} silent connections closed without a word after "
          f"{min(stats['lifetimes']):.2f}..{max(stats['lifetimes']):.2f} s")


def test_past_max_connections_the_silent_one_held_longest_goes(phone_theft_server_factory, reference):
    """--max-connections 16: 16 silent connections, then good clients. Each new connection
    closes the silent one held the longest (never one that was answered); the server never
    holds more than 16 (its descriptors counted)."""
    server = phone_theft_server_factory(server_model(), "--threads", "2", "--max-connections", "16",
                                        "--keep-alive-timeout", "30", "--read-timeout", "30")
    pid = server.process.pid
    body = next(iter(reference["answers"]))
    answer = reference["answers"][body]
    before = open_fds(pid)
    keep_alive = server.connection()
    assert server.predict(body, connection=keep_alive)[2] == answer  # one answered connection
    silent = []
    for _ in range(15):
        silent.append(connect(server))
        time.sleep(0.02)
    time.sleep(0.2)
    assert open_fds(pid) == before + 16
    for k in range(10):  # each good client on a new connection pushes out the oldest silent one
        status, _, got = server.predict(body)
        assert status == 200 and got == answer
        data, closed = read_until_closed(silent[k], limit=5)
        assert closed and data == b"", k
        assert server.predict(body, connection=keep_alive)[2] == answer  # the answered one stays
        assert open_fds(pid) <= before + 16
        time.sleep(0.1)  # the good client's connection closed, one more silent one takes its place
        silent.append(connect(server))
        time.sleep(0.05)
    for sock in silent[10:]:  # the younger ones are still held
        sock.setblocking(False)
        with pytest.raises(BlockingIOError):
            sock.recv(1)
    for sock in silent:
        sock.close()
    keep_alive.close()


# ---------------------------------------------------------------------------------------------
# bodies and headers at and past the limits


def padded(body, size):
    """`body` (a JSON object) padded with spaces to exactly `size` bytes: the same JSON."""
    assert len(body) <= size
    return body[:-1] + b" " * (size - len(body)) + b"}"


def test_bodies_at_and_past_every_limit(server, reference):
    person = next(iter(reference["answers"]))
    answer = reference["answers"][person]
    at_limit = padded(person, MAX_BODY)
    past_limit = padded(person, MAX_BODY + 1)
    assert len(at_limit) == MAX_BODY

    def fire_hose(raw_head, piece, seconds=3):
        """Sends raw_head, then `piece` as fast as possible for `seconds` or until the server
        closes; a reader thread keeps what comes back. Returns (responses, MiB sent)."""
        sent, received = 0, []
        with connect(server) as sock:
            reader = threading.Thread(target=lambda: received.append(read_until_closed(sock)), daemon=True)
            reader.start()
            sock.sendall(raw_head)
            ends = time.monotonic() + seconds
            try:
                while time.monotonic() < ends:
                    sock.sendall(piece)
                    sent += len(piece)
            except OSError:
                pass
            reader.join(NO_HANG)
        data, closed = received[0]
        assert closed, "the server did not close a connection sending without end"
        return split_responses(data), sent / 2 ** 20

    cases = {
        # Content-Length: exactly the limit is answered, one byte more is 413 before the body is read
        "length_at_limit": lambda: exchange(server, request("POST", "/predict", at_limit, [("Connection", "close")])),
        "length_past_limit": lambda: exchange(server, request("POST", "/predict", past_limit)),
        "length_huge": lambda: exchange(server, request("POST", "/predict", length=False,
                                                        headers=[("Content-Length", "999999999999999999")])),
        # chunked: the same limits on the body's data, whatever the chunks
        "chunked_at_limit": lambda: exchange(server, request(
            "POST", "/predict", chunked(at_limit, 100000), [("Transfer-Encoding", "chunked"), ("Connection", "close")],
            length=False)),
        "chunked_past_limit": lambda: exchange(server, request(
            "POST", "/predict", chunked(past_limit, 100000), [("Transfer-Encoding", "chunked")], length=False)),
        # a chunked body that never ends: a chunk, then silence (408), or chunks without end (413)
        "chunked_silent": lambda: exchange(server, request(
            "POST", "/predict", b"10\r\n" + b" " * 16 + b"\r\n", [("Transfer-Encoding", "chunked")], length=False),
            half_close=False),
        "chunked_endless": lambda: fire_hose(request("POST", "/predict", headers=[("Transfer-Encoding", "chunked")],
                                                     length=False), b"ffff\r\n" + b" " * 0xFFFF + b"\r\n"),
        # a header line without end (cpp-httplib grew it by ~60 MB/s), and a chunk-size line without end
        "header_endless": lambda: fire_hose(b"GET / HTTP/1.1\r\nX-Long: ", b"a" * 65536),
        "chunk_line_endless": lambda: fire_hose(request("POST", "/predict", headers=[("Transfer-Encoding", "chunked")],
                                                        length=False), b"0" * 65536),
        # Expect: 100-continue: the interim answer, then the answer; past the limit: 413 and no 100
        "expect_continue": lambda: expect_continue(server, person),
        "expect_past_limit": lambda: exchange(server, request("POST", "/predict", length=False, headers=[
            ("Content-Length", MAX_BODY + 1), ("Expect", "100-continue")])),
        # a body in gzip (cpp-httplib would inflate it without limit: 61 KB became 60 MB)
        "gzip_bomb": lambda: exchange(server, request("POST", "/predict", gzip_bomb(), [("Content-Encoding", "gzip")])),
    }
    with GoodClients(server, reference) as good:
        with concurrent.futures.ThreadPoolExecutor(len(cases)) as pool:
            futures = {name: pool.submit(case) for name, case in cases.items()}
            got = {name: future.result(timeout=NO_HANG * 2) for name, future in futures.items()}
    good.check(server, reference, "bodies at and past the limits")

    for name in ("length_at_limit", "chunked_at_limit"):
        (response,) = got[name]
        assert response[0] == 200 and json.loads(response[2]) == answer, name
    for name in ("length_past_limit", "length_huge", "chunked_past_limit", "expect_past_limit"):
        (response,) = got[name]
        assert_problem(response, 413, "body_size", f"{MAX_BODY} bytes")
        assert response[1]["connection"] == "close"
    (response,) = got["chunked_silent"]
    assert_problem(response, 408, "http", "read timeout")
    for name, status, words in (("chunked_endless", 413, f"{MAX_BODY} bytes"), ("header_endless", 431, "headers"),
                                ("chunk_line_endless", 400, "chunk-size line")):
        responses, mib = got[name]
        assert len(responses) <= 1, name
        if responses:  # the answer, unless the close after it overtook it (a reset)
            assert_problem(responses[0], status, None, words)
        print(f"[{name}] sent {mib:.0f} MiB, answered {responses[0][0] if responses else 'by closing'}")
    assert_problem(got["gzip_bomb"][0], 415, "http", "Content-Encoding")
    interim, final = got["expect_continue"]
    assert interim[0] == 100 and final[0] == 200 and json.loads(final[2]) == answer


def expect_continue(server, body):
    with connect(server) as sock:
        sock.sendall(request("POST", "/predict", length=False, headers=[
            ("Content-Length", len(body)), ("Expect", "100-continue"), ("Connection", "close")]))
        sock.settimeout(NO_HANG)
        interim = sock.recv(65536)  # nothing is sent before this arrives
        assert interim.startswith(b"HTTP/1.1 100 Continue\r\n\r\n"), interim
        sock.sendall(body)
        data, closed = read_until_closed(sock)
    assert closed
    return split_responses(interim + data)


def gzip_bomb():
    import gzip
    return gzip.compress(b"[" + b" " * (64 << 20) + b"]", compresslevel=9)  # 64 MiB in ~64 KB


# ---------------------------------------------------------------------------------------------
# JSON: nested, huge, invalid UTF-8


def test_deeply_nested_json_is_refused_before_it_is_parsed(server, reference):
    """A field nested 400,000 deep crashed the server (SIGSEGV: nlohmann's dump() recursing when
    the scorer quoted the value). Bodies nested deeper than 32 levels are refused (400 json)."""
    person = json.loads(next(iter(reference["answers"])))
    depth = 100_000
    bodies = {
        "arrays": b"[" * depth + b"]" * depth,
        "objects": b'{"a":' * 40_000 + b"1" + b"}" * 40_000,  # 40,000 deep: 240 KB, under the limit
        "in_a_field": json.dumps({**person, "bairro": "X"})[:-1].encode().replace(
            b'"X"', b"[" * depth + b"]" * depth) + b"}",
        "unclosed": b"[" * 200_000,
        "in_a_batch": b"[" + b"[" * depth + b"]" * depth + b"]",
    }
    with GoodClients(server, reference) as good:
        for name, body in bodies.items():
            assert len(body) <= MAX_BODY, name
            (response,) = exchange(server, request("POST", "/predict", body, [("Connection", "close")]))
            assert_problem(response, 400, "json", "nested deeper than 32 levels")
        # 30 levels is still read, and refused for what it is: a field that is not a string
        nested = json.dumps({**person, "bairro": json.loads("[" * 29 + "]" * 29)})
        status, _, problem = server.request("POST", "/predict", nested, headers=HEADERS)
        assert status == 422 and problem["rule"] == "type" and problem["field"] == "bairro"
    good.check(server, reference, "nested JSON")


def test_huge_json_just_under_the_limit(server, reference):
    body = next(iter(reference["answers"]))
    person = json.loads(body)
    answer = reference["answers"][body]
    many_keys = dict(person)
    k, size = 0, len(json.dumps(person))
    while size < MAX_BODY - 40:
        many_keys[f"k{k}"] = k
        size += len(f', "k{k}": {k}')
        k += 1
    long_string = {**person, "bairro": "A" * (MAX_BODY - 200)}
    batch = [person] * 1000  # --max-batch people
    cases = [
        ("many_keys", json.dumps(many_keys), 200, None),  # fields the model does not know are ignored
        ("long_string", json.dumps(long_string), 422, "vocabulary"),
        ("long_number", json.dumps(person)[:-1] + ', "x": 1' + "0" * 200_000 + "}", 400, "json"),
        ("long_key", json.dumps({**person, "k" * 250_000: 1}), 200, None),
        ("batch_at_limit", json.dumps(batch), 200, None),
        ("many_numbers", "[" + "0," * 100_000 + "0]", 413, "batch_size"),
    ]
    with GoodClients(server, reference) as good:
        for name, text, status, rule in cases:
            data = text.encode()
            assert len(data) <= MAX_BODY, (name, len(data))
            got, _, reply = server.request("POST", "/predict", data, headers=HEADERS)
            assert got == status, (name, str(reply)[:300])
            if status == 200:
                assert reply == ([answer] * 1000 if name.startswith("batch") else answer), name
            else:
                assert reply["rule"] == rule and len(reply["error"]) < 2000, (name, reply["error"][:300])
    good.check(server, reference, "huge JSON")
    print(f"[huge JSON] {k} keys in one person answered 200")


BAD_UTF8 = {
    "value_ff": b'"S\xff"',
    "value_truncated": b'"S\xe2\x82"',
    "value_overlong": b'"\xc0\xaf"',
    "value_surrogate": b'"\xed\xa0\x80"',
    "value_escaped_lone_surrogate": b'"\\ud800"',
    "value_nul": b'"S\x00E"',
    "value_latin1": b'"Tatuap\xe9"',
}


@pytest.mark.parametrize("name", sorted(BAD_UTF8))
def test_invalid_utf8_in_values_and_keys_gets_valid_json(server, reference, name):
    person = json.loads(next(iter(reference["answers"])))
    text = json.dumps({**person, "bairro": "@@"}).encode()
    for body in (text.replace(b'"@@"', BAD_UTF8[name]),                                        # a value
                 text[:-1] + b", " + BAD_UTF8[name] + b": 1}"):                                   # a key
        (response,) = exchange(server, request("POST", "/predict", body, [("Connection", "close")]))
        assert_problem(response, 400, "json", "malformed JSON")


def test_invalid_utf8_elsewhere(server, reference):
    body = next(iter(reference["answers"]))
    # in the path: 404, its reply valid UTF-8 (the path shown with U+FFFD)
    (response,) = exchange(server, b"GET /\xff\xfe%ff HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    problem = assert_problem(response, 404, "route")
    assert "\ufffd" in problem["error"]
    # in the query: explain=\xff is refused (400 query), valid JSON
    (response,) = exchange(server, request("POST", "/predict?explain=%ff", body, [("Connection", "close")]))
    assert_problem(response, 400, "query")
    # in a header value (obs-text): ignored, the answer as always
    (response,) = exchange(server, request("POST", "/predict", body, [("X-Name", b"Jos\xe9 \xff"), ("Connection", "close")]))
    assert response[0] == 200 and json.loads(response[2]) == reference["answers"][body]


# ---------------------------------------------------------------------------------------------
# request smuggling: every ambiguous framing is refused (400) and the connection closed, so that
# nothing sent after it (a request hidden there) is ever read as a request


SMUGGLED = b"GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n"
BODY = b'{"bairro": "SE"}'

AMBIGUOUS = {
    "length_and_chunked": (b"Content-Length: 4\r\nTransfer-Encoding: chunked\r\n", b"0\r\n\r\n", "both Content-Length"),
    "chunked_and_length": (b"Transfer-Encoding: chunked\r\nContent-Length: 40\r\n", b"0\r\n\r\n", "both Content-Length"),
    "lengths_disagree": (b"Content-Length: 16\r\nContent-Length: 0\r\n", BODY, "disagree"),
    "length_junk": (b"Content-Length: 16abc\r\n", BODY, "digits only"),
    "length_plus": (b"Content-Length: +16\r\n", BODY, "digits only"),
    "length_negative": (b"Content-Length: -1\r\n", BODY, "digits only"),
    "length_hex": (b"Content-Length: 0x10\r\n", BODY, "digits only"),
    "length_two_values": (b"Content-Length: 16, 16\r\n", BODY, "digits only"),
    "length_spaced": (b"Content-Length: 1 6\r\n", BODY, "digits only"),
    "length_empty": (b"Content-Length:\r\n", BODY, "digits only"),
    "length_20_digits": (b"Content-Length: 18446744073709551632\r\n", BODY, "digits only"),
    "length_url_encoded": (b"Content-Length: %31%36\r\n", BODY, "digits only"),
    "te_list": (b"Transfer-Encoding: gzip, chunked\r\n", b"0\r\n\r\n", "exactly 'chunked'"),
    "te_chunked_identity": (b"Transfer-Encoding: chunked, identity\r\n", b"0\r\n\r\n", "exactly 'chunked'"),
    "te_twice": (b"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n", b"0\r\n\r\n", "exactly 'chunked'"),
    "te_unknown": (b"Transfer-Encoding: xchunked\r\n", b"0\r\n\r\n", "exactly 'chunked'"),
    "te_url_encoded": (b"Transfer-Encoding: chunk%65d\r\n", b"0\r\n\r\n", "exactly 'chunked'"),
    "te_space_before_colon": (b"Transfer-Encoding : chunked\r\nContent-Length: 5\r\n", b"0\r\n\r\n", "header name"),
    "te_folded": (b"Content-Length: 5\r\nTransfer-Encoding:\r\n chunked\r\n", b"0\r\n\r\n", "folded"),
    "te_vertical_tab": (b"Transfer-Encoding:\x0bchunked\r\n", b"0\r\n\r\n", "control character"),
    "bare_lf": (b"X-A: 1\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n", b"0\r\n\r\n", "bare LF"),
    "chunk_size_junk": (b"Transfer-Encoding: chunked\r\n", b"0x5\r\nhello\r\n0\r\n\r\n", "hexadecimal"),
    "chunk_size_negative": (b"Transfer-Encoding: chunked\r\n", b"-1\r\n\r\n", "hexadecimal"),
    "chunk_overflow": (b"Transfer-Encoding: chunked\r\n", b"10000000000000001\r\nx\r\n", "hexadecimal"),
    "chunk_without_crlf": (b"Transfer-Encoding: chunked\r\n", b"2\r\n{}XX0\r\n\r\n", "followed by CRLF"),
    "chunk_trailer": (b"Transfer-Encoding: chunked\r\n", b"2\r\n{}\r\n0\r\nX-Trailer: 1\r\n\r\n", "trailer"),
    "post_without_length": (b"", BODY, "Content-Length header"),
}


@pytest.mark.parametrize("name", sorted(AMBIGUOUS))
def test_ambiguous_framing_is_refused_and_closed(server, name):
    headers, body, words = AMBIGUOUS[name]
    raw = b"POST /predict HTTP/1.1\r\nHost: x\r\n" + headers + b"\r\n" + body + SMUGGLED
    assert_refused_and_closed(server, raw, 400, "http", words)


def test_smuggling_under_load_never_reaches_a_route(server, reference):
    """The ambiguous requests above, many times, each with a request hidden behind it, while good
    clients run: every one refused, the hidden /smuggled never answered (no 404 counted)."""
    def metric_404():
        text = server.request("GET", "/metrics")[2]
        return sum(float(v) for v in re.findall(r'phone_theft_http_requests_total\{route="other",code="404"\} (\S+)', text))

    before = metric_404()
    raws = [b"POST /predict HTTP/1.1\r\nHost: x\r\n" + h + b"\r\n" + b + SMUGGLED for h, b, _ in AMBIGUOUS.values()]
    with GoodClients(server, reference) as good:
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            results = list(pool.map(lambda raw: exchange(server, raw), raws * 8))
    good.check(server, reference, "smuggling")
    for responses in results:
        assert len(responses) == 1 and responses[0][0] == 400
    assert metric_404() == before


def test_a_request_in_a_body_is_only_a_body(server, reference):
    """Well-framed bodies holding a request: a POST's body is JSON (400 here), a GET's body is
    skipped (cpp-httplib read it as the next request); on the same connection the next real
    request gets its own answer, and the hidden one none."""
    good_body = next(iter(reference["answers"]))
    for first, expected in ((request("POST", "/predict", SMUGGLED), 400),
                            (request("GET", "/health", SMUGGLED), 200),
                            (request("OPTIONS", "/predict", SMUGGLED), 204)):
        with connect(server) as sock:
            sock.sendall(first)
            status, _, body = read_one(sock)
            assert status == expected, body
            if status == 400:
                assert_problem((status, {"content-type": "application/json"}, body), 400, "json")
            sock.sendall(request("POST", "/predict", good_body, [("Connection", "close")]))
            data, closed = read_until_closed(sock)
        assert closed
        (response,) = split_responses(data)
        assert response[0] == 200 and json.loads(response[2]) == reference["answers"][good_body]


def test_pipelined_requests_are_answered_in_order(server, reference):
    """Requests sent back to back in one write (cpp-httplib 0.11.4 dropped the ones its read
    buffer had taken with the first): each answered, in order."""
    bodies = list(reference["answers"])[:3]
    raw = b"".join(request("POST", "/predict", body) for body in bodies)
    responses = exchange(server, raw + request("GET", "/health", headers=[("Connection", "close")], length=False))
    assert [r[0] for r in responses] == [200, 200, 200, 200]
    for response, body in zip(responses, bodies):
        assert json.loads(response[2]) == reference["answers"][body]


# ---------------------------------------------------------------------------------------------
# afterwards


def test_after_every_attack_alive_without_5xx_and_memory_bounded(server, reference):
    status, _, health = server.request("GET", "/health")
    assert status == 200 and health["status"] == "ok"
    text = server.request("GET", "/metrics")[2]
    errors = re.findall(r'phone_theft_http_requests_total\{route="[a-z]+",code="5\d\d"\} (\S+)', text)
    assert all(float(n) == 0 for n in errors), errors
    assert "internal error" not in server.log()
    rss, hwm = memory_mib(server.process.pid)
    print(f"\n[after every attack] RSS {rss:.1f} MiB, peak {hwm:.1f} MiB, baseline {reference['baseline_rss']:.1f} MiB")
    if MEMORY_BOUNDED:
        assert rss - reference["baseline_rss"] < RSS_GROWTH_MIB and hwm - reference["baseline_rss"] < RSS_GROWTH_MIB
