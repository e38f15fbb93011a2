"""Explanations per second: floresta's TreeSHAP beside XGBoost's pred_contribs, LightGBM's
pred_contrib and shap's TreeExplainer, on the benchmark shapes (a)-(d) (make_models.py) and
the shipped fraud model, 1 and 2 threads, in one run (this VM drifts between runs).

    .venv/bin/python benchmarks/explain.py [--quick] [--shapes a,b,c,d,fraud]

Each engine first explains a check batch and is compared with floresta (the worst difference
is reported, so a fast wrong answer shows); then engines take turns, three rounds, the best
round of each, on the same rows. FastTreeSHAP is not a peer: its sdist needs numpy < 1.22 to build, which Python 3.11's
wheels do not offer. Writes benchmarks/results/explain.json and explain.md.
"""
import argparse
import json
import pathlib
import platform
import tempfile
import time

import lightgbm as lgb
import numpy as np
import xgboost as xgb

import floresta

HERE = pathlib.Path(__file__).parent
MODELS = HERE / "models"
RESULTS = HERE / "results"
ROOT = HERE.parent

# shape: (file, library, rows explained per timing)
SHAPES = {
    "a": ("a_phone_xgb.ubj", "xgboost", 200),
    "b": ("b_fraud_lgb.txt", "lightgbm", 600),
    "c": ("c_binary_xgb.json", "xgboost", 2000),
    "d": ("d_regression_lgb.txt", "lightgbm", 300),
    "fraud": ("bank_fraud", "lightgbm", 3000),
}


def best_time(fn, repeats):
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def load_shape(key):
    name, library, n = SHAPES[key]
    if key == "fraud":  # the shipped model: LightGBM text inside floresta JSON, rows from its features
        document = json.loads((ROOT / "examples" / "models" / "bank_fraud.json").read_text())
        path = pathlib.Path(tempfile.mkdtemp()) / "bank_fraud_estimator.txt"  # the peers read LightGBM's text
        path.write_text(document["estimator"]["text"])
        model = floresta.load(ROOT / "examples" / "models" / "bank_fraud.json")
        rng = np.random.default_rng(0)
        X = rng.normal(size=(n, model.n_features_in_))
        X[rng.random(X.shape) < 0.05] = np.nan
        return path, library, X, model
    path = MODELS / name
    X = np.load(MODELS / (name.rsplit(".", 1)[0] + ".rows.npy"))[:n].astype(np.float64)
    return path, library, X, floresta.load(path)


def engines(key, path, library, X, threads):
    out = {}
    model = floresta.load(ROOT / "examples" / "models" / "bank_fraud.json") if key == "fraud" else floresta.load(path)
    model.n_threads = threads
    out["floresta"] = lambda: model.predict_contributions(X)
    if library == "xgboost":
        booster = xgb.Booster(model_file=str(path))
        booster.set_param({"nthread": threads})
        categorical = key == "a"
        dm = xgb.DMatrix(X, missing=np.nan, enable_categorical=categorical,
                         feature_types=["c", "q", "q", "q", "q", "q"] if categorical else None)
        out["xgboost pred_contribs"] = lambda: booster.predict(dm, pred_contribs=True)
    else:
        booster = lgb.Booster(model_file=str(path))
        out["lightgbm pred_contrib"] = lambda: booster.predict(X, pred_contrib=True, num_threads=threads)
    if threads == 1:  # shap's TreeExplainer runs on one thread
        try:
            import shap
            explainer = shap.TreeExplainer(booster)
            out["shap TreeExplainer"] = lambda: explainer.shap_values(X, check_additivity=False)
        except Exception as error:  # shap refuses some models (XGBoost's categorical splits)
            out["shap TreeExplainer"] = error
    return out


def as_rows(values, n, width):
    values = np.asarray(values)
    if values.ndim == 3 and values.shape[0] == n and values.shape[1] != n:  # shap (rows, features, outputs)
        return values
    return values.reshape(n, -1)


def run(shapes, quick):
    results = []
    for key in shapes:
        path, library, X, model = load_shape(key)
        if quick:
            X = X[: max(20, len(X) // 10)]
        n = len(X)
        reference = model.predict_contributions(X).reshape(n, -1)
        for threads in (1, 2):
            timed = {}
            for name, fn in engines(key, path, library, X, threads).items():
                row = {"shape": key, "engine": name, "threads": threads, "rows": n}
                results.append(row)
                if isinstance(fn, Exception):
                    row.update(status=f"refused: {str(fn).splitlines()[0][:120]}")
                    continue
                out = np.asarray(fn())
                if name.startswith("shap"):  # (rows, features[, outputs]) without the bias column
                    ours = model.predict_contributions(X)
                    ours = ours[..., :-1] if ours.ndim == 2 else np.moveaxis(ours[:, :, :-1], 1, 2)
                    worst = float(np.max(np.abs(out.reshape(ours.shape) - ours)))
                else:
                    worst = float(np.max(np.abs(out.reshape(n, -1) - reference)))
                row.update(status="ok", worst_difference=worst, seconds=float("inf"))
                timed[name] = (fn, row)
            # The engines take turns (best of the rounds each), so that drift hits them alike.
            for _ in range(1 if quick else 3):
                for fn, row in timed.values():
                    row["seconds"] = min(row["seconds"], best_time(fn, 1))
            for name, (fn, row) in timed.items():
                row["rows_per_second"] = n / row.pop("seconds")
                print(f"{key} {name:24s} threads={threads}: {row['rows_per_second']:10,.0f} rows/s  "
                      f"(worst |diff| {row['worst_difference']:.2g})", flush=True)
    return results


def write(results):
    RESULTS.mkdir(exist_ok=True)
    meta = {"cpu": platform.processor() or platform.machine(), "kernel": floresta.load(MODELS / "c_binary_xgb.json").kernel}
    (RESULTS / "explain.json").write_text(json.dumps({"meta": meta, "results": results}, indent=1))
    lines = ["| shape | engine | threads | rows/s | vs floresta | worst diff |", "|---|---|---|---|---|---|"]
    for r in results:
        if r["status"] != "ok":
            lines.append(f"| {r['shape']} | {r['engine']} | {r['threads']} | {r['status']} | | |")
            continue
        ours = next(x for x in results if x["shape"] == r["shape"] and x["engine"] == "floresta" and x["threads"] == r["threads"])
        lines.append(f"| {r['shape']} | {r['engine']} | {r['threads']} | {r['rows_per_second']:,.0f} | "
                     f"{ours['rows_per_second'] / r['rows_per_second']:.2f}x | {r['worst_difference']:.2g} |")
    (RESULTS / "explain.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a tenth of the rows, one timing each")
    parser.add_argument("--shapes", default=",".join(SHAPES))
    args = parser.parse_args()
    write(run(args.shapes.split(","), args.quick))


if __name__ == "__main__":
    main()
