"""Side-by-side benchmark of floresta against every peer, in one run, on the same rows.

For each model shape (benchmarks/make_models.py) every engine first scores a check batch;
an engine whose answers differ from the training library's own (beyond 1e-4, or any class
for k-means) is reported as disagreeing and not timed. Then each engine is timed: medians
over repeats, batch sizes 1 (single row from Python) and 100,000 (and 1,000), 1 thread
unless the row says otherwise. Results go to benchmarks/results/: compare.json, compare.md
(the table the README shows) and compare.png.

    .venv/bin/python benchmarks/compare.py [--quick] [--shapes a,b,c,d,e]

`--peers none` times floresta alone (still checked against the training libraries), for
comparing two floresta builds on one machine: run it once per build (PYTHONPATH selects the
package) with `--results` naming a folder per build (docs/benchmarks.md, compare/before-after).
"""
import os
import sys

# Idle OpenMP and ONNX Runtime workers must not spin on the two cores while another engine
# is being timed.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
# numpy's OpenBLAS workers likewise: no tree engine calls BLAS, but once started they wake and
# spin beside the one being timed (one row of (d) from Python: 2,130-2,310 ns a row with them,
# 1,740-1,800 without; limiting them after they exist did not help). Only the k-means shape
# needs them (faiss's search is BLAS), so a run without shape e starts none.


def _shapes_asked(argv):
    """--shapes from the command line before argparse runs (the variable must be set before numpy
    starts): its value, or None for the default (every shape)."""
    for i, arg in enumerate(argv):
        if arg.startswith("--shapes="):
            return arg.split("=", 1)[1]
        if arg == "--shapes" and i + 1 < len(argv):
            return argv[i + 1]
    return None


_SHAPES = _shapes_asked(sys.argv)
if _SHAPES is not None and "e" not in _SHAPES.split(","):
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("KMP_BLOCKTIME", "0")

import argparse
import json
import pathlib
import platform
import statistics
import tempfile
import time
import traceback

import numpy as np

HERE = pathlib.Path(__file__).parent
MODELS = HERE / "models"
RESULTS = HERE / "results"
CHECK_ROWS = 2000
TOLERANCE = 1e-4


def median_time(fn, repeats, min_time=0.0, warm=True):
    # Warm-up to a steady state: on these VMs the first calls of a kernel run measurably
    # slower, C++ or Python (docs/benchmarks.md, History: compare warm-up).
    start = time.perf_counter()
    fn()
    while warm and time.perf_counter() - start < 0.25:
        fn()
    times = []
    start = time.perf_counter()
    while len(times) < repeats or (time.perf_counter() - start < min_time and len(times) < 100000):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


# ----------------------------------------------------------------------------------------------
# engines: each returns {name: predict(X) -> array}; failures to build are reported


# The scoring plan each floresta engine's model was compiled with (Model.plan), by engine name.
PLANS = {}


def floresta_engines(path, kind, threads, kernels):
    """One engine per floresta kernel ("floresta avx512", "floresta avx2", "floresta sse4", "floresta portable"):
    the same model compiled for each instruction set this CPU runs, as on CPUs that lack the
    wider ones. PLANS records the plan each was compiled with."""
    import floresta

    engines = {}
    for kernel in kernels:
        model = floresta.load(path, kernel=kernel)
        model.n_threads = threads
        PLANS[f"floresta {kernel}"] = model.plan
        engines[f"floresta {kernel}"] = {"proba": model.predict_proba, "value": model.predict,
                                         "label": model.predict}[kind]
    return engines


def is_floresta(engine):
    return engine.startswith("floresta")


def xgboost_engines(path, kind, threads):
    import xgboost as xgb

    booster = xgb.Booster(model_file=str(path))
    booster.set_param({"nthread": threads})
    return {"xgboost.inplace_predict": lambda X: booster.inplace_predict(X)}


def lightgbm_engines(path, kind, threads):
    import lightgbm as lgb

    booster = lgb.Booster(model_file=str(path))
    return {"lightgbm.predict": lambda X: booster.predict(X, num_threads=threads)}


