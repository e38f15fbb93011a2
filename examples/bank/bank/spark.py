"""The bank's cluster-scale jobs on Apache Spark: the one feature definition (features.json) as
Spark window functions and aggregations, and floresta inside each executor.

    spark = session("local[2]", "backtest")            # or spark://host:7077, yarn, k8s://...
    tx = read_transactions(spark, "data/transacoes.parquet")
    X = fraud_features(tx)                              # one row per transaction, FRAUD_FEATURES
    scored = score(X, model_bytes, threshold)           # mapInArrow: floresta per Arrow batch
    S = segment_features(tx, end)                       # one row per customer, SEGMENT_FEATURES
    segments = assign_segments(S, model_bytes)

The functions run in the executors (`score`, `assign_segments`) need only floresta, numpy,
pandas and this package, which `session` ships to the executors (addPyFile): nothing but the
master URL and the paths change between local mode, a standalone cluster and a real one.
Tests hold every feature to `features.fraud_features` / `features.segment_features` and every
probability to single-process floresta (tests/test_spark.py).
"""
import os
import pathlib
import shutil
import sys
import tempfile

from . import features as F

P = F.P
HISTORY = F.HISTORY
NUMERIC = [name for name in F.FRAUD_FEATURES if name not in F.CATEGORICAL]


def session(master, app, **config):
    """A SparkSession for `master` whose Python workers use this interpreter (numpy, pandas,
    pyarrow and floresta installed) and can import this package."""
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.appName(app)
    if master:  # else spark-submit's --master, or local[*]
        builder = builder.master(master)
    settings = {"spark.ui.enabled": "false", "spark.ui.showConsoleProgress": "false", "spark.sql.session.timeZone": "UTC",
                "spark.sql.execution.arrow.pyspark.enabled": "true",
                "spark.executorEnv.PYSPARK_PYTHON": sys.executable}
    if not master or master.startswith("local"):
        settings["spark.driver.bindAddress"] = "127.0.0.1"
        settings["spark.driver.host"] = "127.0.0.1"
    settings.update(config)
    for key, value in settings.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    spark.sparkContext.addPyFile(_package_zip())
    return spark


def partitions(n):
    """session() settings for `n` shuffle partitions (none for None: Spark's default)."""
    return {} if n is None else {"spark.sql.shuffle.partitions": str(n)}


def _package_zip():
    """This package as a zip for the executors' Python path."""
    folder = pathlib.Path(tempfile.mkdtemp(prefix="bank-package-"))
    package = pathlib.Path(__file__).resolve().parent
    staging = folder / "staging"
    shutil.copytree(package, staging / "bank", ignore=shutil.ignore_patterns("__pycache__"))
    return shutil.make_archive(str(folder / "bank"), "zip", staging)


def read_transactions(spark, path):
    """The generator's transactions (Parquet, partitioned by day or not), ids as text."""
    from pyspark.sql import functions as f

    frame = spark.read.parquet(str(path))
    for column in ("id_transacao", "id_cliente", "id_dispositivo", "id_beneficiario"):
        if column in frame.columns:
            frame = frame.withColumn(column, f.col(column).cast("string"))
    return frame


def _haversine_km(lat1, lon1, lat2, lon2):
    from pyspark.sql import functions as f

    p1, p2 = f.radians(lat1), f.radians(lat2)
    a = f.sin((p2 - p1) / 2) ** 2 + f.cos(p1) * f.cos(p2) * f.sin((f.radians(lon2) - f.radians(lon1)) / 2) ** 2
    a = f.least(f.greatest(a, f.lit(0.0)), f.lit(1.0))
    return 2 * P["earth_radius_km"] * f.asin(f.sqrt(a))


def _missing_id(column):
    from pyspark.sql import functions as f

    return f.when(f.col(column).isNull() | (f.col(column) == ""), f.lit(None)).otherwise(f.col(column))


