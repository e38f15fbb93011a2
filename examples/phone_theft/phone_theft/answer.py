"""The application's answer from Python, the same as the service's POST /predict and the CLI.

    model = floresta.load("examples/models/phone_theft.json")
    answer(model, {"bairro": "Sé", "marca": "iPhone 11", "dia": "sábado", "periodo": "noite",
                   "idade": 30, "sexo": None})
    # [{"position": 1, "label": "Via Pública", "value": 0.87, "lift": 0.99}, ...]

A person's values are read by floresta through the input rules the model file carries (case,
accents and spaces folded, aliases, the age range): a value they do not take raises
``floresta.InputError`` (a ValueError naming the field and the rule). Every field must be
given; ``None`` means "not given" and is accepted for the fields the model was trained to
answer without (the file's ``metadata.optional_fields``), as the service accepts ``null``.
Ranking is floresta's (``Model.predict_ranked``); ``lift`` is the probability over the city's
average share of the place (``metadata.city_average``).
"""
import floresta


def check_fields(model, person):
    """Raises floresta.InputError for a field missing from `person`, or None where the model
    was not trained to answer without it (the service's 422 "required")."""
    if not isinstance(person, dict):
        raise floresta.FlorestaError(f"a person must be a dict of the fields {list(model.feature_names_in_)}")
    optional = set(model.metadata.get("optional_fields", model.feature_names_in_))
    for name in model.feature_names_in_:
        if name not in person:
            raise _required(name, f"missing field '{name}' (every field is required; None means not given)")
        if person[name] is None and name not in optional:
            raise _required(name, f"field '{name}' must be given: the model was not trained to answer without it")


def answer(model, person):
    """The ranked answer for one person: a list of {"position", "label", "value", "lift"?}."""
    check_fields(model, person)
    ranked = model.predict_ranked([person])[0]
    average = model.metadata.get("city_average")
    index = {label: c for c, label in enumerate(model.classes_)}
    out = []
    for position, (label, p) in enumerate(ranked, start=1):
        item = {"position": position, "label": str(label), "value": float(p)}
        if average:
            item["lift"] = float(p) / average[index[label]]
        out.append(item)
    return out


def _required(field, message):
    error = floresta.InputError(message)
    error.field, error.rule = field, "required"
    return error