def onnx_engines(path, kind, threads, library, n_features):
    import onnxruntime as ort
    from onnxmltools.convert.common.data_types import FloatTensorType

    if library == "xgboost":
        import onnxmltools
        import xgboost as xgb

        booster = xgb.Booster(model_file=str(path))
        if "c" in (booster.feature_types or []):
            raise RuntimeError("onnxmltools cannot convert XGBoost categorical splits")
        onx = onnxmltools.convert_xgboost(booster, initial_types=[("X", FloatTensorType([None, n_features]))])
    else:
        import lightgbm as lgb
        import onnxmltools

        onx = onnxmltools.convert_lightgbm(lgb.Booster(model_file=str(path)),
                                           initial_types=[("X", FloatTensorType([None, n_features]))],
                                           zipmap=False)
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    session = ort.InferenceSession(onx.SerializeToString(), options, providers=["CPUExecutionProvider"])
    outputs = [o.name for o in session.get_outputs()]
    wanted = outputs[-1] if kind == "proba" or len(outputs) > 1 else outputs[0]

    def run(X):
        out = session.run([wanted], {"X": X})[0]
        if kind == "proba" and out.ndim == 2 and out.shape[1] == 2 and library == "lightgbm":
            return out
        return out

    return {"onnxruntime": run}


def treelite_engines(path, kind, threads, library, workdir):
    import tl2cgen
    import treelite

    if library == "xgboost":
        model = treelite.frontend.load_xgboost_model(str(path)) if str(path).endswith(".json") else \
            treelite.frontend.load_xgboost_model(str(path), format_choice="ubjson")
    else:
        model = treelite.frontend.load_lightgbm_model(str(path))
    lib = os.path.join(workdir, f"tl2cgen_{pathlib.Path(path).stem}.so")
    tl2cgen.export_lib(model, toolchain="gcc", libpath=lib, params={"parallel_comp": 16}, verbose=False)
    predictor = tl2cgen.Predictor(lib, nthread=threads)

    def run(X):
        out = predictor.predict(tl2cgen.DMatrix(X, dtype="float32"))
        return np.squeeze(out)

    return {"treelite+tl2cgen": run}


def lleaves_engines(path, kind, threads, workdir):
    import lleaves

    model = lleaves.Model(model_file=str(path))
    model.compile(cache=os.path.join(workdir, f"lleaves_{pathlib.Path(path).stem}.o"))
    return {"lleaves": lambda X: model.predict(X, n_jobs=threads)}


def kmeans_engines(path, threads):
    import faiss
    from sklearn.cluster import KMeans

    document = json.loads(pathlib.Path(path).read_text())
    centers = np.array(document["kmeans"]["centers"], dtype=np.float32)
    km = KMeans(n_clusters=len(centers), n_init=1)
    km.cluster_centers_ = centers
    km._n_threads = threads
    km.n_features_in_ = centers.shape[1]
    km.labels_ = np.zeros(1, dtype=np.int32)
    km._n_features_out = len(centers)
    index = faiss.IndexFlatL2(centers.shape[1])
    index.add(centers)
    faiss.omp_set_num_threads(threads)
    return {"scikit-learn": km.predict, "faiss.IndexFlatL2": lambda X: index.search(X, 1)[1][:, 0]}


# ----------------------------------------------------------------------------------------------

SHAPES = {
    "a": ("a_phone_xgb.ubj", "xgboost", "proba", "phone-theft 10-class XGBoost, 1000 trees depth 8, 1000-level categorical"),
    "b": ("b_fraud_lgb.txt", "lightgbm", "proba", "fraud binary LightGBM, 300 trees, 30 features with NaN"),
    "c": ("c_binary_xgb.json", "xgboost", "proba", "binary XGBoost, 100 trees depth 6, 30 features"),
    "d": ("d_regression_lgb.txt", "lightgbm", "value", "LightGBM regression, 1000 trees x 31 leaves"),
}


def reference(library, path, X, kind):
    if library == "xgboost":
        import xgboost as xgb

        out = xgb.Booster(model_file=str(path)).inplace_predict(X)
    else:
        import lightgbm as lgb

        out = lgb.Booster(model_file=str(path)).predict(X)
    if kind == "proba" and out.ndim == 1:
        out = np.column_stack([1 - out, out])
    return out


