"""Turning user input (numpy arrays, pandas DataFrames) into the float matrix the core scores.

pandas is optional: it is imported only when a DataFrame is passed.
"""
import numpy as np

from ._core import FlorestaError


def as_matrix(X, model):
    """Returns a 2-D float32/float64 numpy array, without copying when none is needed.

    Records (a dict, or a list of dicts) and DataFrames are encoded by the C++ core with the
    model's vocabularies and the model's record policies (unknown_category, extra_fields).
    An empty list is zero rows. Object arrays (and nested lists) may hold numbers, None and
    pd.NA (missing); anything else in them is refused by position."""
    if isinstance(X, dict):
        X = [X]
    if isinstance(X, (list, tuple)):
        if not X:  # no records, no rows: an empty answer, as for a (0, n_features) array
            return np.empty((0, model.n_features_in_), dtype=np.float64)
        if any(isinstance(r, dict) for r in X):
            for i, r in enumerate(X):
                if not isinstance(r, dict):
                    raise FlorestaError(f"X mixes records (dicts) with other rows: item {i} is a {type(r).__name__}")
            return model._core.encode_records(X, model._unknown_category, model._extra_fields)
    if _is_dataframe(X):
        return _frame_to_matrix(X, model)
    try:
        array = np.asarray(X)
    except (ValueError, TypeError) as error:  # ragged lists: numpy's own message says where
        raise FlorestaError(f"X cannot be read as a rows x features array: {error}") from None
    if array.ndim == 1:
        raise FlorestaError(f"X must be 2-dimensional (rows x {model.n_features_in_} features); "
                            "for one row use X.reshape(1, -1)")
    if array.ndim != 2:
        raise FlorestaError(f"X must be 2-dimensional, got {array.ndim} dimensions")
    if array.dtype.kind == "f" and array.dtype.itemsize in (4, 8):
        if not array.dtype.isnative:
            array = array.astype(array.dtype.newbyteorder("="))
    elif array.dtype.kind in "iubf":  # integers, booleans, float16, longdouble
        array = array.astype(np.float64)
    elif array.dtype.kind == "O":
        array = _object_matrix(array)
    else:
        raise FlorestaError(f"X must hold numbers; got an array of dtype {array.dtype} "
                            "(pass a pandas DataFrame to score categorical strings)")
    return array


# Object arrays of these types convert with one vectorised astype (None gives NaN).
_PLAIN = (int, float, np.integer, np.floating, np.bool_, type(None))


def _object_matrix(array):
    """A 2-D object array (nested lists of numbers and None give one) as float64: numbers as
    float64, None and pd.NA as NaN (missing), as records read them. Strings, lists and other
    objects are refused by position: refusing the whole dtype used to refuse [[1, None]] and
    Python ints beyond int64, and astype alone would read the string "1" as a number."""
    if all(issubclass(t, _PLAIN) for t in set(map(type, array.flat))):
        try:
            return array.astype(np.float64)
        except OverflowError:
            pass  # an int beyond float64: the loop below names it
    out = np.empty(array.shape, dtype=np.float64)
    for (r, c), value in np.ndenumerate(array):
        if value is None or _is_pandas_na(value):
            out[r, c] = np.nan
            continue
        if isinstance(value, (str, bytes, bytearray, np.ndarray, complex, np.complexfloating)) or \
                not hasattr(value, "__float__"):
            raise FlorestaError(f"X[{r}, {c}] holds a {type(value).__name__}; X must hold numbers or None "
                                "(pass records or a pandas DataFrame to score categorical strings)")
        try:
            out[r, c] = float(value)
        except OverflowError:
            raise FlorestaError(f"X[{r}, {c}] holds an integer too large for a float64") from None
        except (TypeError, ValueError) as error:
            raise FlorestaError(f"X[{r}, {c}] holds a {type(value).__name__} that is not a number: {error}") from None
    return out


def _is_pandas_na(value):
    kind = type(value)
    return kind.__name__ == "NAType" and kind.__module__.startswith("pandas")


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
        if not isinstance(column, pd.Series):  # it used to fail as AttributeError: 'DataFrame' ... 'dtype'
            raise FlorestaError(f"DataFrame column name '{name}' selects {column.shape[1]} columns (duplicate names or "
                                "MultiIndex columns); each of the model's features must be one column")
        if model._feature_types[j] == "categorical":
            out[:, j] = _encode_categorical(column, j, name, model)
        elif isinstance(column.dtype, pd.CategoricalDtype):
            raise FlorestaError(f"column '{name}' is categorical but the model treats feature '{name}' as numeric")
        else:
            out[:, j] = _numbers(column, name, "numbers")
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
        try:
            column = column.astype("category")  # vectorised: each distinct value is encoded once
        except TypeError as error:  # lists, dicts: unhashable
            raise FlorestaError(f"column '{name}' must hold categories (strings), numbers or missing values: "
                                f"{error}") from None
        except UnicodeError as error:  # a lone surrogate: pandas' Arrow strings cannot hold it
            raise FlorestaError(f"column '{name}' holds a string that is not valid Unicode (it has no UTF-8 form): "
                                f"{error}") from None
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
    return _numbers(column, name, "category codes or categories")


def _numbers(column, name, what):
    """A numeric column as float64, missing values (NaN, None, pd.NA) as NaN. Dates, durations
    and complex numbers are refused: pandas turned the first two into nanosecond counts and
    dropped the imaginary part of the last, silently."""
    import pandas as pd

    dtype = column.dtype
    if (pd.api.types.is_datetime64_any_dtype(dtype) or pd.api.types.is_timedelta64_dtype(dtype)
            or pd.api.types.is_complex_dtype(dtype) or isinstance(dtype, (pd.PeriodDtype, pd.IntervalDtype))):
        raise FlorestaError(f"column '{name}' must hold {what}; it has dtype {dtype}")
    try:
        numbers = pd.to_numeric(column, errors="raise")
        if pd.api.types.is_complex_dtype(numbers.dtype):  # an object column of complex numbers
            raise ValueError("complex numbers are not real numbers")
        return numbers.to_numpy(dtype=np.float64, na_value=np.nan)
    except (ValueError, TypeError, OverflowError) as error:  # OverflowError: an int beyond float64
        raise FlorestaError(f"column '{name}' must hold {what}: {error}") from None


def _plain(value):
    """numpy scalars as Python numbers, for the C++ encoder."""
    if isinstance(value, (np.integer, np.floating)):
        return value.item()
    return value

