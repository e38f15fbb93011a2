"""Vocabularies of the bank application: the original project's field values, the cities,
the fraud patterns, the personas behind the synthetic customers.

Field names and values are those of the original generator (Portuguese, with accents), so
that a file from it and a file from ours read the same way.
"""

#: The six transaction types of the original project, in this order everywhere.
TRANSACOES = ["Pix Receber", "Pix Enviar", "TED Receber", "TED Enviar", "Compra Cartão", "Venda Maquininha"]
#: Money leaving the account (refused when the balance is short); the others bring money in.
SAIDAS = {"Pix Enviar", "TED Enviar", "Compra Cartão"}
#: Transfers to a person: they carry a beneficiary.
TRANSFERENCIAS_ENVIADAS = {"Pix Enviar", "TED Enviar"}
CATEGORIAS = ["Alimentação", "Vestuário", "Viagens", "Eletrônicos", "Shopping", "Esporte", "Informática", "Outros"]
METODOS = ["Cartão de Crédito", "Cartão de Débito", "Dinheiro"]
TIPOS_CONTA = ["Conta Corrente", "Conta Poupança", "Investimento"]
STATUS = ["Concluída", "Recusada"]
FAIXAS_RENDA = ["baixa", "media", "alta", "muito_alta"]

#: Fraud patterns, the label column ``padrao_fraude`` ("" for honest transactions).
PADROES = ["account_takeover", "card_testing", "far_from_home", "amount_spike"]

#: The generator's customer personas (its truth for the segments; never a model input).
PERSONAS = ["estudante", "jovem_profissional", "familia", "aposentado", "alta_renda", "comerciante"]

#: Real Brazilian cities: name, state, latitude, longitude, population in thousands (weight
#: of a home city), tourist weight (weight of a trip's destination). Coordinates are the
#: cities' centres as recalled from memory, good to a few kilometres, not surveyed.
CIDADES = [
    ("São Paulo", "SP", -23.550, -46.633, 12330, 8),
    ("Rio de Janeiro", "RJ", -22.907, -43.173, 6748, 10),
    ("Brasília", "DF", -15.794, -47.882, 3055, 4),
    ("Salvador", "BA", -12.971, -38.501, 2418, 7),
    ("Fortaleza", "CE", -3.732, -38.527, 2428, 6),
    ("Belo Horizonte", "MG", -19.917, -43.935, 2316, 3),
    ("Manaus", "AM", -3.119, -60.022, 2063, 2),
    ("Curitiba", "PR", -25.429, -49.271, 1773, 3),
    ("Recife", "PE", -8.048, -34.877, 1488, 5),
    ("Goiânia", "GO", -16.686, -49.264, 1437, 1),
    ("Porto Alegre", "RS", -30.035, -51.218, 1332, 2),
    ("Belém", "PA", -1.456, -48.490, 1303, 2),
    ("Guarulhos", "SP", -23.454, -46.533, 1291, 1),
    ("Campinas", "SP", -22.906, -47.061, 1139, 1),
    ("São Luís", "MA", -2.530, -44.303, 1037, 2),
    ("Maceió", "AL", -9.665, -35.735, 957, 5),
    ("Campo Grande", "MS", -20.469, -54.620, 898, 1),
    ("Teresina", "PI", -5.089, -42.802, 866, 1),
    ("João Pessoa", "PB", -7.119, -34.845, 833, 3),
    ("Natal", "RN", -5.795, -35.209, 751, 5),
    ("Ribeirão Preto", "SP", -21.178, -47.810, 711, 1),
    ("Uberlândia", "MG", -18.919, -48.277, 699, 1),
    ("Cuiabá", "MT", -15.601, -56.097, 650, 1),
    ("Joinville", "SC", -26.304, -48.846, 597, 1),
    ("Aracaju", "SE", -10.947, -37.073, 602, 3),
    ("Londrina", "PR", -23.310, -51.163, 555, 1),
    ("Florianópolis", "SC", -27.595, -48.548, 508, 6),
    ("Porto Velho", "RO", -8.762, -63.904, 460, 1),
    ("Macapá", "AP", 0.035, -51.070, 442, 1),
    ("Santos", "SP", -23.961, -46.333, 433, 3),
    ("Boa Vista", "RR", 2.820, -60.672, 413, 1),
    ("Vitória", "ES", -20.315, -40.312, 322, 2),
    ("Rio Branco", "AC", -9.975, -67.810, 364, 1),
    ("Palmas", "TO", -10.184, -48.334, 302, 1),
    ("Foz do Iguaçu", "PR", -25.547, -54.588, 258, 5),
    ("Porto Seguro", "BA", -16.450, -39.065, 150, 5),
    ("Gramado", "RS", -29.379, -50.874, 36, 4),
]