def fraud_features(tx):
    """features.json's fraud features for every transaction of `tx`, by window functions over
    each customer's history in time order. Columns: the keys kept for the outputs
    (id_transacao, id_cliente, timestamp, and dia / fraude / padrao_fraude when present), then
    FRAUD_FEATURES; missing values are null."""
    from pyspark.sql import Window
    from pyspark.sql import functions as f

    for column in F.REQUIRED:
        if column not in tx.columns:
            raise ValueError(f"the transactions lack the column {column} (features.json needs it)")
    for column in F.OPTIONAL_IDS:
        tx = tx.withColumn(column, _missing_id(column) if column in tx.columns else f.lit(None).cast("string"))
    t = f.col("timestamp").cast("long")
    tx = tx.withColumn("timestamp", t)
    customer = Window.partitionBy("id_cliente")
    rows = customer.orderBy("timestamp", "id_transacao")
    before = rows.rowsBetween(Window.unboundedPreceding, -1)
    history = rows.rowsBetween(-HISTORY, -1)
    in_time = customer.orderBy("timestamp")  # strictly increasing within a customer

    def within(seconds):  # previous transactions with timestamp > t - seconds
        return in_time.rangeBetween(-(seconds - 1), -1)

    hour = f.pmod(t + P["utc_offset_seconds"], f.lit(86_400)) / 3_600.0
    x = (tx.withColumn("hour", hour)
         .withColumn("n_previous", (f.row_number().over(rows) - 1).cast("double"))
         .withColumn("_log", f.log1p("valor_transacao"))
         .withColumn("_credit", f.when(f.col("transacao").isin(sorted(F.CREDIT_TYPES))
                                       & (f.col("status_transacao") == "Concluída"), t)))
    previous = f.col("n_previous")
    has_previous = previous > 0
    enough = previous >= P["min_history"]
    mean_log = f.avg("_log").over(history)
    sd_log = f.stddev_pop("_log").over(history)
    mean_value = f.avg("valor_transacao").over(history)
    x = (x.withColumn("seconds_since_last", f.when(has_previous, (t - f.lag(t).over(rows)).cast("double")))
         .withColumn("amount_z", f.when(enough, (f.col("_log") - mean_log) / (sd_log + P["amount_sd_floor"])))
         .withColumn("amount_ratio", f.when(enough & (mean_value > 0), f.col("valor_transacao") / mean_value))
         .withColumn("distance_home_km", f.when(has_previous, _haversine_km(
             f.col("latitude"), f.col("longitude"), f.avg("latitude").over(history), f.avg("longitude").over(history))))
         .withColumn("distance_last_km", f.when(has_previous, _haversine_km(
             f.col("latitude"), f.col("longitude"), f.lag("latitude").over(rows), f.lag("longitude").over(rows))))
         .withColumn("balance_ratio", f.when(has_previous, f.col("valor_transacao") / (
             f.greatest(f.lag("saldo").over(rows), f.lit(0.0)) + 1.0)))
         .withColumn("hours_since_credit", (t - f.last("_credit", ignorenulls=True).over(before)) / 3_600.0))
    for name, seconds in (("10m", P["window_short_seconds"]), ("1h", P["window_long_seconds"])):
        x = (x.withColumn(f"count_{name}", f.count(f.lit(1)).over(within(seconds)).cast("double"))
             .withColumn(f"sum_{name}", f.coalesce(f.sum("valor_transacao").over(within(seconds)), f.lit(0.0))))

    device = Window.partitionBy("id_cliente", "id_dispositivo").orderBy("timestamp", "id_transacao")
    has_device = f.col("id_dispositivo").isNotNull()
    x = (x.withColumn("new_device", f.when(has_device, (f.row_number().over(device) == 1).cast("double")))
         .withColumn("device_age_h", f.when(has_device, (t - f.min(t).over(device)) / 3_600.0)))
    beneficiary = Window.partitionBy("id_cliente", "id_beneficiario").orderBy("timestamp", "id_transacao")
    has_beneficiary = f.col("id_beneficiario").isNotNull()
    x = x.withColumn("new_beneficiary", f.when(has_beneficiary, (f.row_number().over(beneficiary) == 1).cast("double")))
    x = x.withColumn("new_beneficiaries_1h", f.coalesce(
        f.sum(f.coalesce(f.col("new_beneficiary"), f.lit(0.0))).over(within(P["window_long_seconds"])), f.lit(0.0)))

    band = f.floor(f.col("hour") / P["hour_band_hours"])
    x = x.withColumn("_band", band)
    same_band = Window.partitionBy("id_cliente", "_band").orderBy("timestamp", "id_transacao") \
        .rowsBetween(Window.unboundedPreceding, -1)
    x = x.withColumn("hour_share", f.when(previous >= P["min_history_hours"],
                                          f.count(f.lit(1)).over(same_band) / previous))
    keys = ["id_transacao", "id_cliente", "timestamp"] + [c for c in ("dia", "data", "fraude", "padrao_fraude")
                                                          if c in tx.columns]
    return x.select(*keys, *F.FRAUD_FEATURES)


