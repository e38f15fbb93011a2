"""phone_theft_server under hostile clients, longer than the tests: for each attack a fresh
server (default flags), the attack running from threads for --duration seconds, and meanwhile
the well-behaved clients:
  - phone_theft_load (benchmarks/serve/fixed_rate.cpp) at a fixed --rate over 4 keep-alive
    connections, latency measured from each request's due time (no coordinated omission);
  - a Python client opening a new connection for each request, 20 a second.
Prints a markdown table: the good clients' requests, failures and latency percentiles, and the
server's peak RSS (VmHWM) and RSS at the end. Not a test (examples/phone_theft/tests/
test_hostile_clients.py is); for the docs:

    .venv/bin/python benchmarks/serve/hostile.py [--duration 10] [--rate 500] [--server BIN] [--attacks a,b]

--server runs another build (an older one, say) with the same attacks.
"""
import argparse
import gzip
import json
import os
import pathlib
import random
import selectors
import socket
import subprocess
import sys
import tempfile
import threading
import time

REPO = pathlib.Path(__file__).resolve().parents[2]
BUILD = REPO / "build/examples/phone_theft"


def memory_mib(pid):
    values = {}
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(("VmRSS:", "VmHWM:")):
                values[line[:5]] = int(line.split()[1]) / 1024
    return values["VmRSS"], values["VmHWM"]


class Server:
    def __init__(self, binary, model, threads):
        self.out = tempfile.TemporaryFile()
        self.process = subprocess.Popen([binary, "--model", model, "--port", "0", "--threads", str(threads)],
                                        stdout=subprocess.PIPE, stderr=self.out)
        line = self.process.stdout.readline().decode()
        self.port = int(line.split("127.0.0.1:")[1].split()[0])

    def alive(self):
        return self.process.poll() is None

    def stop(self):
        if self.alive():
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def connect(port, timeout=10):
    return socket.create_connection(("127.0.0.1", port), timeout=timeout)


def drain_until_closed(sock, limit):
    sock.settimeout(limit)
    try:
        while sock.recv(65536):
            pass
        return True
    except (socket.timeout, OSError):
        return False


# ---------------------------------------------------------------------------------------------
# attacks: each runs until `stop` is set, reconnecting whenever the server closes it


def slowloris(port, stop, threads, body=False):
    def one():
        while not stop.is_set():
            try:
                with connect(port) as sock:
                    if body:
                        sock.sendall(b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                                     b"Content-Length: 1000\r\n\r\n")
                    else:
                        sock.sendall(b"POST /predict HTTP/1.1\r\nHost: x\r\nX-Slow: ")
                    sock.settimeout(1.0)
                    while not stop.is_set():
                        sock.sendall(b" " if body else b"a")
                        try:
                            if not sock.recv(65536):
                                break
                        except socket.timeout:
                            continue
            except OSError:
                time.sleep(0.1)

    return [threading.Thread(target=one, daemon=True) for _ in range(4 * threads)]


def idle_flood(port, stop, threads, count=1000):
    def run():
        selector, reopen = selectors.DefaultSelector(), []

        def open_one():
            try:
                sock = connect(port, timeout=5)
                sock.setblocking(False)
                selector.register(sock, selectors.EVENT_READ)
            except OSError:
                reopen.append(time.monotonic() + 0.1)

        for _ in range(count):
            open_one()
        while not stop.is_set():
            now = time.monotonic()
            for key, _ in selector.select(timeout=0.05):
                try:
                    if key.fileobj.recv(4096):
                        continue
                except BlockingIOError:
                    continue
                except OSError:
                    pass
                selector.unregister(key.fileobj)
                key.fileobj.close()
                reopen.append(now + random.uniform(0.1, 0.3))
            due = [t for t in reopen if t <= now]
            reopen[:] = [t for t in reopen if t > now]
            for _ in due:
                open_one()
        for key in list(selector.get_map().values()):
            key.fileobj.close()

    return [threading.Thread(target=run, daemon=True)]


def fire_hose(port, stop, head, piece, streams=4):
    def one():
        while not stop.is_set():
            try:
                with connect(port) as sock:
                    sock.sendall(head)
                    while not stop.is_set():
                        sock.sendall(piece)
            except OSError:
                time.sleep(0.01)

    return [threading.Thread(target=one, daemon=True) for _ in range(streams)]


def repeat_requests(port, stop, raws, streams=4):
    def one(k):
        i = k
        while not stop.is_set():
            try:
                with connect(port) as sock:
                    sock.sendall(raws[i % len(raws)])
                    sock.shutdown(socket.SHUT_WR)
                    drain_until_closed(sock, 10)
            except OSError:
                time.sleep(0.01)
            i += 1

    return [threading.Thread(target=one, args=(k,), daemon=True) for k in range(streams)]


def post(body, headers=b""):
    return (b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" + headers +
            b"Content-Length: %d\r\n\r\n" % len(body) + body)


SMUGGLED = b"GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n"
SMUGGLING = [
    b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + SMUGGLED,
    b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 40\r\n\r\n{}" + SMUGGLED,
    b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Length: 2abc\r\n\r\n{}" + SMUGGLED,
    b"POST /predict HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n" + SMUGGLED,
    b"POST /predict HTTP/1.1\r\nHost: x\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n" + SMUGGLED,
    b"GET /health HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(SMUGGLED) + SMUGGLED,
]


