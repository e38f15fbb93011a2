"""Turning user input (numpy arrays, pandas DataFrames) into the float matrix the core scores.

pandas is optional: it is imported only when a DataFrame is passed.
"""
import numpy as np

from ._core import FlorestaError


def as_matrix(X, model):
    """Returns a 2-D float32/float64 numpy array, without copying when none is needed.

    Records (a dict, or a list of dicts) and DataFrames are encoded by the C++ core with the
    model's vocabularies and the model's record policies (unknown_category, extra_fields)."""
    if isinstance(X, dict):
        X = [X]
    if isinstance(X, (list, tuple)) and X and all(isinstance(r, dict) for r in X):
        return model._core.encode_records(X, model._unknown_category, model._extra_fields)
    if _is_dataframe(X):
        return _frame_to_matrix(X, model)
    array = np.asarray(X)
    if array.dtype.kind == "f" and array.dtype.itemsize in (4, 8):
        if not array.dtype.isnative:
            array = array.astype(array.dtype.newbyteorder("="))
    elif array.dtype.kind in "iubf":  # integers, booleans, float16, longdouble
        array = array.astype(np.float64)
    else:
        raise FlorestaError(f"X must hold numbers; got an array of dtype {array.dtype} "
                            "(pass a pandas DataFrame to score categorical strings)")
    if array.ndim == 1:
        raise FlorestaError(f"X must be 2-dimensional (rows x {model.n_features_in_} features); "
                            "for one row use X.reshape(1, -1)")
    if array.ndim != 2:
        raise FlorestaError(f"X must be 2-dimensional, got {array.ndim} dimensions")
    return array


def _is_dataframe(X):
    module = type(X).__module__
    return module.startswith("pandas") and type(X).__name__ == "DataFrame"


def _frame_to_matrix(frame, model):
    import pandas as pd

    names = model.feature_names_in_
    missing = [name for name in names if name not in frame.columns]
    if missing:
        raise FlorestaError(f"DataFrame lacks the model's feature column(s) {missing}; "
                            f"the model expects {list(names)}")
    if model.extra_fields == "error":
        extra = [c for c in frame.columns if c not in set(names)]
        if extra:
            raise FlorestaError(f"DataFrame column(s) {extra} are not among the model's features {list(names)}")
    out = np.empty((len(frame), len(names)), dtype=np.float64)
    for j, name in enumerate(names):
        column = frame[name]
        if model._feature_types[j] == "categorical":
            out[:, j] = _encode_categorical(column, j, name, model)
        elif isinstance(column.dtype, pd.CategoricalDtype):
            raise FlorestaError(f"column '{name}' is categorical but the model treats feature '{name}' as numeric")
        else:
            try:
                out[:, j] = pd.to_numeric(column, errors="raise").to_numpy(dtype=np.float64, na_value=np.nan)
            except (ValueError, TypeError) as error:
                raise FlorestaError(f"column '{name}' must hold numbers: {error}") from None
            if model._input_rules[j] is not None:  # its range, checked by the C++ rule on each distinct value
                model._core.encode_values(j, np.unique(out[:, j]).tolist(), model._unknown_category)
    return out


def _encode_categorical(column, j, name, model):
    """Encodes exactly as training encoded: each distinct category goes once through the C++
    record encoder (vocabulary, unknown-category policy); without a vocabulary, pandas' own
    codes are used (XGBoost < 3.1 behaviour)."""
    import pandas as pd

    has_vocabulary = model._categories[j] is not None
    if column.dtype == object or pd.api.types.is_string_dtype(column.dtype):
        if not has_vocabulary:
            raise FlorestaError(f"column '{name}' holds strings but the model carries no category vocabulary "
                                "for it; pass a pandas 'category' column with the training categories")
        column = column.astype("category")  # vectorised: each distinct value is encoded once
    if isinstance(column.dtype, pd.CategoricalDtype):
        codes = column.cat.codes.to_numpy()
        if not has_vocabulary:
            values = codes.astype(np.float64)
        else:
            categories = [_plain(c) for c in column.cat.categories]
            table = np.append(model._core.encode_values(j, categories, model._unknown_category), np.nan)
            values = table[codes]  # code -1 (missing) picks the trailing NaN
        values[codes < 0] = np.nan
        return values
    # A plain numeric column holds category codes, as a numpy array would.
    try:
        return pd.to_numeric(column, errors="raise").to_numpy(dtype=np.float64, na_value=np.nan)
    except (ValueError, TypeError) as error:
        raise FlorestaError(f"column '{name}' must hold category codes or categories: {error}") from None


def _plain(value):
    """numpy scalars as Python numbers, for the C++ encoder."""
    if isinstance(value, (np.integer, np.floating)):
        return value.item()
    return value