def normalise(out, kind):
    out = np.asarray(out, dtype=np.float64)
    if kind == "proba" and out.ndim == 1:
        out = np.column_stack([1 - out, out])
    if kind == "value":
        out = out.reshape(-1)
    return out


def kernels_for(threads, kernels):
    # Every kernel on one thread; the fastest only on more (the kernel dimension is about
    # CPUs, not threads).
    return kernels if threads == 1 else kernels[:1]


def run_shape(key, quick, workdir, rows_list, threads_list, kernels, results, peers=True):
    file, library, kind, title = SHAPES[key]
    path = MODELS / file
    X = np.load(MODELS / (file.split(".")[0] + ".rows.npy"))
    expected = reference(library, path, X[:CHECK_ROWS], kind)
    def named(engine, fn):
        fn.engine = engine
        return fn

    builders = [named("floresta", lambda t: floresta_engines(path, kind, t, kernels_for(t, kernels)))]
    if not peers:
        builders = builders[:1]
    else:
        builders.append(named("xgboost.inplace_predict", lambda t: xgboost_engines(path, kind, t)) if library == "xgboost"
                        else named("lightgbm.predict", lambda t: lightgbm_engines(path, kind, t)))
        builders.append(named("onnxruntime", lambda t: onnx_engines(path, kind, t, library, X.shape[1])))
        if key != "a":
            builders.append(named("treelite+tl2cgen", lambda t: treelite_engines(path, kind, t, library, workdir)))
        else:  # gcc takes too long on the 1,000 categorical trees (docs/benchmarks.md, compare/shape-a)
            results.append({"shape": key, "title": title, "engine": "treelite+tl2cgen", "threads": 1,
                            "status": "not run: compiling this model with gcc takes longer than 8 minutes"})
        if library == "lightgbm":
            builders.append(named("lleaves", lambda t: lleaves_engines(path, kind, t, workdir)))
    for threads in threads_list:
        timed = []  # (name, predict, row) of the engines that agree with the reference
        for build in builders:
            try:
                engines = build(threads)
            except Exception as error:  # a peer that cannot load this model is reported
                results.append({"shape": key, "title": title, "engine": build.engine, "threads": threads,
                                "status": f"unavailable: {str(error).splitlines()[0][:160]}"})
                continue
            for name, predict in engines.items():
                row = {"shape": key, "title": title, "engine": name, "threads": threads}
                if is_floresta(name) and name in PLANS:
                    row["plan"] = PLANS[name]
                results.append(row)
                try:
                    worst = float(np.max(np.abs(normalise(predict(X[:CHECK_ROWS]), kind) - expected)))
                except Exception as error:
                    row["status"] = f"failed: {str(error).splitlines()[0][:160]}"
                    continue
                row["worst_difference"] = worst
                if not worst <= TOLERANCE:
                    row["status"] = f"disagrees (worst difference {worst:.3g}): not timed"
                    continue
                row["status"] = "ok"
                timed.append((name, predict, row))
        for n in rows_list:
            if n == 1 and threads > 1:
                continue
            batch = np.ascontiguousarray(X[:n])
            repeats = 3 if n >= 100_000 else (20 if n >= 1000 else 200)
            rounds = 1 if quick and n >= 100_000 else repeats // (20 if n == 1 else 1)
            # Engines take turns, one timing each per round, so that a slow spell of the
            # machine (they last seconds here) hits every engine rather than one.
            samples = {name: [] for name, _, _ in timed}
            for name, predict, _ in timed:
                median_time(lambda: predict(batch), 1)  # warm-up
            for _ in range(max(rounds, 1)):
                for name, predict, _ in timed:
                    samples[name].append(median_time(lambda: predict(batch), 1 if n > 1 else 20,
                                                     min_time=0.0 if n > 1 else 0.03, warm=False))
            for name, _, row in timed:
                row[f"ns_per_row_{n}"] = statistics.median(samples[name]) / n * 1e9
        for name, _, row in timed:
            print(f"  {key} {name + ' ' + row.get('plan', ''):34s} threads={threads} " + " ".join(
                f"{n}:{row.get(f'ns_per_row_{n}', float('nan')):.0f}ns" for n in rows_list), file=sys.stderr)


