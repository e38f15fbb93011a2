"""Names shared by the generator, the cleaning, the model and the web service.

The model's features are exactly FEATURES (lower case; they are also the web service's JSON
request fields). bairro, marca, dia, periodo and sexo are categorical, idade is numeric.
The class index k of the model is the place LABELS[k] (the order of the application's README,
"Where this comes from").
"""

#: The 10 kinds of place, in class-index order (0 .. 9).
LABELS = [
    "Escolas / Universidade",
    "Escritórios",
    "Saúde",
    "Entretenimento",
    "Alimentação",
    "Transporte Privado",
    "Estabelecimentos Comerciais / Indústrias",
    "Residência / Hospedagem",
    "Transporte Público",
    "Via Pública",
]

#: Phone brands as the original project listed them (most reported first). Cleaning maps a
#: MARCA_OBJETO value to one of these case- and accent-insensitively; any other brand
#: becomes "Outros".
MARCAS = [
    "Samsung", "Apple", "Motorola", "Xiaomi", "Outros", "LG", "Asus", "Huawei", "Positivo",
    "Nokia", "Multilaser", "Alcatel", "Siemens", "Microsoft", "BLU", "Lenovo", "ZTE", "Sony",
    "BlackBerry",
]

#: Weekdays, Monday first (DIA_SEMANA of the original project).
DIAS = ["SEGUNDA", "TERCA", "QUARTA", "QUINTA", "SEXTA", "SABADO", "DOMINGO"]

#: Periods of the day: 00:00-06:00 MADRUGADA, 06:01-12:00 MANHA, 12:01-18:00 TARDE,
#: 18:01-23:59 NOITE (the original project's boundaries).
PERIODOS = ["MADRUGADA", "MANHA", "TARDE", "NOITE"]

#: Victim's sex. The 2023 SSP file has no such column: in this example it is synthetic.
SEXOS = ["HOMEM", "MULHER"]

#: The model's inputs, in order.
FEATURES = ["bairro", "marca", "dia", "periodo", "idade", "sexo"]

#: The categorical features and their fixed vocabularies (bairro's comes from the data).
CATEGORICAL = {"marca": MARCAS, "dia": DIAS, "periodo": PERIODOS, "sexo": SEXOS}
