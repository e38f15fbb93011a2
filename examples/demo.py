"""`make demo`, Python half: the 10 places where a phone is most likely robbed or stolen, for
the example person, from the shipped São Paulo phone-theft model.

examples/models/phone_theft.json is one self-contained file (built by
examples/phone_theft/train_model.py from synthetic data): the XGBoost trees, each feature's
name, type and vocabulary, the 10 place names and the input rules every path reads a person
through (case, accents and spaces folded, aliases, the age range). Nothing else is read.
"""
import json
import pathlib
import time

import pandas as pd

import floresta

MODELS = pathlib.Path(__file__).parent / "models"


def main():
    model = floresta.load(MODELS / "phone_theft.json")
    person = json.loads((MODELS / "phone_theft_person.json").read_text(encoding="utf-8"))
    print(model)
    print("person:", ", ".join(f"{k}={v}" for k, v in person.items()))
    proba = model.predict_proba([person])[0]
    ranked = sorted(zip(model.classes_, proba), key=lambda pair: -pair[1])
    for position, (label, p) in enumerate(ranked, 1):
        print(f"{position:2d}. {label:42s} {100 * p:6.2f}%")

    people = pd.DataFrame([person] * 10000)
    start = time.perf_counter()
    model.predict_proba(people)
    elapsed = time.perf_counter() - start
    print(f"scored {len(people):,} DataFrame rows in {elapsed * 1e3:.1f} ms (including string encoding)")
    written = dict(person, bairro=" tatuapé ", marca="Galaxy A10", dia="terça-feira")
    same = (model.predict_proba([written]) == model.predict_proba([person])).all()
    print(f"written as a person writes it ({written['bairro']!r}, {written['marca']!r}, {written['dia']!r}): "
          f"the same answer: {bool(same)}")
    not_given = dict(person, bairro=None)
    top = model.classes_[model.predict_proba([not_given])[0].argmax()]
    print(f"bairro not given (None): the model's learned answer, most likely {top}")
    try:
        model.predict_proba([dict(person, bairro="ATLANTIDA")])
    except floresta.InputError as error:
        print(f"an unknown bairro is refused ({error.field}, {error.rule}): {error}")


if __name__ == "__main__":
    main()
