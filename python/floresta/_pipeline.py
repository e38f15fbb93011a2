"""Exporting scikit-learn pipelines: the preprocessing becomes floresta's plan (one chain of
elementwise steps per column the estimator sees), the final estimator its usual document.

Encoders are compiled by asking the fitted encoder itself: every category, an unseen value
and a missing value are transformed once, and the outputs become lookup tables. That way
drop, infrequent categories and every handle_unknown mode behave exactly as in scikit-learn.
"""
import math

import numpy as np

from ._core import FlorestaError
from ._numbers import json_number as _number

UNSEEN_STRING = "\x00floresta-unseen-category"


class Column:
    """One column as the pipeline carries it: a raw input column and the steps so far."""

    def __init__(self, raw, name, steps=None, impute_category=None):
        self.raw = raw
        self.name = name
        self.steps = list(steps or [])
        self.impute_category = impute_category  # a category imputed before encoding

    def then(self, step, name=None):
        return Column(self.raw, name or self.name, self.steps + [step], self.impute_category)


class Plan:
    def __init__(self, raw_names):
        self.raw = [{"name": n, "type": "numeric"} for n in raw_names]
        self.tables = []

    def table(self, **fields):
        self.tables.append(fields)
        return len(self.tables) - 1


def export_pipeline(pipeline, estimator_document):
    """The floresta document of a fitted Pipeline ending in a supported estimator."""
    steps = [step for _, step in pipeline.steps]
    *transformers, estimator = steps
    n = pipeline.n_features_in_ if hasattr(pipeline, "n_features_in_") else _first_n_features(steps)
    names = getattr(pipeline, "feature_names_in_", None)
    raw_names = [str(c) for c in names] if names is not None else [f"x{i}" for i in range(n)]
    plan = Plan(raw_names)
    columns = [Column(i, raw_names[i]) for i in range(n)]
    for transformer in transformers:
        if transformer is None or transformer == "passthrough":
            continue
        columns = _apply(transformer, columns, plan)
    for column in columns:
        if column.impute_category is not None:
            raise FlorestaError(f"column '{column.name}': a category is imputed but never encoded")
    document = estimator_document(estimator)
    if document.get("num_features") not in (None, len(columns)):
        raise FlorestaError(f"the pipeline makes {len(columns)} columns, its estimator takes {document['num_features']}")
    document["num_features"] = len(columns)
    if "features" in document and any(f.get("type") == "categorical" for f in document["features"]):
        raise FlorestaError("a pipeline whose final estimator has its own categorical features is not supported")
    document["features"] = plan.raw
    document["preprocessing"] = {"columns": [{"input": c.raw, "steps": c.steps} for c in columns],
                                 "tables": plan.tables}
    return document


def _first_n_features(steps):
    for step in steps:
        if hasattr(step, "n_features_in_"):
            return step.n_features_in_
    raise FlorestaError("cannot tell how many features the pipeline takes")


def _apply(transformer, columns, plan):
    kind = type(transformer).__name__
    if kind == "Pipeline":
        for _, step in transformer.steps:
            if step is not None and step != "passthrough":
                columns = _apply(step, columns, plan)
        return columns
    handler = _HANDLERS.get(kind)
    if handler is None:
        raise FlorestaError(f"floresta.export does not support {kind} in a pipeline; supported: "
                            f"{', '.join(sorted(_HANDLERS))}, Pipeline, 'passthrough', 'drop'")
    if len(columns) != getattr(transformer, "n_features_in_", len(columns)):
        raise FlorestaError(f"{kind} was fitted on {transformer.n_features_in_} columns, it receives {len(columns)}")
    return handler(transformer, columns, plan)


def _column_transformer(ct, columns, plan):
    out = []
    for name, transformer, _ in ct.transformers_:
        indices = ct._transformer_to_input_indices.get(name, [])
        selected = [columns[i] for i in indices]
        if transformer == "drop" or not selected:
            continue
        if transformer == "passthrough":
            out.extend(selected)
        else:
            out.extend(_apply(transformer, selected, plan))
    return out


def _step(kind, a=0.0, b=1.0, table=None):
    step = {"kind": kind, "a": _number(a), "b": _number(b)}
    if table is not None:
        step["table"] = table
    return step


def _function_transformer(transformer, columns, plan):
    # ColumnTransformer records remainder="passthrough" as an identity FunctionTransformer.
    if transformer.func is not None:
        raise FlorestaError("FunctionTransformer with a function is not supported (only the identity)")
    return columns


def _standard_scaler(scaler, columns, plan):
    mean = scaler.mean_ if scaler.mean_ is not None else np.zeros(len(columns))
    scale = scaler.scale_ if scaler.scale_ is not None else np.ones(len(columns))
    return [c.then(_step("standardize", mean[i], scale[i])) for i, c in enumerate(columns)]


