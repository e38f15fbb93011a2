"""The fraud model, its baselines, its evaluation, and the customer segments.

    frame = generate.generate()                       # transactions
    X = features.fraud_features(frame)                # the one feature definition
    s = split_by_time(frame, X)                       # warm-up | training | validation week | test week
    clf = train_fraud(s)                              # LightGBM, early-stopped on the validation week
    threshold = alert_threshold(clf.predict_proba(s.X_valid)[:, 1])       # 0.5% of transactions
    report = at_budget(scores, s.test, threshold)      # alerts a day, precision, recall, R$ caught
    seg = train_segments(features.segment_features(frame))   # StandardScaler + KMeans(7), named

Definitions (used by the notebook and train_model.py alike):

* **Split by time.** Days are local dates. The first WARMUP_DAYS only feed the customers'
  state (their features see no history yet, so they train nothing); then training days; then
  one validation week (early stopping, the alert threshold, calibration checks); then the
  test week, touched once, for every number reported.
* **Average precision** (AP): scikit-learn's ``average_precision_score`` — the area under the
  precision-recall curve as a step function. The baseline AP of a random score is the fraud
  rate. Confidence intervals: percentile intervals of a bootstrap over *customers* (fraud
  comes in events of several transactions of one customer, so rows are not independent):
  BOOTSTRAP resamples of the test week's customers with replacement, seed 0.
* **Alert budget.** The bank can review ALERT_BUDGET (0.5%) of the transactions. Each score's
  threshold is the (1 - ALERT_BUDGET) quantile of its scores on the validation week; on the
  test week we count alerts per day, precision, recall (of fraudulent transactions), recall
  per fraud pattern, and the fraud value caught: the R$ of completed fraudulent transactions
  that raised an alert, over the R$ of all completed fraudulent transactions (a refused one
  cost nothing).
* **Calibration.** Reliability table over CALIBRATION_EDGES (fixed bins on a log-like scale:
  the probabilities are skewed, so equal-width or quantile bins would be nearly all near 0),
  the Brier score and the expected calibration error over the same bins.
"""
import dataclasses
import datetime as dt

import numpy as np
import pandas as pd

from . import features as F

WARMUP_DAYS = 14
ALERT_BUDGET = 0.005
BOOTSTRAP = 200
CLASS_LABELS = ["legítima", "fraude"]
N_SEGMENTS = 7
EARLY_STOPPING_ROUNDS = 40

#: LightGBM settings of the shipped fraud model: binary on the raw features (the categorical
#: ones as pandas categories with fixed vocabularies), no class weights so that the
#: probabilities stay calibrated, early stopping on the validation week's log loss, one thread
#: and LightGBM's deterministic mode so that the same versions rebuild the same file.
#: (XGBoost was the first choice; XGBoost 3.2 truncates non-ASCII category names such as
#: "Cartão de Crédito" when it records a model's vocabulary — in memory and in its files —
#: so its file cannot carry these features' vocabularies. LightGBM keeps them intact.)
LGBM_PARAMS = dict(
    objective="binary",
    n_estimators=1000,
    learning_rate=0.05,
    num_leaves=31,
    min_child_samples=40,
    subsample=0.8,
    subsample_freq=1,
    colsample_bytree=0.8,
    reg_lambda=1.0,
    cat_smooth=10.0,
    n_jobs=1,
    deterministic=True,
    force_row_wise=True,
    verbose=-1,
)


@dataclasses.dataclass
class Split:
    train: pd.DataFrame
    valid: pd.DataFrame
    test: pd.DataFrame
    X_train: pd.DataFrame
    X_valid: pd.DataFrame
    X_test: pd.DataFrame
    days: dict

    @property
    def y_train(self):
        return self.train["fraude"].to_numpy()

    @property
    def y_valid(self):
        return self.valid["fraude"].to_numpy()

    @property
    def y_test(self):
        return self.test["fraude"].to_numpy()


def split_by_time(frame, X, warmup_days=WARMUP_DAYS, valid_days=7, test_days=7):
    """Warm-up, training, validation and test rows by local date (see the module docstring)."""
    days = sorted(frame["data"].unique())
    if len(days) < warmup_days + valid_days + test_days + 1:
        raise ValueError(f"{len(days)} days: need more than warm-up {warmup_days} + validation {valid_days} "
                         f"+ test {test_days}")
    test_from = days[-test_days]
    valid_from = days[-test_days - valid_days]
    train_from = days[warmup_days]
    date = frame["data"]
    parts = {"train": (date >= train_from) & (date < valid_from), "valid": (date >= valid_from) & (date < test_from),
             "test": date >= test_from}
    return Split(train=frame[parts["train"]], valid=frame[parts["valid"]], test=frame[parts["test"]],
                 X_train=X[parts["train"]], X_valid=X[parts["valid"]], X_test=X[parts["test"]],
                 days={"warmup": (days[0], days[warmup_days - 1]), "train": (train_from, valid_from),
                       "valid": (valid_from, test_from), "test": (test_from, days[-1])})


