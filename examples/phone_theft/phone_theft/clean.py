"""The original project's cleaning, as functions that also take the real SSP-SP file.

    raw = read_raw("CelularesSubtraidos_2023.xlsx")   # or a CSV export, or generate.generate()
    data = clean(raw)                                  # the model's features + the place class

read_raw reads CSV (separator ';', ',' or tab and encoding UTF-8 or Latin-1 detected) or XLSX
(openpyxl), renames the older exports' columns to the 2023 names (OLD_NAMES) and indexes the
rows by their position in the file: the 1-based line number for CSV (the header is line 1,
so the first record is line 2; exact unless a quoted field spans lines) or the spreadsheet
row number for XLSX. Error messages name that line or row; for a DataFrame that did not come
from read_raw they name the DataFrame index.

clean keeps what the original project kept and derives its columns:

1. São Paulo city: CIDADE normalised (upper case, no accents) without dots and spaces is
   "SPAULO" or "SAOPAULO" ("S.PAULO", "São Paulo", "SAO PAULO"). Other cities are dropped.
2. Theft and robbery: RUBRICA normalised starts with "FURTO" or "ROUBO" (e.g. "Furto (art.
   155)", "Furto qualificado (art. 155, §4o.)", "Roubo (art. 157)"); other rubrics dropped.
   The output's ``rubrica`` is FURTO or ROUBO.
3. One row per report: the first row of each NOME_DELEGACIA + ANO_BO + NUM_BO (rows missing a
   part of that key are all kept).
4. ``dia`` (SEGUNDA .. DOMINGO) from DATA_OCORRENCIA_BO: dd/mm/yyyy or yyyy-mm-dd text (a time
   after the date is ignored) or a date/datetime cell.
5. ``periodo`` from HORA_OCORRENCIA (H:MM, HH:MM or HH:MM:SS text, or a time cell; seconds
   are ignored) with the original's boundaries: 00:00-06:00 MADRUGADA, 06:01-12:00 MANHA,
   12:01-18:00 TARDE, 18:01-23:59 NOITE. Where the hour is missing, DESCR_PERIODO (old:
   PERIDOOCORRENCIA) is used: "De madrugada", "Pela manhã", "A tarde", "A noite" (any case,
   or already MADRUGADA/MANHA/TARDE/NOITE); "Em hora incerta" counts as missing.
6. ``bairro``: BAIRRO normalised (upper case, accents stripped, spaces collapsed).
7. ``marca``: MARCA_OBJETO (old: MARCA_CELULAR) matched to constants.MARCAS ignoring case and
   accents; any other brand becomes "Outros".
8. ``local`` (0-9) and ``local_label``: the place class from DESCR_SUBTIPOLOCAL, else
   DESCR_TIPOLOCAL (old: DESCRICAOLOCAL) through the table in places.py.
9. ``idade`` and ``sexo``: from IDADE and SEXO when the file has them (older exports do; the
   2023 file does not, so there they are missing: NaN / None, which the model reads as
   missing values). SEXO M/MASCULINO/HOMEM -> HOMEM, F/FEMININO/MULHER -> MULHER, I /
   INDETERMINADO / IGNORADO / NAO INFORMADO -> missing. Ages outside 0-120 -> missing.
10. Rows missing a bairro, brand, date, period or classifiable place are dropped (the original
    dropped every row with a missing value); ``attrs["dropped"]`` counts each reason and
    ``attrs["unknown_places"]`` lists the (type, sub-type) pairs no class took.

Bad input raises ValueError naming the column and the row: a missing required column, a date,
hour or age that cannot be read, a period or sex text that means nothing. Values are checked on
the rows that steps 1-3 keep (a bad hour in another city's row does not matter).
"""
import collections
import datetime
import pathlib
import re

import numpy as np
import pandas as pd

from .constants import DIAS, LABELS, MARCAS, PERIODOS
from .places import SUBTYPES, TYPES
from .text import normalize, normalize_series

