"""The original project's cleaning, as functions that also take the real SSP-SP file.

    raw = read_raw("CelularesSubtraidos_2023.xlsx")   # or a CSV export, or generate.generate()
    data = clean(raw)                                  # the model's features + the place class

read_raw reads CSV (separator ';', ',' or tab and encoding UTF-8 or Latin-1 detected) or XLSX
(openpyxl), renames the older exports' columns to the 2023 names (OLD_NAMES) and indexes the
rows by their position in the file: the 1-based line number for CSV (the header is line 1,
so the first record is line 2; exact unless a quoted field spans lines) or the spreadsheet
row number for XLSX (the header is row 1). Every sheet of a workbook is read: the real file
may split a year across sheets (by semester, say), each with its header row. A sheet with
fewer than half of the REQUIRED columns (a notes sheet) is skipped and named in
``attrs["skipped_sheets"]``; a data sheet missing a required column is a ValueError. With one
data sheet the index is the row number; with several it is the text "SHEET!ROW" (e.g.
"JUL-DEZ_2023!5"). Messages and quarantine examples name the line, the sheet and row, or for
a DataFrame that did not come from read_raw its index.

clean keeps what the original project kept and derives its columns:

0. Missing values: None, NaN, empty or blank cells and the markers of text.MISSING_MARKERS
   ("NULL" in any case, "N/A", "NA", "#N/D", "-", ...) read as missing in every column
   clean uses: a NULL bairro is a missing bairro, not a bairro called "NULL". Rows with
   every used column missing are dropped ("vazia").
1. One version per report (report key: NOME_DELEGACIA + ANO_BO + NUM_BO): where the file
   has VERSAO, only the rows of the report's highest VERSAO stay ("versao" counts the rows of
   older versions; an unreadable or missing VERSAO counts as older than any number). Rows
   missing a part of the key are never grouped.
2. São Paulo city: CIDADE normalised (upper case, no accents) without dots and spaces is
   "SPAULO" or "SAOPAULO" ("S.PAULO", "São Paulo", "SAO PAULO"). Other cities are dropped.
3. Theft and robbery: RUBRICA normalised starts with "FURTO" or "ROUBO" (e.g. "Furto (art.
   155)", "Furto qualificado (art. 155, §4o.)", "Roubo (art. 157)"), after an "A.I.-"
   prefix if any; other rubrics are dropped. The output's ``rubrica`` is FURTO or ROUBO.
   "A.I.-" rubrics ("A.I.-Roubo (art. 157)", "A.I.-Furto (art. 155)") are, in our reading,
   *ato infracional*: the same theft or robbery committed by a minor (Brazilian law calls a
   minor's crime an "ato infracional"; SSP exports carry a FLAG_ATO_INFRACIONAL column, and
   attempts are flagged apart, by FLAG_STATUS TENTADO/CONSUMADO, not by the rubric). The
   phone was taken all the same, so they are kept (KEEP_ATO_INFRACIONAL = True; the original
   project's "starts with FURTO or ROUBO" dropped them). ``attrs["ato_infracional"]`` counts
   the São Paulo theft/robbery rows with such a rubric; with KEEP_ATO_INFRACIONAL = False
   they are dropped and counted in ``dropped["ato_infracional"]``.
4. One row per report: the first remaining row of each report ("duplicado").
5. ``data`` (the day of the occurrence, for splits by time) and ``dia`` (SEGUNDA .. DOMINGO,
   its weekday) from DATA_OCORRENCIA_BO: dd/mm/yyyy or yyyy-mm-dd text (a time
   after the date is ignored), a date/datetime cell, or an Excel serial day number (days
   since 1899-12-30: a number cell or a text of 5 digits, 10000-99999, e.g. 45123 =
   2023-07-16; a fractional part, the time of day, is ignored).
6. ``periodo`` from HORA_OCORRENCIA (H:MM, HH:MM or HH:MM:SS text, possibly after a date; a
   time cell; or an Excel day fraction such as 0.75 = 18:00; seconds are ignored) with the
   original's boundaries: 00:00-06:00 MADRUGADA, 06:01-12:00 MANHA, 12:01-18:00 TARDE,
   18:01-23:59 NOITE. "24:00" (or 24:00:00) is read as 00:00 of the next day, as ISO 8601
   reads it: MADRUGADA, and ``dia`` is the next day's weekday. Where the hour is missing,
   DESCR_PERIODO (old: PERIDOOCORRENCIA) is used: "De madrugada", "Pela manhã", "A tarde",
   "A noite" (any case, or already MADRUGADA/MANHA/TARDE/NOITE); "Em hora incerta" counts as
   missing. So a NULL hour with "A noite" is NOITE, and a NULL hour with a NULL period is a
   missing period.
7. ``bairro``: BAIRRO normalised (upper case, accents stripped, spaces collapsed).
8. ``marca``: MARCA_OBJETO (old: MARCA_CELULAR), free text such as "IPHONE 11" or "SAMSUNG
   GALAXY S20", mapped to constants.MARCAS by brands.brand_of (the table brands.csv and an
   exact-or-longest-prefix rule; anything unknown is "Outros").
9. ``local`` (0-9) and ``local_label``: the place class from DESCR_SUBTIPOLOCAL, else
   DESCR_TIPOLOCAL (old: DESCRICAOLOCAL) through the tables in places.py.
10. ``idade`` and ``sexo``: from IDADE and SEXO when the file has them (older exports do; the
    2023 file does not, so there they are missing: NaN / None, which the model reads as
    missing values). SEXO M/MASCULINO/HOMEM -> HOMEM, F/FEMININO/MULHER -> MULHER, I /
    INDETERMINADO / IGNORADO / NAO INFORMADO -> missing. Ages outside 0-120 -> missing.
11. Quarantine: a row whose value cannot be read is set aside, not the run aborted. In this
    order (a row is counted once, under its first problem): a date that cannot be read
    ("data_invalida": "31/02/2023", "ontem"), an hour that cannot be read ("hora_invalida":
    "12h00", "25:00", "24:30"), a period text that means nothing where the hour is missing
    ("periodo_invalido": "De noitinha"), an age that is not a number ("idade_invalida"), a
    sex text that means nothing ("sexo_invalido"). Values are checked on the rows that
    steps 1-4 keep (a bad hour in another city's row does not matter).
    ``attrs["quarantine"]`` holds, per reason: ``count``, ``column``, ``problem`` (what was
    expected) and ``examples``, the first QUARANTINE_EXAMPLES rows, each a dict with
    ``where`` ("line 5 of x.csv", "sheet 'JUL-DEZ' row 3 of x.xlsx", "DataFrame index 7"),
    the position (``line``; ``sheet`` and ``row``; or ``index``) and the raw ``value``.
12. Rows missing a bairro, brand, date, period or classifiable place are dropped (the
    original dropped every row with a missing value). ``attrs["dropped"]`` counts every
    dropped row under one reason: vazia, versao, cidade, rubrica, ato_infracional,
    duplicado, the five quarantine reasons, bairro, marca, data, periodo, local (so
    rows_read = len(result) + sum of dropped). ``attrs["unknown_places"]`` lists the
    (type, sub-type) pairs no class took.

A file problem still raises ValueError: a missing required column (naming it and the
columns present), or, in a workbook, a data sheet missing one.
"""
import collections
import datetime
import pathlib
import re

