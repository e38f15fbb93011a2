"""A synthetic SSP-SP "Celulares Subtraídos" (stolen cell phones) file, with a known truth.

No internet here, so the real 2023 file (CelularesSubtraidos_2023.xlsx, 178,288 rows
statewide) cannot be used; generate() writes a stand-in with the same shape:

* the real column names (NOME_DELEGACIA, ANO_BO, NUM_BO, CIDADE, BAIRRO, DATA_OCORRENCIA_BO,
  HORA_OCORRENCIA, DESCR_PERIODO, RUBRICA, DESCR_TIPOLOCAL, DESCR_SUBTIPOLOCAL, LATITUDE,
  LONGITUDE, MARCA_OBJETO), plus more of the kind the real file's 50 columns hold, under the
  names we believe it uses (ID_DELEGACIA, NOME_DEPARTAMENTO, NOME_SECCIONAL, NOME_MUNICIPIO,
  DATA_COMUNICACAO_BO, LOGRADOURO, NUMERO_LOGRADOURO, DESCR_CONDUTA, NATUREZA_APURADA,
  MES_ESTATISTICA, ANO_ESTATISTICA, DESCR_TIPO_OBJETO, DESCR_SUBTIPO_OBJETO,
  QUANTIDADE_OBJETO) and with merely plausible contents;
* **IDADE and SEXO, which the real 2023 file does not have**: they are invented here (as the
  original project invented them), with small invented effects on the place;
* rows of the whole state: about 36% of the reports are in São Paulo city (CIDADE
  "S.PAULO", sometimes "São Paulo" or "SAO PAULO"), the rest in 25 other cities;
* rubrics other than theft/robbery (Perda/Extravio, Receptação, ...) in about 7% of reports;
* several rows for about 8% of the reports (one row per stolen object: same NOME_DELEGACIA,
  ANO_BO, NUM_BO and place, another MARCA_OBJETO);
* 380 real São Paulo bairros (bairros.csv: the 96 districts and 284 neighbourhoods, each with
  a point recalled from memory — district centres, neighbourhoods placed 0.4-1.4 km from
  their district's point — jittered by ~400 m per row), written as people type them: mostly
  with accents and mixed case, sometimes upper case, without accents, lower case or with
  stray spaces, so that cleaning has work to do;
* missing values: BAIRRO (1.5% of reports), DATA_OCORRENCIA_BO (0.5%), HORA_OCORRENCIA
  (5%; then DESCR_PERIODO says the period, or "Em hora incerta" for a fifth of them),
  DESCR_SUBTIPOLOCAL (1%; the type still classifies the place), MARCA_OBJETO (1.5% of rows),
  LATITUDE/LONGITUDE (3% missing, 1% zero), IDADE (2%), SEXO (1%); 1% of the places are
  "Outros", which no class takes;
* one year by default (2023, as the original project had); ``years=(2021, 2022, 2023)`` (or
  any years) spreads the occurrence dates over several, each row's ANO_BO and
  ANO_ESTATISTICA being its date's year: the files of several years concatenated, drawn from
  the same distributions and the same truth (the default output is what it was before there
  were years to choose).

With the defaults, cleaning (clean.clean) keeps about 52,000 rows, as the original project
kept 51,972, with the published marginals: brands (Samsung 17,805, Apple 15,851, Motorola
10,190, Xiaomi 3,834, Outros 2,660, LG 876, then 13 rarer brands), periods (NOITE 21,268,
TARDE 12,114, MANHA 10,581, MADRUGADA 8,009), ROUBO 40,003 vs FURTO 11,969, top bairros
REPUBLICA (3.9%), SE (2.5%), CAPAO REDONDO (2.3%), and the 10 places' shares (SHARES).

The truth (the planted dependency)
----------------------------------
In São Paulo city the features bairro, marca, dia, periodo, idade and sexo are drawn
independently (the marginals above; weekdays of 2023 dates, weighted by WEEKDAY_WEIGHTS,
whatever the years; age 14 + floor(Gamma(3.2, 6.5)) years, at most 90), and the place is drawn from
``place_probabilities``: a softmax over the 10 classes of

    logit[k] = INTERCEPT[k] + STRENGTH * (
                 PERIOD_EFFECT[periodo][k] + DAY_EFFECT[dia][k] + BRAND_EFFECT[marca][k]
               + PROFILE_EFFECT[perfil(bairro)][k] + BAIRRO_NOISE[bairro][k]
               + NIGHT_OUT[k] * (periodo in NOITE/MADRUGADA and dia in SEXTA/SABADO)
               + RUSH_HOUR[k] * (periodo == MANHA and dia is a weekday)
               + YOUNG_EFFECT[k] * (idade < 25) + OLD_EFFECT[k] * (idade >= 60)   # invented
               + MULHER_EFFECT[k] * (sexo == MULHER))                            # invented

with STRENGTH = 2. For example a bairro of profile NEGOCIOS multiplies the odds of
Escritórios against Via Pública by exp(2 * 1.5) = 20 (before its own noise), a TERMINAL
bairro those of Transporte Público by exp(2 * 1.1) = 9, MADRUGADA divides those of
Escolas by exp(2 * 2.0) = 55.

Via Pública (class 9) is the reference: every effect on it is 0. Each bairro has a profile
(bairros.csv ``perfil``: CENTRO, NEGOCIOS, BOEMIO, TERMINAL, UNIVERSITARIO, HOSPITALAR,
NOBRE, RESIDENCIAL, PERIFERIA) and its own small deviations BAIRRO_NOISE (normal, sd 0.3,
drawn once with seed 20231 — part of the truth, not of the sample). INTERCEPT is
calibrated (calibrated_intercept) so that the classes' shares over the feature distribution
are SHARES. Unknown or missing feature values contribute 0. ``bayes_log_loss`` of a cleaned
frame is the mean of -log(true probability of the observed place): the best log loss any
model can expect on these rows.

Judging a model by the truth: ``draw_profiles`` gives fresh persons from the feature
distribution; ``marginal_probabilities(frame, field)`` is the truth for persons who leave
``field`` out (place_probabilities averaged over the field's values, weighted by
``feature_distribution``) — what a model should answer for a missing field; and
RARE_PLACE_PERSONS are three persons whose profile makes a rare place likely.

Everything is vectorised numpy, so a full generation takes well under a second (the first
call in a process also calibrates the truth's intercepts; docs/benchmarks.md, train/phone-theft). A seed fixes the sample; the
truth does not depend on it.
"""
import functools
import pathlib

