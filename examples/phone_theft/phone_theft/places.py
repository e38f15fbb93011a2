"""The place table: DESCR_TIPOLOCAL / DESCR_SUBTIPOLOCAL -> one of the 10 classes.

The real 2023 file has 164 place sub-types; the original project grouped them into the 10
classes of constants.LABELS. This table is our grouping of the sub-types we know of (the
generator draws its places from it, so synthetic data always round-trips). Matching is on
normalised text (upper case, no accents, see text.normalize):

1. the sub-type (DESCR_SUBTIPOLOCAL) when it is in SUBTYPES;
2. otherwise the type (DESCR_TIPOLOCAL, or the old layout's DESCRICAOLOCAL) when it is in
   TYPES;
3. otherwise the row is not classified: clean() drops it and lists the unknown values in
   the result's ``attrs["unknown_places"]``, so that a user running the real file sees which
   sub-types to add here. "Outros" (other) is deliberately not classified.
"""
from .text import normalize

# (DESCR_TIPOLOCAL, DESCR_SUBTIPOLOCAL, class index, relative frequency within the class).
# Spelling as a person would type it (accents, mixed case); matching ignores both.
PLACES = [
    # 0 Escolas / Universidade
    ("Escola", "Escola pública", 0, 4.0),
    ("Escola", "Escola particular", 0, 2.0),
    ("Estabelecimento de ensino", "Universidade/Faculdade", 0, 3.0),
    ("Estabelecimento de ensino", "Creche", 0, 0.5),
    ("Estabelecimento de ensino", "Cursinho/Curso livre", 0, 0.5),
    # 1 Escritórios
    ("Escritório", "Escritório", 1, 5.0),
    ("Centro Comerc./Empresarial", "Edifício de escritórios", 1, 3.0),
    ("Repartição Pública", "Repartição pública", 1, 1.5),
    ("Escritório", "Coworking", 1, 0.5),
    # 2 Saúde
    ("Saúde", "Hospital", 2, 4.0),
    ("Saúde", "Pronto-socorro/UPA", 2, 2.0),
    ("Saúde", "Unidade Básica de Saúde", 2, 1.5),
    ("Saúde", "Clínica/Consultório", 2, 1.5),
    ("Saúde", "Laboratório", 2, 0.5),
    # 3 Entretenimento
    ("Lazer e recreação", "Bar/Casa noturna", 3, 4.0),
    ("Lazer e recreação", "Casa de shows", 3, 1.5),
    ("Lazer e recreação", "Estádio/Arena", 3, 1.0),
    ("Lazer e recreação", "Parque/Bosque", 3, 1.5),
    ("Lazer e recreação", "Cinema/Teatro", 3, 0.5),
    ("Lazer e recreação", "Clube", 3, 0.5),
    ("Lazer e recreação", "Evento/Festa", 3, 1.5),
    ("Lazer e recreação", "Academia", 3, 0.5),
    # 4 Alimentação
    ("Restaurante e afins", "Restaurante", 4, 4.0),
    ("Restaurante e afins", "Lanchonete", 4, 3.0),
    ("Restaurante e afins", "Padaria/Confeitaria", 4, 2.0),
    ("Restaurante e afins", "Pizzaria", 4, 0.5),
    ("Restaurante e afins", "Praça de alimentação", 4, 0.5),
    # 5 Transporte Privado
    ("Veículo em movimento", "Interior de veículo particular", 5, 4.0),
    ("Veículo em movimento", "Transporte por aplicativo", 5, 3.0),
    ("Veículo em movimento", "Táxi", 5, 1.0),
    ("Veículo em movimento", "Motocicleta", 5, 1.0),
    ("Estacionamento", "Estacionamento particular", 5, 1.0),
    ("Estacionamento", "Estacionamento público", 5, 1.0),
    # 6 Estabelecimentos Comerciais / Indústrias
    ("Comércio e serviços", "Loja", 6, 4.0),
    ("Comércio e serviços", "Supermercado/Mercado", 6, 2.0),
    ("Comércio e serviços", "Posto de combustível", 6, 1.0),
    ("Comércio e serviços", "Farmácia/Drogaria", 6, 1.0),
    ("Comércio e serviços", "Banca de jornal", 6, 0.3),
    ("Comércio e serviços", "Feira livre", 6, 1.0),
    ("Shopping Center", "Shopping Center", 6, 1.5),
    ("Centro Comerc./Empresarial", "Galeria/Centro comercial", 6, 1.0),
    ("Estabelecimento bancário", "Agência bancária/Caixa eletrônico", 6, 0.7),
    ("Indústria", "Indústria/Fábrica", 6, 0.5),
    # 7 Residência / Hospedagem
    ("Residência", "Casa", 7, 5.0),
    ("Residência", "Apartamento", 7, 2.0),
    ("Residência", "Condomínio residencial", 7, 1.5),
    ("Residência", "Garagem coletiva de prédio", 7, 0.5),
    ("Residência", "Cortiço/Comunidade", 7, 0.5),
    ("Hospedagem", "Hotel", 7, 0.7),
    ("Hospedagem", "Motel", 7, 0.3),
    ("Hospedagem", "Pensão/Hostel", 7, 0.3),
    # 8 Transporte Público
    ("Transporte coletivo", "Interior de ônibus", 8, 5.0),
    ("Transporte coletivo", "Ponto de ônibus", 8, 3.0),
    ("Terminal/Estação", "Estação do Metrô", 8, 2.5),
    ("Terminal/Estação", "Vagão do Metrô", 8, 2.0),
    ("Terminal/Estação", "Estação de trem (CPTM)", 8, 1.0),
    ("Terminal/Estação", "Vagão de trem", 8, 1.0),
    ("Terminal/Estação", "Terminal de ônibus", 8, 1.5),
    ("Terminal/Estação", "Terminal rodoviário", 8, 0.3),
    ("Terminal/Estação", "Aeroporto", 8, 0.2),
    # 9 Via Pública
    ("Via Pública", "Via pública", 9, 10.0),
    ("Via Pública", "Calçada", 9, 3.0),
    ("Via Pública", "Praça", 9, 1.0),
    ("Via Pública", "Viaduto/Ponte/Passarela", 9, 0.5),
    ("Via Pública", "Faixa de pedestres/Semáforo", 9, 1.0),
    ("Via Pública", "Ciclovia", 9, 0.2),
    ("Via Pública", "Túnel", 9, 0.1),
    ("Área não ocupada", "Terreno baldio", 9, 0.2),
]

