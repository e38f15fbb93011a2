"""Rebuilds the bank application's shipped models in examples/models/:

    bank_fraud.json          the fraud classifier (LightGBM), its alert threshold and model card
    bank_fraud_iforest.json  the original project's approach (IsolationForest on the amount)
    bank_segments.json       the customer segments (StandardScaler + KMeans, named)

    .venv/bin/python examples/bank/train_model.py               # 1.5-2 minutes on 2 cores

1. generate.generate(5,000 customers, 70 days, seed 0): the synthetic transactions;
2. features.fraud_features: the one feature definition (bank/features.json);
3. model.split_by_time: two warm-up weeks, training days, a validation week, the test week;
4. model.train_fraud: LightGBM early-stopped on the validation week;
5. the alert threshold: 0.5% of the validation week's transactions (model.ALERT_BUDGET);
6. the test week, once: average precision with bootstrap intervals beside the original's two
   approaches, what the alert budget catches, calibration;
7. the segments: model.train_segments on features.segment_features over the last 8 weeks;
8. floresta.export of each model with its names, threshold and model card (``metadata``), then
   each file loaded with floresta and compared with the training library on the test rows.

Everything is seeded and LightGBM trains on one thread in its deterministic mode: the same library versions rebuild the
same bytes. The notebook runs the same steps at the same seeds.
"""
import argparse
import pathlib
import sys
import time

import numpy as np

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bank import features as F  # noqa: E402
from bank import generate, model  # noqa: E402

MODELS = HERE.parent / "models"


def versions():
    import lightgbm
    import sklearn

    return {"numpy": np.__version__, "scikit-learn": sklearn.__version__, "lightgbm": lightgbm.__version__}