import numpy as np
import pandas as pd

from .constants import DIAS, LABELS, MARCAS, PERIODOS, SEXOS
from .places import PLACES, UNCLASSIFIED
from .text import normalize, normalize_series

HERE = pathlib.Path(__file__).parent
N_ROWS = 178_288
N_CLASSES = len(LABELS)

#: The 10 places' shares of the cleaned rows (the real file's, README "Where this comes from", in percent).
SHARES = np.array([0.06, 0.06, 0.16, 0.34, 0.51, 1.7, 2.4, 2.9, 4.1, 87.7]) / 100
SHARES = SHARES / SHARES.sum()

#: Cleaned-row counts of the original project: brands (MARCAS order; the 756 rows of the
#: 13 rare brands split by us), periods (PERIODOS order), rubrics.
BRAND_COUNTS = np.array([17805, 15851, 10190, 3834, 2660, 876, 160, 120, 110, 90, 70, 55, 30, 30, 25,
                         25, 20, 15, 6], dtype=float)
PERIOD_COUNTS = np.array([8009, 10581, 12114, 21268], dtype=float)
ROUBO, FURTO = 40003, 11969
#: Relative weight of an occurrence date by weekday (Monday first): invented, mild.
WEEKDAY_WEIGHTS = np.array([1.00, 0.97, 0.97, 0.98, 1.05, 1.02, 0.85])

# Generation rates (see the module docstring).
P_SAO_PAULO = 0.3625
P_OTHER_RUBRIC = 0.07
P_EXTRA_ROW = 0.085
P_MISSING = {"BAIRRO": 0.015, "DATA": 0.005, "HORA": 0.05, "SUBTIPO": 0.01, "MARCA": 0.015,
             "COORD": 0.03, "COORD_ZERO": 0.01, "IDADE": 0.02, "SEXO": 0.01, "UNCLASSIFIED": 0.01}
P_HOUR_UNCERTAIN = 0.2     # of the rows without an hour: DESCR_PERIODO "Em hora incerta"
P_MULHER = 0.44 / 0.99     # invented
AGE_SHAPE, AGE_SCALE = 3.2, 6.5   # invented: age = 14 + floor(Gamma(shape, scale)), at most 90

# ---------------------------------------------------------------------------------------------
# the truth


def _row(effects):
    out = np.zeros(N_CLASSES)
    for k, v in effects.items():
        out[k] = v
    return out


# class indices: 0 Escolas, 1 Escritórios, 2 Saúde, 3 Entretenimento, 4 Alimentação,
# 5 Transporte Privado, 6 Comércio/Indústria, 7 Residência/Hospedagem, 8 Transporte Público,
# 9 Via Pública (reference).
#: periodo -> effect per class (rows MADRUGADA, MANHA, TARDE, NOITE)
PERIOD_EFFECT = np.array([
    [-2.0, -2.0, -0.8, 0.9, -0.3, 0.6, -1.0, 1.0, -0.6, 0.0],
    [0.8, 0.8, 0.6, -1.2, -0.4, -0.2, 0.5, 0.3, 0.7, 0.0],
    [0.8, 0.8, 0.4, -0.3, 0.3, -0.3, 0.6, -0.2, 0.3, 0.0],
    [0.0, -0.5, -0.3, 0.6, 0.4, 0.2, -0.2, -0.3, 0.0, 0.0],
])
#: dia -> effect per class (rows SEGUNDA .. DOMINGO)
DAY_EFFECT = np.array([
    # 0     1     2     3     4    5    6    7    8    9
    [0.3, 0.3, 0.1, -0.4, 0.0, 0.0, 0.1, 0.0, 0.2, 0.0],
    [0.3, 0.3, 0.1, -0.4, 0.0, 0.0, 0.1, 0.0, 0.2, 0.0],
    [0.3, 0.3, 0.1, -0.2, 0.0, 0.0, 0.1, 0.0, 0.2, 0.0],
    [0.3, 0.3, 0.1, 0.0, 0.0, 0.0, 0.1, 0.0, 0.2, 0.0],
    [0.3, 0.3, 0.1, 0.5, 0.3, 0.2, 0.1, 0.0, 0.2, 0.0],
    [-1.0, -1.2, -0.2, 0.8, 0.4, 0.3, 0.3, 0.2, -0.3, 0.0],
    [-1.5, -1.8, -0.4, 0.5, 0.3, 0.1, -0.8, 0.4, -0.7, 0.0],
])
#: marca -> effect per class (brands not listed: 0)
BRAND_EFFECT = np.array([_row({
    "Apple": {1: 0.3, 3: 0.4, 4: 0.3, 5: 0.6, 8: -0.2},
    "Motorola": {5: -0.2, 8: 0.2},
    "Xiaomi": {3: 0.1, 8: 0.1},
    "Outros": {5: -0.4, 7: 0.2, 8: 0.3},
    "LG": {7: 0.3},
}.get(m, {})) for m in MARCAS])
#: bairro profile -> effect per class
PROFILE_EFFECT = {p: _row(e) for p, e in {
    "CENTRO": {0: -0.2, 4: 0.3, 6: 0.8, 7: -0.6, 8: 0.3},
    "NEGOCIOS": {1: 1.5, 2: 0.3, 4: 0.6, 5: 0.4, 6: 0.3, 7: -0.5},
    "BOEMIO": {3: 1.3, 4: 0.8, 5: 0.4, 7: -0.3},
    "TERMINAL": {6: 0.3, 7: -0.3, 8: 1.1},
    "UNIVERSITARIO": {0: 1.6, 3: 0.3, 4: 0.4, 8: 0.2},
    "HOSPITALAR": {1: 0.4, 2: 1.6, 4: 0.3},
    "NOBRE": {3: 0.2, 4: 0.2, 5: 0.7, 7: 0.4, 8: -0.6},
    "RESIDENCIAL": {7: 0.3, 8: -0.1},
    "PERIFERIA": {1: -0.8, 3: -0.4, 5: -0.5, 6: -0.2, 7: 0.5, 8: -0.3},
}.items()}
#: Friday and Saturday nights (NOITE or MADRUGADA)
NIGHT_OUT = _row({3: 0.6, 4: 0.3})
#: weekday mornings (MANHA, SEGUNDA..SEXTA)
RUSH_HOUR = _row({8: 0.3})
#: invented: idade < 25, idade >= 60
YOUNG_EFFECT = _row({0: 1.2, 3: 0.4, 8: 0.2})
OLD_EFFECT = _row({0: -1.0, 2: 0.8, 3: -0.5, 7: 0.5})
#: invented: sexo == MULHER
MULHER_EFFECT = _row({2: 0.2, 3: -0.1, 5: 0.1, 8: 0.2})
BAIRRO_NOISE_SD = 0.3
#: every effect above is multiplied by STRENGTH (so the tables read as half-effects)
STRENGTH = 2.0
TRUTH_SEED = 20231