# Rows the generator writes that no class takes (clean() drops them, see above).
UNCLASSIFIED = [("Outros", "Outros"), ("Outros", "Internet"), ("Templo e afins", "Igreja/Templo")]

# Type-level classes, for rows whose sub-type is missing or unknown, and for the old layout's
# DESCRICAOLOCAL (which has types only). Names of old exports included.
_TYPE_NAMES = {
    0: ["Escola", "Estabelecimento de ensino"],
    1: ["Escritório", "Repartição Pública"],
    2: ["Saúde"],
    3: ["Lazer e recreação"],
    4: ["Restaurante e afins"],
    5: ["Veículo em movimento", "Estacionamento", "Estacionamento particular", "Estacionamento público"],
    6: ["Comércio e serviços", "Shopping Center", "Centro Comerc./Empresarial", "Condomínio comercial",
        "Estabelecimento bancário", "Indústria"],
    7: ["Residência", "Hospedagem", "Condomínio residencial", "Garagem coletiva de prédio"],
    8: ["Transporte coletivo", "Terminal/Estação"],
    9: ["Via Pública", "Área não ocupada", "Rodovia/Estrada"],
}

#: normalised sub-type -> class
SUBTYPES = {normalize(sub): k for _, sub, k, _ in PLACES}
#: normalised type -> class
TYPES = {normalize(name): k for k, names in _TYPE_NAMES.items() for name in names}

assert all(normalize(t) in TYPES for t, _, _, _ in PLACES), "a PLACES type is missing from TYPES"
assert len(SUBTYPES) == len(PLACES), "a PLACES sub-type is listed twice"
