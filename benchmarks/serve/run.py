"""Load benchmark of phone_theft_server on loopback, side by side in one run with Python
servers of the kind the original project deployed (FastAPI + uvicorn + XGBoost's own
predictor, reference_server.py) — the fastest one-row path we found, and the original's own
way — same model, same requests. Not a test: `make bench-serve`.

    .venv/bin/python benchmarks/serve/run.py [--model examples/models/phone_theft.json] [--duration 5] [--repeats 3]

Method (written into serve.md too):
  - requests: POST /predict, one person each, drawn (fixed seed) from the model's vocabularies;
    256 different bodies used in turn, identical for every server; the Python servers' answers
    are checked against the C++ server's first;
  - the servers run at once; every measure is repeated --repeats times (3), each repetition
    going through the servers in turn, and the median run is reported;
  - throughput: wrk (Debian's), 1 thread, 64 keep-alive connections, --duration seconds (5);
  - latency at concurrency 1: wrk, 1 thread, 1 connection (closed loop: the next request
    leaves when the answer arrives);
  - latency at a fixed offered load (default 1,000 requests/s): Debian has no wrk2 and wrk
    has no rate option, so phone_theft_load (benchmarks/serve/fixed_rate.cpp) sends requests
    on a fixed schedule over 4 keep-alive connections and measures each from the time it was
    due (no coordinated omission), after 2 s of warm-up;
  - everything (servers and load generator) shares this machine's cores; the C++ server runs
    with its default 64 threads, the Python servers with one uvicorn worker per core.
Writes benchmarks/results/serve.json, serve.md and serve.png.
"""
import argparse
import datetime
import json
import os
import pathlib
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

REPO = pathlib.Path(__file__).resolve().parents[2]
HERE = pathlib.Path(__file__).resolve().parent
GOALS = {"throughput": 15000, "p99_us_at_fixed_rate": 1000, "ratio": 20}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_healthy(url, process, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{url}: the server exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url + "/health", timeout=2) as response:
                if response.status == 200:
                    return json.load(response)
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"{url}: no answer from /health after {timeout} s")


