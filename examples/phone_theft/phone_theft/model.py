"""Training, evaluation and export of the phone-theft model.

    data = clean.clean(generate.generate())          # or clean.clean(clean.read_raw(path))
    s = prepare(data, seed=0)                         # train / validation / test, features
    clf = train_xgboost(s.X_train, s.y_train, s.X_valid, s.y_valid)   # masks a share of fields first
    report = evaluate(clf.predict_proba(s.X_test), s.y_test, class_prior(s.y_train))
    export(clf, "phone_theft.json")                   # floresta JSON: trees, vocabularies, labels

Features are the six of constants.FEATURES; the five text features are pandas ``category``
columns whose categories are fixed vocabularies (constants' lists, and for bairro the sorted
bairros of the training split), so a value's code is the same in training, in XGBoost's
saved vocabulary, and in floresta. A value outside the vocabulary (a bairro never seen in
training) becomes missing, which is also what floresta does with an unseen category.

A missing field is learned, not left to chance. Cleaning drops the rows missing a bairro,
brand, date or period, so a model trained on clean rows never sees those fields missing and
sends a missing value down whatever default branch each split happened to get. train_xgboost
therefore first masks a field in a share of the rows (mask_fields: MASK_SHARE = 30% of the
training and validation rows, each losing one of the six features, chosen uniformly; no row
is duplicated). A person who leaves a field out then gets, approximately, the average of the
answers over that field's values weighted by how often each occurs — for a missing bairro, the
mix over the bairros of the data — which is the right answer when the fields are independent
(tests/test_model.py measures it against the generator's truth).

Choosing the model
------------------
Candidates were measured against the generator's truth (scratch scripts, not shipped; the
definitions, the table and its numbers: docs/benchmarks.md, model/phone-theft): the share of
the log-loss gap between the prior and the Bayes limit closed on a fresh generation, the
ordered top 3 on fresh profiles (generate.draw_profiles; often fragile, as the truth's 3rd and
4th places are frequently near-tied), the rare place of generate.RARE_PLACE_PERSONS, and the
answer for a missing bairro against the truth averaged over the bairros.

How well the places can be ranked is limited by the data: even the correctly specified
logistic regression, which knows the truth's form, puts most top 3s in order only with many
years of data. Of the learners, unconstrained depth-2 trees waste the rare rows on spurious
interactions and a lower min_child_weight overfits them; class weights trade overall log loss
for rare-place recall; the interaction constraints bring XGBoost close to the logistic
regression (the settings before fall well short on the same data). LightGBM under the same
constraints comes close too, with a smaller file and faster training, but is worse on log
loss and on missing fields (its categorical splits learn no direction for a missing value,
where XGBoost learns one per split), so the shipped model stays XGBoost.

Metrics (natural logarithms):

* log loss: mean of -log p[true class], p clipped below at 1e-15;
* baseline: the class prior of the training split, add-half smoothed ((count + 0.5) / (n + 5)),
  given to every row;
* top-k accuracy: the true class is among the k most probable;
* ECE (expected calibration error), top-label, 10 equal-width bins: rows are binned by their
  highest probability c (bin b = [b/10, (b+1)/10), the last bin closed); in each bin, acc =
  share of rows whose most probable class is the true class, conf = mean c;
  ECE = sum over bins of (rows in bin / rows) * |acc - conf| (Guo et al., 2017).
  ``reliability(..., kind="all")`` gives the one-vs-rest view instead: every (row, class)
  probability against whether that class happened, which shows the rare classes.
"""
import dataclasses

import numpy as np
import pandas as pd

from .constants import CATEGORICAL, FEATURES, LABELS

N_CLASSES = len(LABELS)

#: Rounds without a better validation log loss before training stops (XGBoost and LightGBM).
EARLY_STOPPING_ROUNDS = 30

