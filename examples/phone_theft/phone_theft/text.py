"""Text normalisation used everywhere: upper case, no accents, single spaces; and the
markers that exports write for a missing value."""
import floresta
import numpy as np
import pandas as pd

#: Texts (trimmed, upper-cased) that mean "no value" in SSP-SP exports and spreadsheets: the
#: database's NULL (any case), N/A-like markers, spreadsheet error values and dashes.
#: Together with empty and blank cells they read as missing in every column clean() uses.
MISSING_MARKERS = frozenset({
    "NULL", "(NULL)", "<NULL>", "NONE", "NAN", "NA", "N/A", "N.A.", "N/D", "N.D.", "#N/A", "#N/D",
    "-", "--", "---", ".", "?",
})
_MARKERS_AND_BLANK = MISSING_MARKERS | {""}


def normalize(value):
    """'  Capão  redondo ' -> 'CAPAO REDONDO'; "M’Boi Mirim" -> "M'BOI MIRIM".

    floresta.fold_text: accents stripped, upper case, white space trimmed and collapsed,
    typographic apostrophes as '. The model file's input rules fold with the same function,
    so a value cleaned here and a value a person types are read alike. Missing values (None,
    NaN, empty text) give None."""
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA or value is pd.NaT:
        return None
    return floresta.fold_text(str(value)) or None


def normalize_series(values):
    """normalize() applied to a Series (each distinct value computed once); None for missing."""
    values = pd.Series(values, copy=False)
    uniques = pd.unique(values.dropna())
    table = {u: normalize(u) for u in uniques}
    return values.map(table).astype(object).where(values.notna(), None)


def is_missing(value):
    """True for None, NaN/NaT, blank text and the MISSING_MARKERS ('NULL', ' n/a ', '#N/D')."""
    if isinstance(value, str):
        return value.strip().upper() in _MARKERS_AND_BLANK
    return value is None or value is pd.NA or value is pd.NaT or (isinstance(value, float) and np.isnan(value))


def blank_missing(values):
    """The Series with every missing value (is_missing) replaced by None, as dtype object;
    other values (text, numbers, date and time cells) unchanged."""
    values = pd.Series(values, copy=False)
    missing = values.isna().to_numpy()
    if values.dtype == object or pd.api.types.is_string_dtype(values.dtype):
        try:
            folded = values.str.strip().str.upper()          # NaN where a cell is not text
        except AttributeError:                               # no text at all in the column
            folded = None
        if folded is not None:
            missing = missing | folded.isin(_MARKERS_AND_BLANK).to_numpy(dtype=bool)
    return values.astype(object).where(~missing, None)