def post(url, body):
    request = urllib.request.Request(url + "/predict", data=body.encode(), headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


def people(model_path, n, seed=2024):
    import numpy as np

    import floresta

    model = floresta.load(str(model_path))
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        person = {}
        for feature in model.schema["features"]:
            values = feature.get("categories")
            person[feature["name"]] = int(rng.integers(14, 80)) if values is None else str(rng.choice(values))
        out.append(person)
    return out, model


WRK_SCRIPT = r"""
local bodies = { %s }
local requests = {}
local i = 0
init = function(args)
  for k, body in ipairs(bodies) do
    requests[k] = wrk.format("POST", "/predict", {["Content-Type"] = "application/json"}, body)
  end
end
request = function()
  if wrk.path == "/health" then return wrk.format("GET", "/health") end
  i = i + 1
  return requests[(i %% #requests) + 1]
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests":%%d,"duration_us":%%d,"errors":{"connect":%%d,"read":%%d,"write":%%d,"status":%%d,"timeout":%%d},' ..
    '"latency_us":{"p50":%%d,"p90":%%d,"p99":%%d,"p999":%%d,"max":%%d,"mean":%%.1f}}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency:percentile(99.9),
    latency.max, latency.mean))
end
"""


def run_wrk(url, script, connections, duration, path="/predict"):
    command = ["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--timeout", "10s", "-s", str(script), url + path]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    line = next(l for l in output.splitlines() if l.startswith("WRK_JSON "))
    result = json.loads(line[len("WRK_JSON "):])
    result["requests_per_s"] = round(result["requests"] / (result["duration_us"] / 1e6), 1)
    result["connections"] = connections
    result["failed"] = sum(result["errors"].values())
    return result


def run_fixed_rate(load_client, port, bodies_path, rate, duration):
    command = [str(load_client), "--port", str(port), "--bodies", str(bodies_path), "--rate", str(rate),
               "--duration", str(duration), "--warmup", "2", "--connections", "4"]
    completed = subprocess.run(command, capture_output=True, text=True)
    if completed.returncode not in (0, 1):
        raise SystemExit(f"phone_theft_load failed: {completed.stderr}")
    return json.loads(completed.stdout)


def median_run(measure, repeats, key):
    """Runs `measure` `repeats` times and returns the run whose `key` is the median, with every
    run's key in "runs": on a shared machine one burst of someone else's work then moves the
    reported number only if it hits most of the runs."""
    results = [measure() for _ in range(repeats)]
    ranked = sorted(results, key=key)
    chosen = dict(ranked[len(ranked) // 2])
    chosen["runs"] = [key(r) for r in results]
    return chosen


def versions():
    out = {"python": platform.python_version()}
    for name in ("floresta", "xgboost", "fastapi", "uvicorn", "pandas"):
        try:
            out[name] = __import__(name).__version__
        except Exception:  # noqa: BLE001 - informative only
            out[name] = None
    wrk = subprocess.run(["wrk", "-v"], capture_output=True, text=True)
    out["wrk"] = (wrk.stdout + wrk.stderr).split("\n")[0].strip()
    return out


def cpu_model():
    try:
        for line in open("/proc/cpuinfo", encoding="utf-8"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=str(REPO / "examples/models/phone_theft.json"))
    parser.add_argument("--server", default=str(REPO / "build/examples/phone_theft/phone_theft_server"))
    parser.add_argument("--load-client", default=str(REPO / "build/examples/phone_theft/phone_theft_load"))
    parser.add_argument("--duration", type=int, default=5, help="seconds per measurement")
    parser.add_argument("--repeats", type=int, default=3, help="runs per measurement; the median run is reported")
    parser.add_argument("--rate", type=int, default=1000, help="fixed offered load, requests/s")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--python-workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--out", default=str(REPO / "benchmarks/results"))
    args = parser.parse_args()

    for tool in (args.server, args.load_client):
        if not pathlib.Path(tool).is_file():
            raise SystemExit(f"{tool} is missing: build it (cmake --build build --target phone_theft_server phone_theft_load)")
    if not shutil.which("wrk"):
        raise SystemExit("wrk is missing: apt-get install wrk")
    model_path = pathlib.Path(args.model).resolve()
    persons, _ = people(model_path, 256)
    bodies = [json.dumps(p, ensure_ascii=False) for p in persons]

    work = pathlib.Path(tempfile.mkdtemp(prefix="bench-serve-"))
    bodies_path = work / "bodies.json"
    bodies_path.write_text(json.dumps(persons, ensure_ascii=False), encoding="utf-8")
    script = work / "post.lua"
    script.write_text(WRK_SCRIPT % ", ".join("[==[" + b + "]==]" for b in bodies), encoding="utf-8")

    def uvicorn(mode, port):
        env = dict(os.environ, PHONE_THEFT_MODEL=str(model_path), PHONE_THEFT_REFERENCE=mode)
        return [sys.executable, "-m", "uvicorn", "reference_server:app", "--app-dir", str(HERE), "--host", "127.0.0.1",
                "--port", str(port), "--workers", str(args.python_workers), "--log-level", "warning",
                "--no-access-log"], env

    plan = {
        "cpp": ("phone_theft_server (C++: floresta + cpp-httplib, 64 threads)",
                lambda port: ([args.server, "--model", str(model_path), "--port", str(port)], None)),
        "python": (f"Python reference: FastAPI + uvicorn ({args.python_workers} workers), category codes + "
                   "XGBoost Booster.inplace_predict", lambda port: uvicorn("codes", port)),
        "python_original": ("Python, the original's way: FastAPI + uvicorn, one-row pandas DataFrame + DMatrix + "
                            "Booster.predict", lambda port: uvicorn("original", port)),
    }
    load_before = os.getloadavg()
    servers = {}
    processes = []
    health = None
    worst = 0.0
    rps = lambda run: run["requests_per_s"]  # noqa: E731
    p99 = lambda run: run["latency_us"]["p99"]  # noqa: E731
    try:
        for key, (name, command_for) in plan.items():
            port = free_port()
            command, env = command_for(port)
            servers[key] = {"name": name, "url": f"http://127.0.0.1:{port}", "port": port}
            processes.append(subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL,
                                              stderr=open(work / f"{key}.log", "w")))
            answer = wait_healthy(servers[key]["url"], processes[-1])
            health = health or answer
        # Same answers as the C++ server (XGBoost's float32 softmax against floresta's: within 1e-6).
        for body in bodies[:32]:
            reference = {x["label"]: x["value"] for x in post(servers["cpp"]["url"], body)}
            for key in ("python", "python_original"):
                got = post(servers[key]["url"], body)
                difference = max(abs(reference[y["label"]] - y["value"]) for y in got)
                assert len(got) == len(reference) and difference < 1e-6, (key, body, got)
                worst = max(worst, difference)
        print(f"answers agree: worst probability difference {worst:.3g} over 32 people")
        for server in servers.values():
            run_wrk(server["url"], script, args.connections, 2)  # warm-up

        # Every repetition measures every server in turn, so that other work on this shared
        # machine falls on all of them alike; the median run of each is reported.
        runs = {key: {"throughput": [], "health_throughput": [], "concurrency_1": [], "fixed_rate": []} for key in servers}
        for repeat in range(args.repeats):
            print(f"== repetition {repeat + 1} of {args.repeats}")
            for key, server in servers.items():
                mine = runs[key]
                mine["throughput"].append(run_wrk(server["url"], script, args.connections, args.duration))
                if key == "cpp":
                    # The HTTP layer alone: GET /health scores nothing (what limits the throughput).
                    mine["health_throughput"].append(run_wrk(server["url"], script, args.connections, args.duration,
                                                             "/health"))
                mine["concurrency_1"].append(run_wrk(server["url"], script, 1, args.duration))
                # A server that saturates below 1.2x the offered load is not run at it.
                if mine["throughput"][0]["requests_per_s"] >= 1.2 * args.rate:
                    mine["fixed_rate"].append(run_fixed_rate(args.load_client, server["port"], bodies_path, args.rate,
                                                             args.duration))
                fixed = mine["fixed_rate"][-1] if mine["fixed_rate"] else None
                print(f"  {key}: {mine['throughput'][-1]['requests_per_s']:.0f} req/s at {args.connections} connections; "
                      f"concurrency 1 p50/p99 {mine['concurrency_1'][-1]['latency_us']['p50']}"
                      f"/{mine['concurrency_1'][-1]['latency_us']['p99']} us; {args.rate} req/s offered: "
                      + (f"p50/p99 {fixed['latency_us']['p50']}/{fixed['latency_us']['p99']} us, errors {fixed['errors']}"
                         if fixed else "not run (saturated)"))
        for key, server in servers.items():
            mine = runs[key]
            server["throughput"] = median_run(iter(mine["throughput"]).__next__, len(mine["throughput"]), rps)
            if mine["health_throughput"]:
                server["health_throughput"] = median_run(iter(mine["health_throughput"]).__next__,
                                                         len(mine["health_throughput"]), rps)
            server["concurrency_1"] = median_run(iter(mine["concurrency_1"]).__next__, len(mine["concurrency_1"]), p99)
            server["fixed_rate"] = (median_run(iter(mine["fixed_rate"]).__next__, len(mine["fixed_rate"]), p99)
                                    if mine["fixed_rate"] else None)
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
    load_after = os.getloadavg()

    cpp = servers["cpp"]
    ratios = {key: round(cpp["throughput"]["requests_per_s"] / servers[key]["throughput"]["requests_per_s"], 1)
              for key in ("python", "python_original")}
    fixed_p99 = cpp["fixed_rate"]["latency_us"]["p99"] if cpp["fixed_rate"] else None
    goals = {
        "throughput >= 15,000 req/s": cpp["throughput"]["requests_per_s"] >= GOALS["throughput"],
        f"p99 < 1 ms at {args.rate:,} req/s": fixed_p99 is not None and fixed_p99 < GOALS["p99_us_at_fixed_rate"],
        ">= 20x the Python reference (the faster one)": ratios["python"] >= GOALS["ratio"],
        ">= 20x the original's way": ratios["python_original"] >= GOALS["ratio"],
    }
    result = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": {"cpu": cpu_model(), "cores": os.cpu_count(), "load_average_before": load_before,
                    "load_average_after": load_after},
        "model": {"path": str(model_path.relative_to(REPO)) if model_path.is_relative_to(REPO) else str(model_path),
                  "bytes": model_path.stat().st_size, "trees": health["model"]["trees"],
                  "classes": health["model"]["classes"], "version": health["model"]["version"]},
        "versions": versions(),
        "settings": {"duration_s": args.duration, "repeats": args.repeats, "connections": args.connections,
                     "fixed_rate": args.rate,
                     "fixed_rate_connections": 4, "python_workers": args.python_workers, "bodies": len(bodies)},
        "answers_worst_difference": worst,
        "servers": {k: {kk: vv for kk, vv in v.items() if kk not in ("url", "port")} for k, v in servers.items()},
        "throughput_ratios": ratios,
        "goals": goals,
    }
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "serve.json").write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    (out / "serve.md").write_text(markdown(result), encoding="utf-8")
    chart(result, out / "serve.png")
    print(markdown(result))
    shutil.rmtree(work, ignore_errors=True)