#: Features that may share a tree (XGBoost interaction_constraints): dia with periodo (the
#: night-out and rush-hour patterns), every other feature alone. The model is then additive in
#: the logits across bairro, marca, idade, sexo and (dia, periodo) — the shape of the truth —
#: and cannot spend its few rare-place rows on spurious interactions (e.g. bairro x marca).
INTERACTIONS = [["dia", "periodo"], ["bairro"], ["marca"], ["idade"], ["sexo"]]

#: XGBoost settings of the shipped model, chosen on held-out log loss with the rare places in
#: view (module docstring, "Choosing the model"): depth-2 trees under INTERACTIONS, a fast learning rate
#: so that few rounds are needed (the file stays small: each categorical split on bairro lists
#: its bairros), partition splits for every categorical feature (max_cat_to_onehot=1) that
#: may put up to 256 bairros on one side (with 64, a busy bairro such as Itaim Bibi was never
#: split off for Escritórios), and min_child_weight 4, which kept splits on a handful of
#: rare-place rows out better than 2 or 8.
XGB_PARAMS = dict(
    objective="multi:softprob",
    n_estimators=1000,
    learning_rate=0.4,
    max_depth=2,
    min_child_weight=4.0,
    reg_lambda=1.0,
    max_cat_to_onehot=1,
    max_cat_threshold=256,
    interaction_constraints=INTERACTIONS,
    tree_method="hist",
    enable_categorical=True,
    eval_metric="mlogloss",
    early_stopping_rounds=EARLY_STOPPING_ROUNDS,
    # one thread: the same trees as with more, and on a shared 2-core machine two OpenMP
    # threads competing with other work trained far slower (docs/benchmarks.md, train/phone-theft)
    n_jobs=1,
)
#: Share of the training (and validation) rows that get one field masked to missing before
#: XGBoost is trained (mask_fields).
MASK_SHARE = 0.3

#: LightGBM settings for the comparison (tuned as lightly, on the validation split).
LGBM_PARAMS = dict(
    objective="multiclass",
    n_estimators=1000,
    learning_rate=0.1,
    num_leaves=4,
    min_child_samples=20,
    cat_smooth=50.0,
    n_jobs=1,
    verbose=-1,
)


# ---------------------------------------------------------------------------------------------
# features and splits


def vocabularies(clean_df):
    """The categorical features' vocabularies: constants' lists, and the sorted bairros of
    ``clean_df`` (pass the training split)."""
    bairros = sorted(set(clean_df["bairro"].dropna()))
    return {"bairro": bairros, **{name: list(values) for name, values in CATEGORICAL.items()}}


def features(clean_df, vocab=None):
    """The model's input frame (columns FEATURES): categories with fixed vocabularies
    (``vocab``, default vocabularies(clean_df)), idade as float (NaN = missing)."""
    vocab = vocabularies(clean_df) if vocab is None else vocab
    out = pd.DataFrame(index=clean_df.index)
    for name in FEATURES:
        if name == "idade":
            out[name] = pd.to_numeric(clean_df[name], errors="coerce").astype(np.float64)
        else:
            values = clean_df[name].astype(object)
            values = values.where(values.isin(vocab[name]), None)      # unknown or missing -> missing
            out[name] = pd.Categorical(values, categories=vocab[name])
    return out


def split(clean_df, seed=0, fractions=(0.70, 0.15, 0.15)):
    """(train, validation, test) frames: rows shuffled with ``seed`` and cut in the given
    fractions within each class (stratified), so even rare classes land in every split when
    they have enough rows; a class with a single row goes to training."""
    rng = np.random.default_rng(seed)
    y = np.asarray(clean_df["local"])
    parts = [[], [], []]
    for k in np.unique(y):
        rows = rng.permutation(np.flatnonzero(y == k))
        n = len(rows)
        n_valid = int(np.floor(n * fractions[1] + rng.random()))
        n_test = int(np.floor(n * fractions[2] + rng.random()))
        n_valid = min(n_valid, max(n - 1, 0))              # keep at least one training row
        n_test = min(n_test, max(n - 1 - n_valid, 0))
        parts[1].append(rows[:n_valid])
        parts[2].append(rows[n_valid:n_valid + n_test])
        parts[0].append(rows[n_valid + n_test:])
    return tuple(clean_df.iloc[np.sort(np.concatenate(p))] for p in parts)