import numpy as np
import pandas as pd

from .brands import brand_of, brand_of_series, brand_table  # noqa: F401 (brand_of, brand_table: re-exported)
from .constants import DIAS, LABELS, PERIODOS
from .places import SUBTYPES, TYPES
from .text import blank_missing, normalize, normalize_series

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
#: Columns clean() needs (after renaming).
REQUIRED = ["NOME_DELEGACIA", "ANO_BO", "NUM_BO", "CIDADE", "BAIRRO", "DATA_OCORRENCIA_BO",
            "HORA_OCORRENCIA", "DESCR_PERIODO", "RUBRICA", "DESCR_TIPOLOCAL", "MARCA_OBJETO"]
#: Columns clean() uses when the file has them.
OPTIONAL = ["DESCR_SUBTIPOLOCAL", "IDADE", "SEXO", "VERSAO"]
#: Output columns.
COLUMNS = ["bairro", "marca", "dia", "periodo", "idade", "sexo", "local", "local_label", "rubrica", "data"]

#: Keep "A.I.-" (ato infracional: a minor's) theft and robbery rows (see step 3).
KEEP_ATO_INFRACIONAL = True
#: How many example rows attrs["quarantine"] keeps per reason.
QUARANTINE_EXAMPLES = 5
#: Day 0 of Excel's serial day numbers (1900 date system, with its leap-year bug folded in).
EXCEL_EPOCH = pd.Timestamp("1899-12-30")