def _us(value):
    return "—" if value is None else f"{value:,.0f}"


def markdown(r):
    order = ["cpp", "python", "python_original"]
    s = r["servers"]
    rate = r["settings"]["fixed_rate"]

    def latency(server, measure):
        if server[measure] is None:
            return "saturated below the offered load"
        return f"{_us(server[measure]['latency_us']['p50'])} / {_us(server[measure]['latency_us']['p99'])}"

    rows = [
        ("throughput, 64 keep-alive connections (req/s)", [f"{s[k]['throughput']['requests_per_s']:,.0f}" for k in order]),
        ("C++ throughput ÷ this server's", ["1×", f"{r['throughput_ratios']['python']}×",
                                             f"{r['throughput_ratios']['python_original']}×"]),
        ("p50 / p99 latency at 64 connections (µs)", [latency(s[k], "throughput") for k in order]),
        ("p50 / p99 latency at concurrency 1 (µs)", [latency(s[k], "concurrency_1") for k in order]),
        (f"p50 / p99 latency at {rate:,} req/s offered (µs)", [latency(s[k], "fixed_rate") for k in order]),
    ]
    failed = {k: (v["throughput"]["failed"] + v["concurrency_1"]["failed"] +
                  (v["fixed_rate"]["errors"] if v["fixed_rate"] else 0)) for k, v in s.items()}
    lines = [
        "# phone_theft_server under load",
        "",
        f"One run, {r['date']}, {r['machine']['cpu']}, {r['machine']['cores']} cores shared by the servers and the "
        f"load generator (load average before: {r['machine']['load_average_before'][0]:.2f}). Model "
        f"`{r['model']['path']}` ({r['model']['trees']:,} trees, {r['model']['classes']} classes, "
        f"{r['model']['bytes'] / 1e6:.1f} MB). Every request is `POST /predict` with one person "
        f"({r['settings']['bodies']} different bodies in turn, the same for every server; the answers agree within "
        f"{r['answers_worst_difference']:.1g}).",
        "",
        "| measure | C++: phone_theft_server | Python reference (codes + `inplace_predict`) | Python, the original's way (DataFrame + DMatrix) |",
        "|---|---|---|---|",
        *[f"| {name} | " + " | ".join(values) + " |" for name, values in rows],
        "",
        "Throughput of each run (req/s): " + "; ".join(
            f"{k} " + " / ".join(f"{x:,.0f}" for x in s[k]["throughput"]["runs"]) for k in order) + ".",
        "",
        "Failed requests: " + ", ".join(f"{k} {v}" for k, v in failed.items()) + ".",
        "",
        "Goals: " + "; ".join(f"{k}: {'met' if v else '**not met**'}" for k, v in r["goals"].items()) + ".",
        "",
        "What limits the C++ throughput is HTTP, not scoring: in the same run `GET /health`, which scores nothing, "
        f"answers {s['cpp']['health_throughput']['requests_per_s']:,.0f} req/s under the same load, against "
        f"{s['cpp']['throughput']['requests_per_s']:,.0f} for `POST /predict`. cpp-httplib gives each connection a "
        "thread that waits in `select()` and makes several system calls per request, and wrk takes one of the two "
        "cores. The faster Python reference also scores in C++ (XGBoost's predictor), behind uvicorn's event loop, so what separates it from the C++ server is mostly Python's "
        "per-request cost and that call; the original's way adds a pandas DataFrame and a DMatrix per request.",
        "",
        f"Method: all three servers run at once (idle while not measured); each measure is repeated "
        f"{r['settings']['repeats']} times, every repetition going through the servers in turn, and the median run "
        "is shown (by throughput, or by p99 for the latency measures; serve.json keeps every run), so that other "
        "work on this shared machine falls on every server alike and moves a number only if it hits most runs. "
        "Throughput and concurrency 1 with `wrk` (1 thread; 64 or 1 keep-alive connections, "
        f"{r['settings']['duration_s']} s after a 2 s warm-up); the fixed offered load with `phone_theft_load` "
        f"(benchmarks/serve/fixed_rate.cpp: {r['settings']['fixed_rate_connections']} keep-alive connections, requests sent "
        "on a fixed schedule and timed from when they were due, so queueing delay counts; wrk has no rate option and "
        "Debian has no wrk2); a server is not run at the fixed load when it saturates below 1.2 times it. The C++ "
        "server runs with its defaults (64 threads); the Python servers with "
        f"{r['settings']['python_workers']} uvicorn workers (one per core) and one XGBoost thread each. The reference "
        "encodes the values to the model's category codes in a float32 row and calls `Booster.inplace_predict` "
        "(XGBoost's fastest one-row path here); the original's way builds a one-row pandas DataFrame with the "
        "categories and a `DMatrix` for `Booster.predict`, as the original project did. "
        "Produced by `make bench-serve` (benchmarks/serve/run.py).",
        "",
    ]
    return "\n".join(lines)


