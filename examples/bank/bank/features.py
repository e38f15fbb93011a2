"""The fraud model's and the segments' inputs, by the one definition in features.json.

    X = fraud_features(transactions)             # a DataFrame, one row per transaction (same index)
    state = FeatureState()                        # the same, one record at a time (a stream)
    row = state.score_inputs(record)              # -> dict of FRAUD_FEATURES for this record
    S = segment_features(transactions, end)       # one row per customer

features.json says what each feature is; this module is its reference implementation twice
over: vectorised for training (``fraud_features``) and record by record with a small
per-customer state (``FeatureState``), the form a stream scorer takes. The tests prove the two
equal on the same transactions; any other implementation (a stream scorer in C++, a Spark job)
is to be held to the same definition the same way (relative difference at most ``TOLERANCE``).
"""
import json
import math
import pathlib
import pkgutil
from collections import deque

import numpy as np
import pandas as pd

# (pkgutil: also from a zip, as Spark's executors import this package)
DEFINITION = json.loads(pkgutil.get_data(__package__, "features.json").decode("utf-8"))
P = DEFINITION["parameters"]
FRAUD_FEATURES = [f["name"] for f in DEFINITION["fraud_features"]]
CATEGORICAL = {f["name"]: f["categories"] for f in DEFINITION["fraud_features"] if f["type"] == "categorical"}
SEGMENT_FEATURES = [f["name"] for f in DEFINITION["segment_features"]["features"]]
SHARE_CATEGORY = {f["name"]: f["categoria"] for f in DEFINITION["segment_features"]["features"] if "categoria" in f}
TOLERANCE = 1e-9

HISTORY = P["history"]
SHORT, LONG = P["window_short_seconds"], P["window_long_seconds"]
CREDIT_TYPES = set(P["credit_types"])
SPENDING = ["Pix Enviar", "TED Enviar", "Compra Cartão"]