def run_kmeans(quick, threads_list, kernels, results, peers=True):
    import floresta

    for k in (7, 64, 256):
        for d in (2, 16, 64):
            stem = f"e_kmeans_k{k}_d{d}"
            X = np.load(MODELS / f"{stem}.rows.npy")
            for threads in threads_list:
                engines = {}
                for kernel in kernels_for(threads, kernels):
                    model = floresta.load(MODELS / f"{stem}.json", kernel=kernel)
                    model.n_threads = threads
                    engines[f"floresta {kernel}"] = model.predict
                engines.update(kmeans_engines(MODELS / f"{stem}.json", threads))
                expected = engines["scikit-learn"](X[:CHECK_ROWS])
                timed = []
                for name, predict in engines.items():
                    if not peers and not name.startswith("floresta"):
                        continue  # the peers' answers still check floresta's
                    row = {"shape": "e", "title": f"k-means k={k} d={d}", "engine": name, "threads": threads}
                    results.append(row)
                    labels = np.asarray(predict(X[:CHECK_ROWS]))
                    mismatches = int(np.sum(labels != expected))
                    row["worst_difference"] = mismatches
                    if mismatches:
                        row["status"] = f"disagrees ({mismatches} labels of {CHECK_ROWS}): not timed"
                        continue
                    row["status"] = "ok"
                    timed.append((name, predict, row))
                samples = {name: [] for name, _, _ in timed}
                for name, predict, _ in timed:
                    median_time(lambda: predict(X), 1)  # warm-up
                for _ in range(1 if quick else 5):  # engines take turns (see run_shape)
                    for name, predict, _ in timed:
                        samples[name].append(median_time(lambda: predict(X), 1, warm=False))
                for name, _, row in timed:
                    row["ns_per_row_100000"] = statistics.median(samples[name]) / len(X) * 1e9
                print(f"  e k={k} d={d} threads={threads} done", file=sys.stderr)


def load_times(results):
    import floresta
    import lightgbm as lgb
    import xgboost as xgb

    for file, loaders in [("a_phone_xgb.ubj", {"xgboost.Booster": lambda p: xgb.Booster(model_file=p)}),
                          ("d_regression_lgb.txt", {"lightgbm.Booster": lambda p: lgb.Booster(model_file=p)})]:
        path = str(MODELS / file)
        engines = {"floresta": floresta.load, **loaders}
        times = {name: [] for name in engines}
        for _ in range(9):  # engines take turns, so that a slow spell of the machine hits all
            for name, loader in engines.items():
                t0 = time.perf_counter()
                loader(path)
                times[name].append(time.perf_counter() - t0)
        for name in engines:
            results.append({"shape": "load", "title": f"load {file}", "engine": name, "threads": 1, "status": "ok",
                            "load_ms": statistics.median(times[name]) * 1e3})


