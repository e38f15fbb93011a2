"""Rebuilds the shipped phone-theft model: examples/models/phone_theft.json.

    .venv/bin/python examples/phone_theft/train_model.py            # about half a minute

1. generate.generate(178_288, seed=0): the synthetic SSP-SP file (see phone_theft/generate.py);
2. clean.clean: São Paulo city, theft/robbery, one row per report, the six features and the
   place class (about 52,000 rows);
3. model.prepare(seed=0): stratified 70 / 15 / 15 split into training, validation and test;
   category vocabularies fixed (bairro: the training split's bairros, sorted);
4. model.train_xgboost(seed=0): XGBoost multi:softprob on pandas categories, early stopping on
   the validation split's log loss (model.XGB_PARAMS), then refitted with the rounds kept;
5. evaluation on the test split against the class prior and the generator's Bayes log loss;
6. model.export: floresta JSON embedding the XGBoost model, its feature vocabularies and the
   10 class labels; then loaded back with floresta and
   compared with XGBoost's predict_proba on the test rows;
7. examples/models/phone_theft_person.json: the example person the demos score.

Everything is seeded: the same versions of numpy, pandas and XGBoost rebuild the same file.
The notebook (phone_theft.ipynb) runs the same steps at the same seeds, so at the full size it
trains this very model. Options: --rows, --seed, --out, --person, and --file to train on the
real SSP-SP file instead (see --help).
"""
import argparse
import json
import pathlib
import sys
import time

import numpy as np

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from phone_theft import clean, generate, model  # noqa: E402
from phone_theft.constants import FEATURES, LABELS  # noqa: E402

MODELS = HERE.parent / "models"
#: The example person of the demos: a 22-year-old woman with a Samsung in Tatuapé (a bairro
#: with a big metro and bus terminal) on a Tuesday morning — one of the profiles for which
#: the most likely place is not Via Pública. Keys are exactly the model's features.
PERSON = {"bairro": "TATUAPE", "marca": "Samsung", "dia": "TERCA", "periodo": "MANHA", "idade": 22,
          "sexo": "MULHER"}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=generate.N_ROWS, help="rows of the synthetic file")
    parser.add_argument("--seed", type=int, default=0, help="seed of the data, the split and XGBoost")
    parser.add_argument("--out", default=str(MODELS / "phone_theft.json"), help="model file to write")
    parser.add_argument("--person", default=str(MODELS / "phone_theft_person.json"),
                        help="example person file to write ('' to skip)")
    parser.add_argument("--file", default=None,
                        help="train on this SSP-SP file (CSV or XLSX, e.g. the real CelularesSubtraidos_2023.xlsx) "
                             "instead of the synthetic one")
    args = parser.parse_args(argv)

    start = time.perf_counter()
    raw = clean.read_raw(args.file) if args.file else generate.generate(args.rows, seed=args.seed)
    data = clean.clean(raw)
    print(f"{'read' if args.file else 'generated'} {len(raw):,} rows, {len(data):,} after cleaning; "
          f"dropped: {data.attrs['dropped']}")
    if data.attrs["unknown_places"]:
        print(f"places no class takes (add them to phone_theft/places.py): {data.attrs['unknown_places']}")
    s = model.prepare(data, seed=args.seed)
    print(f"split: {len(s.train):,} training, {len(s.valid):,} validation, {len(s.test):,} test rows; "
          f"{len(s.vocab['bairro'])} bairros in the vocabulary")

    clf = model.train_xgboost(s.X_train, s.y_train, s.X_valid, s.y_valid, seed=args.seed)
    proba = clf.predict_proba(s.X_test)
    report = model.evaluate(proba, s.y_test, model.class_prior(s.y_train))
    print(f"XGBoost: early stopping kept {clf.best_round_} rounds of {len(clf.validation_curve_)}")
    print(f"test log loss {report['log_loss']:.4f}  class prior {report['prior_log_loss']:.4f}"
          f"  (the model removes {report['gain']:.1%} of the prior's log loss)")
    if not args.file:
        bayes = generate.bayes_log_loss(s.test)
        print(f"  Bayes log loss (the generator's truth) {bayes:.4f}: the truth would remove "
              f"{1 - bayes / report['prior_log_loss']:.1%}")
    print(f"top-1 accuracy {report['top1']:.4f} (prior {report['prior_top1']:.4f})  "
          f"top-3 {report['top3']:.4f} (prior {report['prior_top3']:.4f})  ECE {report['ece']:.4f}")

    out = pathlib.Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    model.export(clf, out)
    import floresta

    loaded = floresta.load(str(out))
    diff = np.abs(loaded.predict_proba(s.X_test) - proba).max()
    assert list(loaded.classes_) == LABELS, loaded.classes_
    print(f"wrote {out} ({out.stat().st_size / 1024:.0f} KiB); floresta vs XGBoost on the test rows: "
          f"max |difference| {diff:.2e}")
    if diff > 1e-6:
        raise SystemExit("floresta and XGBoost disagree")

    if args.person:
        assert list(PERSON) == FEATURES
        pathlib.Path(args.person).write_text(json.dumps(PERSON, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
        ranked = loaded.predict_ranked([PERSON], 3)[0] if hasattr(loaded, "predict_ranked") else None
        print(f"wrote {args.person}: {PERSON}" + (f" -> {ranked}" if ranked is not None else ""))
    print(f"done in {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