PERIOD_TEXT = {"DE MADRUGADA": "MADRUGADA", "PELA MANHA": "MANHA", "A TARDE": "TARDE", "A NOITE": "NOITE",
               **{p: p for p in PERIODOS}}
UNCERTAIN = {"EM HORA INCERTA", "HORA INCERTA"}
SEX_TEXT = {"M": "HOMEM", "MASCULINO": "HOMEM", "HOMEM": "HOMEM", "F": "MULHER", "FEMININO": "MULHER",
            "MULHER": "MULHER", "I": None, "INDETERMINADO": None, "IGNORADO": None, "NAO INFORMADO": None}

#: Quarantine reasons in the order rows are checked: reason -> (column, what was expected).
QUARANTINE_REASONS = {
    "data_invalida": ("DATA_OCORRENCIA_BO",
                      "cannot read the date (dd/mm/yyyy, yyyy-mm-dd, a date cell or an Excel serial day)"),
    "hora_invalida": ("HORA_OCORRENCIA", "cannot read the hour (H:MM, HH:MM or HH:MM:SS up to 24:00, or a time cell)"),
    "periodo_invalido": ("DESCR_PERIODO",
                         "unknown period (De madrugada, Pela manhã, A tarde, A noite, Em hora incerta)"),
    "idade_invalida": ("IDADE", "cannot read the age"),
    "sexo_invalido": ("SEXO", "unknown sex (M, F, MASCULINO, FEMININO, I)"),
}
#: Every key of attrs["dropped"], in the order the steps drop rows.
DROP_REASONS = (["vazia", "versao", "cidade", "rubrica", "ato_infracional", "duplicado"] + list(QUARANTINE_REASONS)
                + ["bairro", "marca", "data", "periodo", "local"])

_HOUR = re.compile(r"^(?:.*\s)?(\d{1,2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?$")   # after a date, if any
_SERIAL = r"\d{5}(?:\.\d+)?"
_AI_PREFIX = r"^A\.?\s?I\.?\s*-\s*"


# ---------------------------------------------------------------------------------------------
# reading


def read_raw(path):
    """Reads an SSP-SP file (CSV or XLSX, every data sheet) into a DataFrame of text/cell
    values, with the 2023 column names and the rows indexed by their line (CSV) or
    spreadsheet row (XLSX; "SHEET!ROW" when several sheets hold data)."""
    path = pathlib.Path(path)
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        raw, sheets, skipped = _read_workbook(path)
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
        raw.index = pd.RangeIndex(2, len(raw) + 2, name="line")
        raw = _rename(raw)
        kind, sheets, skipped = "line", None, []
    raw.attrs["source"] = str(path)
    raw.attrs["row_kind"] = kind
    raw.attrs["sheets"] = sheets
    raw.attrs["skipped_sheets"] = skipped
    return raw


def _read_workbook(path):
    book = pd.read_excel(path, sheet_name=None, dtype=object, engine="openpyxl")
    data, skipped = [], []
    for name, frame in book.items():
        frame = _rename(frame)
        present = [c for c in REQUIRED if c in frame.columns]
        if 2 * len(present) < len(REQUIRED):
            skipped.append(name)
            continue
        absent = [c for c in REQUIRED if c not in frame.columns]
        if absent:
            raise ValueError(f"{path}: sheet {name!r}: missing column {absent[0]}"
                             + (f" (and {', '.join(absent[1:])})" if absent[1:] else "")
                             + f"; its columns are: {', '.join(map(str, frame.columns))}")
        data.append((name, frame))
    if not data:                       # nothing looks like data: clean() will name what is missing
        name = next(iter(book))
        data, skipped = [(name, _rename(book[name]))], [s for s in skipped if s != name]
    if len(data) == 1:
        name, raw = data[0]
        raw.index = pd.RangeIndex(2, len(raw) + 2, name="row")
    else:
        for name, frame in data:
            frame.index = pd.Index([f"{name}!{r}" for r in range(2, len(frame) + 2)], dtype=object, name="row")
        raw = pd.concat([frame for _, frame in data], sort=False)
    return raw, [name for name, _ in data], skipped