def data_card(args, frame, s):
    return {"data": "synthetic: examples/bank/bank/generate.py (nothing here describes a real bank)",
            "generator": {"customers": args.customers, "days": args.days, "seed": args.seed,
                          "fraud_rate": generate.FRAUD_RATE, "anomalies": True},
            "transactions": int(len(frame)), "fraud_share": round(float(frame["fraude"].mean()), 6),
            "split": {k: list(v) for k, v in s.days.items()},
            "rows": {"train": int(len(s.train)), "valid": int(len(s.valid)), "test": int(len(s.test))}}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--customers", type=int, default=generate.N_CUSTOMERS)
    parser.add_argument("--days", type=int, default=generate.DAYS)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=str(MODELS), help="directory for the three model files")
    args = parser.parse_args(argv)
    import floresta

    begin = time.perf_counter()
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    frame, profiles = generate.generate(args.customers, args.days, seed=args.seed, with_customers=True)
    X = F.fraud_features(frame)
    s = model.split_by_time(frame, X)
    print(f"generated {len(frame):,} transactions of {args.customers:,} customers ({frame['fraude'].mean():.3%} fraud); "
          f"train {len(s.train):,}, validation {len(s.valid):,}, test {len(s.test):,} rows")

    # ---- the fraud classifier and its baselines
    clf = model.train_fraud(s, seed=args.seed)
    p_valid = clf.predict_proba(s.X_valid)[:, 1]
    p_test = clf.predict_proba(s.X_test)[:, 1]
    threshold = model.alert_threshold(p_valid)
    amount_forest = model.train_amount_iforest(s, seed=args.seed)
    scores = {"LightGBM (shipped)": p_test,
              "IsolationForest on the amount (original)": -amount_forest.score_samples(s.test[["valor_transacao"]]),
              "amount > 5 x mean (original)": model.five_times_mean_score(s.X_test)}
    ap = model.bootstrap_ap(s.y_test, scores, s.test["id_cliente"])
    budget = model.at_budget(p_test, s.test, threshold)
    calibration = model.calibration(p_test, s.y_test)
    print(f"LightGBM: {clf.best_round_} rounds kept; alert threshold {threshold:.6f}")
    print(ap.round(4).to_string())
    print({k: round(v, 4) if isinstance(v, float) else v for k, v in budget.items()})
    print(f"calibration on the test week: {calibration}")

    card = {**data_card(args, frame, s), "libraries": versions(),
            "test_week": {"average_precision": {name: {k: round(float(v), 6) for k, v in row.items()}
                                                for name, row in ap.iterrows()},
                          "at_alert_budget": {k: round(float(v), 6) for k, v in budget.items()},
                          "calibration": {k: round(v, 6) for k, v in calibration.items()}},
            "rounds": int(clf.best_round_)}
    fraud_meta = {"application": "bank", "model": "fraud",
                  "features": {"definition": F.DEFINITION["name"], "version": F.DEFINITION["version"]},
                  "alert_threshold": threshold, "alert_budget": model.ALERT_BUDGET,
                  "alert_rule": "alert when P(fraude) > alert_threshold",
                  "model_card": card}
    floresta.export(clf, str(out / "bank_fraud.json"), class_labels=model.CLASS_LABELS, metadata=fraud_meta)

    iforest_threshold = model.alert_threshold(-amount_forest.score_samples(s.valid[["valor_transacao"]]))
    floresta.export(amount_forest, str(out / "bank_fraud_iforest.json"), metadata={
        "application": "bank", "model": "fraud, the original project's approach (for comparison)",
        "features": {"valor_transacao": "the record's field"},
        "alert_threshold": -iforest_threshold, "alert_budget": model.ALERT_BUDGET,
        "alert_rule": "alert when score_samples < alert_threshold (the original alerted at predict == -1, "
                      "contamination 0.01)",
        "model_card": {**data_card(args, frame, s), "libraries": versions(),
                       "test_week": {"average_precision": round(float(ap.iloc[1]["ap"]), 6)}}})

    # ---- segments
    end = int(frame["timestamp"].max()) + 1
    S = F.segment_features(frame, end=end)
    seg = model.train_segments(S, seed=args.seed)
    labels = seg.predict(S[F.SEGMENT_FEATURES])
    from sklearn.metrics import adjusted_rand_score, silhouette_score

    truth = profiles.set_index("id_cliente")["persona"].reindex(S.index)
    Z = seg[:-1].transform(S[F.SEGMENT_FEATURES])
    silhouette = float(silhouette_score(Z, labels, sample_size=min(3_000, len(Z)), random_state=args.seed))
    ari = float(adjusted_rand_score(truth, labels))
    sizes = {name: int((labels == k).sum()) for k, name in enumerate(seg.segment_names_)}
    print(f"segments: {sizes}; silhouette {silhouette:.3f}; adjusted Rand index against the generator's personas {ari:.3f}")
    floresta.export(seg, str(out / "bank_segments.json"), cluster_names=seg.segment_names_, metadata={
        "application": "bank", "model": "customer segments",
        "features": {"definition": F.DEFINITION["name"], "version": F.DEFINITION["version"],
                     "period_days": F.P["segment_period_days"]},
        "segment_names": seg.segment_names_,
        "model_card": {**data_card(args, frame, s), "libraries": versions(), "customers": int(len(S)),
                       "sizes": sizes, "silhouette": round(silhouette, 6),
                       "adjusted_rand_index_vs_personas": round(ari, 6)}})

    # ---- floresta against the training libraries, row by row
    fraud = floresta.load(out / "bank_fraud.json")
    diff = float(np.abs(fraud.predict_proba(s.X_test)[:, 1] - p_test).max())
    forest = floresta.load(out / "bank_fraud_iforest.json")
    diff_forest = float(np.abs(forest.score_samples(s.test[["valor_transacao"]])
                               - amount_forest.score_samples(s.test[["valor_transacao"]])).max())
    segments = floresta.load(out / "bank_segments.json")
    same = bool((segments.predict(S[F.SEGMENT_FEATURES]) == labels).all())
    print(f"floresta vs LightGBM max |difference| {diff:.2e}; vs IsolationForest {diff_forest:.2e}; "
          f"segment ids identical: {same}")
    if diff > 1e-6 or diff_forest > 1e-6 or not same:
        raise SystemExit("floresta and the training library disagree")
    print(f"wrote {', '.join(p.name for p in sorted(out.glob('bank_*.json')))} in {out} "
          f"({time.perf_counter() - begin:.0f} s)")


if __name__ == "__main__":
    main()