def segment_features(tx, end, customers=None):
    """features.json's segment features per customer over [end - segment_period_days, end)
    (`end` a Unix time), one row per customer of `customers` (a DataFrame with id_cliente;
    default: every customer in `tx`), those without transactions in the period included."""
    from pyspark.sql import functions as f

    period = P["segment_period_days"]
    window = tx.where((f.col("timestamp") >= end - period * 86_400) & (f.col("timestamp") < end)
                      & (f.col("status_transacao") == "Concluída"))
    value = f.col("valor_transacao")
    kind = f.col("transacao")
    purchase = kind == "Compra Cartão"
    aggregates = [f.max("timestamp").alias("_last"), f.count(f.lit(1)).alias("_n"),
                  f.sum(f.when(kind.isin(F.SPENDING), value)).alias("_spending"),
                  f.avg(f.when(purchase, value)).alias("_ticket"),
                  f.sum(f.when(kind == "Venda Maquininha", value)).alias("_sales"),
                  f.sum(f.when(kind.isin(sorted(F.CREDIT_TYPES)), value)).alias("_incoming"),
                  f.sum(f.when(purchase, value)).alias("_purchases")]
    aggregates += [f.sum(f.when(purchase & (f.col("categoria_transacao") == categoria), value)).alias(f"_{name}")
                   for name, categoria in F.SHARE_CATEGORY.items()]
    per = window.groupBy("id_cliente").agg(*aggregates)
    everyone = (customers if customers is not None else tx).select("id_cliente").distinct()
    s = everyone.join(per, "id_cliente", "left")
    columns = [f.coalesce((f.lit(end) - f.col("_last")) / 86_400.0, f.lit(float(period))).alias("recency_days"),
               f.coalesce(f.col("_n") * 30.0 / period, f.lit(0.0)).alias("frequency_30d"),
               f.log1p(f.coalesce(f.col("_spending") * 30.0 / period, f.lit(0.0))).alias("monetary_30d"),
               f.log1p(f.coalesce(f.col("_ticket"), f.lit(0.0))).alias("avg_ticket"),
               f.coalesce(f.coalesce(f.col("_sales"), f.lit(0.0)) / f.col("_incoming"), f.lit(0.0)).alias("sales_share")]
    columns += [f.coalesce(f.coalesce(f.col(f"_{name}"), f.lit(0.0)) / f.col("_purchases"), f.lit(0.0)).alias(name)
                for name in F.SHARE_CATEGORY]
    return s.select("id_cliente", *columns)


# ---------------------------------------------------------------------------------------------
# floresta in the executors

_models = {}


def model_of(data, name="the broadcast model"):
    """The model of these bytes, loaded once per Python process: a Python worker (Spark reuses
    them across tasks), or the driver (load_model)."""
    import hashlib

    import floresta

    key = hashlib.sha256(data).hexdigest()
    if key not in _models:
        _models[key] = floresta.load_bytes(data, name=name)
    return _models[key]


def encode_categories(features, model):
    """`features` with each categorical feature replaced by its code in `model`'s vocabulary (a
    double; null for a value the model never saw, scored as missing), in Spark: the executors'
    Python then gets plain numbers, one float matrix per batch."""
    from pyspark.sql import functions as f

    for name in F.CATEGORICAL:
        code = f.lit(None).cast("double")
        for k, value in reversed(list(enumerate(model.categories(name)))):
            code = f.when(f.col(name) == value, f.lit(float(k))).otherwise(code)
        features = features.withColumn(name, code)
    return features


def packed(encoded, keep=()):
    """The encoded features as one array<double> column `x` (beside the `keep` columns): Spark
    hands one list column to Python faster than 22 columns (docs/benchmarks.md, bench-spark).
    Missing values are NaN, not null: Arrow values without nulls reach numpy without a copy."""
    from pyspark.sql import functions as f

    nan = f.lit(float("nan"))
    return encoded.select(*keep, f.array(*[f.coalesce(f.col(c).cast("double"), nan) for c in F.FRAUD_FEATURES]).alias("x"))


def matrix(batch):
    """An Arrow batch of packed features as the model's float matrix, rows x FRAUD_FEATURES, C
    order (NaN for missing; a view of the batch's values when they hold no nulls, as packed
    writes them)."""
    import numpy as np

    values = batch.column("x").flatten().to_numpy(zero_copy_only=False)
    return values.astype(np.float64, copy=False).reshape(batch.num_rows, len(F.FRAUD_FEATURES))