def _rename(raw):
    columns = {c: str(c).strip().lstrip("\ufeff").upper() for c in raw.columns}
    raw = raw.rename(columns=columns)
    return raw.rename(columns={old: new for old, new in OLD_NAMES.items()
                               if old in raw.columns and new not in raw.columns})


def _position(raw, index):
    """Where a row is, as a dict: {"line": n} (CSV), {"sheet": s, "row": n} (XLSX) or
    {"index": label} (a DataFrame that did not come from read_raw)."""
    if isinstance(index, np.generic):
        index = index.item()
    if not raw.attrs.get("source"):
        return {"index": index}
    if raw.attrs.get("row_kind") == "row":
        if isinstance(index, str) and "!" in index:
            sheet, _, row = index.rpartition("!")
            return {"sheet": sheet, "row": int(row)}
        sheets = raw.attrs.get("sheets") or [None]
        return {"sheet": sheets[0], "row": index}
    return {"line": index}


def _where(raw, index):
    position = _position(raw, index)
    source = raw.attrs.get("source")
    if "index" in position:
        return f"DataFrame index {position['index']!r}"
    if "line" in position:
        return f"line {position['line']} of {source}"
    sheet = "" if position["sheet"] is None else f"sheet {position['sheet']!r} "
    return f"{sheet}row {position['row']} of {source}"


# ---------------------------------------------------------------------------------------------
# cleaning