#: Older SSP exports' column names -> the 2023 names.
OLD_NAMES = {
    "DESCRICAOLOCAL": "DESCR_TIPOLOCAL",
    "PERIDOOCORRENCIA": "DESCR_PERIODO",
    "PERIODOOCORRENCIA": "DESCR_PERIODO",
    "MARCA_CELULAR": "MARCA_OBJETO",
    "DATAOCORRENCIA": "DATA_OCORRENCIA_BO",
    "HORAOCORRENCIA": "HORA_OCORRENCIA",
    "DELEGACIA_NOME": "NOME_DELEGACIA",
}
#: Columns clean() needs (after renaming). DESCR_SUBTIPOLOCAL, IDADE and SEXO are optional.
REQUIRED = ["NOME_DELEGACIA", "ANO_BO", "NUM_BO", "CIDADE", "BAIRRO", "DATA_OCORRENCIA_BO",
            "HORA_OCORRENCIA", "DESCR_PERIODO", "RUBRICA", "DESCR_TIPOLOCAL", "MARCA_OBJETO"]
#: Output columns.
COLUMNS = ["bairro", "marca", "dia", "periodo", "idade", "sexo", "local", "local_label", "rubrica"]

PERIOD_TEXT = {"DE MADRUGADA": "MADRUGADA", "PELA MANHA": "MANHA", "A TARDE": "TARDE", "A NOITE": "NOITE",
               **{p: p for p in PERIODOS}}
UNCERTAIN = {"EM HORA INCERTA", "HORA INCERTA"}
SEX_TEXT = {"M": "HOMEM", "MASCULINO": "HOMEM", "HOMEM": "HOMEM", "F": "MULHER", "FEMININO": "MULHER",
            "MULHER": "MULHER", "I": None, "INDETERMINADO": None, "IGNORADO": None, "NAO INFORMADO": None}
_BRANDS = {normalize(m): m for m in MARCAS}
_HOUR = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?$")


# ---------------------------------------------------------------------------------------------
# reading


def read_raw(path):
    """Reads an SSP-SP file (CSV or XLSX) into a DataFrame of text/cell values, with the 2023
    column names and the rows indexed by their line (CSV) or spreadsheet row (XLSX)."""
    path = pathlib.Path(path)
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        raw = pd.read_excel(path, dtype=object, engine="openpyxl")
        kind = "row"
    else:
        data = path.read_bytes()
        try:
            text = data.decode("utf-8-sig")
            encoding = "utf-8-sig"
        except UnicodeDecodeError:
            text, encoding = data.decode("latin-1"), "latin-1"
        header = text.split("\n", 1)[0]
        sep = max([";", ",", "\t"], key=header.count)
        raw = pd.read_csv(path, sep=sep, encoding=encoding, dtype=str, skip_blank_lines=False,
                          keep_default_na=False, na_values=[""])
        kind = "line"
    raw.index = pd.RangeIndex(2, len(raw) + 2, name=kind)
    raw = _rename(raw)
    raw.attrs["source"] = str(path)
    raw.attrs["row_kind"] = kind
    return raw


def _rename(raw):
    columns = {c: str(c).strip().lstrip("\ufeff").upper() for c in raw.columns}
    raw = raw.rename(columns=columns)
    return raw.rename(columns={old: new for old, new in OLD_NAMES.items()
                               if old in raw.columns and new not in raw.columns})


def _where(raw, index):
    if isinstance(index, np.generic):
        index = index.item()
    source = raw.attrs.get("source")
    if source:
        return f"{raw.attrs.get('row_kind', 'line')} {index} of {source}"
    return f"DataFrame index {index!r}"


def _bad(raw, column, index, value, what):
    return ValueError(f"{_where(raw, index)}: column {column}: {what}: {value!r}")


# ---------------------------------------------------------------------------------------------
# cleaning


def _missing(values):
    """True where a value is missing: None, NaN, NaT or blank text."""
    return values.isna() | values.map(lambda v: isinstance(v, str) and not v.strip()).astype(bool)


