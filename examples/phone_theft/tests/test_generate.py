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
from phone_theft.constants import DIAS, FEATURES, LABELS, MARCAS, PERIODOS

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


def test_several_years():
    raw = generate.generate(6000, seed=5, years=(2021, 2022, 2023))
    assert len(raw) == 6000
    years = raw["ANO_BO"]
    assert set(years) == {2021, 2022, 2023} and (years == raw["ANO_ESTATISTICA"]).all()
    assert (years.value_counts(normalize=True) - 1 / 3).abs().max() < 0.04       # spread evenly
    dates = pd.to_datetime(raw["DATA_OCORRENCIA_BO"], format="%d/%m/%Y")
    known = dates.notna()
    assert (dates[known].dt.year == years[known]).all()
    assert (dates[known].dt.month == raw.loc[known, "MES_ESTATISTICA"]).all()
    # the features' distribution does not depend on the years: weekdays keep their shares
    data = clean.clean(raw)
    shares = data["dia"].value_counts(normalize=True).reindex(DIAS)
    expected = generate.weekday_shares()
    assert np.abs(shares.to_numpy() - expected).max() < 4 * np.sqrt(expected.max() / len(data)) + 0.01
    # years need not be consecutive; the default is the one file of 2023
    assert set(generate.generate(500, seed=5, years=(2019, 2023))["ANO_BO"]) == {2019, 2023}
    one = generate.generate(500, seed=5)
    assert set(one["ANO_BO"]) == {2023}
    assert set(pd.to_datetime(one["DATA_OCORRENCIA_BO"], format="%d/%m/%Y").dropna().dt.year) == {2023}
    with pytest.raises(ValueError):
        generate.generate(10, years=())


def test_feature_distribution():
    for field in FEATURES:
        values, weights = generate.feature_distribution(field)
        assert len(values) == len(weights) and weights.min() >= 0 and weights.sum() == pytest.approx(1.0)
    # ages: the exact probabilities of 14 + floor(Gamma), capped at 90, against a large sample
    values, weights = generate.feature_distribution("idade")
    ages = generate._draw_ages(np.random.default_rng(0), 400_000)
    observed = np.bincount((ages - 14).astype(int), minlength=len(values)) / len(ages)
    assert np.abs(observed - weights).max() < 4 * np.sqrt(weights.max() / len(ages))
    with pytest.raises(ValueError):
        generate.feature_distribution("cor")


def test_marginal_probabilities_average_the_truth_over_a_field():
    profiles = generate.draw_profiles(5, seed=1)
    assert list(profiles.columns) == FEATURES and not profiles.isna().any().any()
    for field in FEATURES:
        values, weights = generate.feature_distribution(field)
        every = pd.concat([profiles.assign(**{field: v}) for v in values], ignore_index=True)    # one call: fast
        expected = np.einsum("v,vnk->nk", weights, generate.place_probabilities(every).reshape(len(values), 5, 10))
        np.testing.assert_allclose(generate.marginal_probabilities(profiles, field), expected, rtol=1e-10, atol=1e-14)
    # the field's own value is ignored, even when missing
    np.testing.assert_allclose(generate.marginal_probabilities(profiles.assign(bairro=None), "bairro"),
                               generate.marginal_probabilities(profiles, "bairro"), rtol=1e-12)
    # the three rare-place persons: the truth gives their place what their docstring says
    persons = pd.DataFrame([person for person, _ in generate.RARE_PLACE_PERSONS])
    p = generate.place_probabilities(persons)
    got = [round(p[i, k], 3) for i, (_, k) in enumerate(generate.RARE_PLACE_PERSONS)]
    assert got == [0.097, 0.243, 0.079]