def reasons_json(model, X, contributions, k):
    """Each row's top `k` reason codes as the stream scorer writes them (its field `reasons`): a
    compact JSON array [{"contribution", "field", "value"}, ...], the features with the largest
    |contribution| to the fraud margin first (ties: the model's feature order, as
    Model::explain_record), each value as scored (the category's text for a categorical feature,
    null for missing). `X`: the rows' encoded matrix (category codes); `contributions`: floresta's
    predict_contributions of it (the bias last)."""
    import json
    import math

    import numpy as np

    names = list(model.feature_names_in_)
    vocabularies = {j: list(model.categories(name)) for j, name in enumerate(names) if name in F.CATEGORICAL}
    order = np.argsort(-np.abs(contributions[:, :-1]), axis=1, kind="stable")[:, :k]
    out = []
    for x, c, top in zip(X, contributions, order):  # a few alerts per batch: formatting only
        reasons = []
        for j in top.tolist():
            value = None if math.isnan(x[j]) else float(x[j])
            if value is not None and j in vocabularies:
                value = vocabularies[j][int(value)]
            reasons.append({"contribution": float(c[j]), "field": names[j], "value": value})
        out.append(json.dumps(reasons, ensure_ascii=False, separators=(",", ":")))
    return out


def score(features, model_bytes, threshold, keys=("id_transacao", "id_cliente", "dia", "fraude", "padrao_fraude",
                                                  "valor_transacao"), reasons=0):
    """The fraud probability and alert of every row of `features` (fraud_features' output),
    scored by floresta per Arrow batch inside the executors (mapInArrow: the packed features
    reach numpy without pandas in between); `model_bytes` is a broadcast of the model file's bytes.
    Keeps the `keys` columns present. With `reasons` > 0, also a string column `reasons`: each
    alert's top `reasons` reason codes (reasons_json), from one predict_contributions call per
    batch on its alert rows only (exact TreeSHAP, about 2 ms a row here); null for the others."""
    from pyspark.sql import types as T

    model = model_of(model_bytes.value)
    if reasons and not model.can_explain:
        raise ValueError(f"the fraud model cannot give reasons: {model.explain_refusal_}")
    kept = [k for k in keys if k in features.columns]
    names = kept + ["fraud_probability", "alert"] + (["reasons"] if reasons else [])
    fields = [features.schema[k] for k in kept] + [T.StructField("fraud_probability", T.DoubleType()),
                                                   T.StructField("alert", T.BooleanType())]
    if reasons:
        fields.append(T.StructField("reasons", T.StringType()))
    encoded = packed(encode_categories(features, model), kept)

    def run(batches):
        import numpy as np
        import pyarrow as pa

        model = model_of(model_bytes.value)
        for batch in batches:
            X = matrix(batch)
            p = model.predict_proba(X)[:, -1]
            alert = p > threshold
            columns = [batch.column(k) for k in kept] + [pa.array(p), pa.array(alert)]
            if reasons:
                text = [None] * len(p)
                rows = np.flatnonzero(alert)
                if len(rows):
                    contributions = model.predict_contributions(X[rows])
                    if contributions.ndim == 3:  # a model with a margin per class: the positive one's
                        contributions = contributions[:, -1, :]
                    for i, t in zip(rows.tolist(), reasons_json(model, X[rows], contributions, reasons)):
                        text[i] = t
                columns.append(pa.array(text, type=pa.string()))
            yield pa.RecordBatch.from_arrays(columns, names=names)

    return encoded.mapInArrow(run, T.StructType(fields))


def assign_segments(segment_frame, model_bytes):
    """Each customer's segment id and name by the segmentation model (floresta, per batch)."""
    from pyspark.sql import types as T

    schema = T.StructType([T.StructField("id_cliente", T.StringType()), T.StructField("segment_id", T.LongType()),
                           T.StructField("segment_name", T.StringType())])

    def run(batches):
        import numpy as np
        import pandas as pd

        model = model_of(model_bytes.value)
        names = model.cluster_names_
        for batch in batches:
            ids = model.predict(batch[F.SEGMENT_FEATURES].astype(np.float64)).astype(np.int64)
            yield pd.DataFrame({"id_cliente": batch["id_cliente"].astype(str), "segment_id": ids,
                                "segment_name": [names[k] for k in ids]})

    return segment_frame.mapInPandas(run, schema)


def load_model(path):
    """The model file's bytes, after floresta has loaded them once on the driver: a damaged or
    wrong file fails the job here, with floresta's message, before any executor starts."""
    data = pathlib.Path(path).read_bytes()
    return data, model_of(data, name=str(path))


def add_job_arguments(parser):
    """The arguments every bank job takes: --input, --master, --shuffle-partitions."""
    parser.add_argument("--input", required=True, help="transactions: Parquet, partitioned by day or not")
    parser.add_argument("--master", default=None,
                        help="Spark master URL (default: spark-submit's --master, else local[*])")
    parser.add_argument("--shuffle-partitions", type=int, default=None,
                        help="spark.sql.shuffle.partitions (default Spark's, 200: a few for small data)")
