"""Synthetic bank transactions: stable customers, honest behaviour, labelled fraud.

    frame = generate(n_customers=5_000, days=70, seed=0)        # one DataFrame, sorted by time
    write(frame, "out/", formats=("parquet", "jsonl", "csv"))   # partitioned by day
    generate_to("out/", n_customers=200_000, days=365)           # any size, block by block

Everything is drawn from numpy generators seeded by (seed, block of BLOCK = 5,000 customers):
the same arguments give the same rows on every machine, and ``generate_to`` writes exactly the
rows ``generate`` returns.

Customers (``customers()``; the persona is the generator's truth, never a model input)
----------------------------------------------------------------------------------------
Each customer has a persona (PERSONA_SHARES: estudante, jovem_profissional, familia,
aposentado, alta_renda, comerciante) that draws an age, an income band and a monthly income,
a home city (CIDADES, weighted by population), an account type, the hours at which they are
active (the peak moves from about 21 h at 18 years old to about 14 h at 80, and the spread
narrows with age), a rate of transactions per day, a mix of transaction types and of
categories (Dirichlet around the persona's), a typical amount per category (scaled by
income), how often they pay by credit card and by phone, one or two phones, two to eight
regular beneficiaries, a payday (merchants have none: their income is card-machine sales),
trips, and for 15% of them a new phone bought during the period.

Honest transactions
-------------------
Per customer and day a Poisson number of transactions (rate x weekday factor; x1.8 on the
payday and the two days after). Each draws its hour from the customer's hours, its type and
category from the customer's mixes, its amount log-normally around the customer's typical
amount (sd 0.6 in logs), its place from the home city (or the trip's city on trip days, when
a purchase is a Viagens one a third of the time), jittered by about 3 km. On the payday the
salary arrives (TED or Pix Receber, 6-10 h) and one to a few bills are paid within the next
hour and a half, to known beneficiaries (5% to a new one) — a honest burst. A purchase is 5-20 times its usual
amount with probability 0.4% (a honest big purchase). Transfers go to a new beneficiary 12% of
the time. On 1% of customer-days a burst of 3-8 small purchases (R$3-25) within minutes (a
street market, transit); on the day a customer starts using a new phone, a third of the time
2-4 Pix to people never paid before (a bill split). These are the look-alikes no single rule
separates from fraud: trips (far from home, later hours), big purchases, payday bursts, small
bursts, new phones paying new people, young night owls.

Fraud (``padrao_fraude``; ``fraude`` = 1)
------------------------------------------
Events are placed at random customers and times (from day 3 on), in numbers that make
``fraud_rate`` of the transactions fraudulent (default 0.2%: real card-fraud rates are a
fraction of a percent). Each event's transactions are all labelled with its pattern:

* ``account_takeover`` (25% of events): a device the customer never used, half of the time in
  another city, half of the time at night; 3-9 Pix/TED transfers 20 s to 4 min apart to new
  beneficiaries (mules, sometimes repeated), each 15-50% of the monthly income: the balance
  often runs out and the later ones are refused;
* ``card_testing`` (12%): 6-18 card purchases of R$1-12, 3-45 s apart, no phone, then half of
  the time one purchase of R$400-3,000 in Eletrônicos;
* ``far_from_home`` (33%): 1-4 card purchases in a city at least 300 km away, 60% of the time
  at the customer's least usual hours (else at usual ones), 2-6 times their typical amount;
* ``amount_spike`` (30%): one or two purchases or transfers of 8-30 times the customer's
  typical amount, at home and at usual hours — the hardest pattern.

Amounts and balances
--------------------
Amounts are whole cents. Outgoing transactions (Pix Enviar, TED Enviar, Compra Cartão) cost
``valor_transacao + valor_taxa``, are refused (``status_transacao`` "Recusada", balance
unchanged) when that exceeds the balance, so a balance is never negative; ``saldo`` is the
balance after the transaction. Fees (``valor_taxa``, shown on every row, charged only when the
transaction is Concluída): R$1.00-4.80 on TED Enviar (the original
project's range) and on Venda Maquininha (the machine's fee, taken from the sale); 0 on the
others (Pix is free for people, card purchases are charged to the shop). Pix and TED record
``metodo_pagamento`` "Dinheiro" (account money: the original's vocabulary has no other value
for it); card purchases and machine sales a credit or debit card.

The original's anomaly rule (``anomalies=True``, the default)
------------------------------------------------------------
Each transaction has a 0.5% chance of an anomalous amount, uniform in R$1,000-4,000 (the
original README's range; its code drew 1,000-2,000), with ``descricao`` "Desconhecido" and
``anomalia`` = 1. It is unlabelled noise: ``fraude`` stays 0 unless the transaction was already
part of a fraud event.
"""
import argparse
import datetime as dt
import json
import os
import pathlib
import sys
import time

import numpy as np
import pandas as pd

from .constants import CATEGORIAS, CIDADES, FAIXAS_RENDA, PADROES, PERSONAS, SAIDAS, TIPOS_CONTA, TRANSACOES

N_CUSTOMERS = 5_000
DAYS = 70
START = "2026-01-05"  # a Monday
FRAUD_RATE = 0.002
ANOMALY_RATE = 0.005
ANOMALY_RANGE = (1_000.0, 4_000.0)
#: Customers generated together; blocks are independent (seeded by (seed, block)).
BLOCK = 5_000
#: Local time of the bank (America/Sao_Paulo, UTC-3 all year since 2019).
TZ = dt.timezone(dt.timedelta(hours=-3))