def chart(r, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    order = [("cpp", "C++ (floresta)", "#d32f2f"), ("python", "Python reference", "#7a8aa3"),
             ("python_original", "Python, original's way", "#b9c2d0")]
    s = r["servers"]
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.9))
    values = [s[k]["throughput"]["requests_per_s"] for k, _, _ in order]
    bars = left.bar([n for _, n, _ in order], values, color=[c for _, _, c in order])
    left.set_yscale("log")
    left.set_title(f"Throughput, {r['settings']['connections']} keep-alive connections (log scale)")
    left.set_ylabel("requests / s")
    left.axhline(GOALS["throughput"], color="#333", linestyle="--", linewidth=1)
    left.text(2.45, GOALS["throughput"], "goal 15,000", va="bottom", ha="right", fontsize=8)
    for bar, value in zip(bars, values):
        left.text(bar.get_x() + bar.get_width() / 2, value, f"{value:,.0f}", ha="center", va="bottom", fontsize=9)
    left.tick_params(axis="x", labelsize=8)

    groups = ["concurrency 1", f"{r['settings']['fixed_rate']:,} req/s offered"]
    width = 0.13
    for i, (key, label, color) in enumerate(order):
        for j, (stat, shade) in enumerate([("p50", 1.0), ("p99", 0.55)]):
            heights = [s[key]["concurrency_1"]["latency_us"][stat],
                       s[key]["fixed_rate"]["latency_us"][stat] if s[key]["fixed_rate"] else 0]
            x = [g + (i * 2 + j - 2.5) * width for g in range(len(groups))]
            right.bar(x, heights, width, color=color, alpha=shade, label=f"{label} {stat}")
    right.set_xticks(range(len(groups)), groups)
    right.set_yscale("log")
    right.set_ylabel("latency (µs, log scale)")
    right.axhline(GOALS["p99_us_at_fixed_rate"], color="#333", linestyle="--", linewidth=1)
    right.set_title("Latency (no bar: saturated below the offered load)")
    right.legend(fontsize=7, ncol=3, loc="upper center", bbox_to_anchor=(0.5, -0.1))
    fig.suptitle("phone_theft_server against Python + XGBoost servers, loopback, 2 shared cores, one run", fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


if __name__ == "__main__":
    main()