def train_fraud(s, seed=0, **overrides):
    """An LGBMClassifier early-stopped on the validation week's log loss (the file and
    ``predict_proba`` keep the best iteration's trees). Has ``validation_curve_`` (the
    validation log loss per round) and ``best_round_`` (rounds kept)."""
    import lightgbm

    clf = lightgbm.LGBMClassifier(**{**LGBM_PARAMS, "random_state": seed, **overrides})
    clf.fit(s.X_train, s.y_train, eval_X=(s.X_valid,), eval_y=(s.y_valid,), eval_metric="binary_logloss",
            callbacks=[lightgbm.early_stopping(EARLY_STOPPING_ROUNDS, verbose=False)])
    clf.validation_curve_ = list(clf.evals_result_["valid_0"]["binary_logloss"])
    clf.best_round_ = int(clf.best_iteration_ or clf.n_estimators)
    return clf


# ---------------------------------------------------------------------------------------------
# the original project's approaches, and an IsolationForest on the new features


def train_amount_iforest(s, seed=0):
    """The original: IsolationForest on the amount alone, contamination 0.01."""
    from sklearn.ensemble import IsolationForest

    return IsolationForest(contamination=0.01, random_state=seed).fit(s.train[["valor_transacao"]])


NUMERIC = [f for f in F.FRAUD_FEATURES if f not in F.CATEGORICAL]


def train_features_iforest(s, seed=0):
    """An IsolationForest on the new numeric features (missing values imputed with the
    training medians), a Pipeline floresta exports whole."""
    from sklearn.ensemble import IsolationForest
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline

    pipe = Pipeline([("impute", SimpleImputer(strategy="median")),
                     ("forest", IsolationForest(n_estimators=200, contamination=0.01, random_state=seed))])
    return pipe.fit(s.X_train[NUMERIC])


def five_times_mean_score(X):
    """The original's label turned into a rule: the amount over the customer's recent mean
    (``amount_ratio``; the original used the mean of the whole file, the future included).
    The rule alerts when it exceeds 5; as a score it ranks by the ratio."""
    return X["amount_ratio"].fillna(0.0).to_numpy()


# ---------------------------------------------------------------------------------------------
# evaluation


def average_precision(y, score):
    from sklearn.metrics import average_precision_score

    return float(average_precision_score(y, score)) if np.any(y) else float("nan")


def bootstrap_ap(y, scores, groups, n=BOOTSTRAP, seed=0, level=0.95):
    """Average precision of each score (a dict name -> array) with a percentile interval from
    resampling ``groups`` (customers) with replacement; the same resamples for every score, so
    differences between scores can be read from them too. Returns a DataFrame: ap, low, high."""
    rng = np.random.default_rng(seed)
    codes, uniques = pd.factorize(np.asarray(groups))
    rows_of = pd.Series(np.arange(len(codes))).groupby(codes).apply(lambda s: s.to_numpy()).to_list()
    draws = {name: [] for name in scores}
    for _ in range(n):
        pick = rng.integers(0, len(uniques), len(uniques))
        idx = np.concatenate([rows_of[g] for g in pick])
        for name, score in scores.items():
            draws[name].append(average_precision(y[idx], np.asarray(score)[idx]))
    alpha = (1 - level) / 2
    return pd.DataFrame({name: {"ap": average_precision(y, np.asarray(score)),
                                "low": float(np.nanquantile(draws[name], alpha)),
                                "high": float(np.nanquantile(draws[name], 1 - alpha))}
                         for name, score in scores.items()}).T


def alert_threshold(valid_scores, budget=ALERT_BUDGET):
    """The score above which ``budget`` of the validation week's transactions fall."""
    return float(np.quantile(np.asarray(valid_scores, dtype=float), 1.0 - budget))


def at_budget(score, rows, threshold):
    """What the bank reads for alerts ``score > threshold`` on ``rows`` (the test week)."""
    score = np.asarray(score, dtype=float)
    alert = score > threshold
    fraud = rows["fraude"].to_numpy() == 1
    done = (rows["status_transacao"] == "Concluída").to_numpy()
    value = rows["valor_transacao"].to_numpy()
    days = rows["data"].nunique()
    lost = value[fraud & done].sum()
    out = {"threshold": float(threshold), "alerts": int(alert.sum()), "alerts_per_day": alert.sum() / days,
           "alert_rate": float(alert.mean()), "precision": float(fraud[alert].mean()) if alert.any() else float("nan"),
           "recall": float(alert[fraud].mean()) if fraud.any() else float("nan"),
           "fraud_value": float(lost), "fraud_value_caught": float(value[fraud & done & alert].sum()),
           "fraud_value_share": float(value[fraud & done & alert].sum() / lost) if lost else float("nan")}
    patterns = rows["padrao_fraude"].to_numpy()
    for pattern in sorted(set(patterns[fraud])):
        sel = patterns == pattern
        out[f"recall_{pattern}"] = float(alert[sel].mean())
    return out