def clean(raw):
    """The cleaned frame (columns COLUMNS) of a raw SSP-SP frame; see the module docstring."""
    raw = _rename(raw)
    absent = [c for c in REQUIRED if c not in raw.columns]
    if absent:
        raise ValueError(f"{raw.attrs.get('source') or 'input'}: missing column {absent[0]}"
                         + (f" (and {', '.join(absent[1:])})" if absent[1:] else "")
                         + f"; the columns are: {', '.join(map(str, raw.columns))}")
    dropped = collections.Counter()
    n_read = len(raw)

    # 1-2: São Paulo city, theft or robbery
    city = normalize_series(raw["CIDADE"]).fillna("").str.replace(r"[.\s]", "", regex=True)
    rubric = normalize_series(raw["RUBRICA"]).fillna("")
    kind = rubric.str.extract(r"^(FURTO|ROUBO)\b", expand=False)
    in_city = city.isin(["SPAULO", "SAOPAULO"]).to_numpy()
    dropped["cidade"] = int((~in_city).sum())
    dropped["rubrica"] = int((in_city & kind.isna().to_numpy()).sum())
    keep = in_city & kind.notna().to_numpy()
    frame = raw.loc[keep]
    kind = kind[keep]

    # 3: one row per report
    key_parts = [frame[c] for c in ("NOME_DELEGACIA", "ANO_BO", "NUM_BO")]
    complete = ~np.any([_missing(p).to_numpy() for p in key_parts], axis=0) if len(frame) else np.ones(0, bool)
    key = (key_parts[0].astype(str).str.strip() + "\x1f" + key_parts[1].map(_year_text) + "\x1f"
           + key_parts[2].astype(str).str.strip())
    duplicate = key.duplicated(keep="first").to_numpy() & complete
    dropped["duplicado"] = int(duplicate.sum())
    frame = frame.loc[~duplicate]
    kind = kind[~duplicate]

    out = pd.DataFrame(index=frame.index)
    # 4: weekday
    dates = _parse_dates(raw, frame["DATA_OCORRENCIA_BO"])
    out["dia"] = pd.Series(np.asarray(DIAS, dtype=object)[dates.dt.day_of_week.fillna(0).astype(int)],
                           index=frame.index).where(dates.notna(), None)
    # 5: period
    out["periodo"] = _periods(raw, frame["HORA_OCORRENCIA"], frame["DESCR_PERIODO"])
    # 6-7: bairro, brand
    out["bairro"] = normalize_series(frame["BAIRRO"])
    brand = normalize_series(frame["MARCA_OBJETO"])
    out["marca"] = brand.map(lambda b: None if b is None else _BRANDS.get(b, "Outros"))
    # 8: place
    sub = normalize_series(frame["DESCR_SUBTIPOLOCAL"]) if "DESCR_SUBTIPOLOCAL" in frame.columns \
        else pd.Series(None, index=frame.index, dtype=object)
    typ = normalize_series(frame["DESCR_TIPOLOCAL"])
    local = sub.map(SUBTYPES).astype(float)
    local = local.where(local.notna(), typ.map(TYPES).astype(float))
    unknown = collections.Counter()
    for t, s in zip(frame["DESCR_TIPOLOCAL"][local.isna()], (frame["DESCR_SUBTIPOLOCAL"][local.isna()]
                                                            if "DESCR_SUBTIPOLOCAL" in frame.columns
                                                            else [None] * int(local.isna().sum()))):
        unknown[(None if pd.isna(t) else str(t), None if pd.isna(s) else str(s))] += 1
    # 9: age and sex, when present
    out["idade"] = _ages(raw, frame["IDADE"]) if "IDADE" in frame.columns else np.nan
    out["sexo"] = _sexes(raw, frame["SEXO"]) if "SEXO" in frame.columns else None
    out["local"] = local
    out["rubrica"] = kind.to_numpy()

    # 10: drop incomplete rows
    for column, reason in (("bairro", "bairro"), ("marca", "marca"), ("dia", "data"), ("periodo", "periodo"),
                           ("local", "local")):
        gone = out[column].isna()
        dropped[reason] = int(gone.sum())
        out = out.loc[~gone]
    out["local"] = out["local"].astype(np.int64)
    out["local_label"] = np.asarray(LABELS, dtype=object)[out["local"].to_numpy()]
    out = out[COLUMNS]
    out = out.astype({"bairro": object, "marca": object, "dia": object, "periodo": object, "sexo": object,
                      "idade": float})
    out["sexo"] = out["sexo"].where(out["sexo"].notna(), None)
    out.attrs = {"source": raw.attrs.get("source"), "rows_read": n_read, "dropped": dict(dropped),
                 "unknown_places": dict(unknown)}
    return out


def _year_text(value):
    try:
        return str(int(float(value)))
    except (TypeError, ValueError):
        return str(value).strip()