@functools.lru_cache(maxsize=None)
def bairros():
    """bairros.csv as a DataFrame (bairro, distrito, zona, perfil, latitude, longitude, and
    peso: the expected rows among the original project's 51,972 — the published counts for
    REPUBLICA, SE and CAPAO REDONDO, the others a profile weight times a fixed random factor,
    at most 950), with ``key`` (the cleaned name: upper case, no accents) and ``share`` (the
    bairro's share of São Paulo city's rows)."""
    table = pd.read_csv(HERE / "bairros.csv", encoding="utf-8")
    table["key"] = [normalize(b) for b in table["bairro"]]
    table["share"] = table["peso"] / table["peso"].sum()
    assert table["key"].is_unique
    return table


@functools.lru_cache(maxsize=None)
def _bairro_effects():
    table = bairros()
    noise = np.random.default_rng(TRUTH_SEED).normal(0.0, BAIRRO_NOISE_SD, (len(table), N_CLASSES))
    noise[:, 9] = 0.0
    effects = np.stack([PROFILE_EFFECT[p] for p in table["perfil"]]) + noise
    return effects, {k: i for i, k in enumerate(table["key"])}


def _codes(values, vocabulary, normalise=True):
    """Positions of values in vocabulary (-1 for missing or unknown)."""
    if isinstance(values, pd.Series) and isinstance(values.dtype, pd.CategoricalDtype):
        values = values.astype(object)
    values = normalize_series(values) if normalise else pd.Series(values, dtype=object)
    index = {v if not normalise else normalize(v): i for i, v in enumerate(vocabulary)}
    return values.map(index).fillna(-1).to_numpy(dtype=np.int64)


def _logits_without_intercept(frame):
    n = len(frame)
    bairro_effects, bairro_index = _bairro_effects()
    b = _codes(frame["bairro"], list(bairro_index))
    m = _codes(frame["marca"], MARCAS)
    d = _codes(frame["dia"], DIAS)
    p = _codes(frame["periodo"], PERIODOS)
    s = _codes(frame["sexo"], SEXOS)
    age = pd.to_numeric(pd.Series(frame["idade"], copy=False), errors="coerce").to_numpy(dtype=float)

    def pick(table, codes):
        padded = np.vstack([table, np.zeros((1, N_CLASSES))])      # code -1 -> the zero row
        return padded[codes]

    z = pick(bairro_effects, b) + pick(BRAND_EFFECT, m) + pick(DAY_EFFECT, d) + pick(PERIOD_EFFECT, p)
    night = np.isin(p, [0, 3]) & np.isin(d, [4, 5])
    rush = (p == 1) & (d >= 0) & (d <= 4)
    z += night[:, None] * NIGHT_OUT + rush[:, None] * RUSH_HOUR
    with np.errstate(invalid="ignore"):
        z += (age < 25)[:, None] * YOUNG_EFFECT + (age >= 60)[:, None] * OLD_EFFECT
    z += (s == 1)[:, None] * MULHER_EFFECT
    assert z.shape == (n, N_CLASSES)
    return STRENGTH * z


def _softmax(z):
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


