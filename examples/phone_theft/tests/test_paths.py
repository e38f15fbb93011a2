"""Every path gives the same answer for the same person, written any way: the CLI, the
application's Python helper (phone_theft.answer) and floresta's records and DataFrames — all
reading the person through the input rules the model file carries. (The service's path is in
test_server.py, the page's in test_browser.py.) Unknown values are refused on every path."""
import json
import os
import pathlib
import subprocess

import numpy as np
import pandas as pd
import pytest

import floresta
from people import SPELLINGS
from phone_theft import answer as app

REPO = pathlib.Path(__file__).resolve().parents[3]
MODEL = pathlib.Path(os.environ.get("PHONE_THEFT_MODEL", REPO / "examples/models/phone_theft.json"))
CLI = REPO / "build/examples/phone_theft/phone_theft"


@pytest.fixture(scope="module")
def model():
    return floresta.load(str(MODEL))


def cli(*args):
    if not CLI.is_file():
        pytest.fail(f"{CLI} is missing: build it with `make`")
    return subprocess.run([str(CLI), "--model", str(MODEL), *args], capture_output=True, text=True, timeout=60)


def flags(person):
    out = []
    for name, value in person.items():
        out += [f"--{name}", "null" if value is None else str(value)]
    return out


def test_python_paths_read_every_spelling_as_the_canonical_person(model):
    for canonical, written in SPELLINGS:
        expected = model.predict_proba([canonical])[0]
        np.testing.assert_array_equal(model.predict_proba([written])[0], expected)
        np.testing.assert_array_equal(model.predict_proba(pd.DataFrame([written]))[0], expected)
        ranked = app.answer(model, written)
        assert [a["value"] for a in ranked] == sorted(expected.tolist(), reverse=True)
        average = model.metadata["city_average"]
        labels = model.classes_.tolist()
        for item in ranked:
            assert item["lift"] == pytest.approx(item["value"] / average[labels.index(item["label"])], rel=1e-12)


def test_the_cli_answers_as_the_service_does(model):
    for canonical, written in SPELLINGS:
        run = cli("--json", *flags(written))
        assert run.returncode == 0, run.stderr
        assert json.loads(run.stdout) == app.answer(model, canonical)


def test_the_cli_table_shows_display_names_lift_and_what_the_numbers_mean(model):
    canonical, written = SPELLINGS[0]
    run = cli(*flags(written))
    assert run.returncode == 0, run.stderr
    assert "bairro=Sé" in run.stdout and "dia=Sábado" in run.stdout
    assert "not the chance of being robbed" in run.stdout
    top = app.answer(model, canonical)[0]
    assert f"{top['label']} ({100 * top['value']:.2f}%, {top['lift']:.1f}× the city's average)" in run.stdout
    assert run.stdout.count("× the city's average") == 11  # the sentence and the 10 places


def test_a_field_not_given(model):
    canonical = SPELLINGS[1][0]
    for name in model.metadata["optional_fields"]:
        person = {**canonical, name: None}
        run = cli("--json", *flags(person))
        assert run.returncode == 0, run.stderr
        assert json.loads(run.stdout) == app.answer(model, person)
    required = [f for f in model.feature_names_in_ if f not in model.metadata["optional_fields"]]
    for name in required:
        with pytest.raises(floresta.InputError, match="must be given") as caught:
            app.answer(model, {**canonical, name: None})
        assert (caught.value.field, caught.value.rule) == (name, "required")
        run = cli(*flags({**canonical, name: None}))
        assert run.returncode == 1 and "must be given" in run.stderr


@pytest.mark.parametrize("field,value,rule,words", [
    ("bairro", "Atlântida", "vocabulary", ['"Atlântida"', 'read as "ATLANTIDA"']),
    ("periodo", "ao meio-dia", "vocabulary", ['"ao meio-dia"']),
    ("idade", 200, "range", ["200", "[0, 120]"]),
    ("idade", "trinta", "type", ["numeric"]),
])
def test_unknown_values_are_refused_on_every_path(model, field, value, rule, words):
    person = {**SPELLINGS[0][1], field: value}
    with pytest.raises(floresta.InputError) as caught:
        app.answer(model, person)
    assert (caught.value.field, caught.value.rule) == (field, rule)
    for word in words:
        assert word in str(caught.value)
    with pytest.raises(ValueError):
        model.predict_proba([person])
    if rule != "type":  # the CLI reads a numeric flag as a number first
        run = cli(*flags(person))
        assert run.returncode == 1
        for word in words:
            assert word in run.stderr


def test_brands_in_the_model_file_read_as_the_cleaning_reads_them(model):
    """The model's marca rule (brands.csv in the file) and the cleaning's brand_of agree."""
    from phone_theft.brands import brand_of, brand_table

    texts = list(brand_table()) + ["IPHONE 11", "Galaxy A10", "moto g7 play", "REDMI NOTE 8", "Samsung Galaxy S20",
                                   "Apple iPhone 12", "IPHONE11", "Tijolão", "nokia lumia 520", "  xiaomi  "]
    column = list(model.feature_names_in_).index("marca")
    codes = model.encode([{"marca": t} for t in texts])[:, column]
    categories = model.categories("marca")
    assert [categories[int(c)] for c in codes] == [brand_of(t) for t in texts]