def clean(raw):
    """The cleaned frame (columns COLUMNS) of a raw SSP-SP frame; see the module docstring."""
    raw = _rename(raw)
    absent = [c for c in REQUIRED if c not in raw.columns]
    if absent:
        raise ValueError(f"{raw.attrs.get('source') or 'input'}: missing column {absent[0]}"
                         + (f" (and {', '.join(absent[1:])})" if absent[1:] else "")
                         + f"; the columns are: {', '.join(map(str, raw.columns))}")
    dropped = dict.fromkeys(DROP_REASONS, 0)
    n_read = len(raw)
    used = REQUIRED + [c for c in OPTIONAL if c in raw.columns]
    # 0: missing markers; rows with nothing in them. Work positionally: ``pos`` is the position
    # in ``raw`` of each row still in ``data``.
    data = pd.DataFrame({c: blank_missing(raw[c].reset_index(drop=True)) for c in used})
    pos = np.arange(n_read)

    def keep(mask, reason=None):
        """Keeps the rows of ``data`` where mask; counts the others under reason if given."""
        nonlocal data, pos
        mask = np.asarray(mask, dtype=bool)
        if reason is not None:
            dropped[reason] += int((~mask).sum())
        data, pos = data.loc[mask].reset_index(drop=True), pos[mask]

    keep(~data.isna().all(axis=1).to_numpy(), "vazia")

    # 1: the latest version of each report
    complete, key = _report_key(data)
    if "VERSAO" in data.columns and len(data):
        version = _per_unique(data["VERSAO"], _number).astype(float)
        latest = np.full(len(data), np.nan)
        latest[complete] = pd.Series(version[complete]).groupby(key.to_numpy()[complete]).transform("max").to_numpy()
        older = complete & ~np.isnan(latest) & ~(version >= latest)
        keep(~older, "versao")

    # 2-3: São Paulo city, theft or robbery (A.I. rubrics too, by choice)
    in_city = _per_unique(data["CIDADE"], _is_sao_paulo).astype(bool)
    rubric = _per_unique(data["RUBRICA"], _rubric)                  # (FURTO/ROUBO/None, A.I.?)
    kind = np.array([r[0] for r in rubric], dtype=object)
    ai = np.array([r[1] for r in rubric], dtype=bool)
    theft = kind != None  # noqa: E711 (element-wise)
    n_ai = int((in_city & theft & ai).sum())
    dropped["cidade"] += int((~in_city).sum())
    dropped["rubrica"] += int((in_city & ~theft).sum())
    if not KEEP_ATO_INFRACIONAL:
        dropped["ato_infracional"] += n_ai
    wanted = in_city & theft & (KEEP_ATO_INFRACIONAL | ~ai)
    kind = kind[wanted]
    keep(wanted)

    # 4: one row per report
    complete, key = _report_key(data)
    first = ~(key.duplicated(keep="first").to_numpy() & complete)
    kind = kind[first]
    keep(first, "duplicado")

    # 5-6, 10: read the values; 11: quarantine the rows whose values cannot be read
    dates, bad_date = _parse_dates(data["DATA_OCORRENCIA_BO"])
    minutes, next_day, bad_hour = _parse_hours(data["HORA_OCORRENCIA"])
    periods, bad_period = _periods(minutes, bad_hour, data["DESCR_PERIODO"])
    n = len(data)
    ages, bad_age = _ages(data["IDADE"]) if "IDADE" in data.columns else (np.full(n, np.nan), np.zeros(n, bool))
    sexes, bad_sex = _sexes(data["SEXO"]) if "SEXO" in data.columns else (np.full(n, None, object), np.zeros(n, bool))
    quarantine, taken = {}, np.zeros(n, dtype=bool)
    for reason, bad in zip(QUARANTINE_REASONS, (bad_date, bad_hour, bad_period, bad_age, bad_sex)):
        rows = bad & ~taken
        taken |= rows
        dropped[reason] += int(rows.sum())
        column, problem = QUARANTINE_REASONS[reason]
        examples = []
        for p in pos[rows][:QUARANTINE_EXAMPLES]:
            label = raw.index[p]
            examples.append({"where": _where(raw, label), **_position(raw, label), "column": column,
                             "value": _plain(raw[column].iloc[p])})
        quarantine[reason] = {"count": int(rows.sum()), "column": column, "problem": problem, "examples": examples}
    ok = ~taken
    dates, next_day, periods, ages, sexes, kind = dates[ok], next_day[ok], periods[ok], ages[ok], sexes[ok], kind[ok]
    keep(ok)

    out = pd.DataFrame(index=pd.RangeIndex(len(data)))
    # 5: weekday (24:00 is the next day's 00:00)
    days = pd.DatetimeIndex(dates) + pd.to_timedelta(next_day.astype(np.int64), unit="D")
    weekday = np.asarray(DIAS, dtype=object)[np.nan_to_num(days.day_of_week.to_numpy(dtype=float)).astype(int)]
    out["dia"] = np.where(days.isna(), None, weekday)
    out["data"] = days  # the day of the occurrence: for splits by time
    out["periodo"] = periods
    # 7-8: bairro, brand
    out["bairro"] = normalize_series(data["BAIRRO"])
    out["marca"] = brand_of_series(data["MARCA_OBJETO"])
    # 9: place
    typ = normalize_series(data["DESCR_TIPOLOCAL"])
    sub = normalize_series(data["DESCR_SUBTIPOLOCAL"]) if "DESCR_SUBTIPOLOCAL" in data.columns \
        else pd.Series(None, index=data.index, dtype=object)
    local = sub.map(SUBTYPES).astype(float)
    local = local.where(local.notna(), typ.map(TYPES).astype(float))
    unknown = collections.Counter()
    subs = data["DESCR_SUBTIPOLOCAL"] if "DESCR_SUBTIPOLOCAL" in data.columns else pd.Series(None, index=data.index)
    for t, s in zip(data["DESCR_TIPOLOCAL"][local.isna()], subs[local.isna()]):
        unknown[(None if pd.isna(t) else str(t), None if pd.isna(s) else str(s))] += 1
    # 10: age and sex, when present
    out["idade"] = ages
    out["sexo"] = sexes
    out["local"] = local
    out["rubrica"] = kind

    # 12: drop incomplete rows
    rows = np.arange(len(out))
    for column, reason in (("bairro", "bairro"), ("marca", "marca"), ("dia", "data"), ("periodo", "periodo"),
                           ("local", "local")):
        gone = out[column].isna().to_numpy()
        dropped[reason] += int(gone.sum())
        out, rows = out.loc[~gone], rows[~gone]
    out.index = raw.index.take(pos[rows])
    out["local"] = out["local"].astype(np.int64)
    out["local_label"] = np.asarray(LABELS, dtype=object)[out["local"].to_numpy()]
    out = out[COLUMNS]
    out = out.astype({"bairro": object, "marca": object, "dia": object, "periodo": object, "sexo": object,
                      "idade": float})
    out["sexo"] = out["sexo"].where(out["sexo"].notna(), None)
    out.attrs = {"source": raw.attrs.get("source"), "rows_read": n_read, "dropped": dropped,
                 "quarantine": quarantine, "unknown_places": dict(unknown), "ato_infracional": n_ai}
    return out