@functools.lru_cache(maxsize=None)
def calibrated_intercept(n_draws=200_000):
    """INTERCEPT: the per-class constants that make the classes' shares over the generator's
    feature distribution equal SHARES, found by fixed-point iteration (intercept += log(SHARES
    / mean probability)) on n_draws feature rows drawn with a fixed seed. Cached; deterministic."""
    rng = np.random.default_rng(TRUTH_SEED + 1)
    z = _logits_without_intercept(_draw_features(rng, n_draws))
    e = np.exp(z - z.max(axis=1, keepdims=True))
    intercept = np.log(SHARES)
    for _ in range(1000):
        w = np.exp(intercept)
        mean = w * (e.T @ (1.0 / (e @ w))) / n_draws          # mean softmax(z + intercept)
        step = np.log(SHARES / mean)
        intercept = intercept + step
        intercept -= intercept[9]
        if np.abs(step).max() < 1e-12:
            break
    return intercept


def place_probabilities(frame):
    """The true probability of each of the 10 places (n, 10) for a frame with the model's
    features (bairro, marca, dia, periodo, idade, sexo), as strings/numbers or categories;
    text is matched normalised (case and accents ignored). Missing or unknown values add
    nothing to the logits."""
    return _softmax(_logits_without_intercept(frame) + calibrated_intercept())


def bayes_log_loss(clean_frame):
    """The mean -log(true probability of the observed place) over a cleaned frame
    (clean.clean output: the features and ``local``): the best log loss a model can expect."""
    p = place_probabilities(clean_frame)
    y = np.asarray(clean_frame["local"], dtype=np.int64)
    return float(-np.mean(np.log(p[np.arange(len(y)), y])))


def draw_profiles(n, seed=0):
    """n persons (the model's features: bairro keys, MARCAS, DIAS, PERIODOS names, idade,
    sexo) drawn from the generator's feature distribution in São Paulo city, with nothing
    missing: the fresh profiles on which a model is compared with the truth. Deterministic
    for a seed."""
    return _draw_features(np.random.default_rng(seed), n)


def feature_distribution(field):
    """(values, weights) of one feature in the generator's São Paulo rows (the features are
    drawn independently of each other): bairro keys weighted by their share, MARCAS by
    BRAND_COUNTS, DIAS by weekday_shares(), PERIODOS by PERIOD_COUNTS, SEXOS by P_MULHER, and
    the ages 14..90 with their exact probabilities under 14 + floor(Gamma(3.2, 6.5)), capped
    at 90."""
    if field == "bairro":
        table = bairros()
        return table["key"].to_numpy(), table["share"].to_numpy()
    if field == "marca":
        return np.array(MARCAS, dtype=object), BRAND_COUNTS / BRAND_COUNTS.sum()
    if field == "dia":
        return np.array(DIAS, dtype=object), weekday_shares()
    if field == "periodo":
        return np.array(PERIODOS, dtype=object), PERIOD_COUNTS / PERIOD_COUNTS.sum()
    if field == "sexo":
        return np.array(SEXOS, dtype=object), np.array([1 - P_MULHER, P_MULHER])
    if field == "idade":
        from scipy.special import gammainc

        cdf = gammainc(AGE_SHAPE, np.arange(0, 77) / AGE_SCALE)      # P(Gamma < k), k = 0..76
        weights = np.diff(cdf)                                       # floor(Gamma) = 0..75: ages 14..89
        weights = np.append(weights, 1.0 - cdf[-1])                  # 90: everything from 76 on
        return np.arange(14, 91, dtype=float), weights
    raise ValueError(f"unknown feature {field!r}")


def marginal_probabilities(frame, field):
    """The true place probabilities (n, 10) of persons who leave ``field`` out: for each row
    of ``frame`` (the model's features; the value of ``field`` is ignored),
    place_probabilities averaged over the field's values weighted by feature_distribution
    (the features are independent, so those weights hold for every profile). This is what a
    model should answer for a missing field — not place_probabilities with the field
    missing, which gives it no effect at all."""
    values, weights = feature_distribution(field)
    base = pd.DataFrame({name: np.asarray(frame[name], dtype=object) for name in frame.columns})
    out = np.zeros((len(frame), N_CLASSES))
    if field == "bairro":                     # the bairro's effect only adds its row: no re-parsing
        effects, index = _bairro_effects()
        z = _logits_without_intercept(base.assign(bairro=None)) + calibrated_intercept()
        for value, weight in zip(values, weights):
            out += weight * _softmax(z + STRENGTH * effects[index[value]])
        return out
    if field == "idade":                      # the truth reads an age only as < 25, 25-59, >= 60
        values, weights = np.array([20.0, 40.0, 70.0]), np.array([
            weights[values < 25].sum(), weights[(values >= 25) & (values < 60)].sum(), weights[values >= 60].sum()])
    for value, weight in zip(values, weights):
        out += weight * place_probabilities(base.assign(**{field: value}))
    return out


#: Three persons whose profile makes a rare place likely (the truth's probability of that
#: place, which is the class index given): an office worker in Itaim Bibi (a NEGOCIOS
#: bairro; Escritórios 9.7%), a 72-year-old in Cerqueira César (HOSPITALAR, and OLD_EFFECT;
#: Saúde 24.3%), a student in Butantã (UNIVERSITARIO, and YOUNG_EFFECT; Escolas 7.9%).
RARE_PLACE_PERSONS = [
    ({"bairro": "ITAIM BIBI", "marca": "Apple", "dia": "QUARTA", "periodo": "TARDE", "idade": 35,
      "sexo": "MULHER"}, 1),
    ({"bairro": "CERQUEIRA CESAR", "marca": "Motorola", "dia": "TERCA", "periodo": "MANHA", "idade": 72,
      "sexo": "HOMEM"}, 2),
    ({"bairro": "BUTANTA", "marca": "Apple", "dia": "QUINTA", "periodo": "MANHA", "idade": 20,
      "sexo": "MULHER"}, 0),
]