COLUMNS = ["id_transacao", "id_cliente", "timestamp", "data", "horario", "cidade", "estado", "latitude",
           "longitude", "localizacao", "transacao", "valor_transacao", "valor_taxa", "saldo", "status_transacao",
           "tipo_conta", "categoria_transacao", "metodo_pagamento", "id_dispositivo", "id_beneficiario",
           "descricao", "anomalia", "fraude", "padrao_fraude"]

# ---------------------------------------------------------------------------------------------
# personas (index order of PERSONAS)

PERSONA_SHARES = [0.14, 0.22, 0.26, 0.16, 0.12, 0.10]
AGE_RANGE = [(18, 26), (23, 36), (30, 56), (60, 88), (32, 68), (25, 62)]
INCOME_BAND_P = [[.70, .27, .03, .00], [.20, .55, .22, .03], [.30, .50, .17, .03], [.40, .45, .12, .03],
                 [.00, .00, .45, .55], [.20, .50, .25, .05]]
INCOME = [1_800.0, 4_500.0, 12_000.0, 35_000.0]  # monthly, per band
RATE = [1.6, 2.6, 2.8, 1.2, 3.2, 6.0]  # transactions a day
#: Mix of TRANSACOES per persona.
TYPE_MIX = [[.15, .25, .01, .01, .58, .00], [.08, .25, .02, .04, .61, .00], [.06, .25, .02, .07, .60, .00],
            [.05, .20, .03, .07, .65, .00], [.05, .20, .03, .10, .62, .00], [.05, .12, .02, .04, .17, .60]]
#: Mix of CATEGORIAS per persona (purchases and transfers sent).
CATEGORY_MIX = [[.35, .12, .03, .08, .12, .08, .12, .10], [.28, .12, .08, .10, .12, .10, .10, .10],
                [.40, .15, .04, .06, .15, .04, .04, .12], [.45, .08, .06, .03, .10, .02, .02, .24],
                [.22, .14, .20, .10, .14, .08, .06, .06], [.30, .08, .03, .08, .08, .03, .10, .30]]
#: Typical purchase per category for a "media" income (R$); scaled by INCOME / 4,500 ** 0.7.
CATEGORY_AMOUNT = [45.0, 120.0, 400.0, 350.0, 150.0, 90.0, 250.0, 80.0]
#: Typical amount per transaction type when it is not a purchase (R$, "media" income).
TYPE_AMOUNT = [120.0, 150.0, 500.0, 600.0, 0.0, 40.0]
TRIPS = [0.3, 0.8, 0.5, 0.4, 1.5, 0.3]  # per 70 days
WEEKDAY = [1.0, 0.95, 0.95, 1.0, 1.25, 1.15, 0.7]  # Monday first
PAYDAYS = [5, 10, 15, 20, 25, 28]

# fraud events: share of events, and how many transactions each makes on average
PATTERN_SHARES = [0.25, 0.12, 0.33, 0.30]
PATTERN_MEAN_LENGTH = [6.0, 12.5, 2.5, 1.2]


def _hex_ids(rng, prefix, n):
    return [f"{prefix}{v:010x}" for v in rng.integers(0, 1 << 40, size=n)]


def _choice_rows(rng, cumulative, rows):
    """One draw per row from per-row categorical distributions (rows of cumulative sums)."""
    u = rng.random(len(rows))
    return (u[:, None] > cumulative[rows]).sum(axis=1)