@dataclasses.dataclass
class Splits:
    train: pd.DataFrame
    valid: pd.DataFrame
    test: pd.DataFrame
    vocab: dict
    X_train: pd.DataFrame
    y_train: np.ndarray
    X_valid: pd.DataFrame
    y_valid: np.ndarray
    X_test: pd.DataFrame
    y_test: np.ndarray


def prepare(clean_df, seed=0, fractions=(0.70, 0.15, 0.15), by_time=False):
    """split() — or, with ``by_time``, evaluation.time_split(): the last months test, the months
    before them validation, every earlier month training — then features() with the training
    split's vocabularies."""
    if by_time:
        from .evaluation import time_split

        train, valid, test = time_split(clean_df)
    else:
        train, valid, test = split(clean_df, seed, fractions)
    vocab = vocabularies(train)
    xy = {}
    for name, part in (("train", train), ("valid", valid), ("test", test)):
        xy[f"X_{name}"] = features(part, vocab)
        xy[f"y_{name}"] = part["local"].to_numpy(dtype=np.int64)
    return Splits(train=train, valid=valid, test=test, vocab=vocab, **xy)


def mask_fields(X, share=MASK_SHARE, seed=0, fields=None):
    """A copy of the model's input frame X in which a random ``share`` of the rows each has one
    of ``fields`` (default: all of X's columns), chosen uniformly, set to missing — NaN for
    idade, a missing category otherwise (the categories are kept). Rows are not duplicated:
    a masked row still teaches the other five features. Deterministic for a seed."""
    fields = list(X.columns) if fields is None else list(fields)
    rng = np.random.default_rng(seed)
    out = X.copy()
    hit = rng.random(len(X)) < share
    which = rng.integers(0, len(fields), len(X))
    for j, name in enumerate(fields):
        rows = hit & (which == j)
        if isinstance(out[name].dtype, pd.CategoricalDtype):
            column = out[name].copy()
            column[rows] = np.nan
            out[name] = column
        else:
            out.loc[rows, name] = np.nan
    return out


# ---------------------------------------------------------------------------------------------
# training


def _every_class(X, y):
    """XGBoost's and LightGBM's scikit-learn wrappers infer the classes from y and need all
    10. At small sizes a rare class can be absent from the training split: it then gets one
    row of weight 0 (a copy of the first row), which changes no gradient, so the model is the
    one trained on the real rows and gives that class a near-zero probability."""
    absent = [k for k in range(N_CLASSES) if k not in set(np.unique(y))]
    weight = np.ones(len(y))
    if not absent:
        return X, y, weight
    extra = X.iloc[[0] * len(absent)].copy()
    extra.index = pd.RangeIndex(len(absent)).map(lambda i: f"absent-class-{absent[i]}")
    X = pd.concat([X, extra])
    for name in X.columns:                               # concat keeps the categories; be sure
        if isinstance(extra[name].dtype, pd.CategoricalDtype):
            X[name] = X[name].astype(extra[name].dtype)
    return X, np.concatenate([y, absent]), np.concatenate([weight, np.zeros(len(absent))])