# ---------------------------------------------------------------------------------------------
# the sample

#: The default years of generate(): the one file of 2023.
YEARS = (2023,)
_WEEKDAY_OF_2023 = (pd.date_range("2023-01-01", "2023-12-31").day_of_week.to_numpy())   # Monday = 0


def weekday_shares():
    """The weekday distribution of the generated reports (Monday first): the weekdays of 2023's
    dates weighted by WEEKDAY_WEIGHTS — part of the features' distribution, so the same
    whatever years generate() spreads the dates over."""
    counts = np.bincount(_WEEKDAY_OF_2023, minlength=7) * WEEKDAY_WEIGHTS
    return counts / counts.sum()


def _draw_features(rng, n):
    """n rows of the model's features from the generator's (independent) distributions."""
    table = bairros()
    return pd.DataFrame({
        "bairro": table["key"].to_numpy()[rng.choice(len(table), n, p=table["share"].to_numpy())],
        "marca": np.array(MARCAS, dtype=object)[rng.choice(len(MARCAS), n, p=BRAND_COUNTS / BRAND_COUNTS.sum())],
        "dia": np.array(DIAS, dtype=object)[rng.choice(7, n, p=weekday_shares())],
        "periodo": np.array(PERIODOS, dtype=object)[rng.choice(4, n, p=PERIOD_COUNTS / PERIOD_COUNTS.sum())],
        "idade": _draw_ages(rng, n),
        "sexo": np.where(rng.random(n) < P_MULHER, "MULHER", "HOMEM").astype(object),
    })


def _draw_ages(rng, n):
    return np.minimum(14 + np.floor(rng.gamma(AGE_SHAPE, AGE_SCALE, n)), 90).astype(float)


def _sample_classes(rng, p):
    """One class per row of the probability matrix p (inverse-CDF, vectorised)."""
    cdf = np.cumsum(p, axis=1)
    u = rng.random(len(p))[:, None] * cdf[:, -1:]
    return np.minimum((u >= cdf).sum(axis=1), p.shape[1] - 1)


# The other cities of the state (name, latitude, longitude, relative weight) and some of
# their bairros (names shared with São Paulo's on purpose: only CIDADE tells them apart).
OTHER_CITIES = [
    ("Guarulhos", -23.4538, -46.5333, 9), ("Campinas", -22.9056, -47.0608, 9),
    ("São Bernardo do Campo", -23.6914, -46.5646, 6), ("Santo André", -23.6639, -46.5383, 6),
    ("Osasco", -23.5329, -46.7917, 6), ("Sorocaba", -23.5015, -47.4526, 4),
    ("Ribeirão Preto", -21.1775, -47.8103, 4), ("Santos", -23.9608, -46.3336, 4),
    ("Mauá", -23.6677, -46.4613, 3), ("São José dos Campos", -23.1896, -45.8841, 4),
    ("Mogi das Cruzes", -23.5229, -46.1880, 3), ("Diadema", -23.6813, -46.6205, 3),
    ("Jundiaí", -23.1857, -46.8978, 3), ("Carapicuíba", -23.5235, -46.8407, 3),
    ("Piracicaba", -22.7338, -47.6476, 2), ("Bauru", -22.3246, -49.0871, 2),
    ("Itaquaquecetuba", -23.4864, -46.3484, 2), ("São Vicente", -23.9631, -46.3919, 2),
    ("Taboão da Serra", -23.6019, -46.7526, 2), ("Barueri", -23.5057, -46.8790, 2),
    ("Praia Grande", -24.0058, -46.4028, 2), ("Suzano", -23.5448, -46.3112, 2),
    ("Embu das Artes", -23.6437, -46.8579, 2), ("Guarujá", -23.9888, -46.2560, 2),
    ("São José do Rio Preto", -20.8113, -49.3758, 2),
]
OTHER_BAIRROS = ["Centro", "Jardim América", "Vila Nova", "Jardim Santa Maria", "Parque Industrial",
                 "Vila Rica", "Jardim Paulista", "Vila Galvão", "Jardim Bela Vista", "Vila São João"]
SAO_PAULO_SPELLINGS = (["S.PAULO", "São Paulo", "SAO PAULO"], [0.9, 0.07, 0.03])

PERIOD_TEXT = ["De madrugada", "Pela manhã", "A tarde", "A noite"]
UNCERTAIN_TEXT = "Em hora incerta"
RUBRICS_ROUBO = (["Roubo (art. 157)"], [1.0])
RUBRICS_FURTO = (["Furto (art. 155)", "Furto qualificado (art. 155, §4o.)"], [0.8, 0.2])
RUBRICS_OTHER = (["Perda/Extravio", "Localização/Apreensão de objeto", "Receptação (art. 180)",
                  "Estelionato (art. 171)"], [0.5, 0.25, 0.15, 0.10])
