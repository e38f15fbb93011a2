"""The bank backtest's scoring stage on Spark, side by side in one run: floresta against
LightGBM's own predictor (the library that trained the model), each inside mapInArrow on the
same features. Not a test: `make bench-spark`.

    .venv/bin/python benchmarks/spark/run.py [--customers 8000] [--days 30] [--repeats 5]

Method (written into spark.md too):
  - generated transactions (seed 7) -> the backtest's features (Spark window functions),
    written once to Parquet and cached in memory, so the timed stage is only: hand every row
    to the executors' Python, score it, send back one small row per batch;
  - 8,000 customers over 30 days (771,782 rows) by default: each job also costs a fixed
    0.1-0.15 s (its task launched, the worker's handshake, the collect), which at 2,000
    customers (194,668 rows) was about two thirds of the stage and moved it by +-30% between
    repeats (a backtest re-scores years of transactions: the per-row cost is what it pays);
  - Spark local[1]: one executor core; Arrow batches of 65,536 rows; the categorical features
    turned into the model's category codes and the features packed into one array column in
    Spark (as the backtest does), each Arrow batch's list reshaped into one float matrix
    (mapInArrow: no pandas in between);
  - floresta: the model file's bytes broadcast, floresta.load_bytes once per Python worker,
    model.predict_proba per batch (one thread, its default); LightGBM: the same model's text
    broadcast, lightgbm.Booster once per worker, booster.predict per batch, on the same
    matrix (one thread too: Spark sets OMP_NUM_THREADS to the executor's cores in its Python
    workers; measured the same with num_threads=1);
  - "nothing": the same job with a function that only builds each batch's matrix and scores
    nothing: Spark's exchange alone, the floor of any engine's stage;
  - rows per second per core = rows / wall time of the stage, median of --repeats, engines in
    turns, after one untimed round (the JVM's JIT and the Python workers warmed up, as in a
    job over years of data); also the time inside the predict calls alone (what the engine
    costs);
  - the probabilities of both are checked equal (1e-12) on each batch's first row.
Writes benchmarks/results/spark.json and spark.md.
"""
import argparse
import datetime
import json
import pathlib
import platform
import shutil
import statistics
import sys
import tempfile
import textwrap
import time

REPO = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "examples" / "bank"))

from bank import features as F  # noqa: E402
from bank import generate  # noqa: E402
from bank import spark as S  # noqa: E402

MODEL = REPO / "examples/models/bank_fraud.json"
RESULTS = REPO / "benchmarks/results"


NOTHING = "nothing (Spark's exchange alone)"
ENGINES = ["floresta", "LightGBM", NOTHING]


def engine_batches(engine, model_bytes):
    """A mapInArrow function scoring with `engine` (ENGINES); yields (rows, seconds inside
    predict)."""

    def run(batches):
        import time as clock

        import pyarrow as pa

        if engine == "floresta":
            model = S.model_of(model_bytes.value)
            predict = lambda X: model.predict_proba(X)[:, -1]  # noqa: E731
        elif engine == NOTHING:
            predict = lambda X: X[:, 0]  # noqa: E731
        else:
            import lightgbm

            document = json.loads(model_bytes.value)
            booster = lightgbm.Booster(model_str=document["estimator"]["text"])
            predict = booster.predict
        for batch in batches:
            X = S.matrix(batch)
            begin = clock.perf_counter()
            p = predict(X)
            spent = clock.perf_counter() - begin
            yield pa.RecordBatch.from_pydict({"rows": [len(p)], "seconds": [spent],
                                              "first": [float(p[0]) if len(p) else 0.0]})

    return run


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--customers", type=int, default=8_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    folder = pathlib.Path(tempfile.mkdtemp(prefix="bench-spark-"))
    try:
        frame = generate.generate(args.customers, args.days, seed=7)
        generate.write(frame, folder, formats=("parquet",))
        spark = S.session("local[1]", "bench spark", **S.partitions(4),
                          **{"spark.sql.execution.arrow.maxRecordsPerBatch": "65536"})
        from pyspark.sql import types as T

        S.fraud_features(S.read_transactions(spark, folder / "transacoes.parquet")).write.parquet(
            str(folder / "features"))
        model = S.model_of(MODEL.read_bytes())
        features = S.packed(S.encode_categories(spark.read.parquet(str(folder / "features")), model)).cache()
        rows = features.count()
        model_bytes = spark.sparkContext.broadcast(MODEL.read_bytes())
        schema = T.StructType([T.StructField("rows", T.LongType()), T.StructField("seconds", T.DoubleType()),
                               T.StructField("first", T.DoubleType())])
        runs = {engine: [] for engine in ENGINES}
        inside = {engine: [] for engine in ENGINES}
        firsts = {}
        for repeat in range(args.repeats + 1):
            for engine in runs:
                begin = time.perf_counter()
                parts = features.mapInArrow(engine_batches(engine, model_bytes), schema).collect()
                if repeat == 0:
                    continue  # the warm-up round
                runs[engine].append(rows / (time.perf_counter() - begin))
                assert sum(p["rows"] for p in parts) == rows
                if engine != NOTHING:
                    inside[engine].append(rows / sum(p["seconds"] for p in parts))
                firsts[engine] = [p["first"] for p in parts]
        spark.stop()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    check = max(abs(a - b) for a, b in zip(firsts["floresta"], firsts["LightGBM"]))
    if check > 1e-12:
        raise SystemExit(f"floresta and LightGBM differ by {check} on a batch's first row")
    median = {e: statistics.median(v) for e, v in runs.items()}
    engine_only = {e: statistics.median(v) for e, v in inside.items() if v}
    result = {"date": datetime.date.today().isoformat(), "machine": platform.processor() or platform.machine(),
              "rows": rows, "repeats": args.repeats, "stage_rows_per_second_per_core": runs,
              "predict_rows_per_second": inside, "median": median, "predict_median": engine_only,
              "ratio": median["floresta"] / median["LightGBM"],
              "predict_ratio": engine_only["floresta"] / engine_only["LightGBM"], "max_difference": check}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "spark.json").write_text(json.dumps(result, indent=1) + "\n")
    lines = [f"# Bank backtest scoring stage on Spark ({result['date']})", "",
             textwrap.dedent(__doc__.split("Method (written into spark.md too):\n")[1].split("Writes benchmarks")[0]).strip(),
             "", f"{rows:,} rows, median of {args.repeats} runs:", "",
             "| engine in mapInArrow | stage rows/s per core | predict calls alone, rows/s |", "|---|---|---|"]
    lines += [f"| {e} | {median[e]:,.0f} | {f'{engine_only[e]:,.0f}' if e in engine_only else '—'} |" for e in runs]
    lines += ["", f"floresta: {result['ratio']:.1f}× LightGBM's predictor for the whole stage, "
                  f"{result['predict_ratio']:.1f}× inside the predict calls; its stage reaches "
                  f"{median['floresta'] / median[NOTHING]:.0%} of Spark's exchange alone."]
    (RESULTS / "spark.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
