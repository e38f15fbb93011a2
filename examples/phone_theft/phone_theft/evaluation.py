"""Honest evaluation of the phone-theft model: a split by time, bootstrap confidence intervals
for every headline number, and each place on its own.

    train, valid, test = time_split(data)                  # earlier months train, the last ones test
    table = headline(proba, y_test, prior_proba)           # value, 95% interval, per metric
    places = per_place(proba, y_test)                      # rows, share, AUC (one-vs-rest), calibration
    top = top_bin(proba, y_test)                           # the most confident answers, predicted vs observed

Intervals are percentile bootstraps over test rows (rows drawn with replacement, the metric
recomputed; 95% by default). Metric definitions are model.py's (natural-log log loss, top-k
accuracy, top-label ECE with 10 equal-width bins). The class prior scores an ECE near 0 too
(it is calibrated by construction), so ECE is reported beside the prior's and never alone:
log loss against the prior and the Bayes limit is the headline.
"""
import numpy as np
import pandas as pd

from . import model as _model
from .constants import LABELS


def time_split(clean_df, test_months=3, valid_months=3):
    """(train, valid, test) by the occurrence's month (column ``data``): the last
    ``test_months`` calendar months are the test, the ``valid_months`` before them the
    validation, every earlier month training — as the model would be used: trained on the
    past, asked about the future."""
    if "data" not in clean_df:
        raise ValueError("a split by time needs the occurrence's day (clean()'s column 'data')")
    months = clean_df["data"].dt.to_period("M")
    ordered = np.sort(months.unique())
    if len(ordered) < test_months + valid_months + 1:
        raise ValueError(f"the data spans {len(ordered)} months: a split by time needs at least "
                         f"{test_months + valid_months + 1}")
    test_from = ordered[-test_months]
    valid_from = ordered[-(test_months + valid_months)]
    train = clean_df[months < valid_from]
    valid = clean_df[(months >= valid_from) & (months < test_from)]
    test = clean_df[months >= test_from]
    return train, valid, test


def month_span(frame):
    """"2009-01 to 2023-06": the first and last months of a split (column ``data``)."""
    return f"{frame['data'].min():%Y-%m} to {frame['data'].max():%Y-%m}"


def bootstrap(metric, proba, y, n_boot=200, seed=0, level=0.95):
    """(value, low, high): the metric on all rows and the percentile interval of its bootstrap."""
    proba, y = np.asarray(proba), np.asarray(y)
    value = metric(proba, y)
    rng = np.random.default_rng(seed)
    draws = np.empty(n_boot)
    for b in range(n_boot):
        rows = rng.integers(0, len(y), len(y))
        draws[b] = metric(proba[rows], y[rows])
    tail = (1 - level) / 2
    low, high = np.nanquantile(draws, [tail, 1 - tail])
    return float(value), float(low), float(high)


def headline(proba, y, prior_proba, bayes_proba=None, n_boot=200, seed=0):
    """The headline numbers with their intervals: a DataFrame indexed by metric with columns
    value, low, high. The same bootstrap rows for every metric (one seed), so the model's and
    the prior's numbers are compared on the same draws."""
    proba, y, prior_proba = np.asarray(proba), np.asarray(y), np.asarray(prior_proba)
    metrics = {
        "log loss": lambda p, t: _model.log_loss(p[:, :, 0], t),
        "log loss, class prior": lambda p, t: _model.log_loss(p[:, :, 1], t),
        "share of the prior's log loss removed": lambda p, t: 1 - _model.log_loss(p[:, :, 0], t) / _model.log_loss(p[:, :, 1], t),
        "top-1 accuracy": lambda p, t: _model.top_k_accuracy(p[:, :, 0], t, 1),
        "top-3 accuracy": lambda p, t: _model.top_k_accuracy(p[:, :, 0], t, 3),
        "top-3 accuracy, class prior": lambda p, t: _model.top_k_accuracy(p[:, :, 1], t, 3),
        "ECE (top label)": lambda p, t: _model.expected_calibration_error(p[:, :, 0], t),
        "ECE (top label), class prior": lambda p, t: _model.expected_calibration_error(p[:, :, 1], t),
    }
    stacked = [proba, prior_proba]
    if bayes_proba is not None:
        stacked.append(np.asarray(bayes_proba))
        metrics["log loss, Bayes limit (the generator's truth)"] = lambda p, t: _model.log_loss(p[:, :, 2], t)
        metrics["way from the prior to the Bayes limit"] = lambda p, t: (
            (_model.log_loss(p[:, :, 1], t) - _model.log_loss(p[:, :, 0], t))
            / (_model.log_loss(p[:, :, 1], t) - _model.log_loss(p[:, :, 2], t)))
    both = np.stack(stacked, axis=2)
    rows = {name: bootstrap(f, both, y, n_boot=n_boot, seed=seed) for name, f in metrics.items()}
    return pd.DataFrame(rows, index=["value", "low", "high"]).T


def _auc(scores, positive):
    """One-vs-rest ROC AUC by ranks (ties averaged); NaN when a class is absent or everywhere."""
    n_pos = int(positive.sum())
    n_neg = len(positive) - n_pos
    if n_pos == 0 or n_neg == 0:
        return np.nan
    ranks = pd.Series(scores).rank(method="average").to_numpy()
    return (ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


def per_place(proba, y, n_boot=200, seed=0):
    """One row per place: test rows, observed share, mean predicted probability, one-vs-rest
    AUC with its interval (NaN with too few rows to tell), and the calibration-in-the-large
    ratio (mean predicted / observed)."""
    proba, y = np.asarray(proba), np.asarray(y)
    rows = []
    for k, label in enumerate(LABELS):
        positive = y == k
        auc = bootstrap(lambda p, t: _auc(p[:, k], t == k), proba, y, n_boot=n_boot, seed=seed)
        rows.append({"place": label, "test rows": int(positive.sum()), "observed share": positive.mean(),
                     "mean predicted": proba[:, k].mean(), "AUC": auc[0], "AUC low": auc[1], "AUC high": auc[2]})
    return pd.DataFrame(rows).set_index("place")


def top_bin(proba, y, threshold=0.9, n_boot=200, seed=0):
    """The answers whose top probability is at least `threshold`: how many, their mean top
    probability (what the model promises) and how often the top place was right (what
    happened), with the interval of the difference."""
    proba, y = np.asarray(proba), np.asarray(y)
    top = proba.max(axis=1)
    chosen = top >= threshold
    if not chosen.any():
        return {"rows": 0}
    p, t = proba[chosen], y[chosen]
    gap = bootstrap(lambda q, u: q.max(axis=1).mean() - (q.argmax(axis=1) == u).mean(), p, t, n_boot=n_boot, seed=seed)
    return {"rows": int(chosen.sum()), "predicted": float(p.max(axis=1).mean()),
            "observed": float((p.argmax(axis=1) == t).mean()), "gap": gap[0], "gap low": gap[1], "gap high": gap[2]}