def _min_max_scaler(scaler, columns, plan):
    out = []
    low, high = scaler.feature_range
    for i, c in enumerate(columns):
        column = c.then(_step("scale_shift", scaler.scale_[i], scaler.min_[i]))
        if scaler.clip:
            column = column.then(_step("clip", low, high))
        out.append(column)
    return out


def _simple_imputer(imputer, columns, plan):
    if not (isinstance(imputer.missing_values, float) and math.isnan(imputer.missing_values)):
        raise FlorestaError("SimpleImputer is supported with missing_values=np.nan only")
    out = []
    keep_empty = getattr(imputer, "keep_empty_features", False)
    for i, c in enumerate(columns):
        value = imputer.statistics_[i]
        if isinstance(value, str):
            out.append(Column(c.raw, c.name, c.steps, impute_category=value))
        elif value is None or (isinstance(value, float) and math.isnan(value)):
            if keep_empty:
                out.append(c.then(_step("impute", 0.0)))
            # else scikit-learn drops the all-missing column
        else:
            out.append(c.then(_step("impute", float(value))))
    indicator = getattr(imputer, "indicator_", None)
    if indicator is not None:
        for i in indicator.features_:
            out.append(columns[i].then(_step("missing_indicator"), name=f"missingindicator_{columns[i].name}"))
    return out


def _encoder(encoder, columns, plan):
    kind = type(encoder).__name__
    for c in columns:
        if c.steps:
            raise FlorestaError(f"{kind} on column '{c.name}' must read the raw column (it follows other steps)")
    widths = getattr(encoder, "_n_features_outs", None) or [1] * len(columns)
    if kind == "OrdinalEncoder":
        widths = [1] * len(columns)
    probe_rows = _probe_rows(encoder, columns)
    out = []
    offset = 0
    for i, c in enumerate(columns):
        categories = [v for v in encoder.categories_[i] if not _is_missing(v)]
        strings = any(isinstance(v, str) for v in categories)
        feature = plan.raw[c.raw]
        vocabulary = [str(v) if strings else float(v) for v in categories]
        if feature["type"] == "categorical" and feature["categories"] != vocabulary:
            raise FlorestaError(f"column '{c.name}' is encoded twice with different categories")
        feature.update(type="categorical", categories=vocabulary)
        if not strings:
            feature["numbers_are_codes"] = False
        encoded = [_transform_one(encoder, probe_rows, i, v) for v in categories]
        unknown = _transform_one(encoder, probe_rows, i, UNSEEN_STRING if strings else _unseen_number(categories))
        missing = _transform_one(encoder, probe_rows, i, c.impute_category if c.impute_category is not None else None)
        for k in range(widths[i]):
            table = {"name": f"{kind} on '{c.name}'",
                     "values": [_number(e[offset + k]) for e in encoded],
                     "unknown": 0.0 if unknown is None else _number(unknown[offset + k]),
                     "missing": 0.0 if missing is None else _number(missing[offset + k]),
                     "unknown_is_error": unknown is None, "missing_is_error": missing is None}
            if not strings:
                table["keys"] = [float(v) for v in categories]
            index = plan.table(**table)
            out.append(Column(c.raw, c.name, [_step("lookup_value" if not strings else "lookup_code", table=index)]))
        offset += widths[i]
    return out


def _probe_rows(encoder, columns):
    """A one-row input the encoder accepts: every column at its first category."""
    first = [[v for v in cats if not _is_missing(v)][:1] or [None] for cats in encoder.categories_]
    row = [f[0] for f in first]
    names = getattr(encoder, "feature_names_in_", None)
    return row, names


def _transform_one(encoder, probe, i, value):
    """The encoder's output row for `value` in column i (the others at a known category), or
    None when the encoder refuses the value."""
    row, names = probe
    row = list(row)
    row[i] = value
    if names is not None:
        import pandas as pd

        X = pd.DataFrame([row], columns=names).astype(object)
    else:
        X = np.array([row], dtype=object)
    try:
        with np.errstate(all="ignore"):
            import warnings

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                result = encoder.transform(X)
    except ValueError:
        return None
    if hasattr(result, "toarray"):
        result = result.toarray()
    return np.asarray(result, dtype=np.float64)[0]


def _unseen_number(categories):
    return (max(categories) if categories else 0.0) + 1.5


def _is_missing(v):
    return v is None or (isinstance(v, float) and math.isnan(v))


_HANDLERS = {
    "ColumnTransformer": _column_transformer,
    "FunctionTransformer": _function_transformer,
    "StandardScaler": _standard_scaler,
    "MinMaxScaler": _min_max_scaler,
    "SimpleImputer": _simple_imputer,
    "OrdinalEncoder": _encoder,
    "OneHotEncoder": _encoder,
}
