"""Input rules carried by the model file (``floresta.export(..., input_rules=...)``): every
Python path (records, DataFrames) reads a person's values through the same C++ rule, a value
the rule does not take raises ``floresta.InputError``, and the answers equal the training
library's on the canonical values."""
import json
import pathlib
import pickle

import jsonschema
import numpy as np
import pandas as pd
import pytest
import xgboost as xgb

import floresta

SCHEMA = json.loads((pathlib.Path(__file__).parents[2] / "docs" / "floresta-model.schema.json").read_text())
BAIRROS = ["CAPAO REDONDO", "M'BOI MIRIM", "REPUBLICA", "SE", "TATUAPE"]
BRANDS = ["Apple", "Motorola", "Outros", "Samsung"]
RULES = {
    "bairro": {"fold": ["case", "accents", "spaces"], "display": {"SE": "Sé", "TATUAPE": "Tatuapé"}},
    "marca": {"fold": ["case", "accents", "spaces"], "aliases": {"IPHONE": "Apple", "GALAXY": "Samsung", "MOTO": "Motorola"},
              "leading_words": True, "otherwise": "Outros"},
    "idade": {"min": 0, "max": 120},
}


@pytest.fixture(scope="module")
def trained():
    rng = np.random.default_rng(7)
    n = 3000
    df = pd.DataFrame({
        "bairro": pd.Categorical(rng.choice(BAIRROS, n), categories=BAIRROS),
        "marca": pd.Categorical(rng.choice(BRANDS, n), categories=BRANDS),
        "idade": rng.integers(14, 90, n).astype(float),
    })
    y = ((df["bairro"] == "SE").to_numpy() * 1 + (df["marca"] == "Apple").to_numpy() + (df["idade"] < 30).to_numpy()
         + rng.integers(0, 2, n)) % 3
    clf = xgb.XGBClassifier(n_estimators=20, max_depth=3, enable_categorical=True, tree_method="hist", n_jobs=1)
    clf.fit(df, y)
    text = floresta.export(clf, input_rules=RULES)
    return clf, text, floresta.load_bytes(text.encode(), name="rules.json")


def canonical(rows):
    frame = pd.DataFrame(rows)
    frame["bairro"] = pd.Categorical(frame["bairro"], categories=BAIRROS)
    frame["marca"] = pd.Categorical(frame["marca"], categories=BRANDS)
    return frame


def test_the_exported_file_is_valid_and_carries_the_rules(trained):
    _, text, model = trained
    document = json.loads(text)
    jsonschema.validate(document, SCHEMA)
    assert document["input"] == RULES
    assert model.input_rules_["bairro"] == RULES["bairro"]
    assert model.input_rules_["idade"] == {"min": 0.0, "max": 120.0}
    assert model.schema["features"][0]["input"]["display"]["SE"] == "Sé"
    assert model.display_name("bairro", "TATUAPE") == "Tatuapé"
    assert model.display_name("bairro", "REPUBLICA") == "REPUBLICA"
    assert pickle.loads(pickle.dumps(model)).input_rules_ == model.input_rules_


def test_any_spelling_scores_as_the_training_library_scores_the_canonical_value(trained):
    clf, _, model = trained
    written = [{"bairro": " sé ", "marca": "iPhone 11", "idade": 25},
               {"bairro": "Tatuapé", "marca": "galaxy  a10", "idade": 120},
               {"bairro": "m’boi mirim", "marca": "Nokia 3310", "idade": 0},
               {"bairro": "capão redondo", "marca": "MOTO G7", "idade": None},
               {"bairro": "REPUBLICA", "marca": "samsung", "idade": 64}]
    meant = [{"bairro": "SE", "marca": "Apple", "idade": 25}, {"bairro": "TATUAPE", "marca": "Samsung", "idade": 120},
             {"bairro": "M'BOI MIRIM", "marca": "Outros", "idade": 0},
             {"bairro": "CAPAO REDONDO", "marca": "Motorola", "idade": np.nan},
             {"bairro": "REPUBLICA", "marca": "Samsung", "idade": 64}]
    expected = clf.predict_proba(canonical(meant))
    codes = model.encode(written)
    assert codes.shape == (5, 3) and codes[0, 0] == BAIRROS.index("SE") and codes[1, 1] == BRANDS.index("Samsung")
    np.testing.assert_array_equal(codes, model.encode(meant))
    np.testing.assert_allclose(model.predict_proba(written), expected, rtol=0, atol=1e-6)
    # The DataFrame path: strings (object dtype) and pandas categories of the written texts.
    frame = pd.DataFrame(written)
    np.testing.assert_array_equal(model.predict_proba(frame), model.predict_proba(written))
    as_categories = frame.astype({"bairro": "category", "marca": "category"})
    np.testing.assert_array_equal(model.predict_proba(as_categories), model.predict_proba(written))


def test_values_outside_the_rule_raise_input_error_on_every_path(trained):
    _, _, model = trained
    person = {"bairro": "SE", "marca": "Apple", "idade": 30}
    cases = [({"bairro": "Atlântida"}, "bairro", "vocabulary", 'unknown value "Atlântida" (read as "ATLANTIDA")'),
             ({"idade": 200}, "idade", "range", "200 is outside the valid range [0, 120]"),
             ({"idade": -3}, "idade", "range", "outside the valid range"),
             ({"idade": "trinta"}, "idade", "type", "is numeric")]
    for change, field, rule, message in cases:
        for X in ([dict(person, **change)], pd.DataFrame([dict(person, **change)])):
            if isinstance(X, pd.DataFrame) and rule == "type":
                continue  # a DataFrame column of text for a numeric feature fails on its dtype first
            with pytest.raises(floresta.InputError) as caught:
                model.predict_proba(X)
            assert (caught.value.field, caught.value.rule) == (field, rule)
            assert message in str(caught.value)
            assert isinstance(caught.value, ValueError)
    # unknown_category="as_trained" does not override a rule.
    lenient = floresta.load_bytes(trained[1].encode(), unknown_category="as_trained")
    with pytest.raises(floresta.InputError):
        lenient.predict_proba({"bairro": "Atlântida"})


def test_bad_rules_are_refused_when_exporting(trained):
    clf = trained[0]
    bad = {"no feature": ({"cidade": {"fold": ["case"]}}, "/input/cidade: names no feature"),
           "alias": ({"marca": {"aliases": {"IPHONE": "Aple"}}}, 'alias target "Aple" is not one of'),
           "folding": ({"bairro": {"fold": ["upper"]}}, "unknown folding 'upper'"),
           "range on text": ({"bairro": {"min": 0}}, "min and max are for numeric features"),
           "not a dict": ({"bairro": ["case"]}, "input_rules['bairro'] must be a dict")}
    for name, (rules, message) in bad.items():
        with pytest.raises(ValueError, match=None) as caught:
            floresta.export(clf, input_rules=rules)
        assert message in str(caught.value), name


def test_fold_text_is_the_rules_folding():
    assert floresta.fold_text("  Capão   Redondo ") == "CAPAO REDONDO"
    assert floresta.fold_text("M’Boi Mirim") == "M'BOI MIRIM"
    assert floresta.fold_text("São Paulo", case=False, spaces=False) == "Sao Paulo"
    assert floresta.fold_text("são  paulo", accents=False, spaces=False) == "SÃO  PAULO"
