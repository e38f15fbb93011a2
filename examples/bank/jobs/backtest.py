"""Backtest: every transaction of a day-partitioned Parquet dataset scored by the fraud model on
Apache Spark — features by the one definition (window functions over each customer's history),
floresta inside the executors (the model file's bytes broadcast once, one call per Arrow batch).

    python jobs/backtest.py --input data/transacoes.parquet --output out/scored
    spark-submit --master spark://127.0.0.1:7077 jobs/backtest.py --input ... --output ...

Writes Parquet (id_transacao, id_cliente, dia, fraud_probability, alert, segment_id,
segment_name; one row per input row; with --reasons also `reasons`, each alert's top reason
codes as a JSON string, null for the other rows) and prints a summary as JSON: alerts per
day, precision and recall against the labels (`fraude`), the share of the fraud value caught
— written to --summary too. Segments come from a table of the nightly job (--segments: its
Parquet output or a JSON Lines table of python -m bank.segments); without one, segment -1 and
no name.
"""
import argparse
import json
import pathlib
import sys

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from bank import spark as S  # noqa: E402

MODELS = HERE.parents[1] / "models"


def parse(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0].replace("\n", " "))
    S.add_job_arguments(parser)
    parser.add_argument("--output", required=True, help="the scored transactions' Parquet directory (replaced)")
    parser.add_argument("--fraud-model", default=str(MODELS / "bank_fraud.json"),
                        help="the fraud model file; its metadata's alert_threshold decides the alerts")
    parser.add_argument("--segments", help="customer segments: the nightly job's Parquet or a JSON Lines table")
    parser.add_argument("--summary", help="also write the summary (JSON) here")
    parser.add_argument("--reasons", type=int, nargs="?", const=3, default=0, metavar="N",
                        help="add a column `reasons` to alert rows: the N features (3 when N is left out) with the "
                             "largest |contribution| to the fraud margin (floresta's exact TreeSHAP, in the executors), "
                             'a JSON array [{"contribution", "field", "value"}, ...] as the stream scorer writes it; '
                             "null for rows that are not alerts (default: no column)")
    return parser.parse_args(argv)


def read_segments(spark, path):
    from pyspark.sql import functions as f

    path = pathlib.Path(path)
    table = spark.read.json(str(path)) if path.is_file() else spark.read.parquet(str(path))
    return table.select(f.col("id_cliente").cast("string"), f.col("segment_id").cast("long"),
                        f.col("segment_name").cast("string"))


def summarize(scored):
    """Alerts per day, precision, recall and the fraud value caught (labels needed)."""
    from pyspark.sql import functions as f

    fraud = f.col("fraude") == 1
    caught = fraud & f.col("alert")
    days = (scored.groupBy("dia").agg(f.count(f.lit(1)).alias("transactions"),
                                      f.sum(f.col("alert").cast("long")).alias("alerts"),
                                      f.sum(fraud.cast("long")).alias("frauds"),
                                      f.sum(caught.cast("long")).alias("frauds_caught"))
            .orderBy("dia").collect())
    totals = scored.agg(f.count(f.lit(1)).alias("transactions"), f.sum(f.col("alert").cast("long")).alias("alerts"),
                        f.sum(fraud.cast("long")).alias("frauds"), f.sum(caught.cast("long")).alias("caught"),
                        f.sum(f.when(fraud, f.col("valor_transacao"))).alias("fraud_value"),
                        f.sum(f.when(caught, f.col("valor_transacao"))).alias("value_caught")).first()
    ratio = lambda a, b: (a / b) if b else None  # noqa: E731
    return {"transactions": totals["transactions"], "alerts": totals["alerts"], "frauds": totals["frauds"],
            "precision": ratio(totals["caught"], totals["alerts"]), "recall": ratio(totals["caught"], totals["frauds"]),
            "fraud_value_caught": ratio(totals["value_caught"] or 0.0, totals["fraud_value"] or 0.0),
            "days": [{"dia": str(r["dia"]), "transactions": r["transactions"], "alerts": r["alerts"],
                      "frauds": r["frauds"], "frauds_caught": r["frauds_caught"]} for r in days]}


def main(argv=None):
    args = parse(argv)
    if args.reasons < 0:
        raise SystemExit("--reasons takes a whole number >= 0")
    # floresta reads the file on the driver first: a damaged one stops here, with its reason
    model_bytes, model = S.load_model(args.fraud_model)
    threshold = model.metadata.get("alert_threshold")
    if not isinstance(threshold, (int, float)):
        raise SystemExit(f"{args.fraud_model}: the model file's metadata has no numeric alert_threshold")
    spark = S.session(args.master, "bank backtest", **S.partitions(args.shuffle_partitions))
    try:
        from pyspark.sql import functions as f

        tx = S.read_transactions(spark, args.input)
        X = S.fraud_features(tx)
        labelled = "fraude" in X.columns
        scored = S.score(X, spark.sparkContext.broadcast(model_bytes), float(threshold), reasons=args.reasons)
        if args.segments:
            scored = scored.join(read_segments(spark, args.segments), "id_cliente", "left")
        else:
            scored = scored.withColumn("segment_id", f.lit(None).cast("long")).withColumn(
                "segment_name", f.lit(None).cast("string"))
        scored = scored.fillna({"segment_id": -1, "segment_name": ""}).persist()
        columns = [c for c in ("id_transacao", "id_cliente", "dia") if c in scored.columns]
        reasons = ["reasons"] if args.reasons else []
        scored.select(*columns, "fraud_probability", "alert", "segment_id", "segment_name", *reasons) \
            .write.mode("overwrite").parquet(args.output)
        summary = summarize(scored) if labelled and "dia" in scored.columns else \
            {"transactions": scored.count(), "alerts": scored.where(f.col("alert")).count()}
        summary.update({"model": str(args.fraud_model), "alert_threshold": threshold, "output": args.output})
        text = json.dumps(summary, indent=1, ensure_ascii=False)
        print(text)
        if args.summary:
            pathlib.Path(args.summary).write_text(text + "\n", encoding="utf-8")
    finally:
        spark.stop()


if __name__ == "__main__":
    main()