#: Reliability bins: fixed, on a log-like scale, because fraud probabilities are nearly all
#: tiny (quantile bins would put nine of ten bins under 1e-4).
CALIBRATION_EDGES = [0.0, 1e-4, 3e-4, 1e-3, 3e-3, 0.01, 0.03, 0.1, 0.3, 1.0]


def reliability(proba, y, edges=CALIBRATION_EDGES):
    """Reliability table over the bins ``edges`` (the last one closed): count, mean predicted
    probability, observed fraud rate, per non-empty bin."""
    proba = np.asarray(proba, dtype=float)
    y = np.asarray(y, dtype=float)
    b = np.clip(np.searchsorted(edges, proba, side="right") - 1, 0, len(edges) - 2)
    table = pd.DataFrame({"bin": b, "p": proba, "y": y}).groupby("bin").agg(
        count=("p", "size"), predicted=("p", "mean"), observed=("y", "mean"))
    table.index = [f"[{edges[k]:g}, {edges[k + 1]:g})" for k in table.index]
    return table


def calibration(proba, y, edges=CALIBRATION_EDGES):
    """Brier score and the expected calibration error over the reliability bins."""
    table = reliability(proba, y, edges)
    ece = float((table["count"] / table["count"].sum() * (table["observed"] - table["predicted"]).abs()).sum())
    return {"brier": float(np.mean((np.asarray(proba) - np.asarray(y)) ** 2)), "ece": ece}


# ---------------------------------------------------------------------------------------------
# segments


#: A marketer's names for what a segment stands out by, and how to measure it on a segment's
#: centre (in the features' own units). Each segment gets the name it stands out by most
#: (standardised across segments), one name per segment (an optimal assignment).
SEGMENT_NAMES = {
    "Lojistas (vendas na maquininha)": lambda c: c["sales_share"],
    "Viajantes": lambda c: c["share_viagens"],
    "Tecnologia e eletrônicos": lambda c: c["share_eletronicos"] + c["share_informatica"],
    "Essenciais do dia a dia": lambda c: c["share_alimentacao"],
    "Moda": lambda c: c["share_vestuario"],
    "Shopping": lambda c: c["share_shopping"],
    "Esporte": lambda c: c["share_esporte"],
    "Alta renda": lambda c: c["monetary_30d"],
    "Pouco ativos": lambda c: -c["frequency_30d"] + c["recency_days"] / 7,
    "Contas e outros": lambda c: c["share_outros"],
}


def train_segments(S, n_segments=N_SEGMENTS, seed=0):
    """Pipeline(StandardScaler, KMeans(n_segments)) on the customers' segment features, with
    ``segment_names_`` (one per cluster, from SEGMENT_NAMES)."""
    from sklearn.cluster import KMeans
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    pipe = Pipeline([("scale", StandardScaler()), ("kmeans", KMeans(n_clusters=n_segments, n_init=10,
                                                                    random_state=seed))])
    pipe.fit(S[F.SEGMENT_FEATURES])
    pipe.segment_names_ = name_segments(segment_centres(pipe))
    return pipe


def segment_centres(pipe):
    """The clusters' centres in the features' own units."""
    centres = pipe.named_steps["scale"].inverse_transform(pipe.named_steps["kmeans"].cluster_centers_)
    return pd.DataFrame(centres, columns=F.SEGMENT_FEATURES)


def name_segments(centres):
    """One name of SEGMENT_NAMES per centre: each candidate's measure is standardised across
    the centres, and names go to centres by the assignment that maximises the total."""
    from scipy.optimize import linear_sum_assignment

    names = list(SEGMENT_NAMES)
    score = np.column_stack([centres.apply(SEGMENT_NAMES[n], axis=1).to_numpy(dtype=float) for n in names])
    score = (score - score.mean(axis=0)) / np.where(score.std(axis=0) > 0, score.std(axis=0), 1.0)
    rows, cols = linear_sum_assignment(-score)
    out = [None] * len(centres)
    for r, c in zip(rows, cols):
        out[r] = names[c]
    return out


def elbow(S, ks=range(2, 13), seed=0, silhouette_rows=3_000):
    """Inertia and silhouette (on a sample of ``silhouette_rows`` customers) for each k."""
    from sklearn.cluster import KMeans
    from sklearn.metrics import silhouette_score
    from sklearn.preprocessing import StandardScaler

    Z = StandardScaler().fit_transform(S[F.SEGMENT_FEATURES])
    rows = []
    for k in ks:
        km = KMeans(n_clusters=k, n_init=10, random_state=seed).fit(Z)
        rows.append({"k": k, "inertia": km.inertia_,
                     "silhouette": silhouette_score(Z, km.labels_, sample_size=min(silhouette_rows, len(Z)),
                                                    random_state=seed)})
    return pd.DataFrame(rows).set_index("k")


def utc_day_end(date):
    """The Unix time at which local ``date`` (YYYY-MM-DD) ends."""
    day = dt.date.fromisoformat(str(date))
    local = dt.datetime(day.year, day.month, day.day, tzinfo=dt.timezone(dt.timedelta(seconds=F.P["utc_offset_seconds"])))
    return int(local.timestamp()) + 86_400
