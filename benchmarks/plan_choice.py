"""The bitvector plan against the quantized walk on forests of small trees, and which one
compile() picks (docs/benchmarks.md, bench-predict/bitvector-choice).

The cost model (src/engine/plan.cpp's bitvector_preferred, from Bitvector::cost, and
src/compile/bitvector.cpp's row_preferred) was fitted
to these forests: shapes (b), (c), (d) of benchmarks/models (make_models.py) and seven more
trained here on one synthetic binary task (XGBoost depth 3-6, LightGBM 7-63 leaves). Each is
scored with both plans forced, 20,000-row batches and single rows, the plans taking turns,
the minimum of the rounds kept (these machines drift); "auto" is the plan floresta.load
chooses.

    python benchmarks/plan_choice.py [--kernel avx512|avx2|portable] [--rounds 15]
"""
import argparse
import pathlib
import tempfile
import time

import numpy as np

import floresta

MODELS = pathlib.Path(__file__).resolve().parent / "models"


def train(workdir):
    """The seven extra forests, as (name, model path, rows)."""
    import lightgbm as lgb
    import xgboost as xgb

    rng = np.random.default_rng(0)
    X = rng.normal(size=(20_000, 30)).astype(np.float32)
    X[rng.random(X.shape) < 0.05] = np.nan
    y = (2 * X[:, 0] + np.nan_to_num(X[:, 1]) * X[:, 2] + np.sin(np.nan_to_num(X[:, 3]))
         + rng.normal(size=len(X)) > 0).astype(int)
    out = []
    for depth, trees in [(3, 500), (4, 300), (5, 200), (6, 500)]:
        path = workdir / f"xgb_depth{depth}_{trees}.json"
        xgb.train({"max_depth": depth, "objective": "binary:logistic", "eta": 0.1, "nthread": 2},
                  xgb.DMatrix(X, y), trees).save_model(path)
        out.append((path.stem, path, X))
    for leaves, trees in [(7, 500), (15, 500), (63, 300)]:
        path = workdir / f"lgb_leaves{leaves}_{trees}.txt"
        lgb.train({"num_leaves": leaves, "objective": "binary", "verbose": -1, "num_threads": 2, "min_data_in_leaf": 5},
                  lgb.Dataset(X, y), trees).save_model(path)
        out.append((path.stem, path, X))
    return out


def timed(predict, batch, rounds_of):
    start = time.perf_counter()
    for _ in range(rounds_of):
        predict(batch)
    return (time.perf_counter() - start) / rounds_of


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kernel", default="auto")
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        forests = [(stem, MODELS / file, np.load(MODELS / f"{stem}.rows.npy"))
                   for stem, file in [("b_fraud_lgb", "b_fraud_lgb.txt"), ("c_binary_xgb", "c_binary_xgb.json"),
                                      ("d_regression_lgb", "d_regression_lgb.txt")]]
        forests += train(pathlib.Path(tmp))
        print(f"kernel {floresta.load(forests[0][1], kernel=args.kernel).kernel}; ns per row, minimum of {args.rounds} rounds")
        print(f"{'forest':24s} {'auto':10s} {'quantized':>10s} {'bitvector':>10s} {'1 row q':>9s} {'1 row b':>9s}")
        for name, path, X in forests:
            batch = np.ascontiguousarray(X[:20_000])
            row = np.ascontiguousarray(X[:1])
            models = {plan: floresta.load(path, kernel=args.kernel, plan=plan) for plan in ("quantized", "bitvector")}
            best = {(plan, n): float("inf") for plan in models for n in (1, 20_000)}
            for _ in range(args.rounds):
                for plan, model in models.items():
                    best[plan, 20_000] = min(best[plan, 20_000], timed(model.predict, batch, 1) / len(batch))
                    best[plan, 1] = min(best[plan, 1], timed(model.predict, row, 200))
            auto = floresta.load(path, kernel=args.kernel).plan
            print(f"{name:24s} {auto:10s} {best['quantized', 20_000] * 1e9:10.0f} {best['bitvector', 20_000] * 1e9:10.0f} "
                  f"{best['quantized', 1] * 1e9:9.0f} {best['bitvector', 1] * 1e9:9.0f}")


if __name__ == "__main__":
    main()