def _parse_dates(raw, column):
    name = "DATA_OCORRENCIA_BO"
    out = pd.Series(pd.NaT, index=column.index, dtype="datetime64[ns]")
    missing = _missing(column)
    is_text = column.map(lambda v: isinstance(v, str)).astype(bool) & ~missing
    if is_text.any():
        text = column[is_text].str.strip().str.split(r"[ T]", n=1, regex=True).str[0]
        parsed = pd.to_datetime(text, format="%d/%m/%Y", errors="coerce")
        iso = pd.to_datetime(text[parsed.isna()], format="%Y-%m-%d", errors="coerce")
        parsed[parsed.isna()] = iso
        bad = parsed.isna()
        if bad.any():
            i = bad[bad].index[0]
            raise _bad(raw, name, i, column[i], "cannot read the date (dd/mm/yyyy or yyyy-mm-dd)")
        out[is_text] = parsed.astype("datetime64[ns]")
    others = ~is_text & ~missing
    for i, v in column[others].items():
        if isinstance(v, (datetime.date, pd.Timestamp, np.datetime64)):
            out[i] = pd.Timestamp(v)
        else:
            raise _bad(raw, name, i, v, "cannot read the date (dd/mm/yyyy or yyyy-mm-dd)")
    return out


def _periods(raw, hours, fallback):
    """PERIODOS name per row from the hour, else from the period text; None where neither."""
    minutes = pd.Series(np.nan, index=hours.index)
    missing = _missing(hours)
    is_text = hours.map(lambda v: isinstance(v, str)).astype(bool) & ~missing
    if is_text.any():
        parts = hours[is_text].str.strip().str.extract(_HOUR)
        h = pd.to_numeric(parts[0], errors="coerce")
        m = pd.to_numeric(parts[1], errors="coerce")
        s = pd.to_numeric(parts[2], errors="coerce").fillna(0)
        bad = h.isna() | (h > 23) | (m > 59) | (s > 59)
        if bad.any():
            i = bad[bad].index[0]
            raise _bad(raw, "HORA_OCORRENCIA", i, hours[i], "cannot read the hour (HH:MM or HH:MM:SS)")
        minutes[is_text] = h * 60 + m
    for i, v in hours[~is_text & ~missing].items():
        if isinstance(v, (datetime.time, datetime.datetime, pd.Timestamp)):
            minutes[i] = v.hour * 60 + v.minute
        else:
            raise _bad(raw, "HORA_OCORRENCIA", i, v, "cannot read the hour (HH:MM or HH:MM:SS)")
    code = np.select([minutes <= 360, minutes <= 720, minutes <= 1080, minutes <= 1439], [0, 1, 2, 3], -1)
    out = pd.Series(np.asarray(PERIODOS + [None], dtype=object)[code], index=hours.index)
    # no hour: the period column
    use = minutes.isna()
    if use.any():
        text = normalize_series(fallback[use])
        for i, t in text.items():
            if t is None or t in UNCERTAIN:
                out[i] = None
            elif t in PERIOD_TEXT:
                out[i] = PERIOD_TEXT[t]
            else:
                raise _bad(raw, "DESCR_PERIODO", i, fallback[i],
                           "unknown period (De madrugada, Pela manhã, A tarde, A noite, Em hora incerta)")
    return out


def _ages(raw, column):
    missing = _missing(column)
    values = pd.to_numeric(column.where(~missing, None).map(lambda v: v.strip().replace(",", ".")
                                                            if isinstance(v, str) else v),
                           errors="coerce").astype(float)
    bad = values.isna() & ~missing
    if bad.any():
        i = bad[bad].index[0]
        raise _bad(raw, "IDADE", i, column[i], "cannot read the age")
    return values.where((values >= 0) & (values <= 120))


def _sexes(raw, column):
    text = normalize_series(column)
    out = pd.Series(None, index=column.index, dtype=object)
    for value, rows in text.groupby(text, dropna=True).groups.items():
        if value not in SEX_TEXT:
            i = rows[0]
            raise _bad(raw, "SEXO", i, column[i], "unknown sex (M, F, MASCULINO, FEMININO, I)")
        out.loc[rows] = SEX_TEXT[value]
    return out
