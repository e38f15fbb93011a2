"""The page end to end in real headless Chromium (Debian's chromium + chromium-driver, driven
by selenium): fill the form, press Prever, compare the ranking drawn on the page with
floresta's own prediction for the same person (with each place's lift over the city's average,
and the values shown by their display names), the "why" chart of the first place with
floresta's own explanation (explain_record), check that a field left out is answered or
explained, and save a screenshot: under pytest's temporary folder, or over the one the README
shows (examples/phone_theft/docs/screenshot.png) when PHONE_THEFT_SCREENSHOT=update.

Chromium missing is a failure, not a skip: CI installs it."""
import os
import pathlib
import shutil

import pandas as pd
import pytest

import floresta

from server_support import (  # noqa: F401 - pytest fixtures
    phone_theft_server, phone_theft_server_model)

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
README_SCREENSHOT = pathlib.Path(__file__).resolve().parents[1] / "docs" / "screenshot.png"
FIELDS = ["bairro", "marca", "dia", "periodo", "idade", "sexo"]
WISHED = {"bairro": "REPUBLICA", "marca": "Apple", "dia": "SEXTA", "periodo": "NOITE", "sexo": "MULHER"}


@pytest.fixture(scope="module")
def browser():
    for path in (CHROMIUM, CHROMEDRIVER):
        if not shutil.which(path):
            pytest.fail(f"{path} is missing: apt-get install chromium chromium-driver (scripts/install_deps.sh does)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1000,980",
                     "--lang=pt-BR", "--disable-gpu", "--hide-scrollbars"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


def person_for(model):
    person = {}
    for feature in model.schema["features"]:
        values = feature.get("categories")
        if values is None:
            person[feature["name"]] = 23
        else:
            person[feature["name"]] = WISHED.get(feature["name"]) if WISHED.get(feature["name"]) in values else values[0]
    return person


def check_why_chart(browser, model, person, place, top):
    """The why chart under the bars: the first place's 6 fields, each a signed SVG bar, as
    floresta's explain_record(person, output=top) gives them; returns the rows."""
    from selenium.webdriver.common.by import By

    chart = browser.find_element(By.ID, "porque")
    assert chart.is_displayed()
    assert browser.find_element(By.ID, "porque-titulo").text == f"Por que {place}?"
    text = browser.find_element(By.ID, "porque-texto").text
    assert "pessoa média" in text and "margem" in text and "não em pontos percentuais" in text
    reference = model.explain_record(person, output=top)
    rows = browser.find_elements(By.CSS_SELECTOR, "#porque-barras li")
    assert len(rows) == len(FIELDS) == len(reference) == 6
    assert [r.get_attribute("data-field") for r in rows] == [x["field"] for x in reference]
    assert [float(r.get_attribute("data-contribution")) for r in rows] == \
        pytest.approx([x["contribution"] for x in reference], abs=1e-12)
    largest = max(abs(x["contribution"]) for x in reference)
    for row, want in zip(rows, reference):
        bar = row.find_element(By.CSS_SELECTOR, "svg.why-chart rect.why-bar")
        x, width = float(bar.get_attribute("x")), float(bar.get_attribute("width"))
        assert width == pytest.approx(abs(want["contribution"]) / largest * 100)
        assert (x == 100) if want["contribution"] >= 0 else (x == pytest.approx(100 - width))  # right: toward the place
        assert row.get_attribute("class") == ("toward" if want["contribution"] >= 0 else "away")
        assert row.find_element(By.CLASS_NAME, "why-number").text.startswith("+" if want["contribution"] >= 0 else "−")
    total = model.expected_value_[top] + sum(x["contribution"] for x in reference)
    assert f"{total:.2f}".replace(".", ",") in browser.find_element(By.ID, "porque-soma").text
    return rows


def test_page_predicts_like_floresta_and_explains_errors(phone_theft_server, browser, phone_theft_server_model, tmp_path):
    # (the server first: the browser then closes, with its keep-alive connections, before the server stops)
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import Select, WebDriverWait

    model = floresta.load(str(phone_theft_server_model))
    person = person_for(model)
    wait = WebDriverWait(browser, 30)

    browser.get(phone_theft_server.url + "/")
    wait.until(ec.element_to_be_clickable((By.ID, "prever")))  # enabled once /schema has built the form
    browser.find_element(By.ID, "nome").send_keys("Maria")
    for name in FIELDS:
        if name == "idade":
            field = browser.find_element(By.ID, "idade")
            field.clear()
            field.send_keys(str(person["idade"]))
        else:
            Select(browser.find_element(By.ID, name)).select_by_value(person[name])
    browser.find_element(By.ID, "prever").click()
    wait.until(lambda d: d.find_element(By.ID, "resultado").get_attribute("data-ready"))

    proba = model.predict_proba(pd.DataFrame([person], columns=FIELDS))[0]
    labels = [str(c) for c in model.classes_]
    order = sorted(range(len(labels)), key=lambda k: (-proba[k], k))
    bars = browser.find_elements(By.CSS_SELECTOR, "#barras li")
    assert len(bars) == 10
    assert [b.get_attribute("data-label") for b in bars] == [labels[k] for k in order]
    assert [float(b.get_attribute("data-value")) for b in bars] == [float(proba[k]) for k in order]
    assert [b.find_element(By.CLASS_NAME, "place").text for b in bars] == [labels[k] for k in order]
    assert bars[0].get_attribute("class") == "top" and all(b.get_attribute("class") == "" for b in bars[1:])
    top_percent = f"{100 * proba[order[0]]:.2f}".replace(".", ",") + "%"
    average = model.metadata["city_average"]
    lifts = [float(proba[k]) / average[k] for k in order]
    assert [float(b.get_attribute("data-lift")) for b in bars] == pytest.approx(lifts, rel=1e-12)
    assert [b.find_element(By.CLASS_NAME, "lift").text for b in bars] == \
        [f"{x:.1f}".replace(".", ",") + "× a média" for x in lifts]
    sentence = browser.find_element(By.ID, "frase").text
    assert sentence.startswith("Maria, entre os roubos e furtos de celular registrados com pessoas de perfil como o seu")
    assert labels[order[0]] in sentence and top_percent in sentence
    assert f"{lifts[0]:.1f}".replace(".", ",") + "× a média da cidade" in sentence
    assert "não a chance de você ser roubado" in sentence
    assert bars[0].find_element(By.CLASS_NAME, "value").text == top_percent
    assert not browser.find_element(By.ID, "erro").is_displayed()
    # Values shown by their display names (accents), sent by their keys.
    rules = model.input_rules_
    for name in ("bairro", "dia"):
        chosen = Select(browser.find_element(By.ID, name)).first_selected_option
        assert chosen.get_attribute("value") == person[name]
        assert chosen.text.startswith(rules[name]["display"][person[name]])
    assert "Terça-feira" in [o.text for o in Select(browser.find_element(By.ID, "dia")).options]
    # The model card in the footer: synthetic data, its years, the test's log loss against the city's.
    footer = browser.find_element(By.ID, "modelo").text
    card = model.metadata["model_card"]
    assert "dados sintéticos" in footer and f"de {card['data']['years'][0]} a {card['data']['years'][-1]}" in footer
    assert f"{card['test']['log_loss']:.3f}".rstrip("0").replace(".", ",") in footer
    # Why the first place: one signed bar per field, in floresta's order and numbers.
    check_why_chart(browser, model, person, labels[order[0]], labels.index(labels[order[0]]))

    screenshot = README_SCREENSHOT if os.environ.get("PHONE_THEFT_SCREENSHOT") == "update" else tmp_path / "page.png"
    assert browser.save_screenshot(str(screenshot))
    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    # An empty age: "not given", answered with the model's answer for a missing age.
    browser.find_element(By.ID, "idade").clear()
    before = browser.find_element(By.ID, "resultado").get_attribute("data-ready")
    browser.find_element(By.ID, "prever").click()
    wait.until(lambda d: d.find_element(By.ID, "resultado").get_attribute("data-ready") != before)
    no_age = model.predict_proba([{**person, "idade": None}])[0]
    bars = browser.find_elements(By.CSS_SELECTOR, "#barras li")
    assert sorted(float(b.get_attribute("data-value")) for b in bars) == sorted(no_age.tolist())
    top = max(range(len(labels)), key=lambda k: (no_age[k], -k))
    rows = check_why_chart(browser, model, {**person, "idade": None}, labels[top], top)
    assert next(r for r in rows if r.get_attribute("data-field") == "idade").find_element(
        By.CSS_SELECTOR, ".why-name small").text == "não informado"
    # A field the model needs, left out: the server refuses it (422) and the page says so in words.
    required = [f for f in FIELDS if f not in model.metadata["optional_fields"]]
    if required:
        Select(browser.find_element(By.ID, required[0])).select_by_value("")
        browser.find_element(By.ID, "prever").click()
        wait.until(ec.visibility_of_element_located((By.ID, "erro")))
        message = browser.find_element(By.ID, "erro").text
        assert "Escolha um valor em" in message and f"missing field '{required[0]}'" in message
        assert not browser.find_element(By.ID, "resultado").is_displayed()
        Select(browser.find_element(By.ID, required[0])).select_by_value(person[required[0]])

    # An age out of range, then a valid one again: the error goes away.
    browser.find_element(By.ID, "idade").send_keys("150")
    browser.find_element(By.ID, "prever").click()
    wait.until(lambda d: "entre 0 e 120" in d.find_element(By.ID, "erro").text)
    browser.find_element(By.ID, "idade").clear()
    browser.find_element(By.ID, "idade").send_keys(str(person["idade"]))
    browser.find_element(By.ID, "prever").click()
    wait.until(lambda d: d.find_element(By.ID, "resultado").is_displayed())
    assert not browser.find_element(By.ID, "erro").is_displayed()
    logs = [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"
            and "/predict" not in entry["message"]]  # the refused requests above are logged as 422s
    assert logs == [], logs