def attacks(port, stop, threads):
    bomb = gzip.compress(b"[" + b" " * (256 << 20) + b"]", compresslevel=9)  # 256 MiB in ~250 KB
    deep = 400_000
    nested = post(b'{"bairro":' + b"[" * deep + b"]" * deep + b"}")
    chunked_head = b"POST /predict HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
    return {
        "none": lambda: [],
        "slowloris (headers, 4x threads)": lambda: slowloris(port, stop, threads),
        "slow body (4x threads)": lambda: slowloris(port, stop, threads, body=True),
        "1000 silent connections": lambda: idle_flood(port, stop, threads),
        "endless chunked bodies (4)": lambda: fire_hose(port, stop, chunked_head, b"ffff\r\n" + b" " * 0xFFFF + b"\r\n"),
        "endless header lines (4)": lambda: fire_hose(port, stop, b"GET / HTTP/1.1\r\nX-Long: ", b"a" * 65536),
        "gzip bombs (4)": lambda: repeat_requests(port, stop, [post(bomb, b"Content-Encoding: gzip\r\n")]),
        "JSON nested 400k deep (4)": lambda: repeat_requests(port, stop, [nested]),
        "smuggling attempts (4)": lambda: repeat_requests(port, stop, SMUGGLING),
    }


# ---------------------------------------------------------------------------------------------
# the good clients


def fresh_client(port, stop, body, results):
    """One request per new connection, 20 a second: (latency ms or None on failure)."""
    import http.client
    while not stop.is_set():
        start = time.monotonic()
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            conn.request("POST", "/predict", body=body, headers={"Content-Type": "application/json"})
            response = conn.getresponse()
            response.read()
            conn.close()
            results.append((time.monotonic() - start) * 1000 if response.status == 200 else None)
        except (OSError, http.client.HTTPException):
            results.append(None)
        time.sleep(max(0.0, 0.05 - (time.monotonic() - start)))


def quantile(values, q):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--server", default=str(BUILD / "phone_theft_server"))
    parser.add_argument("--load", default=str(BUILD / "phone_theft_load"))
    parser.add_argument("--model", default=str(REPO / "examples/models/phone_theft.json"))
    parser.add_argument("--duration", type=float, default=10)
    parser.add_argument("--rate", type=float, default=500)
    parser.add_argument("--threads", type=int, default=64)
    parser.add_argument("--attacks", default="", help="comma-separated prefixes of the attack names (default: all)")
    args = parser.parse_args()

    person = {"bairro": "SE", "marca": "Apple", "dia": "SABADO", "periodo": "A NOITE", "idade": 30, "sexo": "HOMEM"}
    bodies = tempfile.NamedTemporaryFile("w", suffix=".json", delete=False)
    json.dump([person], bodies)
    bodies.close()
    body = json.dumps(person).encode()

    print(f"server {args.server}, --threads {args.threads}; good clients: phone_theft_load at {args.rate:g}/s over 4 "
          f"keep-alive connections (latency from the due time) and one new connection per request at 20/s; "
          f"{args.duration:g} s per attack, a fresh server each\n")
    print("| attack | keep-alive requests | failed | p50 µs | p99 µs | p99.9 µs | max µs | new-connection p99 ms "
          "(failed) | server alive | peak RSS MiB | RSS after MiB |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    names = list(attacks(0, threading.Event(), args.threads))
    wanted = [a for a in args.attacks.split(",") if a]
    for name in names:
        if wanted and not any(name.startswith(w) for w in wanted):
            continue
        server = Server(args.server, args.model, args.threads)
        stop = threading.Event()
        attack_threads = attacks(server.port, stop, args.threads)[name]()
        for t in attack_threads:
            t.start()
        time.sleep(1)  # the attack in place before the good clients start
        fresh = []
        prober = threading.Thread(target=fresh_client, args=(server.port, stop, body, fresh), daemon=True)
        prober.start()
        try:
            load = subprocess.run([args.load, "--port", str(server.port), "--bodies", bodies.name, "--rate", str(args.rate),
                                   "--duration", str(args.duration), "--warmup", "1", "--connections", "4"],
                                  capture_output=True, text=True, timeout=args.duration + 60)
        except subprocess.TimeoutExpired:  # each request waiting out its 10 s timeout: starved
            load = subprocess.CompletedProcess([], 1, "", "starved: not done 60 s after its end")
        stop.set()
        prober.join(15)
        for t in attack_threads:
            t.join(15)
        alive = server.alive()
        rss, hwm = memory_mib(server.process.pid) if alive else (float("nan"), float("nan"))
        server.stop()
        try:
            result = json.loads(load.stdout)
            latency = result["latency_us"] or {}
            good = (f"{result['measured']} | {result['errors']} | {latency.get('p50', '-')} | {latency.get('p99', '-')} | "
                    f"{latency.get('p999', '-')} | {latency.get('max', '-')}")
        except (ValueError, KeyError):
            good = f"- | load client failed: {load.stderr.strip()[:80]} | | | |"
        ok = [v for v in fresh if v is not None]
        print(f"| {name} | {good} | {quantile(ok, 0.99):.1f} ({len(fresh) - len(ok)} of {len(fresh)}) | "
              f"{'yes' if alive else 'NO'} | {hwm:.0f} | {rss:.0f} |", flush=True)
    os.unlink(bodies.name)


if __name__ == "__main__":
    sys.exit(main())
