"""The synthetic SSP-SP file: shape, determinism, marginals, and that it follows its truth.

Tolerances: a count expected to be E (from the published marginals, scaled to the cleaned
size) must be within 4 * sqrt(E) (sampling noise, about 4 standard deviations of a Poisson
count) plus 3% of E (the bairro weights are capped and the truth's intercepts are calibrated
on a Monte Carlo sample, so the design itself is off by up to ~2%).
"""
import numpy as np
import pandas as pd
import pytest

from phone_theft import clean, generate
from phone_theft.constants import FEATURES, LABELS, MARCAS, PERIODOS

PUBLISHED_ROWS = 51972
REAL_COLUMNS = ["NOME_DELEGACIA", "ANO_BO", "NUM_BO", "CIDADE", "BAIRRO", "DATA_OCORRENCIA_BO",
                "HORA_OCORRENCIA", "DESCR_PERIODO", "RUBRICA", "DESCR_TIPOLOCAL", "DESCR_SUBTIPOLOCAL",
                "LATITUDE", "LONGITUDE", "MARCA_OBJETO"]


@pytest.fixture(scope="module")
def full():
    raw = generate.generate()
    return raw, clean.clean(raw)


def close(observed, expected):
    return abs(observed - expected) <= 4 * np.sqrt(expected) + 0.03 * expected


def test_size_and_columns(full):
    raw, _ = full
    assert len(raw) == generate.N_ROWS == 178_288
    for column in REAL_COLUMNS + ["IDADE", "SEXO"]:
        assert column in raw.columns
    assert len(generate.generate(1)) == 1
    assert len(generate.generate(1234, seed=9)) == 1234
    with pytest.raises(ValueError):
        generate.generate(0)


def test_deterministic_for_a_seed():
    a = generate.generate(3000, seed=7)
    b = generate.generate(3000, seed=7)
    pd.testing.assert_frame_equal(a, b)
    c = generate.generate(3000, seed=8)
    assert not a["NUM_BO"].equals(c["NUM_BO"])


def test_reports_with_several_rows(full):
    raw, _ = full
    key = ["NOME_DELEGACIA", "ANO_BO", "NUM_BO"]
    sizes = raw.groupby(key).size()
    assert (sizes > 1).sum() > 5000
    # rows of one report share the report's fields; objects (brands) may differ
    multi = raw[raw.duplicated(key, keep=False)].groupby(key)
    shared = multi[["CIDADE", "BAIRRO", "DATA_OCORRENCIA_BO", "HORA_OCORRENCIA", "DESCR_SUBTIPOLOCAL"]].nunique(dropna=False)
    assert (shared <= 1).all().all()
    assert (multi["MARCA_OBJETO"].nunique() > 1).any()


def test_cleaning_has_work_to_do(full):
    raw, data = full
    dropped = data.attrs["dropped"]
    for reason in ("cidade", "rubrica", "duplicado", "bairro", "marca", "data", "periodo", "local"):
        assert dropped[reason] > 0, reason
    assert raw["HORA_OCORRENCIA"].isna().any() and raw["BAIRRO"].isna().any()
    spellings = raw.loc[raw["BAIRRO"].map(lambda b: isinstance(b, str) and b.strip().upper() in
                                          ("REPÚBLICA", "REPUBLICA")), "BAIRRO"].unique()
    assert {"República", "REPÚBLICA", "REPUBLICA"} <= set(spellings)
    assert {"S.PAULO", "São Paulo"} <= set(raw["CIDADE"])
    # hundreds of bairros, with the example's awkward ones
    assert data["bairro"].nunique() >= 300
    assert {"REPUBLICA", "SE", "CAPAO REDONDO", "LIBERDADE", "M'BOI MIRIM"} <= set(data["bairro"])


