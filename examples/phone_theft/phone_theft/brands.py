"""MARCA_OBJETO (free text: brand, model or both) -> one of constants.MARCAS.

The real file's MARCA_OBJETO holds what the person said: "Samsung", but also "IPHONE 11",
"GALAXY A10", "MOTO G7", "REDMI NOTE 8", "SAMSUNG GALAXY S20", "Apple iPhone 12". The table
``brands.csv`` (next to this file; columns ``text,brand``) maps model lines to their brand:
``text`` is a folded key (text.normalize: upper case, no accents, single spaces) and
``brand`` one of constants.MARCAS. The rule, which the model file carries with the same
table and the C++ library applies at scoring time, is exactly:

1. fold the input (text.normalize); a missing value (None, NaN, blank) gives None;
2. if the folded text equals a brand name (folded) or a table key, that brand;
3. otherwise the longest brand name or table key K such that the folded text starts with K
   followed by a space ("SAMSUNG GALAXY S20" -> SAMSUNG, "MOTO G7" -> MOTO), that brand;
4. otherwise "Outros".

So "IPHONE11" (no space) is "Outros", as is anything the table does not know.

The table holds only keys that name one brand: model lines (IPHONE, GALAXY, MOTO, RAZR,
REDMI, POCO, MI, ZENFONE, ROG PHONE, MATE, P8-P40, ASCEND, XPERIA, LG's K-series models,
VELVET, OPTIMUS, TWIST, VIBE, BLADE, AXON, ONE TOUCH, PIXI, ASHA, numbered Lumias, Multilaser's
MS45-MS80), common misspellings of brand names (SANSUNG, SAMSUMG, GALAXI, MOTORLA, XAOMI,
XIOMI, HUAWEY) and spacing variants (I PHONE, ZEN FONE, BLACK BERRY). Siemens and BLU are
matched by their names only: their model names are short codes or common words (Siemens
C65, BLU Studio, Dash, Vivo) that we could not make unambiguous. Choices:

* Lumia phones were sold as Nokia until 2014 and as Microsoft after, so bare "LUMIA" is
  not a key (it gives "Outros"); numbered models are (LUMIA 520 -> Nokia, LUMIA 535 ->
  Microsoft), and "NOKIA LUMIA ..." / "MICROSOFT LUMIA ..." follow their first word.
* HONOR -> Huawei: Honor was Huawei's sub-brand until 2020 and MARCAS has no Honor.
* Left out as ambiguous: NOVA (Huawei's line, but also a Portuguese word), EDGE, bare model
  codes shared across brands (G6, A10, J7, Y6, ...), VIVO (a Brazilian carrier and another
  maker), TCL (Alcatel's owner, sold under its own name), ERICSSON.
"""
import csv
import functools
import pathlib

import pandas as pd

from .constants import MARCAS
from .text import normalize

TABLE_PATH = pathlib.Path(__file__).with_name("brands.csv")
OTHER = "Outros"


@functools.lru_cache(maxsize=1)
def _load():
    table = {}
    with open(TABLE_PATH, encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        if reader.fieldnames != ["text", "brand"]:
            raise ValueError(f"{TABLE_PATH}: the columns must be text,brand, not {reader.fieldnames}")
        for line, row in enumerate(reader, start=2):
            key, brand = row["text"], row["brand"]
            if normalize(key) != key:
                raise ValueError(f"{TABLE_PATH} line {line}: {key!r} is not folded (expected {normalize(key)!r})")
            if brand not in MARCAS:
                raise ValueError(f"{TABLE_PATH} line {line}: {brand!r} is not one of constants.MARCAS")
            if table.setdefault(key, brand) != brand:
                raise ValueError(f"{TABLE_PATH} line {line}: {key!r} is listed twice")
    return table


def brand_table():
    """The table of brands.csv as a dict: folded key -> brand (a copy)."""
    return dict(_load())


def _keys(table):
    """Brand names (folded) and table keys -> brand; a table key may not contradict a name."""
    keys = {normalize(m): m for m in MARCAS}
    for key, brand in table.items():
        if keys.setdefault(key, brand) != brand:
            raise ValueError(f"brand table: {key!r} -> {brand!r} contradicts the brand name")
    return keys


@functools.lru_cache(maxsize=1)
def _default_keys():
    return _keys(_load())


def brand_of(value, table=None):
    """The MARCAS brand of a MARCA_OBJETO text by the rule above (None for a missing value).
    ``table`` (folded key -> brand) replaces brands.csv, for tests and experiments."""
    folded = normalize(value)
    if folded is None:
        return None
    keys = _default_keys() if table is None else _keys(table)
    if folded in keys:
        return keys[folded]
    best = None
    for key in keys:
        if folded.startswith(key + " ") and (best is None or len(key) > len(best)):
            best = key
    return OTHER if best is None else keys[best]


def brand_of_series(values, table=None):
    """brand_of over a Series (each distinct value computed once); None where missing."""
    values = pd.Series(values, copy=False)
    uniques = pd.unique(values.dropna())
    mapping = {u: brand_of(u, table) for u in uniques}
    return values.map(mapping).astype(object).where(values.notna(), None)