def train_xgboost(X_train, y_train, X_valid, y_valid, seed=0, refit=True, mask_share=MASK_SHARE, **overrides):
    """An XGBClassifier (multi:softprob, native categorical splits), early-stopped on the
    validation split's log loss; XGB_PARAMS updated with ``overrides``.

    First mask_fields(share=mask_share) masks a field in a share of the training rows (seed
    ``seed``) and of the validation rows (seed ``seed + 1``), so the model learns what to
    answer when a person leaves a field out (module docstring); mask_share=0 trains on the
    rows as they are.

    After early stopping XGBoost keeps every round it trained (best + early_stopping_rounds)
    and predicts with the first best + 1. With ``refit`` (the default) the model is trained
    again with exactly best + 1 rounds and no early stopping — the same trees, checked —, so
    the exported file holds only the trees that predict. (Cutting the booster instead,
    ``booster[:n]``, loses the category vocabularies in XGBoost 3.2.) The returned model has
    ``validation_curve_`` (the validation log loss per round of the first fit) and
    ``best_round_`` (the number of rounds kept)."""
    import xgboost

    if mask_share:
        X_train = mask_fields(X_train, mask_share, seed)
        X_valid = mask_fields(X_valid, mask_share, seed + 1)
    X, y, w = _every_class(X_train, y_train)
    params = {**XGB_PARAMS, "random_state": seed, **overrides}
    clf = xgboost.XGBClassifier(**params)
    clf.fit(X, y, sample_weight=w, eval_set=[(X_valid, y_valid)], verbose=False)
    curve = list(clf.evals_result()["validation_0"]["mlogloss"])
    rounds = clf.best_iteration + 1 if params.get("early_stopping_rounds") else len(curve)
    if refit and rounds < clf.get_booster().num_boosted_rounds():
        again = xgboost.XGBClassifier(**{**params, "n_estimators": rounds, "early_stopping_rounds": None})
        again.fit(X, y, sample_weight=w, eval_set=[(X_valid, y_valid)], verbose=False)
        difference = np.abs(again.predict_proba(X_valid) - clf.predict_proba(X_valid)).max()
        if difference > 1e-6:
            raise RuntimeError(f"refitting {rounds} rounds changed the predictions by {difference:.2e}")
        clf = again
    clf.validation_curve_ = curve
    clf.best_round_ = rounds
    return clf


def train_lightgbm(X_train, y_train, X_valid, y_valid, seed=0, **overrides):
    """An LGBMClassifier (multiclass, pandas categories as categorical features),
    early-stopped on the validation split's log loss."""
    import lightgbm

    X, y, w = _every_class(X_train, y_train)
    clf = lightgbm.LGBMClassifier(**{**LGBM_PARAMS, "random_state": seed, **overrides})
    clf.fit(X, y, sample_weight=w, eval_X=(X_valid,), eval_y=(y_valid,), eval_metric="multi_logloss",
            callbacks=[lightgbm.early_stopping(EARLY_STOPPING_ROUNDS, verbose=False)])
    return clf


def export(clf, path, **kwargs):
    """Writes the classifier as floresta JSON with the class labels of constants.LABELS: the
    XGBoost model, its feature vocabularies and the labels in one file. Other keyword
    arguments go to floresta.export (e.g. metadata=)."""
    import floresta

    return floresta.export(clf, str(path), class_labels=LABELS, **kwargs)


# ---------------------------------------------------------------------------------------------
# evaluation


def class_prior(y_train, smoothing=0.5):
    """The baseline's probabilities: training class frequencies, add-``smoothing``."""
    counts = np.bincount(np.asarray(y_train, dtype=np.int64), minlength=N_CLASSES).astype(float)
    return (counts + smoothing) / (counts.sum() + smoothing * N_CLASSES)


def log_loss(proba, y):
    proba = np.asarray(proba, dtype=float)
    y = np.asarray(y, dtype=np.int64)
    return float(-np.mean(np.log(np.clip(proba[np.arange(len(y)), y], 1e-15, None))))


def top_k_accuracy(proba, y, k):
    proba = np.asarray(proba)
    y = np.asarray(y, dtype=np.int64)
    top = np.argsort(-proba, axis=1, kind="stable")[:, :k]
    return float(np.mean((top == y[:, None]).any(axis=1)))