def test_marginals_close_to_the_published_ones(full):
    _, data = full
    n = len(data)
    assert abs(n - PUBLISHED_ROWS) <= 0.02 * PUBLISHED_ROWS
    scale = n / PUBLISHED_ROWS
    brands = data["marca"].value_counts()
    for brand, count in zip(MARCAS[:6], generate.BRAND_COUNTS[:6]):
        assert close(brands[brand], count * scale), (brand, brands[brand], count * scale)
    periods = data["periodo"].value_counts()
    for period, count in zip(PERIODOS, generate.PERIOD_COUNTS):
        assert close(periods[period], count * scale), period
    rubrics = data["rubrica"].value_counts()
    assert close(rubrics["ROUBO"], generate.ROUBO * scale) and close(rubrics["FURTO"], generate.FURTO * scale)
    top = data["bairro"].value_counts()
    assert list(top.index[:3]) == ["REPUBLICA", "SE", "CAPAO REDONDO"]
    for bairro, count in (("REPUBLICA", 2030), ("SE", 1290), ("CAPAO REDONDO", 1197)):
        assert close(top[bairro], count * scale), bairro
    places = np.bincount(data["local"], minlength=10)
    for k in range(10):
        assert close(places[k], generate.SHARES[k] * n), (LABELS[k], places[k], generate.SHARES[k] * n)
    assert set(data["local_label"]) == set(LABELS)


def test_age_and_sex_are_synthetic_columns(full):
    raw, data = full
    ages = raw["IDADE"].dropna()
    assert ages.between(14, 90).all() and 0.01 < raw["IDADE"].isna().mean() < 0.03
    assert set(raw["SEXO"].dropna()) == {"M", "F"}
    assert 0.4 < (data["sexo"] == "MULHER").mean() < 0.48


def test_truth_is_a_distribution_and_ignores_spelling():
    frame = pd.DataFrame({"bairro": ["República", "REPUBLICA", " república ", "NOWHERE", None],
                          "marca": ["Apple", "APPLE", "apple", "Apple", None],
                          "dia": ["SEXTA"] * 4 + [None], "periodo": ["NOITE"] * 4 + [None],
                          "idade": [30, 30, 30, 30, np.nan], "sexo": ["MULHER"] * 4 + [None]})
    p = generate.place_probabilities(frame)
    assert p.shape == (5, 10)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-12)
    np.testing.assert_array_equal(p[0], p[1])
    np.testing.assert_array_equal(p[0], p[2])
    assert not np.allclose(p[0], p[3])                       # an unknown bairro adds nothing
    np.testing.assert_allclose(p[4], generate._softmax(generate.calibrated_intercept()[None, :])[0])


def test_the_sample_follows_its_truth(full):
    _, data = full
    p = generate.place_probabilities(data[FEATURES])
    y = data["local"].to_numpy()
    # per class: observed share against the mean true probability
    mean = p.mean(axis=0)
    observed = np.bincount(y, minlength=10) / len(y)
    sd = np.sqrt(mean * (1 - mean) / len(y))
    assert np.all(np.abs(observed - mean) <= 4 * sd + 1e-4)
    # per profile of bairro: Transporte Público is commoner near terminals than in the periphery
    profile = generate.bairros().set_index("key")["perfil"]
    terminal = data["bairro"].map(profile) == "TERMINAL"
    periphery = data["bairro"].map(profile) == "PERIFERIA"
    assert (y[terminal] == 8).mean() > 2 * (y[periphery] == 8).mean()
    # the truth is informative: its log loss is well below the prior's
    prior = np.bincount(y, minlength=10) / len(y)
    assert generate.bayes_log_loss(data) < 0.85 * -np.mean(np.log(prior[y]))


def test_bayes_log_loss_matches_its_definition():
    data = clean.clean(generate.generate(5000, seed=3))
    p = generate.place_probabilities(data)
    expected = -np.mean(np.log(p[np.arange(len(data)), data["local"].to_numpy()]))
    assert generate.bayes_log_loss(data) == pytest.approx(expected, rel=1e-12)
