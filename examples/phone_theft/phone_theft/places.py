"""The place table: DESCR_TIPOLOCAL / DESCR_SUBTIPOLOCAL -> one of the 10 classes.

The real 2023 file has 164 place sub-types; the original project grouped them into the 10
classes of constants.LABELS but did not publish its grouping, and the file itself cannot be
downloaded here. This module holds two tables:

* ``PLACES``: the generator's table (type, sub-type, class, weight). Its sub-type names are
  **ours**, written for the synthetic data; the generator draws its places from it (so
  synthetic data always round-trips), so it must not change without regenerating the model.
* ``SOURCED``: place names **seen in real SSP-SP exports**, each with the class we give it.
  No public copy of the 164 DESCR_SUBTIPOLOCAL values of "Celulares Subtraídos" was found.
  The names below come from public analysis code on GitHub that quotes values of SSP-SP's
  exports, which share one place vocabulary (the R.D.O. police register's): found with a
  code-search index that gives file contents but not always repository names, so the
  sources are described, not linked:

  A. a Python module classifying SPDadosCriminais 2022-2025 DESCR_SUBTIPOLOCAL, listing
     the values with at least 300 occurrences (71 values, upper case without accents;
     it also notes that DESCR_TIPOLOCAL is empty there before 2025, so the sub-type column
     may hold type-level names such as "Via Pública" or "Comércio e serviços");
  B. an R script on SSP's SIPCV 2023-2025 workbook grouping DESCR_TIPOLOCAL values
     (Moradia, Favela, Viela, Sítio, Chácara, Casa Noturna/Outros, ...);
  C. a Python script listing DESCR_SUBTIPOLOCAL values of VeiculosSubtraidos 2017-2024
     (Açougue/Frigorífico, Praça de pedágio, Obra/Construção, Aeroportuário, ...; values
     written "sub-type-circumstance" there were split and only the sub-type kept);
  D. an R Shiny app listing the 34 DESCRICAOLOCAL values of the 2013-2022 exports, and an R
     script's de-para table of the same (Carro Forte, Estacionamento/Garagem, ...);
  E. Java, SQL and Python code quoting a few more (Edícula/Fundos, Pet Shop, Autopeças,
     Loteamento, Ponto de Ônibus).

  That is 131 distinct names (36 of them type-level names), not the 164 sub-types of
  the 2023 file, and some of them may not occur in the phone file at all. The class of each
  is **our** reading of the 10 labels (the sources' own groupings differ and were only a
  guide). Rows whose place no table takes are still dropped and listed in
  ``attrs["unknown_places"]``: run the real file, read that list and add the names here.

Deliberately unclassified (no class of the original's 10 fits, and the generator relies on
it): "Outros" (other), "Internet" (not a place) and "Templo e afins" (religious places).

Matching is on normalised text (upper case, no accents, single spaces; text.normalize):

1. the sub-type (DESCR_SUBTIPOLOCAL) when it is in SUBTYPES, which holds every sub-type
   name and every type name (the real sub-type column sometimes carries a type's name);
2. otherwise the type (DESCR_TIPOLOCAL, or the old layout's DESCRICAOLOCAL) when it is in
   TYPES;
3. otherwise the row is not classified: clean() drops it and lists the unknown values.
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

# Type-level classes of the generator's types and of old exports' names, for rows whose
# sub-type is missing or unknown, and for the old layout's DESCRICAOLOCAL (types only).
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

# Names seen in real SSP-SP exports (sources A-E above): (name as a source writes it, class,
# "T" for a DESCR_TIPOLOCAL / DESCRICAOLOCAL name, "S" for a sub-type). A type name is
# looked up in both columns; a sub-type name in the sub-type column only.
SOURCED = [
    # 0 Escolas / Universidade
    ("Estabelecimento de ensino", 0, "T"),             # A, D
    ("Ensino fundamental", 0, "S"),                    # A
    ("Ensino médio", 0, "S"),                          # A
    ("Berçário/Creche", 0, "S"),                       # A
    # 1 Escritórios (offices and public or institutional buildings)
    ("Escritório", 1, "T"),                            # A, D
    ("Escritórios", 1, "S"),                           # A, E
    ("Repartição Pública", 1, "T"),                    # D
    ("Serviços e Bens Públicos", 1, "T"),              # D
    ("Entidade Assistencial", 1, "T"),                 # D
    ("Sindicato", 1, "T"),                             # D
    ("Estabelecimento prisional", 1, "T"),             # D
    ("Delegacia/Distrito policial", 1, "S"),           # C
    ("Delegacia", 1, "S"),                             # C
    ("Posto policial", 1, "S"),                        # C
    ("Sala de reuniões/convenções", 1, "S"),           # C
    # 2 Saúde
    ("Saúde", 2, "T"),                                 # A, B, D
    ("Hospital", 2, "S"),                              # A, B, C
    ("Clínica", 2, "S"),                               # A
    ("Posto de Saúde", 2, "S"),                        # A, B
    # 3 Entretenimento
    ("Lazer e Recreação", 3, "T"),                     # A, D
    ("Clube/Centro esportivo", 3, "S"),                # A
    ("Parque/Bosque/Horto/Reserva", 3, "S"),           # A, C
    ("Casa de show/Espetáculo", 3, "S"),               # A
    ("Estádio/Ginásio", 3, "S"),                       # A
    ("Casa Noturna/Outros", 3, "S"),                   # B
    # 4 Alimentação (the type "Restaurante e afins" and what it holds, bars included)
    ("Restaurante e Afins", 4, "T"),                   # A, B, D
    ("Restaurante", 4, "S"),                           # A, B, E
    ("Bar/Botequim", 4, "S"),                          # A, B, E
    ("Bar", 4, "S"),                                   # B
    ("Lanchonete/Pastelaria/Pizzaria", 4, "S"),        # A, B, C
    ("Café/Lanchonete", 4, "S"),                       # A, B, E
    ("Padaria/Confeitaria", 4, "S"),                   # A, C, E
    ("Doceria/Bomboniere/Sorveteria", 4, "S"),         # B
    # 5 Transporte Privado (private vehicles and parking)
    ("Veículo em movimento", 5, "T"),                  # B, C, D, E
    ("Interior de Veículo Particular", 5, "S"),        # B, C
    ("Interior de veículo de carga", 5, "S"),          # C
    ("Interior veículo de carga", 5, "S"),             # C
    ("Estacionamento", 5, "S"),                        # A, C
    ("Estacionamento particular", 5, "T"),             # A, C, D
    ("Estacionamento público", 5, "T"),                # A, C, D
    ("Estacionamento com vigilância", 5, "T"),         # A, D
    ("Estacionamento/Garagem", 5, "T"),                # D
    # 6 Estabelecimentos Comerciais / Indústrias
    ("Comércio e Serviços", 6, "T"),                   # A, B, D
    ("Centro Comerc./Empresarial", 6, "T"),            # A, D
    ("Centro Comercial/Empresarial", 6, "T"),          # D
    ("Condomínio Comercial", 6, "T"),                  # A, B, D
    ("Shopping Center", 6, "T"),                       # A, B, D, E
    ("Estabelecimento Bancário", 6, "T"),              # A, D
    ("Estabelecimento Industrial", 6, "T"),            # D
    ("Carro Forte", 6, "T"),                           # D (grouped with banks there)
    ("Agência", 6, "S"),                               # A
    ("Agência Bancária", 6, "S"),                      # A, E
    ("Caixa eletrônico", 6, "S"),                      # A
    ("Mercado", 6, "S"),                               # A, B, C, E
    ("Lojas", 6, "S"),                                 # A, B, C, E
    ("Farmácia/Drogaria", 6, "S"),                     # A, B, C, E
    ("Posto de Gasolina", 6, "S"),                     # A, B, C
    ("Oficina", 6, "S"),                               # A, C
    ("Salão de Beleza/Estética", 6, "S"),              # A, B, E
    ("Conveniência", 6, "S"),                          # A, B, C
    ("Locadora", 6, "S"),                              # A
    ("Distribuidora", 6, "S"),                         # A, C
    ("Feira Livre", 6, "S"),                           # A, C, E
    ("Autopeças", 6, "S"),                             # E
    ("Auto-peças", 6, "S"),                            # C
    ("Pet Shop", 6, "S"),                              # E
    ("Açougue/Frigorífico", 6, "S"),                   # C
    ("Armazém/Empório", 6, "S"),                       # C
    ("Atacadista", 6, "S"),                            # C
    ("Transportadora", 6, "S"),                        # C
    ("Fábrica/Indústria", 6, "S"),                     # C
    ("Metalúrgica", 6, "S"),                           # C
    ("Loja de material de construção", 6, "S"),        # C
    ("Mecânica/Borracharia", 6, "S"),                  # C
    ("Depósito", 6, "S"),                              # C
    ("Desmanche", 6, "S"),                             # C
    ("Obra/Construção", 6, "S"),                       # C
    # 7 Residência / Hospedagem (homes, rural properties, lodging)
    ("Residência", 7, "T"),                            # A, B, D
    ("Residências", 7, "S"),                           # B
    ("Casa", 7, "S"),                                  # A, B, E
    ("Casas", 7, "S"),                                 # A, B, E
    ("Apartamento", 7, "S"),                           # A, B, E
    ("Apartamentos", 7, "S"),                          # A, B, E
    ("Moradia", 7, "S"),                               # B, E
    ("Edícula/Fundos", 7, "S"),                        # E
    ("Condomínio Residencial", 7, "T"),                # A, B, D, E
    ("Garagem coletiva de prédio", 7, "T"),            # A, D, E
    ("Garagem ou abrigo de residência", 7, "T"),       # A, D
    ("Área comum", 7, "S"),                            # A, C
    ("Unidade Rural", 7, "T"),                         # B, D
    ("Sítio", 7, "S"),                                 # B, E
    ("Chácara", 7, "S"),                               # B, E
    ("Chácaras", 7, "S"),                              # B, E
    ("Fazenda", 7, "S"),                               # B
    ("Loteamento", 7, "S"),                            # C, E
    ("Hospedagem", 7, "T"),                            # A, D
    ("Hotel", 7, "S"),                                 # A
    ("Motel", 7, "S"),                                 # B
    ("Albergue", 7, "S"),                              # A
    ("Pensão/Estalagem/Hospedaria", 7, "S"),           # A
    # 8 Transporte Público (public transport and its stations)
    ("Terminal/Estação", 8, "T"),                      # A, D, E
    ("Metroviário e Ferroviário Metropolitano", 8, "S"),  # A, C, E
    ("Interior de Transporte Coletivo", 8, "S"),       # A, C, E
    ("Ônibus/Lotação/Trolebus", 8, "S"),               # A, B
    ("Ponto de Ônibus", 8, "S"),                       # E
    ("Ferroviário", 8, "S"),                           # A
    ("Rodoviário", 8, "S"),                            # A, B, C
    ("Aeroportuário", 8, "S"),                         # C
    ("Portuário", 8, "S"),                             # C
    ("Estrada de ferro", 8, "T"),                      # D
    # 9 Via Pública (streets, squares, roads, open ground)
    ("Via Pública", 9, "T"),                           # A, B, C, D, E
    ("Transeunte", 9, "S"),                            # A, C, E
    ("Praça", 9, "S"),                                 # A, B, C, E
    ("De frente a residência da vítima", 9, "S"),      # A, B
    ("Área não ocupada", 9, "T"),                      # A, D
    ("Túnel/Viaduto/Ponte", 9, "S"),                   # A, B, C, E
    ("Acostamento", 9, "S"),                           # A, B, C, E
    ("Semáforo", 9, "S"),                              # A, B, C, E
    ("Ciclofaixa", 9, "S"),                            # C, E
    ("Viela", 9, "S"),                                 # B
    ("Favela", 9, "T"),                                # B, D
    ("Rodovia/Estrada", 9, "T"),                       # A, B, D, E
    ("Praça de pedágio", 9, "S"),                      # C
    ("Área de descanso", 9, "S"),                      # C
    ("Posto de auxílio", 9, "S"),                      # C
    ("Posto de fiscalização", 9, "S"),                 # C
    ("Balança", 9, "S"),                               # C
    ("Lote de terreno", 9, "S"),                       # C
    ("Terreno baldio", 9, "S"),                        # C
    ("Construção abandonada", 9, "S"),                 # C
    ("Local clandestino/ilegal", 9, "T"),              # D (grouped with the street there)
]


def _table(pairs, what):
    table = {}
    for name, k in pairs:
        key = normalize(name)
        if table.setdefault(key, k) != k:
            raise AssertionError(f"places.py: {what} {name!r} is given classes {table[key]} and {k}")
    return table


#: normalised type -> class (the generator's types, old exports' names, sourced type names)
TYPES = _table([(name, k) for k, names in _TYPE_NAMES.items() for name in names]
               + [(name, k) for name, k, level in SOURCED if level == "T"], "type")
#: normalised sub-type -> class: the generator's sub-types, the sourced names, and every type
#: name (the sub-type column of the real files sometimes holds a type's name)
SUBTYPES = _table([(sub, k) for _, sub, k, _ in PLACES] + [(name, k) for name, k, _ in SOURCED]
                  + list(TYPES.items()), "place")

assert all(normalize(t) in TYPES for t, _, _, _ in PLACES), "a PLACES type is missing from TYPES"
assert len({normalize(sub) for _, sub, _, _ in PLACES}) == len(PLACES), "a PLACES sub-type is listed twice"
assert len({normalize(name) for name, _, _ in SOURCED}) == len(SOURCED), "a SOURCED name is listed twice"
assert not {normalize(s) for pair in UNCLASSIFIED for s in pair} & (set(SUBTYPES) | set(TYPES)), \
    "an UNCLASSIFIED name is classified"