# Real capital police stations (number and name); a bairro's reports go to one of them.
DELEGACIAS = [
    "01º D.P. SE", "02º D.P. BOM RETIRO", "03º D.P. CAMPOS ELISEOS", "04º D.P. CONSOLACAO",
    "05º D.P. ACLIMACAO", "06º D.P. CAMBUCI", "07º D.P. LAPA", "08º D.P. BRAS", "09º D.P. CARANDIRU",
    "10º D.P. PENHA DE FRANCA", "11º D.P. SANTO AMARO", "12º D.P. PARI", "13º D.P. CASA VERDE",
    "14º D.P. PINHEIROS", "15º D.P. ITAIM BIBI", "16º D.P. VILA CLEMENTINO", "17º D.P. IPIRANGA",
    "18º D.P. ALTO DA MOOCA", "19º D.P. VILA MARIA", "20º D.P. AGUA FRIA", "21º D.P. VILA MATILDE",
    "22º D.P. SAO MIGUEL PAULISTA", "23º D.P. PERDIZES", "24º D.P. PONTE RASA", "25º D.P. PARELHEIROS",
    "26º D.P. SACOMA", "27º D.P. CAMPO BELO", "28º D.P. FREGUESIA DO O", "30º D.P. TATUAPE",
    "31º D.P. VILA CARRAO", "32º D.P. ITAQUERA", "33º D.P. PIRITUBA", "34º D.P. VILA SONIA",
    "35º D.P. JABAQUARA", "36º D.P. VILA MARIANA", "37º D.P. CAMPO LIMPO", "39º D.P. VILA GUSTAVO",
    "42º D.P. PARQUE SAO LUCAS", "43º D.P. CIDADE ADEMAR", "44º D.P. GUAIANAZES",
    "45º D.P. VILA BRASILANDIA", "46º D.P. PERUS", "47º D.P. CAPAO REDONDO", "48º D.P. CIDADE DUTRA",
    "49º D.P. SAO MATEUS", "50º D.P. ITAIM PAULISTA",
]
SECCIONAIS = {"Centro": "DEL.SEC.1º CENTRO", "Sul": "DEL.SEC.2º SUL", "Oeste": "DEL.SEC.3º OESTE",
              "Norte": "DEL.SEC.4º NORTE", "Leste": "DEL.SEC.5º LESTE"}
STREETS = ["Rua Augusta", "Avenida Paulista", "Rua da Consolação", "Avenida Ipiranga", "Rua 25 de Março",
           "Avenida São João", "Rua Vergueiro", "Avenida Brigadeiro Faria Lima", "Estrada do M'Boi Mirim",
           "Avenida Sapopemba", "Rua Teodoro Sampaio", "Avenida Rebouças", "Avenida Santo Amaro",
           "Rua Domingos de Morais", "Avenida Celso Garcia", "Avenida Inajar de Souza", "Rua Voluntários da Pátria",
           "Avenida Cupecê", "Avenida Radial Leste", "Rua Cardeal Arcoverde", "Avenida Cruzeiro do Sul",
           "Estrada de Itapecerica", "Avenida Jabaquara", "Rua Oscar Freire", "Avenida Aricanduva"]
CONDUTA = ["Transeunte", "Transeunte", "Transeunte", "Interior de estabelecimento", "Interior de estabelecimento",
           "Interior de veículo", "Interior de estabelecimento", "Residência", "Interior de transporte coletivo",
           "Transeunte"]


def _pick(rng, choices, n):
    values, weights = choices
    weights = np.asarray(weights, dtype=float)
    return np.asarray(values, dtype=object)[rng.choice(len(values), n, p=weights / weights.sum())]


def _variants(names, rng, n_rows, codes):
    """Spell each bairro as people type it: as written (70%), upper case (15%), upper case
    without accents (10%), lower case or with stray spaces (5%)."""
    names = np.asarray(names, dtype=object)
    upper = np.array([s.upper() for s in names], dtype=object)
    plain = np.array([normalize(s) for s in names], dtype=object)
    lower = np.array([s.lower() for s in names], dtype=object)
    spaced = np.array([f" {s}  " for s in names], dtype=object)
    table = np.stack([names, upper, plain, lower, spaced], axis=1)
    kind = rng.choice(5, n_rows, p=[0.70, 0.15, 0.10, 0.025, 0.025])
    return table[codes, kind]


