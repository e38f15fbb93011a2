"""Turning user input (numpy arrays, pandas DataFrames) into the float matrix the core scores.

pandas is optional: it is imported only when a DataFrame is passed.
"""
import numpy as np

from ._core import FlorestaError


def as_matrix(X, model):
    """Returns a 2-D float32/float64 numpy array, without copying when none is needed."""
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
    return out


def _encode_categorical(column, j, name, model):
    """Codes exactly as training encoded them: through the model's vocabulary when it has one
    (an unseen category becomes missing), else pandas' own codes (XGBoost < 3.1 behaviour)."""
    import pandas as pd

    lookup = model._category_lookup(j)
    if column.dtype == object or pd.api.types.is_string_dtype(column.dtype):
        if lookup is None:
            raise FlorestaError(f"column '{name}' holds strings but the model carries no category vocabulary "
                                "for it; pass a pandas 'category' column with the training categories")
        column = column.astype("category")  # vectorised: each distinct value is looked up once
    if isinstance(column.dtype, pd.CategoricalDtype):
        codes = column.cat.codes.to_numpy()
        if lookup is None:
            values = codes.astype(np.float64)
        else:
            table = np.array([lookup.get(_key(c), np.nan) for c in column.cat.categories] + [np.nan])
            values = table[codes]  # code -1 (missing) picks the trailing NaN
        values[codes < 0] = np.nan
        return values
    # A plain numeric column holds category codes, as a numpy array would.
    try:
        return pd.to_numeric(column, errors="raise").to_numpy(dtype=np.float64, na_value=np.nan)
    except (ValueError, TypeError) as error:
        raise FlorestaError(f"column '{name}' must hold category codes or categories: {error}") from None


def _key(value):
    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
        return float(value)
    return value

