"""Text normalisation used everywhere: upper case, no accents, single spaces."""
import unicodedata

import numpy as np
import pandas as pd

_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "`": "'", "\u00b4": "'"})


def normalize(value):
    """'  Capão  redondo ' -> 'CAPAO REDONDO'; "M’Boi Mirim" -> "M'BOI MIRIM".

    Strips accents (NFKD decomposition, combining marks dropped), upper-cases, trims and
    collapses runs of white space. Missing values (None, NaN, empty text) give None."""
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return None
    text = unicodedata.normalize("NFKD", str(value).translate(_APOSTROPHES))
    text = "".join(c for c in text if not unicodedata.combining(c))
    text = " ".join(text.upper().split())
    return text or None


def normalize_series(values):
    """normalize() applied to a Series (each distinct value computed once); None for missing."""
    values = pd.Series(values, copy=False)
    uniques = pd.unique(values.dropna())
    table = {u: normalize(u) for u in uniques}
    return values.map(table).astype(object).where(values.notna(), None)