def customers(n_customers=N_CUSTOMERS, seed=0, first_index=0, days=DAYS, rng=None):
    """The customers' profiles, one row per customer (``id_cliente`` C0000001...)."""
    rng = rng if rng is not None else np.random.default_rng([seed, first_index // BLOCK])
    n = n_customers
    persona = rng.choice(len(PERSONAS), size=n, p=PERSONA_SHARES)
    lo, hi = np.array(AGE_RANGE).T
    age = (lo[persona] + rng.random(n) * (hi[persona] - lo[persona])).astype(int)
    band = _choice_rows(rng, np.cumsum(INCOME_BAND_P, axis=1), persona)
    income = np.round(np.array(INCOME)[band] * rng.lognormal(0.0, 0.3, n), 2)
    population = np.array([c[4] for c in CIDADES], dtype=float)
    home = rng.choice(len(CIDADES), size=n, p=population / population.sum())
    account_p = np.where(persona[:, None] == 3, [0.45, 0.5, 0.05], [0.85, 0.1, 0.05])
    account_p = np.where((band >= 2)[:, None], [0.6, 0.1, 0.3], account_p)
    account = _choice_rows(rng, np.cumsum(account_p, axis=1), np.arange(n))
    peak = 21.0 - 0.12 * (age - 18) + rng.normal(0, 1.5, n)
    spread = np.clip(3.5 - 0.02 * (age - 18) + rng.normal(0, 0.3, n), 1.5, 4.5)
    rate = np.array(RATE)[persona] * rng.lognormal(0, 0.35, n)
    type_mix = np.array(TYPE_MIX)[persona]
    category_mix = np.vstack([rng.dirichlet(40 * np.array(CATEGORY_MIX[p])) for p in persona])
    scale = (income / 4_500.0) ** 0.7
    typical = np.array(CATEGORY_AMOUNT)[None, :] * scale[:, None] * rng.lognormal(0, 0.25, (n, len(CATEGORIAS)))
    # Spending follows income: the expected money out (purchases, transfers, the payday bills)
    # is 75-98% of the expected money in, so balances drift but rarely run dry.
    lognormal_mean = np.exp(0.6 ** 2 / 2)
    per_day = rate * np.mean(WEEKDAY) * 1.08
    purchases = type_mix[:, 4] * (category_mix * typical).sum(axis=1) * (1 + 0.004 * 11.5)
    transfers = type_mix[:, 1] * TYPE_AMOUNT[1] * scale + type_mix[:, 3] * TYPE_AMOUNT[3] * scale
    bills = (2.5 / 30) * 1.5 * (0.75 * TYPE_AMOUNT[1] + 0.25 * TYPE_AMOUNT[3]) * scale
    money_out = 30 * (per_day * (purchases + transfers) * lognormal_mean + bills)
    money_in = (np.where(persona == 5, 0.0, income)
                + 30 * per_day * lognormal_mean * (type_mix[:, 0] * TYPE_AMOUNT[0] * scale
                                                   + type_mix[:, 2] * TYPE_AMOUNT[2] * scale
                                                   + type_mix[:, 5] * TYPE_AMOUNT[5]))
    spend = rng.uniform(0.75, 0.98, n) * money_in / money_out
    typical = typical * spend[:, None]
    p_credit = np.clip(0.25 + 0.15 * band - 0.004 * (age - 40) + rng.normal(0, 0.1, n), 0.05, 0.95)
    p_phone = np.clip(0.75 - 0.012 * (age - 18) + rng.normal(0, 0.1, n), 0.03, 0.9)
    n_devices = 1 + (rng.random(n) < 0.2)
    devices = np.array(_hex_ids(rng, "D", 2 * n), dtype=object).reshape(n, 2)
    new_phone_day = np.where(rng.random(n) < 0.15, rng.integers(1, max(days, 2), n), -1)
    new_phone = np.array(_hex_ids(rng, "D", n), dtype=object)
    payday = np.where(persona == 5, 0, np.array(PAYDAYS)[rng.integers(0, len(PAYDAYS), n)])
    trips = rng.poisson(np.array(TRIPS)[persona] * days / 70.0)
    ids = [f"C{first_index + i + 1:07d}" for i in range(n)]
    frame = pd.DataFrame({
        "id_cliente": ids, "persona": np.array(PERSONAS, dtype=object)[persona], "idade": age,
        "faixa_renda": np.array(FAIXAS_RENDA, dtype=object)[band], "renda_mensal": income,
        "cidade": [CIDADES[h][0] for h in home], "estado": [CIDADES[h][1] for h in home],
        "tipo_conta": np.array(TIPOS_CONTA, dtype=object)[account], "dia_pagamento": payday,
        "hora_pico": np.round(peak % 24, 2), "n_dispositivos": n_devices, "viagens": trips,
    })
    # The rest of the profile stays in attrs (arrays the transaction draws read).
    frame.attrs.update(persona=persona, band=band, home=home, peak=peak, spread=spread, rate=rate,
                       type_mix=type_mix, category_mix=category_mix, typical=typical, p_credit=p_credit,
                       p_phone=p_phone, devices=devices, n_devices=n_devices, new_phone_day=new_phone_day,
                       new_phone=new_phone, beneficiaries=rng.integers(2, 9, n), trips=trips,
                       scale=scale, spend=spend, first_index=first_index)
    return frame


# ---------------------------------------------------------------------------------------------
# transactions


def _distance_km(lat1, lon1, lat2, lon2):
    p1, p2 = np.radians(lat1), np.radians(lat2)
    a = np.sin((p2 - p1) / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(np.radians(lon2 - lon1) / 2) ** 2
    return 2 * 6371.0 * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


class _Rows:
    """Columns of transactions being drawn, appended event kind by event kind."""

    FIELDS = ("customer", "second", "kind", "category", "cents", "city", "device", "beneficiary", "credit",
              "fraud", "pattern")

    def __init__(self):
        self.parts = {f: [] for f in self.FIELDS}

    def add(self, **columns):
        n = len(columns["customer"])
        for f in self.FIELDS:
            value = columns.get(f)
            if value is None:
                value = np.full(n, None, dtype=object) if f in ("device", "beneficiary") else np.zeros(n, dtype=np.int64)
            self.parts[f].append(np.asarray(value) if f not in ("device", "beneficiary") else np.asarray(value, dtype=object))

    def columns(self):
        return {f: np.concatenate(v) if v else np.zeros(0, dtype=object if f in ("device", "beneficiary") else np.int64)
                for f, v in self.parts.items()}


def _trip_city(rng, home, size):
    tourism = np.array([c[5] for c in CIDADES], dtype=float)
    out = np.empty(size, dtype=np.int64)
    for i in range(size):
        w = tourism.copy()
        w[home[i]] = 0
        out[i] = rng.choice(len(CIDADES), p=w / w.sum())
    return out


def _amount_cents(rng, typical):
    return np.maximum(100, np.round(typical * rng.lognormal(0.0, 0.6, len(typical)) * 100)).astype(np.int64)


def _honest(rng, profile, days, start):
    """Everyday transactions, salaries with their bills, trips, big purchases, new phones."""
    a = profile.attrs
    n = len(profile)
    weekday = np.array([WEEKDAY[(start.weekday() + d) % 7] for d in range(days)])
    dates = [start + dt.timedelta(days=d) for d in range(days)]
    day_of_month = np.array([d.day for d in dates])
    payday = profile["dia_pagamento"].to_numpy()
    after_payday = np.zeros((n, days), dtype=bool)
    for lag in range(3):
        after_payday |= (day_of_month[None, :] - lag) == payday[:, None]
    counts = rng.poisson(a["rate"][:, None] * weekday[None, :] * np.where(after_payday, 1.8, 1.0))
    customer = np.repeat(np.repeat(np.arange(n), days), counts.ravel())
    day = np.repeat(np.tile(np.arange(days), n), counts.ravel())
    m = len(customer)

    hour = (a["peak"][customer] + a["spread"][customer] * rng.normal(0, 1, m)) % 24.0
    # trips: (customer, first day, last day, city); on a trip day, later hours
    trip_customer = np.repeat(np.arange(n), a["trips"])
    trip_first = rng.integers(0, days, len(trip_customer))
    trip_last = trip_first + rng.integers(1, 7, len(trip_customer))
    trip_city = _trip_city(rng, a["home"][trip_customer], len(trip_customer))
    away = np.full((n, days), -1, dtype=np.int64)  # the trip's city per customer and day
    for c, first, last, where in zip(trip_customer, trip_first, trip_last, trip_city):
        away[c, first:last + 1] = where
    on_trip = away[customer, day] >= 0
    city = np.where(on_trip, away[customer, day], a["home"][customer])
    hour = np.where(on_trip, (hour + 1.5) % 24.0, hour)
    second = day * 86_400 + (hour * 3_600).astype(np.int64)

    kind = _choice_rows(rng, np.cumsum(a["type_mix"], axis=1), customer)
    category = _choice_rows(rng, np.cumsum(a["category_mix"], axis=1), customer)
    purchase = kind == 4
    category = np.where(on_trip & purchase & (rng.random(m) < 0.35), 2, category)
    category = np.where(np.isin(kind, [0, 2, 5]), 7, category)  # money in: Outros
    typical = np.where(purchase, a["typical"][customer, category],
                       np.array(TYPE_AMOUNT)[kind] * a["scale"][customer]
                       * np.where(np.isin(kind, [1, 3]), a["spend"][customer], 1.0))
    typical = np.where(kind == 5, TYPE_AMOUNT[5] * np.ones(m), typical)  # a shop's ticket, not the owner's
    cents = _amount_cents(rng, typical)
    big = purchase & (rng.random(m) < 0.004)
    cents = np.where(big, cents * rng.uniform(5, 20, m), cents).astype(np.int64)
    category = np.where(big & (rng.random(m) < 0.6), rng.choice([1, 2, 3, 6], m), category)

    device = _device(rng, a, customer, day)
    device = np.where(purchase & (rng.random(m) >= a["p_phone"][customer]), None, device)
    device = np.where(np.isin(kind, [0, 2]), None, device)  # money received: no device of theirs
    device[kind == 5] = [f"M{a['first_index'] + c + 1:09d}" for c in customer[kind == 5]]  # the shop's card machine
    sent = np.isin(kind, [1, 3])
    beneficiary = _beneficiary(rng, a, customer, sent, p_new=0.12)
    credit = (purchase | (kind == 5)) & (rng.random(m) < np.where(kind == 5, 0.5, a["p_credit"][customer]))
    rows = _Rows()
    rows.add(customer=customer, second=second, kind=kind, category=category, cents=cents, city=city,
             device=device, beneficiary=beneficiary, credit=credit)

    # salaries (6-10 h on the payday) and the bills paid after them (within ~1.5 h)
    pay_c, pay_d = np.nonzero(day_of_month[None, :] == payday[:, None])
    k = len(pay_c)
    salary_second = pay_d * 86_400 + rng.integers(6 * 3_600, 10 * 3_600, k)
    salary = np.round(profile["renda_mensal"].to_numpy()[pay_c] * 100).astype(np.int64)
    rows.add(customer=pay_c, second=salary_second, kind=np.where(rng.random(k) < 0.65, 2, 0),
             category=np.full(k, 7), cents=salary, city=a["home"][pay_c])
    bills = 1 + rng.poisson(1.5, k)
    bill_c = np.repeat(pay_c, bills)
    j = len(bill_c)
    bill_second = np.repeat(salary_second, bills) + rng.integers(120, 5_400, j)
    bill_kind = np.where(rng.random(j) < 0.75, 1, 3)
    rows.add(customer=bill_c, second=bill_second, kind=bill_kind, category=np.full(j, 7),
             cents=_amount_cents(rng, 1.5 * np.array(TYPE_AMOUNT)[bill_kind] * a["scale"][bill_c] * a["spend"][bill_c]),
             city=a["home"][bill_c], device=_device(rng, a, bill_c, bill_second // 86_400),
             beneficiary=_beneficiary(rng, a, bill_c, np.ones(j, dtype=bool), p_new=0.05))

    # honest bursts of small purchases (a street market, a fair, transit): 3-8 of R$3-25
    # within minutes, on 1% of customer-days — what card testing looks like
    burst_c, burst_d = np.nonzero(rng.random((n, days)) < 0.01)
    sizes = rng.integers(3, 9, len(burst_c))
    bc = np.repeat(burst_c, sizes)
    starts = burst_d * 86_400 + ((a["peak"][burst_c] + rng.normal(0, 2, len(burst_c))) % 24 * 3_600).astype(np.int64)
    b_second = np.repeat(starts, sizes) + rng.integers(20, 400, len(bc)).cumsum() % 1_200
    b_day = b_second // 86_400
    rows.add(customer=bc, second=b_second, kind=np.full(len(bc), 4), category=rng.choice([0, 4, 7], len(bc)),
             cents=rng.integers(300, 2_501, len(bc)), city=a["home"][bc],
             device=np.where(rng.random(len(bc)) < 0.5, _device(rng, a, bc, b_day), None),
             credit=rng.random(len(bc)) < a["p_credit"][bc])
    # a new phone's first day: a third of the time, 2-4 Pix to new people (a bill split)
    fresh = np.flatnonzero((a["new_phone_day"] >= 0) & (rng.random(n) < 0.33))
    sizes = rng.integers(2, 5, len(fresh))
    fc = np.repeat(fresh, sizes)
    start = a["new_phone_day"][fresh] * 86_400 + ((a["peak"][fresh] % 24) * 3_600).astype(np.int64)
    f_second = np.repeat(start, sizes) + rng.integers(60, 3_000, len(fc))
    rows.add(customer=fc, second=f_second, kind=np.full(len(fc), 1), category=np.full(len(fc), 7),
             cents=_amount_cents(rng, TYPE_AMOUNT[1] * a["scale"][fc] * a["spend"][fc]), city=a["home"][fc],
             device=a["new_phone"][fc], beneficiary=np.array(_hex_ids(rng, "B", len(fc)), dtype=object))
    return rows


def _device(rng, a, customer, day):
    """The phone a customer uses that day: the first, sometimes the second; after a new phone
    is bought, that one."""
    second_phone = (a["n_devices"][customer] == 2) & (rng.random(len(customer)) < 0.25)
    device = a["devices"][customer, second_phone.astype(int)]
    switched = (a["new_phone_day"][customer] >= 0) & (day >= a["new_phone_day"][customer])
    return np.where(switched, a["new_phone"][customer], device)


def _beneficiary(rng, a, customer, sent, p_new):
    m = len(customer)
    known = (rng.random(m) * a["beneficiaries"][customer]).astype(np.int64)
    is_new = rng.random(m) < p_new
    new = _hex_ids(rng, "B", int((sent & is_new).sum()))
    out = np.full(m, None, dtype=object)
    out[sent & is_new] = new
    regular = sent & ~is_new
    out[regular] = [f"B{a['first_index'] + c + 1:07d}{k:02d}" for c, k in zip(customer[regular], known[regular])]
    return out


def _fraud(rng, profile, days, n_honest, fraud_rate):
    """Fraud events (see the module docstring), labelled with their pattern."""
    a = profile.attrs
    n = len(profile)
    rows = _Rows()
    expected = fraud_rate * n_honest / float(np.dot(PATTERN_SHARES, PATTERN_MEAN_LENGTH))
    events = rng.multinomial(rng.poisson(expected), PATTERN_SHARES) if days > 3 and n else np.zeros(4, int)
    lat = np.array([c[2] for c in CIDADES])
    lon = np.array([c[3] for c in CIDADES])
    population = np.array([c[4] for c in CIDADES], dtype=float)
    income = profile["renda_mensal"].to_numpy()
    for pattern, count in enumerate(events):
        for _ in range(count):
            c = int(rng.integers(0, n))
            day = int(rng.integers(3, days))
            if pattern == 0:  # account takeover
                length = int(rng.integers(3, 10))
                hour = rng.uniform(0, 5) if rng.random() < 0.5 else rng.uniform(0, 24)
                start = day * 86_400 + int(hour * 3_600)
                seconds = start + np.cumsum(rng.integers(20, 240, length)) - 20
                elsewhere = population * (np.arange(len(CIDADES)) != a["home"][c])
                city = a["home"][c] if rng.random() < 0.5 else rng.choice(len(CIDADES), p=elsewhere / elsewhere.sum())
                mules = np.array(_hex_ids(rng, "B", length), dtype=object)
                repeat = rng.random(length) < 0.3
                repeat[0] = False
                for i in np.flatnonzero(repeat):
                    mules[i] = mules[i - 1]
                device = _hex_ids(rng, "F", 1)[0]
                kinds = np.where(rng.random(length) < 0.75, 1, 3)
                cents = np.round(income[c] * rng.uniform(0.15, 0.5, length) * 100).astype(np.int64)
                rows.add(customer=np.full(length, c), second=seconds, kind=kinds, category=np.full(length, 7),
                         cents=cents, city=np.full(length, city), device=np.full(length, device, dtype=object),
                         beneficiary=mules, fraud=np.ones(length, int), pattern=np.full(length, 1))
            elif pattern == 1:  # card testing
                length = int(rng.integers(6, 19))
                start = day * 86_400 + int(rng.uniform(0, 24) * 3_600)
                seconds = start + np.cumsum(rng.integers(3, 46, length))
                cents = rng.integers(100, 1_201, length)
                category = rng.choice([3, 6, 7, 4], length)
                if rng.random() < 0.5:
                    seconds = np.append(seconds, seconds[-1] + rng.integers(60, 600))
                    cents = np.append(cents, rng.integers(40_000, 300_001))
                    category = np.append(category, 3)
                k = len(seconds)
                rows.add(customer=np.full(k, c), second=seconds, kind=np.full(k, 4), category=category, cents=cents,
                         city=np.full(k, a["home"][c]), credit=np.ones(k, int), fraud=np.ones(k, int),
                         pattern=np.full(k, 2))
            elif pattern == 2:  # far from home, at unusual hours
                length = int(rng.integers(1, 5))
                far = _distance_km(lat[a["home"][c]], lon[a["home"][c]], lat, lon) >= 300
                w = population * far
                city = rng.choice(len(CIDADES), p=w / w.sum())
                usual = a["peak"][c] + a["spread"][c] * rng.normal()
                hour = (a["peak"][c] + 12 + rng.uniform(-2, 2)) % 24 if rng.random() < 0.6 else usual % 24
                seconds = day * 86_400 + int(hour * 3_600) + np.cumsum(rng.integers(300, 3_600, length))
                category = rng.choice(len(CATEGORIAS), length, p=a["category_mix"][c])
                cents = np.round(a["typical"][c, category] * rng.uniform(2, 6, length) * 100).astype(np.int64)
                rows.add(customer=np.full(length, c), second=seconds, kind=np.full(length, 4), category=category,
                         cents=np.maximum(cents, 100), city=np.full(length, city),
                         credit=(rng.random(length) < 0.7).astype(int), fraud=np.ones(length, int),
                         pattern=np.full(length, 3))
            else:  # amount spike
                length = 1 + int(rng.random() < 0.2)
                hour = (a["peak"][c] + a["spread"][c] * rng.normal()) % 24
                seconds = day * 86_400 + int(hour * 3_600) + np.cumsum(rng.integers(60, 1_800, length))
                transfer = rng.random() < 0.4
                if transfer:
                    kinds = np.full(length, 1)
                    category = np.full(length, 7)
                    typical = TYPE_AMOUNT[1] * a["scale"][c] * np.ones(length)
                    device = np.full(length, a["devices"][c, 0], dtype=object)
                    beneficiary = _beneficiary(rng, a, np.full(length, c), np.ones(length, bool), p_new=0.5)
                else:
                    kinds = np.full(length, 4)
                    category = rng.choice([1, 2, 3, 6], length)
                    typical = a["typical"][c, category]
                    device = np.where(rng.random(length) < 0.5, a["devices"][c, 0], None)
                    beneficiary = None
                cents = np.round(typical * rng.uniform(8, 30, length) * 100).astype(np.int64)
                rows.add(customer=np.full(length, c), second=seconds, kind=kinds, category=category, cents=cents,
                         city=np.full(length, a["home"][c]), device=device, beneficiary=beneficiary,
                         credit=(rng.random(length) < a["p_credit"][c]).astype(int), fraud=np.ones(length, int),
                         pattern=np.full(length, 4))
    return rows


def _balances(customer, kind, cents, fee, opening):
    """Runs each customer's balance in time order (rows sorted by customer, then time).
    Returns (balance after, refused). Whole cents: a balance is never negative."""
    out = np.empty(len(customer), dtype=np.int64)
    refused = np.zeros(len(customer), dtype=bool)
    outgoing = np.isin(kind, [TRANSACOES.index(t) for t in SAIDAS])
    balance, current = 0, -1
    for i, (c, is_out, value, tax) in enumerate(zip(customer.tolist(), outgoing.tolist(), cents.tolist(), fee.tolist())):
        if c != current:
            current, balance = c, int(opening[c])
        if is_out:
            if value + tax > balance:
                refused[i] = True
            else:
                balance -= value + tax
        else:
            balance += value - tax
        out[i] = balance
    return out, refused


def _block(n_customers, days, start, seed, block, fraud_rate, anomalies):
    rng = np.random.default_rng([seed, block])
    profile = customers(n_customers, seed, first_index=block * BLOCK, days=days, rng=rng)
    a = profile.attrs
    honest = _honest(rng, profile, days, start)
    columns = honest.columns()
    fraud = _fraud(rng, profile, days, len(columns["customer"]), fraud_rate).columns()
    columns = {f: np.concatenate([columns[f], fraud[f]]) for f in columns}
    keep = columns["second"] < days * 86_400
    columns = {f: v[keep] for f, v in columns.items()}
    order = np.lexsort((columns["second"], columns["customer"]))
    columns = {f: v[order] for f, v in columns.items()}
    customer = columns["customer"]
    m = len(customer)
    # strictly increasing seconds per customer: t'_i = max(t_i, t'_{i-1} + 1)
    position = np.arange(m)
    first = np.r_[0, np.flatnonzero(np.diff(customer)) + 1]
    group = np.repeat(first, np.diff(np.r_[first, m]))
    shifted = columns["second"] - (position - group)
    second = pd.Series(shifted).groupby(customer).cummax().to_numpy() + (position - group)
    keep = second < days * 86_400
    columns = {f: v[keep] for f, v in columns.items()}
    second, customer = second[keep], customer[keep]
    m = len(customer)

    kind, cents = columns["kind"], columns["cents"].astype(np.int64)
    # the anomaly rule draws from a generator of its own, so turning it off changes nothing else
    noise = np.random.default_rng([seed, block, 1])
    anomaly = (noise.random(m) < ANOMALY_RATE) if anomalies else np.zeros(m, dtype=bool)
    cents = np.where(anomaly, noise.integers(int(ANOMALY_RANGE[0] * 100), int(ANOMALY_RANGE[1] * 100) + 1, m), cents)
    fee = np.where(np.isin(kind, [3, 5]), rng.integers(100, 481, m), 0)
    fee = np.where(kind == 5, np.minimum(fee, cents), fee)
    opening = np.round(profile["renda_mensal"].to_numpy() * rng.uniform(0.3, 2.0, len(profile)) * 100)
    opening = np.where(profile["tipo_conta"].to_numpy() != "Conta Corrente", 2 * opening, opening).astype(np.int64)
    balance, refused = _balances(customer, kind, cents, fee, opening)

    lat = np.array([c[2] for c in CIDADES])[columns["city"]] + rng.normal(0, 0.02, m)
    lon = np.array([c[3] for c in CIDADES])[columns["city"]] + rng.normal(0, 0.02, m)
    start_utc = dt.datetime(start.year, start.month, start.day, tzinfo=TZ)
    timestamp = int(start_utc.timestamp()) + second
    local = pd.to_datetime(second, unit="s", origin=pd.Timestamp(start.isoformat()))
    method = np.where(np.isin(kind, [0, 1, 2, 3]), 2, np.where(columns["credit"].astype(bool), 0, 1))
    sequence = position[:m] - np.repeat(np.r_[0, np.flatnonzero(np.diff(customer)) + 1],
                                         np.diff(np.r_[np.r_[0, np.flatnonzero(np.diff(customer)) + 1], m]))
    first_index = a["first_index"]
    ids = profile["id_cliente"].to_numpy()
    lat, lon = np.round(lat, 6), np.round(lon, 6)
    frame = pd.DataFrame({
        "id_transacao": [f"T{first_index + c + 1:07d}{s:07d}" for c, s in zip(customer, sequence)],
        "id_cliente": ids[customer],
        "timestamp": timestamp.astype(np.int64),
        "data": local.strftime("%Y-%m-%d"),
        "horario": local.strftime("%H:%M:%S"),
        "cidade": np.array([c[0] for c in CIDADES], dtype=object)[columns["city"]],
        "estado": np.array([c[1] for c in CIDADES], dtype=object)[columns["city"]],
        "latitude": lat, "longitude": lon,
        "localizacao": [f"{x:.6f}, {y:.6f}" for x, y in zip(lat, lon)],
        "transacao": np.array(TRANSACOES, dtype=object)[kind],
        "valor_transacao": cents / 100.0,
        "valor_taxa": fee / 100.0,
        "saldo": balance / 100.0,
        "status_transacao": np.where(refused, "Recusada", "Concluída").astype(object),
        "tipo_conta": profile["tipo_conta"].to_numpy()[customer],
        "categoria_transacao": np.array(CATEGORIAS, dtype=object)[columns["category"]],
        "metodo_pagamento": np.array(["Cartão de Crédito", "Cartão de Débito", "Dinheiro"], dtype=object)[method],
        "id_dispositivo": columns["device"],
        "id_beneficiario": columns["beneficiary"],
        "descricao": np.where(anomaly, "Desconhecido", None).astype(object),
        "anomalia": anomaly.astype(np.int8),
        "fraude": columns["fraud"].astype(np.int8),
        "padrao_fraude": np.array([""] + PADROES, dtype=object)[columns["pattern"]],
    })
    return frame.sort_values(["timestamp", "id_transacao"], kind="stable").reset_index(drop=True), profile


def _check_arguments(n_customers, days, fraud_rate):
    if n_customers < 1 or days < 1:
        raise ValueError(f"need at least one customer and one day (got {n_customers}, {days})")
    if not 0 <= fraud_rate < 0.5:
        raise ValueError(f"fraud_rate {fraud_rate} out of range [0, 0.5)")


def _start(start):
    return start if isinstance(start, dt.date) else dt.date.fromisoformat(str(start))


def generate(n_customers=N_CUSTOMERS, days=DAYS, start=START, seed=0, fraud_rate=FRAUD_RATE, anomalies=True,
             with_customers=False):
    """The transactions of ``n_customers`` customers over ``days`` days from ``start`` (a date or
    "YYYY-MM-DD"), sorted by time (then transaction id). ``with_customers=True`` also returns
    the profiles: ``(transactions, customers)``."""
    _check_arguments(n_customers, days, fraud_rate)
    blocks = [_block(min(BLOCK, n_customers - b * BLOCK), days, _start(start), seed, b, fraud_rate, anomalies)
              for b in range((n_customers + BLOCK - 1) // BLOCK)]
    frame = pd.concat([b[0] for b in blocks], ignore_index=True)
    if len(blocks) > 1:
        frame = frame.sort_values(["timestamp", "id_transacao"], kind="stable").reset_index(drop=True)
    if with_customers:
        profiles = pd.concat([b[1] for b in blocks], ignore_index=True)
        return frame, profiles
    return frame


# ---------------------------------------------------------------------------------------------
# files and streams

FORMATS = ("parquet", "jsonl", "csv")


def write(frame, out, formats=FORMATS, partition=True, part=0):
    """Writes ``frame`` under ``out``: ``transacoes.<format>/dia=YYYY-MM-DD/part-NNNNN.<format>``
    (Hive-style partitions by local day, readable by pandas, pyarrow and Spark), or one file
    ``transacoes.<format>`` with ``partition=False``. Returns the paths written."""
    out = pathlib.Path(out)
    written = []
    for fmt in formats:
        if fmt not in FORMATS:
            raise ValueError(f"unknown format {fmt!r} (expected one of {', '.join(FORMATS)})")
        groups = frame.groupby("data", sort=True) if partition else [(None, frame)]
        for day, rows in groups:
            path = (out / f"transacoes.{fmt}" / f"dia={day}" / f"part-{part:05d}.{fmt}") if partition \
                else out / f"transacoes.{fmt}"
            path.parent.mkdir(parents=True, exist_ok=True)
            _write_one(rows, path, fmt)
            written.append(path)
    return written


def _write_one(rows, path, fmt):
    if fmt == "parquet":
        rows.to_parquet(path, index=False)
    elif fmt == "csv":
        rows.to_csv(path, index=False)
    else:
        with open(path, "w", encoding="utf-8") as handle:
            for record in records(rows):
                handle.write(json.dumps(record, ensure_ascii=False) + "\n")


def records(frame):
    """The rows as JSON-ready dicts (None for missing values): the JSON Lines record."""
    clean = frame.astype(object).where(frame.notna(), None)
    for row in clean.itertuples(index=False, name=None):
        yield {k: (v.item() if hasattr(v, "item") else v) for k, v in zip(frame.columns, row)}


def generate_to(out, n_customers=N_CUSTOMERS, days=DAYS, start=START, seed=0, fraud_rate=FRAUD_RATE, anomalies=True,
                formats=FORMATS):
    """Generates and writes block by block (BLOCK customers at a time), so that any size fits in
    memory: each day's partition holds one part file per block. The rows are those of
    ``generate`` with the same arguments. Also writes ``clientes.csv`` (the profiles)."""
    _check_arguments(n_customers, days, fraud_rate)
    out = pathlib.Path(out)
    stale = [p for p in (out / f"transacoes.{f}" for f in formats) if p.exists()]
    if stale:
        raise ValueError(f"{stale[0]} exists: write into a new or empty directory (parts of another run would mix in)")
    out.mkdir(parents=True, exist_ok=True)
    total = 0
    for b in range((n_customers + BLOCK - 1) // BLOCK):
        frame, profile = _block(min(BLOCK, n_customers - b * BLOCK), days, _start(start), seed, b, fraud_rate,
                                anomalies)
        write(frame, out, formats, part=b)
        profile.to_csv(out / "clientes.csv", mode="w" if b == 0 else "a", header=b == 0, index=False)
        total += len(frame)
    return total


def stream(frame, rate=None, out=None):
    """Writes the rows as JSON Lines to ``out`` (stdout) in time order, ``rate`` records a second
    on a fixed schedule (record i is due at start + i / rate, whatever the reader does), or as
    fast as possible when rate is None. Returns the number written."""
    out = out or sys.stdout
    begin = time.perf_counter()
    count = 0
    for count, record in enumerate(records(frame), 1):
        if rate:
            delay = begin + (count - 1) / rate - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
        out.write(json.dumps(record, ensure_ascii=False) + "\n")
        if rate:
            out.flush()
    out.flush()
    return count


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bank.generate", description=__doc__.split("\n")[0])
    parser.add_argument("--customers", type=int, default=N_CUSTOMERS, help="number of customers (default 5,000)")
    parser.add_argument("--days", type=int, default=DAYS, help="days of transactions (default 70)")
    parser.add_argument("--start", default=START, help="first day, YYYY-MM-DD (default %(default)s)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--fraud-rate", type=float, default=FRAUD_RATE, help="share of fraudulent transactions")
    parser.add_argument("--no-anomalies", action="store_true", help="turn off the original's 0.5%% anomaly rule")
    parser.add_argument("--out", help="directory to write (partitioned by day)")
    parser.add_argument("--format", default="parquet,jsonl,csv", help="comma-separated: parquet, jsonl, csv")
    parser.add_argument("--stream", action="store_true", help="write JSON Lines to stdout in time order instead")
    parser.add_argument("--rate", type=float, default=None, help="with --stream: records per second (default: as fast as possible)")
    args = parser.parse_args(argv)
    common = dict(n_customers=args.customers, days=args.days, start=args.start, seed=args.seed,
                  fraud_rate=args.fraud_rate, anomalies=not args.no_anomalies)
    if args.stream:
        try:
            stream(generate(**common), rate=args.rate)
        except BrokenPipeError:  # the reader stopped (`| head`): not an error
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return
    if not args.out:
        parser.error("--out (a directory) or --stream is required")
    begin = time.perf_counter()
    rows = generate_to(args.out, formats=[f for f in args.format.split(",") if f], **common)
    print(f"wrote {rows:,} transactions of {args.customers:,} customers to {args.out} "
          f"in {time.perf_counter() - begin:.1f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