def generate(n_rows=N_ROWS, seed=0, years=YEARS):
    """A synthetic "Celulares Subtraídos" file: a DataFrame of n_rows rows with the SSP-SP
    column names (strings, floats and NaN as a CSV would read). Deterministic for a seed.
    See the module docstring for what it contains and the planted truth.

    ``years`` (default (2023,)): the years the occurrence dates are spread over, e.g.
    (2021, 2022, 2023) for the files of three years concatenated. n_rows counts all of them
    (pass len(years) * N_ROWS for three full files); a report's date is drawn uniformly among
    the dates of those years that fall on its weekday, and ANO_BO / ANO_ESTATISTICA are that
    date's year. The features' distribution (the weekday's included) and the truth are the
    same whatever the years, and the default draws exactly what it drew before there was
    this argument."""
    if n_rows < 1:
        raise ValueError("n_rows must be at least 1")
    years = sorted({int(y) for y in years})
    if not years:
        raise ValueError("years must name at least one year")
    dates = pd.date_range(f"{years[0]}-01-01", f"{years[-1]}-12-31")
    in_years = np.isin(dates.year.to_numpy(), years)
    weekday_of = dates.day_of_week.to_numpy()
    rng = np.random.default_rng(seed)
    # rows -> reports: a row continues the previous row's report with probability P_EXTRA_ROW
    new_report = rng.random(n_rows) >= P_EXTRA_ROW
    new_report[0] = True
    report = np.cumsum(new_report) - 1
    n_rep = int(report[-1]) + 1
    first_row = np.flatnonzero(new_report)                         # each report's first row

    # --- report level
    in_sp = rng.random(n_rep) < P_SAO_PAULO
    sp = np.flatnonzero(in_sp)
    other = np.flatnonzero(~in_sp)
    table = bairros()
    feats = _draw_features(rng, n_rep)                             # the model's features per report
    brands_row = np.array(MARCAS, dtype=object)[rng.choice(len(MARCAS), n_rows, p=BRAND_COUNTS / BRAND_COUNTS.sum())]
    brands_row[first_row] = feats["marca"].to_numpy()             # the row clean() keeps carries it
    feats["marca"] = brands_row[first_row]

    # place: the truth in São Paulo; the prior elsewhere
    p = np.tile(SHARES, (n_rep, 1))
    if len(sp):
        p[sp] = place_probabilities(feats.iloc[sp])
    place = _sample_classes(rng, p)

    # bairro text and coordinates
    bairro_code = np.full(n_rep, -1)
    key_to_code = {k: i for i, k in enumerate(table["key"])}
    bairro_code[sp] = feats["bairro"].iloc[sp].map(key_to_code).to_numpy()
    bairro_text = np.empty(n_rep, dtype=object)
    bairro_text[sp] = _variants(table["bairro"].to_numpy(), rng, len(sp), bairro_code[sp])
    bairro_text[other] = np.asarray(OTHER_BAIRROS, dtype=object)[rng.integers(0, len(OTHER_BAIRROS), len(other))]
    city_code = rng.choice(len(OTHER_CITIES), n_rep, p=np.array([c[3] for c in OTHER_CITIES]) / sum(c[3] for c in OTHER_CITIES))
    city_text = np.asarray([c[0] for c in OTHER_CITIES], dtype=object)[city_code]
    city_text[sp] = _pick(rng, SAO_PAULO_SPELLINGS, len(sp))
    municipio = np.asarray([c[0] for c in OTHER_CITIES], dtype=object)[city_code]
    municipio[sp] = "São Paulo"
    lat = np.array([c[1] for c in OTHER_CITIES])[city_code] + rng.normal(0, 0.02, n_rep)
    lon = np.array([c[2] for c in OTHER_CITIES])[city_code] + rng.normal(0, 0.02, n_rep)
    lat[sp] = table["latitude"].to_numpy()[bairro_code[sp]] + rng.normal(0, 0.004, len(sp))
    lon[sp] = table["longitude"].to_numpy()[bairro_code[sp]] + rng.normal(0, 0.004, len(sp))
    lat, lon = np.round(lat, 6), np.round(lon, 6)
    zero = rng.random(n_rep) < P_MISSING["COORD_ZERO"]
    lat[zero] = lon[zero] = 0.0
    gone = rng.random(n_rep) < P_MISSING["COORD"]
    lat[gone] = lon[gone] = np.nan

    # police station
    zona = np.asarray(table["zona"].to_numpy(), dtype=object)
    delegacia = np.empty(n_rep, dtype=object)
    delegacia[sp] = np.asarray(DELEGACIAS, dtype=object)[bairro_code[sp] % len(DELEGACIAS)]
    station = rng.integers(1, 6, n_rep)
    city_keys = [normalize(c[0]) for c in OTHER_CITIES]
    station_names = np.array([[f"{k:02d}º D.P. {c}" for k in range(6)] for c in city_keys], dtype=object)
    delegacia[other] = station_names[city_code[other], station[other]]
    seccional = np.empty(n_rep, dtype=object)
    seccional[sp] = np.asarray([SECCIONAIS[z] for z in zona], dtype=object)[bairro_code[sp]]
    seccional[other] = np.asarray([f"DEL.SEC. {c}" for c in city_keys], dtype=object)[city_code[other]]
    departamento = np.where(in_sp, "DECAP", "DEINTER").astype(object)
    id_delegacia = np.where(in_sp, 10000 + bairro_code % len(DELEGACIAS), 20000 + city_code * 10 + station)
    num = rng.choice(26 * 26 * 10000, n_rep, replace=False)        # unique report numbers
    letters = np.array([chr(65 + i) for i in range(26)], dtype=object)
    num_bo = letters[num // 260000] + letters[(num // 10000) % 26] + np.char.zfill((num % 10000).astype(str), 4).astype(object)

    # rubric
    kind = rng.random(n_rep)
    rubrica = np.empty(n_rep, dtype=object)
    is_other = kind < P_OTHER_RUBRIC
    is_roubo = ~is_other & (rng.random(n_rep) < ROUBO / (ROUBO + FURTO))
    is_furto = ~is_other & ~is_roubo
    rubrica[is_other] = _pick(rng, RUBRICS_OTHER, int(is_other.sum()))
    rubrica[is_roubo] = _pick(rng, RUBRICS_ROUBO, int(is_roubo.sum()))
    rubrica[is_furto] = _pick(rng, RUBRICS_FURTO, int(is_furto.sum()))

    # date and time; the weekday follows the drawn dia, the date any of the years' dates on it
    dia = _codes(feats["dia"], DIAS, normalise=False)
    day = np.empty(n_rep, dtype=np.int64)                          # index into dates
    for d in range(7):
        rows = np.flatnonzero(dia == d)
        days = np.flatnonzero((weekday_of == d) & in_years)
        day[rows] = days[rng.integers(0, len(days), len(rows))]
    day_text = np.asarray(pd.date_range(dates[0], dates[-1] + pd.Timedelta(days=3)).strftime("%d/%m/%Y"),
                          dtype=object)
    date_text = day_text[day]
    comunicacao_text = day_text[day + rng.choice(4, n_rep, p=[0.6, 0.25, 0.1, 0.05])]
    month = dates.month.to_numpy()[day]
    year = dates.year.to_numpy().astype(np.int64)[day]
    periodo = _codes(feats["periodo"], PERIODOS, normalise=False)
    minute = _draw_minutes(rng, periodo)
    hour_text = np.asarray([f"{m // 60:02d}:{m % 60:02d}" for m in range(1440)], dtype=object)[minute]
    period_text = np.asarray(PERIOD_TEXT, dtype=object)[periodo]

    # place text
    tipo, subtipo = _place_text(rng, place)
    unclassified = rng.random(n_rep) < P_MISSING["UNCLASSIFIED"]
    u = rng.integers(0, len(UNCLASSIFIED), int(unclassified.sum()))
    tipo[unclassified] = np.asarray([t for t, _ in UNCLASSIFIED], dtype=object)[u]
    subtipo[unclassified] = np.asarray([s for _, s in UNCLASSIFIED], dtype=object)[u]

    # missing values (report level)
    def drop(values, rate, fill=None):
        mask = rng.random(n_rep) < rate
        values[mask] = fill
        return mask

    drop(bairro_text, P_MISSING["BAIRRO"])
    drop(date_text, P_MISSING["DATA"])
    no_hour = drop(hour_text, P_MISSING["HORA"])
    uncertain = no_hour & (rng.random(n_rep) < P_HOUR_UNCERTAIN)
    period_text[uncertain] = UNCERTAIN_TEXT
    drop(subtipo, P_MISSING["SUBTIPO"])
    idade = feats["idade"].to_numpy().copy()
    idade[rng.random(n_rep) < P_MISSING["IDADE"]] = np.nan
    sexo = np.where(feats["sexo"].to_numpy() == "MULHER", "F", "M").astype(object)
    drop(sexo, P_MISSING["SEXO"])
    street = np.asarray(STREETS, dtype=object)[rng.integers(0, len(STREETS), n_rep)]
    numero = rng.integers(1, 4000, n_rep).astype(float)
    numero[rng.random(n_rep) < 0.2] = np.nan

    # --- row level
    marca = brands_row.copy()
    shout = rng.random(n_rows) < 0.05                              # some brands typed in upper case
    marca[shout] = np.asarray([m.upper() for m in MARCAS], dtype=object)[_codes(marca[shout], MARCAS)]
    marca[rng.random(n_rows) < P_MISSING["MARCA"]] = None
    r = report
    out = pd.DataFrame({
        "ID_DELEGACIA": id_delegacia[r],
        "NOME_DEPARTAMENTO": departamento[r],
        "NOME_SECCIONAL": seccional[r],
        "NOME_DELEGACIA": delegacia[r],
        "CIDADE": city_text[r],
        "ANO_BO": year[r],
        "NUM_BO": num_bo[r],
        "NOME_MUNICIPIO": municipio[r],
        "DATA_COMUNICACAO_BO": comunicacao_text[r],
        "DATA_OCORRENCIA_BO": date_text[r],
        "HORA_OCORRENCIA": hour_text[r],
        "DESCR_PERIODO": period_text[r],
        "DESCR_TIPOLOCAL": tipo[r],
        "DESCR_SUBTIPOLOCAL": subtipo[r],
        "BAIRRO": bairro_text[r],
        "LOGRADOURO": street[r],
        "NUMERO_LOGRADOURO": numero[r],
        "LATITUDE": lat[r],
        "LONGITUDE": lon[r],
        "RUBRICA": rubrica[r],
        "DESCR_CONDUTA": np.asarray(CONDUTA, dtype=object)[place][r],
        "NATUREZA_APURADA": rubrica[r],
        "MES_ESTATISTICA": month[r],
        "ANO_ESTATISTICA": year[r],
        "DESCR_TIPO_OBJETO": np.full(n_rows, "Telefone", dtype=object),
        "DESCR_SUBTIPO_OBJETO": np.full(n_rows, "Celular", dtype=object),
        "QUANTIDADE_OBJETO": np.ones(n_rows, dtype=np.int64),
        "MARCA_OBJETO": marca,
        "IDADE": idade[r],          # synthetic: the real 2023 file has no age
        "SEXO": sexo[r],            # synthetic: the real 2023 file has no sex
    })
    out = out.astype({c: object for c in out.columns if out[c].dtype == object})
    return out


def _draw_minutes(rng, periodo):
    """Minute of the day for each report, inside its period (00:00-06:00 MADRUGADA,
    06:01-12:00 MANHA, 12:01-18:00 TARDE, 18:01-23:59 NOITE). Reported times cluster on the
    hour and half hour, so the boundary minutes 06:00, 12:00 and 18:00 are common."""
    minute = np.arange(1440)
    hour_weight = np.array([6, 5, 4, 3, 3, 4, 5, 7, 8, 7, 6, 6, 7, 7, 7, 7, 8, 9, 10, 11, 11, 10, 9, 8], float)
    shape = hour_weight[minute // 60] * np.where(minute % 60 == 0, 8.0, np.where(minute % 30 == 0, 4.0,
                                                np.where(minute % 5 == 0, 1.5, 0.4)))
    bounds = [(0, 360), (361, 720), (721, 1080), (1081, 1439)]
    out = np.empty(len(periodo), dtype=np.int64)
    for k, (lo, hi) in enumerate(bounds):
        rows = np.flatnonzero(periodo == k)
        w = shape[lo:hi + 1]
        out[rows] = lo + rng.choice(len(w), len(rows), p=w / w.sum())
    return out


def _place_text(rng, place):
    tipo = np.empty(len(place), dtype=object)
    subtipo = np.empty(len(place), dtype=object)
    for k in range(N_CLASSES):
        rows = np.flatnonzero(place == k)
        options = [(t, s, w) for t, s, c, w in PLACES if c == k]
        w = np.array([o[2] for o in options])
        pick = rng.choice(len(options), len(rows), p=w / w.sum())
        tipo[rows] = np.asarray([o[0] for o in options], dtype=object)[pick]
        subtipo[rows] = np.asarray([o[1] for o in options], dtype=object)[pick]
    return tipo, subtipo