def haversine_km(lat1, lon1, lat2, lon2):
    """features.json's distance (numpy arrays or floats)."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    a = np.sin((p2 - p1) / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin((np.radians(lon2) - np.radians(lon1)) / 2) ** 2
    return 2 * P["earth_radius_km"] * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


def local_hour(timestamp):
    return np.mod(np.asarray(timestamp, dtype=np.int64) + P["utc_offset_seconds"], 86_400) / 3_600.0


#: The record fields the features read; ``id_dispositivo`` and ``id_beneficiario`` may be
#: missing (null, NaN, "" or absent), the others must be set.
REQUIRED = ["id_transacao", "id_cliente", "timestamp", "transacao", "categoria_transacao", "metodo_pagamento",
            "valor_transacao", "saldo", "status_transacao", "latitude", "longitude"]
OPTIONAL_IDS = ["id_dispositivo", "id_beneficiario"]


def _is_missing(value):
    return value is None or value is pd.NA or value == "" or (isinstance(value, (float, np.floating)) and math.isnan(value))


def _ids(values):
    """An id column as strings (ids compare as text, as in a JSON record), None where missing."""
    s = pd.Series(values, dtype=object)
    missing = s.isna().to_numpy() | (s == "").to_numpy()
    out = s.astype(str).to_numpy(dtype=object)
    out[missing] = None
    return out


def _check_frame(frame):
    absent = [c for c in REQUIRED if c not in frame.columns]
    if absent:
        raise ValueError(f"the transactions lack the column(s) {', '.join(absent)} (features.json needs them)")
    for column in REQUIRED:
        if frame[column].isna().any():
            row = frame.index[frame[column].isna().to_numpy()][0]
            raise ValueError(f"{column} is missing at index {row!r}")


# ---------------------------------------------------------------------------------------------
# vectorised: a whole DataFrame at once


def fraud_features(frame):
    """FRAUD_FEATURES for every transaction of ``frame`` (the generator's columns), a DataFrame
    with ``frame``'s index; categorical columns are pandas categories over the fixed
    vocabularies (an unknown value becomes missing)."""
    _check_frame(frame)
    customers = _ids(frame["id_cliente"])
    order = np.lexsort((_ids(frame["id_transacao"]).astype(str), frame["timestamp"].to_numpy(), customers.astype(str)))
    f = frame.iloc[order]
    m = len(f)
    code = pd.factorize(customers[order])[0].astype(np.int64)
    t = f["timestamp"].to_numpy(dtype=np.int64)
    if m and (np.diff(t)[np.diff(code) == 0] <= 0).any():
        raise ValueError("a customer's timestamps must be strictly increasing (features.json, 'order')")
    value = f["valor_transacao"].to_numpy(dtype=np.float64)
    lat = f["latitude"].to_numpy(dtype=np.float64)
    lon = f["longitude"].to_numpy(dtype=np.float64)
    i = np.arange(m)
    starts = np.r_[0, np.flatnonzero(np.diff(code)) + 1] if m else np.zeros(0, dtype=np.int64)
    first = np.repeat(starts, np.diff(np.r_[starts, m]))
    previous = i - first  # n_previous
    out = {name: f[name].to_numpy() for name in ("transacao", "categoria_transacao", "metodo_pagamento")}
    out["valor_transacao"] = value
    hour = local_hour(t)
    out["hour"] = hour
    out["n_previous"] = previous.astype(np.float64)
    has_previous = previous > 0
    prev = np.maximum(i - 1, 0)
    out["seconds_since_last"] = np.where(has_previous, (t - t[prev]).astype(np.float64), np.nan)

    # the last HISTORY previous transactions: means, then spreads (two passes, most recent first)
    k_count = np.minimum(previous, HISTORY)
    logs = np.log1p(value)
    sums = {name: np.zeros(m) for name in ("log", "value", "lat", "lon")}
    for k in range(1, HISTORY + 1):
        ok = k <= previous
        j = np.where(ok, i - k, 0)
        sums["log"] += np.where(ok, logs[j], 0.0)
        sums["value"] += np.where(ok, value[j], 0.0)
        sums["lat"] += np.where(ok, lat[j], 0.0)
        sums["lon"] += np.where(ok, lon[j], 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_log = sums["log"] / k_count
        squares = np.zeros(m)
        for k in range(1, HISTORY + 1):
            ok = k <= previous
            j = np.where(ok, i - k, 0)
            squares += np.where(ok, (logs[j] - mean_log) ** 2, 0.0)
        sd = np.sqrt(squares / k_count)
        enough = previous >= P["min_history"]
        out["amount_z"] = np.where(enough, (logs - mean_log) / (sd + P["amount_sd_floor"]), np.nan)
        mean_value = sums["value"] / k_count
        out["amount_ratio"] = np.where(enough & (mean_value > 0), value / mean_value, np.nan)
        home_lat, home_lon = sums["lat"] / k_count, sums["lon"] / k_count
    out["distance_home_km"] = np.where(has_previous, haversine_km(lat, lon, home_lat, home_lon), np.nan)
    out["distance_last_km"] = np.where(has_previous, haversine_km(lat, lon, lat[prev], lon[prev]), np.nan)

    # time windows: previous transactions with timestamp > t - W (within the customer: the key
    # puts each customer's times in a range of their own)
    # puts each customer's times in a range of their own). Sums add the window's members
    # themselves (no differences of running totals, whose rounding grows with the history).
    key = code * (1 << 40) + t
    for name, width in (("10m", SHORT), ("1h", LONG)):
        lo = np.searchsorted(key, key - width, side="right")
        count = i - lo
        out[f"count_{name}"] = count.astype(np.float64)
        out[f"sum_{name}"] = _window_sums(value, count)
        if name == "1h":
            window_count = count

    device = _ids(f["id_dispositivo"]) if "id_dispositivo" in f.columns else np.full(m, None, dtype=object)
    has_device = device != None  # noqa: E711 (elementwise)
    frame_d = pd.DataFrame({"c": code, "d": np.where(has_device, device, ""), "t": t})
    seen = frame_d.groupby(["c", "d"], sort=False).cumcount().to_numpy()
    first_t = frame_d.groupby(["c", "d"], sort=False)["t"].transform("first").to_numpy()
    out["new_device"] = np.where(has_device, (seen == 0).astype(np.float64), np.nan)
    out["device_age_h"] = np.where(has_device, (t - first_t) / 3_600.0, np.nan)

    beneficiary = _ids(f["id_beneficiario"]) if "id_beneficiario" in f.columns else np.full(m, None, dtype=object)
    has_beneficiary = beneficiary != None  # noqa: E711
    frame_b = pd.DataFrame({"c": code, "b": np.where(has_beneficiary, beneficiary, "")})
    new_b = has_beneficiary & (frame_b.groupby(["c", "b"], sort=False).cumcount().to_numpy() == 0)
    out["new_beneficiary"] = np.where(has_beneficiary, new_b.astype(np.float64), np.nan)
    out["new_beneficiaries_1h"] = _window_sums(new_b.astype(np.float64), window_count)

    band = np.floor(hour / P["hour_band_hours"]).astype(np.int64)
    same_band = pd.DataFrame({"c": code, "b": band}).groupby(["c", "b"], sort=False).cumcount().to_numpy()
    with np.errstate(invalid="ignore", divide="ignore"):
        out["hour_share"] = np.where(previous >= P["min_history_hours"], same_band / previous, np.nan)
        saldo = f["saldo"].to_numpy(dtype=np.float64)
        out["balance_ratio"] = np.where(has_previous, value / (np.maximum(saldo[prev], 0.0) + 1.0), np.nan)

    credit = (f["transacao"].isin(CREDIT_TYPES) & (f["status_transacao"] == "Concluída")).to_numpy()
    last_credit = pd.Series(np.where(credit, t.astype(np.float64), np.nan)).groupby(code).shift(1)
    last_credit = last_credit.groupby(code).ffill().to_numpy()
    out["hours_since_credit"] = (t - last_credit) / 3_600.0

    result = _categories(pd.DataFrame({name: out[name] for name in FRAUD_FEATURES}))
    return result.iloc[np.argsort(order, kind="stable")].set_axis(frame.index)  # the input's order and index


def _window_sums(values, count):
    """For each row i, the sum of values[i - count[i] .. i - 1] (rows sorted by customer and
    time), most recent first, as a stream adds them up; 0 for an empty window."""
    rows = np.repeat(np.arange(len(count)), count)
    offsets = np.arange(len(rows)) - np.repeat(np.cumsum(count) - count, count)
    return np.bincount(rows, weights=values[rows - 1 - offsets], minlength=len(count)).astype(np.float64)


def _categories(result):
    """The categorical features as pandas categories over the fixed vocabularies (an unknown
    value becomes missing, as floresta scores an unseen category)."""
    for name, categories in CATEGORICAL.items():
        known = result[name].where(result[name].isin(categories))
        result[name] = pd.Categorical(known, categories=categories)
    return result


# ---------------------------------------------------------------------------------------------
# record by record: the state a stream scorer keeps


class CustomerState:
    """What features.json's 'state' lists, for one customer."""

    __slots__ = ("count", "last_t", "last_saldo", "last_lat", "last_lon", "window", "history", "devices",
                 "beneficiaries", "bands", "last_credit")

    def __init__(self):
        self.count = 0
        self.last_t = None
        self.last_saldo = None
        self.last_lat = self.last_lon = None
        self.window = deque()  # (timestamp, valor, new beneficiary) within window_long_seconds
        self.history = deque(maxlen=HISTORY)  # (valor, latitude, longitude) of the last HISTORY
        self.devices = {}  # id -> first timestamp
        self.beneficiaries = set()
        self.bands = {}
        self.last_credit = None


def _field_id(record, name):
    value = record.get(name)
    return None if _is_missing(value) else str(value)


def _check_record(record):
    for name in REQUIRED:
        value = record.get(name)
        if value is None or (isinstance(value, float) and math.isnan(value)):
            raise ValueError(f"{record.get('id_transacao', '?')}: {name} is missing")


class FeatureState:
    """Per-customer states; ``score_inputs(record)`` gives a record's FRAUD_FEATURES and then
    takes the record into its customer's state (records in time order per customer)."""

    def __init__(self):
        self.customers = {}

    def score_inputs(self, record):
        _check_record(record)
        state = self.customers.setdefault(str(record["id_cliente"]), CustomerState())
        features = self._features(state, record)
        self._update(state, record, features)
        return features

    @staticmethod
    def _features(s, r):
        t = int(r["timestamp"])
        if s.last_t is not None and t <= s.last_t:
            raise ValueError(f"{r.get('id_transacao')}: timestamp {t} is not after the customer's last ({s.last_t})")
        value = float(r["valor_transacao"])
        lat, lon = float(r["latitude"]), float(r["longitude"])
        hour = float(local_hour(t))
        nan = math.nan
        out = {"transacao": r["transacao"], "categoria_transacao": r["categoria_transacao"],
               "metodo_pagamento": r["metodo_pagamento"], "valor_transacao": value, "hour": hour,
               "n_previous": float(s.count),
               "seconds_since_last": float(t - s.last_t) if s.count else nan}
        n = len(s.history)
        if s.count >= P["min_history"]:
            logs = [math.log1p(v) for v, _, _ in reversed(s.history)]
            mean = sum(logs) / n
            sd = math.sqrt(sum((x - mean) ** 2 for x in logs) / n)
            out["amount_z"] = (math.log1p(value) - mean) / (sd + P["amount_sd_floor"])
            mean_value = sum(v for v, _, _ in reversed(s.history)) / n
            out["amount_ratio"] = value / mean_value if mean_value > 0 else nan
        else:
            out["amount_z"] = out["amount_ratio"] = nan
        for name, width in (("10m", SHORT), ("1h", LONG)):
            recent = [(v, b) for ts, v, b in s.window if ts > t - width]
            out[f"count_{name}"] = float(len(recent))
            out[f"sum_{name}"] = float(sum(v for v, _ in reversed(recent))) if recent else 0.0  # most recent first
            if name == "1h":
                out["new_beneficiaries_1h"] = float(sum(b for _, b in recent))
        device = _field_id(r, "id_dispositivo")
        if device is None:
            out["new_device"] = out["device_age_h"] = nan
        else:
            first = s.devices.get(device)
            out["new_device"] = 0.0 if first is not None else 1.0
            out["device_age_h"] = (t - first) / 3_600.0 if first is not None else 0.0
        beneficiary = _field_id(r, "id_beneficiario")
        out["new_beneficiary"] = nan if beneficiary is None else float(beneficiary not in s.beneficiaries)
        if n:
            home_lat = sum(la for _, la, _ in reversed(s.history)) / n
            home_lon = sum(lo for _, _, lo in reversed(s.history)) / n
            out["distance_home_km"] = float(haversine_km(lat, lon, home_lat, home_lon))
            out["distance_last_km"] = float(haversine_km(lat, lon, s.last_lat, s.last_lon))
        else:
            out["distance_home_km"] = out["distance_last_km"] = nan
        band = int(math.floor(hour / P["hour_band_hours"]))
        out["hour_share"] = s.bands.get(band, 0) / s.count if s.count >= P["min_history_hours"] else nan
        out["balance_ratio"] = value / (max(s.last_saldo, 0.0) + 1.0) if s.count else nan
        out["hours_since_credit"] = (t - s.last_credit) / 3_600.0 if s.last_credit is not None else nan
        return {name: out[name] for name in FRAUD_FEATURES}

    @staticmethod
    def _update(s, r, features):
        t = int(r["timestamp"])
        while s.window and s.window[0][0] <= t - LONG:
            s.window.popleft()
        s.window.append((t, float(r["valor_transacao"]), 1 if features["new_beneficiary"] == 1.0 else 0))
        s.history.append((float(r["valor_transacao"]), float(r["latitude"]), float(r["longitude"])))
        device = _field_id(r, "id_dispositivo")
        if device is not None:
            s.devices.setdefault(device, t)
        beneficiary = _field_id(r, "id_beneficiario")
        if beneficiary is not None:
            s.beneficiaries.add(beneficiary)
        band = int(math.floor(features["hour"] / P["hour_band_hours"]))
        s.bands[band] = s.bands.get(band, 0) + 1
        s.count += 1
        s.last_t = t
        s.last_saldo = float(r["saldo"])
        s.last_lat, s.last_lon = float(r["latitude"]), float(r["longitude"])
        if r["transacao"] in CREDIT_TYPES and r["status_transacao"] == "Concluída":
            s.last_credit = t


def read_jsonl(path):
    """The records of a JSON Lines file (or of every part of a partitioned directory, in name order)."""
    path = pathlib.Path(path)
    files = sorted(path.rglob("*.jsonl")) if path.is_dir() else [path]
    out = []
    for file in files:
        with open(file, encoding="utf-8") as handle:
            for number, line in enumerate(handle, 1):
                if line.strip():
                    try:
                        out.append(json.loads(line))
                    except json.JSONDecodeError as error:
                        raise ValueError(f"{file}: line {number}: {error.msg}") from None
    return out


def stream_features(records):
    """FRAUD_FEATURES of records taken one by one in time order (as a stream scorer meets
    them): a DataFrame in the records' order."""
    state = FeatureState()
    for record in records:
        _check_record(record)
    ordered = sorted(range(len(records)), key=lambda k: (int(records[k]["timestamp"]), str(records[k]["id_transacao"])))
    rows = [None] * len(records)
    for k in ordered:
        rows[k] = state.score_inputs(records[k])
    return _categories(pd.DataFrame(rows, columns=FRAUD_FEATURES))


# ---------------------------------------------------------------------------------------------
# customers: the segments' inputs


def segment_features(frame, end=None, customers=None):
    """SEGMENT_FEATURES per customer (index id_cliente) over the segment_period_days before
    ``end`` (a Unix time, exclusive; default: one second after the last transaction).
    ``customers``: ids to include even without transactions in the period."""
    if end is None:
        if frame.empty:
            raise ValueError("no transactions: give `end` to segment customers without any")
        end = int(frame["timestamp"].max()) + 1
    period = P["segment_period_days"]
    window = frame[(frame["timestamp"] >= end - period * 86_400) & (frame["timestamp"] < end)
                   & (frame["status_transacao"] == "Concluída")]
    ids = pd.Index(sorted(set(window["id_cliente"]) | set(customers if customers is not None else [])),
                   name="id_cliente")
    by = window.groupby("id_cliente")
    out = pd.DataFrame(index=ids)
    out["recency_days"] = ((end - by["timestamp"].max()) / 86_400.0).reindex(ids).fillna(float(period))
    out["frequency_30d"] = (by.size() * 30.0 / period).reindex(ids).fillna(0.0)
    spending = window[window["transacao"].isin(SPENDING)].groupby("id_cliente")["valor_transacao"].sum()
    out["monetary_30d"] = np.log1p((spending * 30.0 / period).reindex(ids).fillna(0.0))
    purchases = window[window["transacao"] == "Compra Cartão"]
    out["avg_ticket"] = np.log1p(purchases.groupby("id_cliente")["valor_transacao"].mean().reindex(ids).fillna(0.0))
    incoming = window[window["transacao"].isin(CREDIT_TYPES)]
    sales = incoming[incoming["transacao"] == "Venda Maquininha"].groupby("id_cliente")["valor_transacao"].sum()
    total_in = incoming.groupby("id_cliente")["valor_transacao"].sum()
    out["sales_share"] = (sales.reindex(total_in.index).fillna(0.0) / total_in).reindex(ids).fillna(0.0)
    spend = purchases.pivot_table(index="id_cliente", columns="categoria_transacao", values="valor_transacao",
                                  aggfunc="sum", fill_value=0.0, observed=True)
    totals = spend.sum(axis=1)
    for name, categoria in SHARE_CATEGORY.items():
        column = spend[categoria] if categoria in spend.columns else pd.Series(0.0, index=spend.index)
        out[name] = (column / totals).reindex(ids).fillna(0.0)
    return out[SEGMENT_FEATURES]