def cpu_model():
    # Ratios depend on the CPU (gathers, vector width): record which one ran.
    try:
        for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def write_outputs(results, meta):
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "compare.json").write_text(json.dumps({"meta": meta, "results": results}, indent=1))
    lines = [f"Measured {meta['date']} on {meta.get('cpu', meta['machine'])} ({meta['cpus']} CPUs); medians; "
             "ns per row (lower is better); ratio = fastest peer / floresta with that kernel "
             "(avx512, avx2, sse4, portable: the same model compiled for each instruction set, as on a "
             "CPU without the wider ones; the peers keep their own best code). floresta's scoring plan "
             "is in brackets (Model.plan; the bitvector plan scores fewer than sixteen rows a row at a "
             "time, through its single-row layout on avx512, avx2 and sse4 (and portable on 64-bit "
             "ARM) where its cost model takes the forest, else with the quantized row walk).", ""]
    for shape in ["a", "b", "c", "d", "e", "load"]:
        rows = [r for r in results if r["shape"] == shape]
        if not rows:
            continue
        if shape == "load":
            lines += ["| model | engine | load (ms) |", "|---|---|---|"]
            for r in rows:
                lines.append(f"| {r['title']} | {r['engine']} | {r['load_ms']:.1f} |")
            lines.append("")
            continue
        titles = sorted({r["title"] for r in rows}, key=lambda t: [r["title"] for r in rows].index(t))
        for title in titles:
            group = [r for r in rows if r["title"] == title]
            batches = sorted({int(k.split("_")[-1]) for r in group for k in r if k.startswith("ns_per_row_")})
            lines += [f"**{shape}: {title}**", "",
                      "| engine | threads | " + " | ".join(f"{n:,} rows" for n in batches) + " | status |",
                      "|---|---|" + "---|" * len(batches) + "---|"]
            for r in group:
                cells = [f"{r[f'ns_per_row_{n}']:.0f}" if f"ns_per_row_{n}" in r else "" for n in batches]
                engine = r["engine"] + (f" ({r['plan']})" if "plan" in r else "")
                lines.append(f"| {engine} | {r['threads']} | " + " | ".join(cells) + f" | {r['status']} |")
            for ours in [r for r in group if is_floresta(r["engine"])]:
                threads = ours["threads"]
                ratios = []
                for n in batches:
                    peers = [r[f"ns_per_row_{n}"] for r in group if not is_floresta(r["engine"])
                             and r["threads"] == threads and f"ns_per_row_{n}" in r]
                    if peers and f"ns_per_row_{n}" in ours:
                        ratios.append(f"{n:,} rows: {min(peers) / ours[f'ns_per_row_{n}']:.2f}x")
                if ratios:
                    lines.append(f"| *{ours['engine']} vs fastest peer* | {threads} | " + ", ".join(ratios) + " | | |")
            lines.append("")
    (RESULTS / "compare.md").write_text("\n".join(lines) + "\n")
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        timed = [r for r in results if r.get("ns_per_row_100000") and r["threads"] == 1]
        labels = [f"{r['shape']} {r['title'][:28]}\n{r['engine']}" for r in timed]
        fig, ax = plt.subplots(figsize=(10, max(4, 0.28 * len(timed))))
        shades = {"floresta avx512": "tab:green", "floresta avx2": "yellowgreen", "floresta sse4": "darkkhaki",
                  "floresta portable": "olive"}
        colors = [shades.get(r["engine"], "tab:green") if is_floresta(r["engine"]) else "tab:gray" for r in timed]
        ax.barh(range(len(timed)), [r["ns_per_row_100000"] for r in timed], color=colors)
        ax.set_yticks(range(len(timed)), labels, fontsize=6)
        ax.set_xscale("log")
        ax.invert_yaxis()
        ax.set_xlabel("ns per row, 100,000-row batch, 1 thread (log scale; greens = floresta's kernels)")
        fig.tight_layout()
        fig.savefig(RESULTS / "compare.png", dpi=110)
    except Exception:
        traceback.print_exc()


def main():
    global RESULTS
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="one repeat for the big batches")
    parser.add_argument("--shapes", default="a,b,c,d,e,load")
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--kernels", default="all",
                        help="floresta kernels to time, comma-separated, or 'all' this CPU runs (fastest first)")
    parser.add_argument("--peers", default="all", choices=["all", "none"],
                        help="'none': time floresta alone (before/after comparisons of floresta builds)")
    parser.add_argument("--results", default=str(RESULTS), help="the folder compare.json/.md/.png go to")
    args = parser.parse_args()
    RESULTS = pathlib.Path(args.results)
    peers = args.peers == "all"
    if not (MODELS / "README").exists():
        sys.exit("run benchmarks/make_models.py first (make bench does)")
    shapes = args.shapes.split(",")
    threads = [int(t) for t in args.threads.split(",")]
    import floresta

    kernels = floresta.available_kernels() if args.kernels == "all" else args.kernels.split(",")
    results = []
    with tempfile.TemporaryDirectory() as workdir:
        for key in "abcd":
            if key in shapes:
                run_shape(key, args.quick, workdir, [1, 1000, 100_000], threads, kernels, results, peers)
    if "e" in shapes:
        run_kmeans(args.quick, threads, kernels, results, peers)
    if "load" in shapes and peers:
        load_times(results)
    meta = {"date": time.strftime("%Y-%m-%d"), "machine": platform.processor() or platform.machine(),
            "cpu": cpu_model(),
            "cpus": os.cpu_count(), "python": platform.python_version(), "kernels": kernels,
            "floresta": str(pathlib.Path(floresta.__file__).parent)}
    write_outputs(results, meta)
    print((RESULTS / "compare.md").read_text())


if __name__ == "__main__":
    main()
