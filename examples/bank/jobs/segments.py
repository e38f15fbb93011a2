"""Nightly segmentation: every customer's recency, frequency, monetary value and category mix
over the 56 days before the snapshot, computed on Apache Spark by the one definition
(features.json's segment_features), assigned to the shipped segmentation pipeline's segments
by floresta inside the executors.

    python jobs/segments.py --input data/transacoes.parquet --output out/segments
    spark-submit --master spark://127.0.0.1:7077 jobs/segments.py --input ... --output ... --table segments.jsonl

Writes Parquet with one row per customer seen in the input (id_cliente, segment_id,
segment_name, and the segment features); --table also writes the JSON Lines table the stream
scorer reads (bank_stream_scorer --segments).
"""
import argparse
import datetime
import json
import pathlib
import sys

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from bank import features as F  # noqa: E402
from bank import spark as S  # noqa: E402

MODELS = HERE.parents[1] / "models"


def parse(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0].replace("\n", " "))
    S.add_job_arguments(parser)
    parser.add_argument("--output", required=True, help="the segments' Parquet directory (replaced)")
    parser.add_argument("--model", default=str(MODELS / "bank_segments.json"), help="the segmentation model file")
    parser.add_argument("--end", help="snapshot time, exclusive: YYYY-MM-DD (midnight UTC) or Unix seconds "
                                      "(default: one second after the last transaction)")
    parser.add_argument("--table", help="also write the stream scorer's JSON Lines table here")
    return parser.parse_args(argv)


def snapshot(text):
    if text is None:
        return None
    if text.isdigit():
        return int(text)
    try:
        day = datetime.datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=datetime.timezone.utc)
    except ValueError:
        raise SystemExit(f"--end: {text!r} is neither YYYY-MM-DD nor Unix seconds")
    return int(day.timestamp())


def main(argv=None):
    args = parse(argv)
    model_bytes, model = S.load_model(args.model)  # a damaged file stops here, with floresta's reason
    try:
        model.n_clusters
    except AttributeError as error:
        raise SystemExit(f"{args.model}: {error}")
    spark = S.session(args.master, "bank nightly segmentation", **S.partitions(args.shuffle_partitions))
    try:
        from pyspark.sql import functions as f

        tx = S.read_transactions(spark, args.input)
        end = snapshot(args.end)
        if end is None:
            last = tx.agg(f.max("timestamp")).first()[0]
            if last is None:
                raise SystemExit(f"{args.input}: no transactions: give --end")
            end = int(last) + 1
        features = S.segment_features(tx, end)
        segments = S.assign_segments(features, spark.sparkContext.broadcast(model_bytes))
        result = segments.join(features, "id_cliente").persist()
        result.write.mode("overwrite").parquet(args.output)
        counts = {r["segment_name"]: r["count"] for r in result.groupBy("segment_name").count().collect()}
        if args.table:
            with open(args.table, "w", encoding="utf-8") as handle:
                for row in result.select("id_cliente", "segment_id", "segment_name").orderBy("id_cliente").toLocalIterator():
                    handle.write(json.dumps({"id_cliente": row["id_cliente"], "segment_id": int(row["segment_id"]),
                                             "segment_name": row["segment_name"]}, ensure_ascii=False) + "\n")
        print(json.dumps({"customers": sum(counts.values()), "end": end, "segments": counts,
                          "features": F.SEGMENT_FEATURES, "output": args.output}, indent=1, ensure_ascii=False))
    finally:
        spark.stop()


if __name__ == "__main__":
    main()
