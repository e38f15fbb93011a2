"""People the tests send down every path (service, CLI, Python)."""

# The same person written as people write: any case, accents or not, spaces, the SSP file's
# words and brand/model free text. Each spelling must give exactly the canonical answer.
SPELLINGS = [
    ({"bairro": "SE", "marca": "Apple", "dia": "SABADO", "periodo": "NOITE", "idade": 30, "sexo": "MULHER"},
     {"bairro": "  sé ", "marca": "iPhone 11", "dia": "Sábado", "periodo": "a noite", "idade": 30, "sexo": "f"}),
    ({"bairro": "TATUAPE", "marca": "Samsung", "dia": "TERCA", "periodo": "MANHA", "idade": 22, "sexo": "HOMEM"},
     {"bairro": "Tatuapé", "marca": "galaxy  a10", "dia": "terça-feira", "periodo": "Pela manhã", "idade": 22,
      "sexo": "Masculino"}),
    ({"bairro": "CAPAO REDONDO", "marca": "Outros", "dia": "DOMINGO", "periodo": "MADRUGADA", "idade": 71, "sexo": "HOMEM"},
     {"bairro": "capão   redondo", "marca": "Tijolão 2000", "dia": "domingo", "periodo": "De madrugada", "idade": 71,
      "sexo": "homem"}),
]
