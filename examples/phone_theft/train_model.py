"""Rebuilds the shipped phone-theft model: examples/models/phone_theft.json.

    .venv/bin/python examples/phone_theft/train_model.py            # about 3 minutes on 2 cores

1. generate.generate(15 * 178_288, seed=0, years=2009..2023): the synthetic SSP-SP files of
   15 years, 178,288 rows each (see phone_theft/generate.py; one year, 2023, is what the
   original project had);
2. clean.clean: São Paulo city, theft/robbery, one row per report, the six features and the
   place class (about 52,000 rows a year, 780,000 in all);
3. model.prepare(by_time=True): a split by time (evaluation.time_split): the last 3 months are
   the test, the 3 before them validation, every earlier month training — as the model is
   used, trained on the past and asked about the future; category vocabularies fixed
   (bairro: the training split's bairros, sorted);
4. model.train_xgboost(seed=0): a field masked to missing in 30% of the rows
   (model.mask_fields), then XGBoost multi:softprob on pandas categories with the
   interaction constraints and settings of model.XGB_PARAMS, early stopping on the validation
   split's log loss, then refitted with the rounds kept;
5. evaluation on the test split against the class prior and the generator's Bayes log loss,
   and against the generator's truth on fresh profiles: the ordered top 3, three persons
   whose likeliest rare place is known, and the answer for a missing bairro;
6. model.export: floresta JSON embedding the XGBoost model, its feature vocabularies, the 10
   class labels, the input rules every path applies (card.input_rules: case, accents and
   spaces folded, the SSP file's words and brand/model free text as aliases, ages 0..120,
   display names) and the metadata the service, CLI and page show (card.metadata: the city's
   average per place, the bairros with few reports, the fields a person may leave out and the
   model card with the test numbers and their 95% bootstrap intervals); then loaded back with
   floresta and compared with XGBoost's predict_proba on the test rows;
7. examples/models/phone_theft_person.json: the example person the demos score.

Why 15 years: the rare places have few rows (Escolas and Escritórios about 0.06% each, some
30 a year), and how well a model can rank a person's places is limited by the data more than
by the learner: phone_theft/model.py, "Choosing the model", says why, and docs/benchmarks.md
(model/phone-theft) has the measurements (with 3 years even a correctly specified logistic
regression puts the truth's top 3 in order for too few profiles).

Everything is seeded: the same versions of numpy, pandas and XGBoost rebuild the same file.
The notebook (phone_theft.ipynb) runs the same steps on one year (178,288 rows, seed 0), so
its model is smaller than the shipped one. Options: --rows (per year), --years, --seed, --out,
--person, and --file to train on the real SSP-SP file instead (see --help).
"""
import argparse
import json
import pathlib
import sys
import time

import numpy as np

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from phone_theft import card, clean, evaluation, generate, model  # noqa: E402
from phone_theft.constants import FEATURES, LABELS  # noqa: E402

