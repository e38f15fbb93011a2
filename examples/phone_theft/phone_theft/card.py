"""What travels inside the model file besides the trees: the input rules every path applies,
the display names, the city's average, the bairros with few reports and the model card.

    floresta.export(clf, path, class_labels=LABELS, input_rules=input_rules(vocab),
                    metadata=metadata(train, vocab, card))

The input rules are floresta's (docs/floresta-model.md, "Input rules"): the C++ service, the
CLI, the page and Python (``floresta.load(...)``, ``model.predict_person``) read a person's
values through them, so "Sé", " se ", "SE" and "sé" are the same bairro everywhere, and a value
none of them takes is refused by name on every path:

* bairro, dia, periodo, sexo: case, accents and spaces folded; dia, periodo and sexo also take
  the words of the SSP-SP file ("A noite", "Pela manhã", "Masculino", "F", ...) as aliases;
* marca: folded, and brand or model free text mapped to the brand by the table the cleaning
  uses (brands.csv: "IPHONE 11" -> Apple, "GALAXY A10" -> Samsung, leading words), anything
  else "Outros" — exactly as the cleaning maps MARCA_OBJETO;
* idade: 0 to 120.

Display names (with accents: "Sé", "Tatuapé", "Sábado", "Manhã") are the rules' ``display``:
the keys stay the categories the model was trained on.
"""
import numpy as np

from . import generate
from .brands import brand_table
from .clean import PERIOD_TEXT, SEX_TEXT
from .constants import DIAS, LABELS, MARCAS, PERIODOS, SEXOS
from .text import normalize

FOLD = ["case", "accents", "spaces"]
#: Valid ages (years), both ends included.
AGE_RANGE = (0, 120)
#: A bairro with fewer training reports than this is marked "few reports" (its answer leans
#: on the city's pattern more than on its own rows).
FEW_REPORTS = 30
DAY_NAMES = {"SEGUNDA": "Segunda-feira", "TERCA": "Terça-feira", "QUARTA": "Quarta-feira", "QUINTA": "Quinta-feira",
             "SEXTA": "Sexta-feira", "SABADO": "Sábado", "DOMINGO": "Domingo"}
PERIOD_NAMES = {"MADRUGADA": "Madrugada (0h–6h)", "MANHA": "Manhã (6h–12h)", "TARDE": "Tarde (12h–18h)",
                "NOITE": "Noite (18h–24h)"}
SEX_NAMES = {"HOMEM": "Homem", "MULHER": "Mulher"}
DAY_ALIASES = {"SEGUNDA-FEIRA": "SEGUNDA", "TERCA-FEIRA": "TERCA", "QUARTA-FEIRA": "QUARTA", "QUINTA-FEIRA": "QUINTA",
               "SEXTA-FEIRA": "SEXTA", "SEG": "SEGUNDA", "TER": "TERCA", "QUA": "QUARTA", "QUI": "QUINTA", "SEX": "SEXTA",
               "SAB": "SABADO", "DOM": "DOMINGO"}


def bairro_names():
    """Folded bairro -> its name as written in bairros.csv (accents kept): "SE" -> "Sé"."""
    table = generate.bairros()
    return dict(zip(table["key"], table["bairro"]))


def _aliases(table, categories):
    """Alias texts (other than the categories' own spellings) -> category, for the rule."""
    folded = {normalize(c) for c in categories}
    return {text: target for text, target in sorted(table.items()) if text not in folded and target is not None}


def input_rules(vocab):
    """The model file's input rules for the vocabularies of model.prepare (``s.vocab``)."""
    names = bairro_names()
    return {
        "bairro": {"fold": FOLD, "display": {b: names[b] for b in vocab["bairro"] if b in names and names[b] != b}},
        "marca": {"fold": FOLD, "aliases": _aliases(brand_table(), MARCAS), "leading_words": True, "otherwise": "Outros"},
        "dia": {"fold": FOLD, "aliases": _aliases(DAY_ALIASES, DIAS), "display": DAY_NAMES},
        "periodo": {"fold": FOLD, "aliases": _aliases(PERIOD_TEXT, PERIODOS), "display": PERIOD_NAMES},
        "idade": {"min": AGE_RANGE[0], "max": AGE_RANGE[1]},
        "sexo": {"fold": FOLD, "aliases": _aliases(SEX_TEXT, SEXOS), "display": SEX_NAMES},
    }


def city_average(y_train):
    """Each place's share of the training reports (add-half smoothed, as model.class_prior):
    the "city's average" a person's answer is compared with."""
    counts = np.bincount(np.asarray(y_train), minlength=len(LABELS)).astype(float)
    return list((counts + 0.5) / (counts.sum() + 0.5 * len(LABELS)))


def few_reports(train, vocab):
    """The bairros of the vocabulary with fewer than FEW_REPORTS training rows."""
    counts = train["bairro"].astype(str).value_counts()
    return [b for b in vocab["bairro"] if counts.get(b, 0) < FEW_REPORTS]


def metadata(train, y_train, vocab, card, optional_fields):
    """The model file's metadata: what the service, the CLI and the page show beside the answer."""
    return {
        "city_average": city_average(y_train),
        "few_reports": {"bairro": few_reports(train, vocab)},
        "few_reports_threshold": FEW_REPORTS,
        "optional_fields": list(optional_fields),
        "model_card": card,
    }