def _plain(value):
    """A cell value as a plain Python str, int or float (other kinds as their text)."""
    if isinstance(value, (np.integer, np.floating)):
        value = value.item()
    return value if isinstance(value, (str, int, float)) and not isinstance(value, bool) else str(value)


def _per_unique(values, func):
    """func applied to each element of a Series (None for a missing one), computed once per
    distinct value: an object array."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    results = np.empty(len(uniques) + 1, dtype=object)
    for i, u in enumerate(uniques):                 # a loop: results may be tuples
        results[i] = func(u)
    results[-1] = func(None)
    return results[codes]                           # code -1 (missing) takes the last entry


def _report_key(data):
    """(complete, key): whether the row has NOME_DELEGACIA, ANO_BO and NUM_BO, and an int64 key
    equal for rows of one report (stripped text; ANO_BO 2023, "2023" and 2023.0 alike)."""
    complete = np.ones(len(data), dtype=bool)
    key = np.zeros(len(data), dtype=np.int64)
    for column, func in (("NOME_DELEGACIA", _strip), ("ANO_BO", _year_text), ("NUM_BO", _strip)):
        complete &= data[column].notna().to_numpy()
        codes = pd.factorize(_per_unique(data[column], func))[0].astype(np.int64) + 1   # 0: missing
        key = pd.factorize(key * (int(codes.max(initial=0)) + 1) + codes)[0].astype(np.int64)
    return complete, pd.Series(key)


def _strip(value):
    return None if value is None else str(value).strip()


def _year_text(value):
    if value is None:
        return None
    try:
        return str(int(float(value)))
    except (TypeError, ValueError):
        return str(value).strip()


def _is_sao_paulo(value):
    """CIDADE of São Paulo city: normalised without dots and spaces, SPAULO or SAOPAULO."""
    text = normalize(value)
    return text is not None and re.sub(r"[.\s]", "", text) in ("SPAULO", "SAOPAULO")


def _rubric(value):
    """(FURTO, ROUBO or None; whether the rubric has the A.I.- prefix) of a RUBRICA value."""
    text = normalize(value) or ""
    ai = re.match(_AI_PREFIX, text) is not None
    kind = re.match(r"(FURTO|ROUBO)\b", re.sub(_AI_PREFIX, "", text))
    return (kind.group(1) if kind else None), ai


def _number(value):
    """A number from a cell or text (decimal comma allowed); NaN where there is none."""
    if isinstance(value, str):
        value = value.strip().replace(",", ".")
    elif isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        return np.nan
    try:
        return float(value)
    except ValueError:
        return np.nan


def _is_text(values):
    return np.fromiter((isinstance(v, str) for v in values), dtype=bool, count=len(values))


def _parse_dates(column):
    """(datetime64[ns] array, bad mask) of a DATA_OCORRENCIA_BO column (missing: NaT, not bad)."""
    values = column.to_numpy(dtype=object)
    out = np.full(len(values), np.datetime64("NaT"), dtype="datetime64[ns]")
    bad = np.zeros(len(values), dtype=bool)
    missing = column.isna().to_numpy()
    is_text = _is_text(values) & ~missing
    if is_text.any():                  # each distinct text parsed once
        codes, uniques = pd.factorize(values[is_text])
        text = pd.Series(uniques, dtype=object).str.strip()
        serial = text.str.fullmatch(_SERIAL).to_numpy(dtype=bool)
        first = text.str.split(r"[ T]", n=1, regex=True).str[0]
        parsed = pd.to_datetime(first, format="%d/%m/%Y", errors="coerce")
        iso = pd.to_datetime(first[parsed.isna()], format="%Y-%m-%d", errors="coerce")
        parsed[parsed.isna()] = iso
        parsed = parsed.to_numpy(dtype="datetime64[ns]")
        if serial.any():
            parsed[serial] = _from_serial(text[serial].astype(float).to_numpy())
        out[is_text] = parsed[codes]
        bad[is_text] = np.isnat(parsed)[codes]
    for i in np.flatnonzero(~is_text & ~missing):
        v = values[i]
        if isinstance(v, (datetime.date, pd.Timestamp, np.datetime64)):
            out[i] = pd.Timestamp(v).to_datetime64()
        elif isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_)) \
                and 10000 <= v < 100000:
            out[i] = _from_serial(np.array([float(v)]))[0]
        else:
            bad[i] = True
    return out, bad


def _from_serial(days):
    return (EXCEL_EPOCH + pd.to_timedelta(np.floor(days), unit="D")).to_numpy(dtype="datetime64[ns]")


def _parse_hours(column):
    """(minutes since midnight as float, next-day mask, bad mask) of a HORA_OCORRENCIA column.
    24:00 is 0 minutes of the next day; missing hours are NaN, not bad."""
    values = column.to_numpy(dtype=object)
    n = len(values)
    minutes = np.full(n, np.nan)
    next_day = np.zeros(n, dtype=bool)
    bad = np.zeros(n, dtype=bool)
    missing = column.isna().to_numpy()
    is_text = _is_text(values) & ~missing
    if is_text.any():                  # each distinct text parsed once
        codes, uniques = pd.factorize(values[is_text])
        parts = pd.Series(uniques, dtype=object).str.strip().str.extract(_HOUR)
        h = pd.to_numeric(parts[0], errors="coerce").to_numpy(dtype=float)
        m = pd.to_numeric(parts[1], errors="coerce").to_numpy(dtype=float)
        s = pd.to_numeric(parts[2], errors="coerce").fillna(0).to_numpy(dtype=float)
        midnight = (h == 24) & (m == 0) & (s == 0)
        wrong = np.isnan(h) | ((h > 23) & ~midnight) | (m > 59) | (s > 59)
        minutes[is_text] = np.where(wrong, np.nan, np.where(midnight, 0, h * 60 + m))[codes]
        next_day[is_text] = (midnight & ~wrong)[codes]
        bad[is_text] = wrong[codes]
    for i in np.flatnonzero(~is_text & ~missing):
        v = values[i]
        if isinstance(v, (datetime.time, datetime.datetime, pd.Timestamp)):
            minutes[i] = v.hour * 60 + v.minute
        elif isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_)) \
                and 0 <= v < 1:
            minutes[i] = round(float(v) * 86400) // 60         # an Excel day fraction
        else:
            bad[i] = True
    return minutes, next_day, bad


def _periods(minutes, bad_hour, fallback):
    """(PERIODOS name or None per row, bad-period mask): from the hour, else from the period
    text; the text is checked only where the hour is missing (not where it is bad)."""
    code = np.select([minutes <= 360, minutes <= 720, minutes <= 1080, minutes <= 1439], [0, 1, 2, 3], -1)
    out = np.asarray(PERIODOS + [None], dtype=object)[code]
    bad = np.zeros(len(out), dtype=bool)
    use = np.isnan(minutes) & ~bad_hour
    if use.any():
        text = normalize_series(fallback[use]).to_numpy(dtype=object)
        known = np.array([t is None or t in UNCERTAIN or t in PERIOD_TEXT for t in text], dtype=bool)
        out[use] = [PERIOD_TEXT.get(t) if k else None for t, k in zip(text, known)]
        bad[np.flatnonzero(use)[~known]] = True
    return out, bad


def _ages(column):
    """(age as float, NaN outside 0-120 or missing; bad mask: a value that is not a number)."""
    missing = column.isna().to_numpy()
    values = _per_unique(column, _number).astype(float)
    bad = np.isnan(values) & ~missing
    return np.where((values >= 0) & (values <= 120), values, np.nan), bad


def _sexes(column):
    """(HOMEM / MULHER / None per row, bad mask: a text SEX_TEXT does not know)."""
    text = normalize_series(column).to_numpy(dtype=object)
    bad = np.array([t is not None and t not in SEX_TEXT for t in text], dtype=bool)
    return np.array([None if t is None else SEX_TEXT.get(t) for t in text], dtype=object), bad