MODELS = HERE.parent / "models"
#: The years of synthetic files the shipped model is trained on.
YEARS = tuple(range(2009, 2024))
#: Fresh profiles (generate.draw_profiles) for the report against the truth
#: (tests/test_model.py draws 4,000 with the same seed).
TRUTH_PROFILES, TRUTH_SEED = 5000, 2024
#: The example person of the demos: a 22-year-old woman with a Samsung in Tatuapé (a bairro
#: with a big metro and bus terminal) on a Tuesday morning — one of the profiles for which
#: the most likely place is not Via Pública. Keys are exactly the model's features.
PERSON = {"bairro": "TATUAPE", "marca": "Samsung", "dia": "TERCA", "periodo": "MANHA", "idade": 22,
          "sexo": "MULHER"}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=generate.N_ROWS, help="rows of the synthetic file per year")
    parser.add_argument("--years", default=f"{YEARS[0]}-{YEARS[-1]}",
                        help="years of synthetic files, e.g. 2023 or 2021-2023 or 2019,2023 (default %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the data, the split and XGBoost")
    parser.add_argument("--out", default=str(MODELS / "phone_theft.json"), help="model file to write")
    parser.add_argument("--person", default=str(MODELS / "phone_theft_person.json"),
                        help="example person file to write ('' to skip)")
    parser.add_argument("--file", default=None,
                        help="train on this SSP-SP file (CSV or XLSX, e.g. the real CelularesSubtraidos_2023.xlsx) "
                             "instead of the synthetic one")
    args = parser.parse_args(argv)

    years = _years(args.years)
    start = time.perf_counter()
    raw = clean.read_raw(args.file) if args.file else generate.generate(args.rows * len(years), seed=args.seed,
                                                                         years=years)
    n_raw = len(raw)
    data = clean.clean(raw)
    del raw
    print(f"{'read' if args.file else 'generated'} {n_raw:,} rows"
          f"{'' if args.file else f' ({len(years)} years, {years[0]}-{years[-1]})'}, {len(data):,} after cleaning; "
          f"dropped: {data.attrs['dropped']}")
    if data.attrs["unknown_places"]:
        print(f"places no class takes (add them to phone_theft/places.py): {data.attrs['unknown_places']}")
    s = model.prepare(data, by_time=True)
    print(f"split by time: {len(s.train):,} training ({evaluation.month_span(s.train)}), {len(s.valid):,} validation "
          f"({evaluation.month_span(s.valid)}), {len(s.test):,} test rows ({evaluation.month_span(s.test)}); "
          f"{len(s.vocab['bairro'])} bairros in the vocabulary")

    trained = time.perf_counter()
    clf = model.train_xgboost(s.X_train, s.y_train, s.X_valid, s.y_valid, seed=args.seed)
    print(f"trained in {time.perf_counter() - trained:.0f} s (early stopping and the refit)")
    proba = clf.predict_proba(s.X_test)
    report = model.evaluate(proba, s.y_test, model.class_prior(s.y_train))
    print(f"XGBoost: early stopping kept {clf.best_round_} rounds of {len(clf.validation_curve_)}")
    print(f"test log loss {report['log_loss']:.4f}  class prior {report['prior_log_loss']:.4f}"
          f"  (the model removes {report['gain']:.1%} of the prior's log loss)")
    if not args.file:
        bayes = generate.bayes_log_loss(s.test)
        print(f"  Bayes log loss (the generator's truth) {bayes:.4f}: the truth would remove "
              f"{1 - bayes / report['prior_log_loss']:.1%}; the model goes "
              f"{model.gap_closed(report['log_loss'], report['prior_log_loss'], bayes):.1%} of the way")
    print(f"top-1 accuracy {report['top1']:.4f} (prior {report['prior_top1']:.4f})  "
          f"top-3 {report['top3']:.4f} (prior {report['prior_top3']:.4f})  ECE {report['ece']:.4f}")

    prior = model.class_prior(s.y_train)
    bayes_proba = None if args.file else generate.place_probabilities(s.test)
    table = evaluation.headline(proba, s.y_test, np.tile(prior, (len(s.y_test), 1)), bayes_proba)
    print(table.round(4).to_string())
    top = evaluation.top_bin(proba, s.y_test)
    print(f"top bin (top probability >= 0.9): {top['rows']:,} rows, predicted {top['predicted']:.4f}, observed "
          f"{top['observed']:.4f} (difference {top['gap']:+.4f}, 95% interval {top['gap low']:+.4f} .. {top['gap high']:+.4f})")

    out = pathlib.Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    model_card = _model_card(args, years, data, s, clf, table, top)
    model.export(clf, out, input_rules=card.input_rules(s.vocab),
                 metadata=card.metadata(s.train, s.y_train, s.vocab, model_card, optional_fields=FEATURES))
    import floresta

    loaded = floresta.load(str(out))
    diff = np.abs(loaded.predict_proba(s.X_test) - proba).max()
    assert list(loaded.classes_) == LABELS, loaded.classes_
    print(f"wrote {out} ({out.stat().st_size / 1024:.0f} KiB); floresta vs XGBoost on the test rows: "
          f"max |difference| {diff:.2e}")
    if diff > 1e-6:
        raise SystemExit("floresta and XGBoost disagree")

    if not args.file:
        truth_report(lambda frame: loaded.predict_proba(frame), model.class_prior(s.y_train))

    if args.person:
        assert list(PERSON) == FEATURES
        pathlib.Path(args.person).write_text(json.dumps(PERSON, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
        ranked = loaded.predict_ranked([PERSON], 3)[0] if hasattr(loaded, "predict_ranked") else None
        print(f"wrote {args.person}: {PERSON}" + (f" -> {ranked}" if ranked is not None else ""))
    print(f"done in {time.perf_counter() - start:.1f} s")


def _model_card(args, years, data, s, clf, table, top):
    """What the model file says about itself (metadata.model_card; GET /schema shows it)."""
    import xgboost

    def interval(name):
        return [round(float(table.loc[name, "low"]), 6), round(float(table.loc[name, "high"]), 6)]

    test = {"rows": int(len(s.test)), "log_loss": round(float(table.loc["log loss", "value"]), 6),
            "log_loss_95": interval("log loss"),
            "prior_log_loss": round(float(table.loc["log loss, class prior", "value"]), 6),
            "top1": round(float(table.loc["top-1 accuracy", "value"]), 6),
            "top3": round(float(table.loc["top-3 accuracy", "value"]), 6), "top3_95": interval("top-3 accuracy"),
            "ece": round(float(table.loc["ECE (top label)", "value"]), 6),
            "ece_prior": round(float(table.loc["ECE (top label), class prior", "value"]), 6),
            "top_bin": {k: (round(v, 6) if isinstance(v, float) else v) for k, v in top.items()}}
    if not args.file:
        test["bayes_log_loss"] = round(float(table.loc["log loss, Bayes limit (the generator's truth)", "value"]), 6)
        test["way_to_bayes"] = round(float(table.loc["way from the prior to the Bayes limit", "value"]), 6)
    return {
        "data": {"synthetic": not args.file,
                 "source": args.file or "phone_theft/generate.py: synthetic files in the layout of SSP-SP's "
                                        "'Celulares Subtraídos' open data",
                 "years": list(years) if not args.file else sorted({int(y) for y in data["data"].dt.year}),
                 "rows_per_year": None if args.file else args.rows, "seed": args.seed,
                 "rows_after_cleaning": int(len(data))},
        "split": {"by": "time", "train": evaluation.month_span(s.train), "validation": evaluation.month_span(s.valid),
                  "test": evaluation.month_span(s.test)},
        "training": {"library": f"xgboost {xgboost.__version__}", "objective": "multi:softprob",
                     "rounds": int(clf.best_round_), "masked_share": model.MASK_SHARE,
                     "interaction_constraints": model.INTERACTIONS},
        "test": test,
        "input": "bairro, marca, dia, periodo and sexo read with case, accents and spaces folded; marca's brand or "
                 "model free text mapped to the brand (phone_theft/brands.csv), anything else Outros; the SSP "
                 "file's words for period, day and sex accepted; idade 0 to 120; any field may be left out (null)",
        "valid_ranges": {"idade": list(card.AGE_RANGE)},
        "caveats": ["The numbers are the shares of places among the phone thefts reported by people like this "
                    "one, not the chance of being robbed.",
                    "Age and sex are invented: the SSP-SP file has neither, so the synthetic data gives them "
                    "small effects and the model can say little about them."],
    }


def _years(text):
    years = []
    for part in str(text).split(","):
        first, _, last = part.strip().partition("-")
        years.extend(range(int(first), int(last or first) + 1))
    return tuple(sorted(set(years)))


def truth_report(predict, prior):
    """Prints how the model (predict: frame of features -> (n, 10)) compares with the
    generator's truth on fresh profiles: what tests/test_model.py checks."""
    import pandas as pd

    profiles = generate.draw_profiles(TRUTH_PROFILES, seed=TRUTH_SEED)
    truth = generate.place_probabilities(profiles)
    q = predict(profiles)
    agree = model.top3_agrees(q, truth)
    ranked = np.sort(truth, axis=1)[:, ::-1]
    near = (ranked[:, 2] - ranked[:, 3]) < 0.005
    ce = model.expected_log_loss(q, truth)
    ce_prior = model.expected_log_loss(np.tile(prior, (len(truth), 1)), truth)
    ce_bayes = model.expected_log_loss(truth, truth)
    print(f"against the truth on {TRUTH_PROFILES:,} fresh profiles (seed {TRUTH_SEED}): ordered top 3 equal in "
          f"{agree.mean():.1%} ({agree[~near].mean():.1%} of the {(~near).mean():.0%} whose truth's 3rd and 4th places "
          f"are 0.5 points apart or more); expected log loss {ce:.4f} (prior {ce_prior:.4f}, Bayes {ce_bayes:.4f}: "
          f"{model.gap_closed(ce, ce_prior, ce_bayes):.1%} of the way)")
    persons = pd.DataFrame([person for person, _ in generate.RARE_PLACE_PERSONS])
    p_true, p_model = generate.place_probabilities(persons), predict(persons)
    for i, (person, k) in enumerate(generate.RARE_PLACE_PERSONS):
        print(f"  {person['bairro']}, {person['idade']:g} years: {LABELS[k]} {p_model[i, k]:.1%} "
              f"(truth {p_true[i, k]:.1%})")
    some = profiles.iloc[:500]
    complete = model.total_variation(predict(some), generate.place_probabilities(some)).mean()
    print(f"  total variation from the truth, mean over 500 profiles: complete {complete:.4f}; a field left out, "
          f"from the truth averaged over the field's values:")
    for field in FEATURES:
        target = generate.marginal_probabilities(some, field)
        missing = some.assign(**{field: np.nan if field == "idade" else None})
        distance = model.total_variation(predict(missing), target)
        print(f"    {field:8} {distance.mean():.4f} (max {distance.max():.3f})")


if __name__ == "__main__":
    main()