def reliability(proba, y, n_bins=10, kind="top"):
    """Reliability-diagram data, one row per non-empty bin: lower, upper, count, confidence
    (mean predicted probability), frequency (observed share of hits).
    kind="top": each row's highest probability, hit = its class is the true one.
    kind="all": every (row, class) probability, hit = that class is the true one."""
    proba = np.asarray(proba, dtype=float)
    y = np.asarray(y, dtype=np.int64)
    if kind == "top":
        conf = proba.max(axis=1)
        hit = (proba.argmax(axis=1) == y).astype(float)
    elif kind == "all":
        conf = proba.ravel()
        hit = (np.arange(proba.shape[1])[None, :] == y[:, None]).astype(float).ravel()
    else:
        raise ValueError(f"kind must be 'top' or 'all', not {kind!r}")
    b = np.minimum((conf * n_bins).astype(np.int64), n_bins - 1)
    count = np.bincount(b, minlength=n_bins)
    nz = count > 0
    edges = np.arange(n_bins + 1) / n_bins
    return pd.DataFrame({
        "lower": edges[:-1][nz], "upper": edges[1:][nz], "count": count[nz],
        "confidence": np.bincount(b, conf, n_bins)[nz] / count[nz],
        "frequency": np.bincount(b, hit, n_bins)[nz] / count[nz],
    })


def expected_calibration_error(proba, y, n_bins=10, kind="top"):
    """ECE as defined in the module docstring (kind="all": the same sum over the
    one-vs-rest bins)."""
    table = reliability(proba, y, n_bins, kind)
    return float(np.sum(table["count"] / table["count"].sum() * np.abs(table["frequency"] - table["confidence"])))


def expected_log_loss(proba, truth):
    """The log loss a model can expect on rows whose place is drawn from ``truth`` (n, 10):
    mean over rows of -sum_k truth[k] log proba[k] (cross-entropy; proba clipped below at
    1e-15). With truth = the generator's place_probabilities it measures, without the noise
    of the sampled places, what log_loss measures on sampled ones."""
    proba = np.clip(np.asarray(proba, dtype=float), 1e-15, None)
    return float(-np.mean(np.sum(np.asarray(truth, dtype=float) * np.log(proba), axis=1)))


def gap_closed(model_loss, prior_loss, bayes_loss):
    """The share of the way from the class prior's log loss to the Bayes limit the model
    goes: (prior - model) / (prior - bayes); 1 is the truth, 0 the prior."""
    return float((prior_loss - model_loss) / (prior_loss - bayes_loss))


def top3_agrees(proba, truth):
    """Per row: the model's three most probable places, in order, are the truth's (n,) bool.
    Ties are broken by class index (a stable sort), the same for both."""
    a = np.argsort(-np.asarray(proba), axis=1, kind="stable")[:, :3]
    b = np.argsort(-np.asarray(truth), axis=1, kind="stable")[:, :3]
    return (a == b).all(axis=1)


def total_variation(p, q):
    """Per row: half the sum of |p - q| over the classes (0 = the same distribution, 1 =
    disjoint): the largest difference the two give to any set of places."""
    return 0.5 * np.abs(np.asarray(p, dtype=float) - np.asarray(q, dtype=float)).sum(axis=1)


def evaluate(proba, y, prior=None):
    """A dict of the metrics above for predicted probabilities ``proba`` (n, 10); with
    ``prior``, also the baseline's log loss and top-k accuracies."""
    out = {"rows": int(len(y)), "log_loss": log_loss(proba, y), "top1": top_k_accuracy(proba, y, 1),
           "top3": top_k_accuracy(proba, y, 3), "ece": expected_calibration_error(proba, y)}
    if prior is not None:
        base = np.tile(np.asarray(prior, dtype=float), (len(y), 1))
        out.update({"prior_log_loss": log_loss(base, y), "prior_top1": top_k_accuracy(base, y, 1),
                    "prior_top3": top_k_accuracy(base, y, 3)})
        out["gain"] = 1.0 - out["log_loss"] / out["prior_log_loss"]
    return out
