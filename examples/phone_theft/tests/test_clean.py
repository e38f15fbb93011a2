"""clean.read_raw and clean.clean on small hand-written files in both column layouts, and on
the committed fixtures (tests/fixtures, written by make_fixtures.py) in the real file's layouts.

Every expectation below was worked out by hand from the rows (weekdays from the calendar:
2023-01-01 and 2016-01-01 were a Sunday and a Friday), not copied from the code's output."""
import datetime
import pathlib

import numpy as np
import openpyxl
import pandas as pd
import pytest

from phone_theft import brands, clean, generate, places, text
from phone_theft.constants import FEATURES, LABELS, MARCAS

FIXTURES = pathlib.Path(__file__).resolve().parent / "fixtures"

# The 2023 layout: ';' separated, Latin-1, Brazilian decimal commas. Line numbers: the header is
# line 1. 2023-01-02 was a Monday.
CSV_2023 = """\
NOME_DELEGACIA;ANO_BO;NUM_BO;CIDADE;BAIRRO;DATA_OCORRENCIA_BO;HORA_OCORRENCIA;DESCR_PERIODO;RUBRICA;DESCR_TIPOLOCAL;DESCR_SUBTIPOLOCAL;LATITUDE;LONGITUDE;MARCA_OBJETO
01º D.P. SE;2023;AA0001;S.PAULO;Sé;02/01/2023;00:00;De madrugada;Roubo (art. 157);Via Pública;Calçada;-23,5505;-46,6340;Samsung
01º D.P. SE;2023;AA0002;S.PAULO;República;03/01/2023;06:00;De madrugada;Furto (art. 155);Transporte coletivo;Interior de ônibus;-23,5440;-46,6430;Apple
47º D.P. CAPAO REDONDO;2023;AA0003;São Paulo;Capão Redondo;2023-01-04;06:01;Pela manhã;Roubo (art. 157);Residência;Casa;;;MOTOROLA
47º D.P. CAPAO REDONDO;2023;AA0004;SAO PAULO;  m'boi   mirim ;05/01/2023;12:00;Pela manhã;Furto qualificado (art. 155, §4o.);Restaurante e afins;Lanchonete;0;0;nokia
05º D.P. ACLIMACAO;2023;AA0005;S.PAULO;LIBERDADE;06/01/2023;12:01;A tarde;Roubo (art. 157);Saúde;Hospital;;;Marca Desconhecida
14º D.P. PINHEIROS;2023;AA0006;S.PAULO;Pinheiros;07/01/2023;18:00;A tarde;Roubo (art. 157);Lazer e recreação;Bar/Casa noturna;;;Xiaomi
14º D.P. PINHEIROS;2023;AA0007;S.PAULO;vila madalena;08/01/2023;18:01;A noite;Roubo (art. 157);Escola;Escola pública;;;LG
15º D.P. ITAIM BIBI;2023;AA0008;S.PAULO;Itaim Bibi;09/01/2023;23:59;A noite;Roubo (art. 157);Escritório;Coworking;;;Samsung
15º D.P. ITAIM BIBI;2023;AA0008;S.PAULO;Itaim Bibi;09/01/2023;23:59;A noite;Roubo (art. 157);Escritório;Coworking;;;Apple
02º D.P. BOM RETIRO;2023;AA0008;S.PAULO;Bom Retiro;10/01/2023;;A noite;Roubo (art. 157);Comércio e serviços;;;;Samsung
02º D.P. BOM RETIRO;2023;AA0010;S.PAULO;Bom Retiro;10/01/2023;;Em hora incerta;Roubo (art. 157);Via Pública;Via pública;;;Samsung
01º D.P. GUARULHOS;2023;AA0011;Guarulhos;Centro;10/01/2023;99:99;A noite;Roubo (art. 157);Via Pública;Via pública;;;Samsung
01º D.P. SE;2023;AA0012;S.PAULO;Sé;10/01/2023;10:00;Pela manhã;Perda/Extravio;Via Pública;Via pública;;;Samsung
01º D.P. SE;2023;AA0013;S.PAULO;Sé;10/01/2023;10:00;Pela manhã;Roubo (art. 157);Outros;Outros;;;Samsung
36º D.P. VILA MARIANA;2023;AA0014;S.PAULO;Vila Mariana;11/01/2023;6:00:59;De madrugada;Roubo (art. 157);Veículo em movimento;Transporte por aplicativo;;;Apple
36º D.P. VILA MARIANA;2023;AA0015;S.PAULO;Vila Mariana;11/01/2023;07:00;Pela manhã;Roubo (art. 157);Via Pública;Via pública;;;
36º D.P. VILA MARIANA;2023;AA0016;S.PAULO;;11/01/2023;07:00;Pela manhã;Roubo (art. 157);Via Pública;Via pública;;;Samsung
"""

# The same reports in an older export's layout: other column names, ',' separated, UTF-8 with a
# BOM, the period column's old values, types only (no sub-type), and victims' SEXO and IDADE.
CSV_OLD = """\
\ufeffANO_BO,NUM_BO,DATAOCORRENCIA,HORAOCORRENCIA,PERIDOOCORRENCIA,BAIRRO,CIDADE,DESCRICAOLOCAL,RUBRICA,DELEGACIA_NOME,SEXO,IDADE,MARCA_CELULAR
2023,AA0001,02/01/2023,00:00,DE MADRUGADA,Sé,S.PAULO,Via Pública,Roubo (art. 157),01º D.P. SE,M,30,Samsung
2023,AA0002,03/01/2023,06:00,DE MADRUGADA,República,S.PAULO,Transporte coletivo,Furto (art. 155),01º D.P. SE,F,21,Apple
2023,AA0003,2023-01-04,06:01,PELA MANHÃ,Capão Redondo,São Paulo,Residência,Roubo (art. 157),47º D.P. CAPAO REDONDO,I,,MOTOROLA
2023,AA0004,05/01/2023,12:00,PELA MANHÃ,  m’boi   mirim ,SAO PAULO,Restaurante e afins,"Furto qualificado (art. 155, §4o.)",47º D.P. CAPAO REDONDO,Feminino,44,nokia
2023,AA0005,06/01/2023,12:01,A TARDE,LIBERDADE,S.PAULO,Saúde,Roubo (art. 157),05º D.P. ACLIMACAO,Masculino,67,Marca Desconhecida
2023,AA0006,07/01/2023,18:00,A TARDE,Pinheiros,S.PAULO,Lazer e recreação,Roubo (art. 157),14º D.P. PINHEIROS,,19,Xiaomi
2023,AA0007,08/01/2023,18:01,A NOITE,vila madalena,S.PAULO,Escola,Roubo (art. 157),14º D.P. PINHEIROS,F,16,LG
2023,AA0008,09/01/2023,23:59,A NOITE,Itaim Bibi,S.PAULO,Escritório,Roubo (art. 157),15º D.P. ITAIM BIBI,M,35,Samsung
2023,AA0008,09/01/2023,23:59,A NOITE,Itaim Bibi,S.PAULO,Escritório,Roubo (art. 157),15º D.P. ITAIM BIBI,M,35,Apple
2023,AA0008,10/01/2023,,A NOITE,Bom Retiro,S.PAULO,Comércio e serviços,Roubo (art. 157),02º D.P. BOM RETIRO,M,52,Samsung
2023,AA0010,10/01/2023,,EM HORA INCERTA,Bom Retiro,S.PAULO,Via Pública,Roubo (art. 157),02º D.P. BOM RETIRO,M,52,Samsung
2023,AA0011,10/01/2023,99:99,A NOITE,Centro,Guarulhos,Via Pública,Roubo (art. 157),01º D.P. GUARULHOS,M,40,Samsung
2023,AA0012,10/01/2023,10:00,PELA MANHÃ,Sé,S.PAULO,Via Pública,Perda/Extravio,01º D.P. SE,M,40,Samsung
2023,AA0013,10/01/2023,10:00,PELA MANHÃ,Sé,S.PAULO,Outros,Roubo (art. 157),01º D.P. SE,M,40,Samsung
2023,AA0014,11/01/2023,6:00:59,DE MADRUGADA,Vila Mariana,S.PAULO,Veículo em movimento,Roubo (art. 157),36º D.P. VILA MARIANA,M,28,Apple
2023,AA0015,11/01/2023,07:00,PELA MANHÃ,Vila Mariana,S.PAULO,Via Pública,Roubo (art. 157),36º D.P. VILA MARIANA,M,28,
2023,AA0016,11/01/2023,07:00,PELA MANHÃ,,S.PAULO,Via Pública,Roubo (art. 157),36º D.P. VILA MARIANA,M,28,Samsung
"""

# What both files clean to: (line, bairro, marca, dia, periodo, local).
EXPECTED = [
    (2, "SE", "Samsung", "SEGUNDA", "MADRUGADA", 9),                 # 00:00
    (3, "REPUBLICA", "Apple", "TERCA", "MADRUGADA", 8),              # 06:00
    (4, "CAPAO REDONDO", "Motorola", "QUARTA", "MANHA", 7),          # 06:01, ISO date, brand case
    (5, "M'BOI MIRIM", "Nokia", "QUINTA", "MANHA", 4),               # 12:00, spaces (old file: ’)
    (6, "LIBERDADE", "Outros", "SEXTA", "TARDE", 2),                 # 12:01, unknown brand
    (7, "PINHEIROS", "Xiaomi", "SABADO", "TARDE", 3),                # 18:00
    (8, "VILA MADALENA", "LG", "DOMINGO", "NOITE", 0),               # 18:01
    (9, "ITAIM BIBI", "Samsung", "SEGUNDA", "NOITE", 1),             # 23:59; line 10 is its duplicate
    (11, "BOM RETIRO", "Samsung", "TERCA", "NOITE", 6),              # same NUM_BO, other station; no hour
    (16, "VILA MARIANA", "Apple", "QUARTA", "MADRUGADA", 5),         # 6:00:59 (seconds ignored)
]
DROPPED = {"cidade": 1, "rubrica": 1, "duplicado": 1, "periodo": 1, "local": 1, "marca": 1, "bairro": 1, "data": 0,
           "vazia": 0, "versao": 0, "ato_infracional": 0, "data_invalida": 0, "hora_invalida": 0,
           "periodo_invalido": 0, "idade_invalida": 0, "sexo_invalido": 0}


def write(tmp_path, name, text, encoding):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def check(data):
    got = list(zip(data.index, data["bairro"], data["marca"], data["dia"], data["periodo"], data["local"]))
    assert got == EXPECTED
    assert list(data["local_label"]) == [LABELS[e[-1]] for e in EXPECTED]
    assert list(data.columns) == clean.COLUMNS
    assert set(FEATURES) <= set(data.columns)
    assert {k: v for k, v in data.attrs["dropped"].items()} == DROPPED
    assert data.attrs["unknown_places"] == {("Outros", "Outros"): 1} or data.attrs["unknown_places"] == {("Outros", None): 1}


def test_csv_2023_layout(tmp_path):
    data = clean.clean(clean.read_raw(write(tmp_path, "celulares.csv", CSV_2023, "latin-1")))
    check(data)
    assert data["idade"].isna().all() and data["sexo"].isna().all()       # the 2023 file has neither
    assert list(data["rubrica"][:3]) == ["ROUBO", "FURTO", "ROUBO"]


def test_csv_old_layout(tmp_path):
    data = clean.clean(clean.read_raw(write(tmp_path, "old.csv", CSV_OLD, "utf-8")))
    check(data)
    assert list(data["sexo"]) == ["HOMEM", "MULHER", None, "MULHER", "HOMEM", None, "MULHER", "HOMEM", "HOMEM", "HOMEM"]
    np.testing.assert_array_equal(data["idade"], [30, 21, np.nan, 44, 67, 19, 16, 35, 52, 28])


def test_separator_and_encoding_are_detected(tmp_path):
    raw_a = clean.read_raw(write(tmp_path, "a.csv", CSV_2023, "utf-8"))
    raw_b = clean.read_raw(write(tmp_path, "b.csv", CSV_2023.replace(";", "\t"), "latin-1"))
    assert raw_a.loc[3, "BAIRRO"] == raw_b.loc[3, "BAIRRO"] == "República"
    assert raw_a.loc[2, "NOME_DELEGACIA"] == "01º D.P. SE"


def _to_xlsx(raw, path, cells=False):
    frame = raw.reset_index(drop=True).copy()
    if cells:          # dates and times as spreadsheet cells, as the real XLSX has them
        frame["DATA_OCORRENCIA_BO"] = [pd.Timestamp(d) if isinstance(d, pd.Timestamp) else
                                       pd.to_datetime(d, dayfirst="/" in d) for d in frame["DATA_OCORRENCIA_BO"]]
        frame["HORA_OCORRENCIA"] = [None if pd.isna(h) or h == "99:99" else
                                    datetime.time(*map(int, h.split(":"))) for h in frame["HORA_OCORRENCIA"]]
    frame.to_excel(path, index=False, engine="openpyxl")
    return path


def test_xlsx_both_layouts(tmp_path):
    raw = clean.read_raw(write(tmp_path, "celulares.csv", CSV_2023, "latin-1"))
    data = clean.clean(clean.read_raw(_to_xlsx(raw, tmp_path / "celulares.xlsx", cells=True)))
    check(data)
    old = pd.read_csv(write(tmp_path, "old.csv", CSV_OLD, "utf-8"), dtype=str, encoding="utf-8-sig")
    path = tmp_path / "old.xlsx"
    old.to_excel(path, index=False, engine="openpyxl")
    data = clean.clean(clean.read_raw(path))
    check(data)
    assert data["sexo"].iloc[0] == "HOMEM"


def test_periods_at_the_boundaries():
    hours = ["00:00", "06:00", "06:01", "12:00", "12:01", "18:00", "18:01", "23:59", "6:00", "06:00:59", "12:00:00"]
    expected = ["MADRUGADA", "MADRUGADA", "MANHA", "MANHA", "TARDE", "TARDE", "NOITE", "NOITE", "MADRUGADA",
                "MADRUGADA", "MANHA"]
    frame = pd.DataFrame({"NOME_DELEGACIA": "X", "ANO_BO": 2023, "NUM_BO": [f"N{i}" for i in range(len(hours))],
                          "CIDADE": "S.PAULO", "BAIRRO": "Sé", "DATA_OCORRENCIA_BO": "02/01/2023",
                          "HORA_OCORRENCIA": hours, "DESCR_PERIODO": None, "RUBRICA": "Roubo (art. 157)",
                          "DESCR_TIPOLOCAL": "Via Pública", "MARCA_OBJETO": "Samsung"})
    assert list(clean.clean(frame)["periodo"]) == expected
    # time cells (XLSX) follow the same rule
    frame["HORA_OCORRENCIA"] = [datetime.time(*map(int, h.split(":"))) for h in hours]
    assert list(clean.clean(frame)["periodo"]) == expected


def test_accents_case_and_spaces():
    frame = pd.DataFrame({"NOME_DELEGACIA": "X", "ANO_BO": 2023, "NUM_BO": ["1", "2", "3", "4"],
                          "CIDADE": ["São Paulo", "S. Paulo", "s.paulo", "SÃO PAULO"],
                          "BAIRRO": ["Capão Redondo", "  JARDIM  ÂNGELA", "água rasa", "M'Boi Mirim"],
                          "DATA_OCORRENCIA_BO": "02/01/2023", "HORA_OCORRENCIA": "10:00", "DESCR_PERIODO": None,
                          "RUBRICA": ["ROUBO (ART. 157)", "roubo (art. 157)", "Furto (art. 155)", "FURTO"],
                          "DESCR_TIPOLOCAL": ["VIA PÚBLICA", "via publica", "Via Pública", "Via Pública"],
                          "DESCR_SUBTIPOLOCAL": ["CALÇADA", "calcada", None, "Estação do Metrô"],
                          "MARCA_OBJETO": ["SAMSUNG", "apple", "Blu", "blackberry"]})
    data = clean.clean(frame)
    assert list(data["bairro"]) == ["CAPAO REDONDO", "JARDIM ANGELA", "AGUA RASA", "M'BOI MIRIM"]
    assert list(data["marca"]) == ["Samsung", "Apple", "BLU", "BlackBerry"]
    assert list(data["local"]) == [9, 9, 9, 8]               # the sub-type wins over the type


def test_deduplication_keeps_the_first_row_of_a_report():
    frame = pd.DataFrame({"NOME_DELEGACIA": ["A", "A", "B", "A", "A"], "ANO_BO": [2023, "2023", 2023, 2022, 2023],
                          "NUM_BO": ["1", "1", "1", "1", None], "CIDADE": "S.PAULO", "BAIRRO": "Sé",
                          "DATA_OCORRENCIA_BO": "02/01/2023", "HORA_OCORRENCIA": "10:00", "DESCR_PERIODO": None,
                          "RUBRICA": "Roubo (art. 157)", "DESCR_TIPOLOCAL": "Via Pública",
                          "MARCA_OBJETO": ["Apple", "Samsung", "LG", "Xiaomi", "Nokia"]})
    data = clean.clean(frame)
    assert list(data.index) == [0, 2, 3, 4]                  # a missing NUM_BO is never merged
    assert data.loc[0, "marca"] == "Apple"
    assert data.attrs["dropped"]["duplicado"] == 1


# ---------------------------------------------------------------------------------------------
# the committed fixtures: the real layouts and the real file's troubles


def rows_of(data):
    columns = ["bairro", "marca", "dia", "periodo", "local", "rubrica"]
    return [(i, *values) for i, values in zip(data.index, zip(*(data[c] for c in columns)))]


def assert_every_row_accounted(data):
    assert data.attrs["rows_read"] == len(data) + sum(data.attrs["dropped"].values())


def nonzero(counts):
    return {k: v for k, v in counts.items() if v}


def _position(example):
    if "line" in example:
        return example["line"]
    if "index" in example:
        return example["index"]
    return example["sheet"], example["row"]


def quarantined(data):
    """reason -> [(position, value)] of the examples (position: CSV line, DataFrame index or
    (sheet, row)), for the reasons that took rows."""
    out = {}
    for reason, q in data.attrs["quarantine"].items():
        assert q["count"] == data.attrs["dropped"][reason]
        if q["count"]:
            out[reason] = [(_position(e), e["value"]) for e in q["examples"]]
    return out


def test_fixture_2023_csv():
    data = clean.clean(clean.read_raw(FIXTURES / "celulares_2023.csv"))
    assert rows_of(data) == [
        (2, "SE", "Apple", "SEGUNDA", "NOITE", 9, "ROUBO"),            # NULL hour: "A noite"; NULL type, "Via Pública"
        (3, "REPUBLICA", "Samsung", "QUARTA", "MADRUGADA", 9, "FURTO"),  # 24:00 on Tue 03/01 = Wed 00:00; GALAXY A10
        (5, "CAPAO REDONDO", "Xiaomi", "DOMINGO", "MANHA", 8, "ROUBO"),  # 45123 = 2023-07-16; REDMI NOTE 8
        (7, "LIBERDADE", "Samsung", "QUINTA", "TARDE", 6, "ROUBO"),     # VERSAO 2 beats line 6; line 8: 2nd row
        (9, "JARDIM PAULISTA", "Motorola", "SEXTA", "NOITE", 8, "ROUBO"),  # A.I.-Roubo, kept
        (20, "PINHEIROS", "Asus", "DOMINGO", "MANHA", 4, "FURTO"),      # date + time; A.I.-Furto qualif.; Zenfone 5
        (21, "ITAIM BIBI", "LG", "SEGUNDA", "TARDE", 6, "FURTO"),       # NULL VERSAO; NULL sub-type: the type; LG K10
        (22, "VILA MARIANA", "Outros", "TERCA", "NOITE", 5, "ROUBO"),   # an unknown brand
    ]
    assert data.attrs["rows_read"] == 21
    assert nonzero(data.attrs["dropped"]) == {
        "vazia": 1, "versao": 1, "cidade": 1, "rubrica": 1, "duplicado": 1, "data_invalida": 1, "hora_invalida": 2,
        "periodo_invalido": 1, "bairro": 1, "marca": 1, "periodo": 1, "local": 1}
    assert set(data.attrs["dropped"]) == set(clean.DROP_REASONS)
    assert_every_row_accounted(data)
    assert quarantined(data) == {"data_invalida": [(10, "31/02/2023")], "hora_invalida": [(11, "12h00"), (18, "25:00")],
                                 "periodo_invalido": [(12, "De noitinha")]}
    example = data.attrs["quarantine"]["hora_invalida"]["examples"][0]
    assert example["column"] == "HORA_OCORRENCIA" and example["where"].startswith("line 11 of ")
    assert example["where"].endswith("celulares_2023.csv")
    assert data.attrs["ato_infracional"] == 2
    assert data.attrs["unknown_places"] == {("Outros", "Outros"): 1}
    assert data["idade"].isna().all() and data["sexo"].isna().all()
    assert list(data.columns) == clean.COLUMNS


def test_fixture_old_layout_with_age_and_sex():
    data = clean.clean(clean.read_raw(FIXTURES / "celulares_antigo.csv"))
    assert rows_of(data) == [
        (2, "SE", "Apple", "SABADO", "MANHA", 9, "ROUBO"),
        (3, "SE", "Motorola", "SEGUNDA", "MADRUGADA", 8, "ROUBO"),       # 24:00 on Sun 03/01/2016
        (7, "BELA VISTA", "Microsoft", "TERCA", "TARDE", 4, "FURTO"),     # LUMIA 535
        (8, "PARAISOPOLIS", "Xiaomi", "QUARTA", "NOITE", 9, "ROUBO"),     # Favela
        (9, "BUTANTA", "Positivo", "QUINTA", "MANHA", 0, "FURTO"),        # A.I.-Furto; Positivo Twist
    ]
    assert list(data["sexo"]) == ["HOMEM", "MULHER", None, None, None]  # NULL, Ignorado, I
    np.testing.assert_array_equal(data["idade"], [30, 21, np.nan, np.nan, 15])   # NULL, 130 (out of range)
    # line 10 has a bad sex and a bad age: counted once, under the first reason checked
    assert nonzero(data.attrs["dropped"]) == {"idade_invalida": 2, "sexo_invalido": 1, "periodo": 1}
    assert quarantined(data) == {"idade_invalida": [(4, "vinte"), (10, "trinta")], "sexo_invalido": [(5, "X")]}
    assert data.attrs["ato_infracional"] == 1
    assert_every_row_accounted(data)


def test_fixture_xlsx_every_sheet_is_read():
    raw = clean.read_raw(FIXTURES / "celulares_2023_semestres.xlsx")
    assert raw.attrs["sheets"] == ["JAN-JUN_2023", "JUL-DEZ_2023"]
    assert raw.attrs["skipped_sheets"] == ["NOTAS"]
    assert len(raw) == 8
    data = clean.clean(raw)
    assert rows_of(data) == [
        ("JAN-JUN_2023!2", "SE", "Apple", "QUARTA", "MANHA", 9, "ROUBO"),        # date and time cells
        ("JAN-JUN_2023!3", "REPUBLICA", "Samsung", "QUARTA", "NOITE", 8, "FURTO"),  # serial 45000 = 2023-03-15
        ("JUL-DEZ_2023!2", "PINHEIROS", "Xiaomi", "SEGUNDA", "TARDE", 4, "ROUBO"),  # version 2, other sheet; 0.75
        ("JUL-DEZ_2023!4", "TATUAPE", "Motorola", "TERCA", "MADRUGADA", 6, "FURTO"),  # 24:00 on Mon 10/07 14:20
    ]
    assert nonzero(data.attrs["dropped"]) == {"versao": 1, "cidade": 1, "data_invalida": 1, "hora_invalida": 1}
    assert quarantined(data) == {"data_invalida": [(("JAN-JUN_2023", 5), "ontem")],
                                 "hora_invalida": [(("JUL-DEZ_2023", 3), "7h")]}
    where = data.attrs["quarantine"]["data_invalida"]["examples"][0]["where"]
    assert where.startswith("sheet 'JAN-JUN_2023' row 5 of ")
    assert_every_row_accounted(data)


def test_a_data_sheet_missing_a_column_is_a_file_error(tmp_path):
    book = openpyxl.Workbook()
    book.active.title = "1"
    book.active.append(clean.REQUIRED)
    second = book.create_sheet("2")
    second.append([c for c in clean.REQUIRED if c != "BAIRRO"])
    book.save(tmp_path / "x.xlsx")
    with pytest.raises(ValueError, match=r"sheet '2': missing column BAIRRO"):
        clean.read_raw(tmp_path / "x.xlsx")


# ---------------------------------------------------------------------------------------------
# the rules one by one, on DataFrames


def frame(n, **columns):
    """A DataFrame of n São Paulo robberies on Mon 02/01/2023 at 10:00 in the Sé, overridden by columns."""
    base = {"NOME_DELEGACIA": "01º D.P. SE", "ANO_BO": 2023, "NUM_BO": [f"N{i}" for i in range(n)],
            "CIDADE": "S.PAULO", "BAIRRO": "Sé", "DATA_OCORRENCIA_BO": "02/01/2023", "HORA_OCORRENCIA": "10:00",
            "DESCR_PERIODO": None, "RUBRICA": "Roubo (art. 157)", "DESCR_TIPOLOCAL": "Via Pública",
            "MARCA_OBJETO": "Samsung"}
    base.update(columns)
    return pd.DataFrame(base, index=range(n))


def test_missing_markers_read_as_missing():
    assert all(text.is_missing(v) for v in ["NULL", "null", " Null ", "N/A", "n/a", "NA", "#N/D", "-", "", "  ", None,
                                            np.nan])
    assert not any(text.is_missing(v) for v in ["Sé", "NULLO", "Nair", 0, "0"])
    data = clean.clean(frame(6, BAIRRO=["NULL", "null", " N/A ", "#N/D", "-", "Sé"]))
    assert list(data.index) == [5]                           # no bairro called "NULL"
    assert data.attrs["dropped"]["bairro"] == 5
    data = clean.clean(frame(3, MARCA_OBJETO=["NULL", "n/a", "Samsung"]))
    assert list(data.index) == [2] and data.attrs["dropped"]["marca"] == 2
    # a NULL sub-type falls back to the type; a NULL type with a known sub-type is fine
    data = clean.clean(frame(2, DESCR_TIPOLOCAL=["Residência", "NULL"], DESCR_SUBTIPOLOCAL=["NULL", "Casa"]))
    assert list(data["local"]) == [7, 7]
    assert data.attrs["unknown_places"] == {}
    # NULL report-key parts are missing: such rows are never merged
    data = clean.clean(frame(3, NUM_BO=["NULL", "NULL", "X"]))
    assert list(data.index) == [0, 1, 2]


def test_excel_serial_dates():
    dates = [45123, "45123", 45123.5, " 45123.75 ", 44927, "2023", 100000, "16/07/2023"]
    data = clean.clean(frame(len(dates), DATA_OCORRENCIA_BO=dates))
    # 45123 = 2023-07-16 (a Sunday); 44927 = 2023-01-01 (a Sunday); "2023" and 100000 are not serial days
    assert list(data.index) == [0, 1, 2, 3, 4, 7]
    assert list(data["dia"]) == ["DOMINGO"] * 6
    assert quarantined(data) == {"data_invalida": [(5, "2023"), (6, 100000)]}


def test_24_00_is_the_next_day_at_midnight():
    hours = ["24:00", "24:00:00", "2023-01-02 24:00", "24:01", "24:00:30", "23:59"]
    data = clean.clean(frame(len(hours), HORA_OCORRENCIA=hours))
    # Mon 02/01/2023 24:00 = Tue 03/01/2023 00:00
    assert list(data.index) == [0, 1, 2, 5]
    assert list(data["dia"]) == ["TERCA", "TERCA", "TERCA", "SEGUNDA"]
    assert list(data["periodo"]) == ["MADRUGADA", "MADRUGADA", "MADRUGADA", "NOITE"]
    assert quarantined(data) == {"hora_invalida": [(3, "24:01"), (4, "24:00:30")]}
    # Sunday 24:00 is Monday
    data = clean.clean(frame(1, DATA_OCORRENCIA_BO="08/01/2023", HORA_OCORRENCIA="24:00"))
    assert list(data["dia"]) == ["SEGUNDA"]


def test_hour_cells_and_fractions():
    hours = [datetime.time(6, 0), datetime.time(6, 1), 0.25, 0.75, 0.7507, datetime.datetime(1899, 12, 30, 18, 1), 1.5]
    data = clean.clean(frame(len(hours), HORA_OCORRENCIA=hours))
    # 0.25 = 06:00, 0.75 = 18:00, 0.7507 = 18:01:00.48; 1.5 is not a time of day
    assert list(data["periodo"]) == ["MADRUGADA", "MANHA", "MADRUGADA", "TARDE", "NOITE", "NOITE"]
    assert quarantined(data) == {"hora_invalida": [(6, 1.5)]}


def test_the_latest_version_of_a_report_wins():
    data = clean.clean(frame(7, NUM_BO=["A", "A", "A", "B", "B", "C", "C"],
                             VERSAO=[1, 3, 2, "2", "10", None, 1],
                             MARCA_OBJETO=["Nokia", "Apple", "LG", "Sony", "Asus", "ZTE", "Lenovo"]))
    # A: version 3; B: 10 > 2 as numbers; C: a missing VERSAO is older than 1
    assert list(data.index) == [1, 4, 6]
    assert list(data["marca"]) == ["Apple", "Asus", "Lenovo"]
    assert data.attrs["dropped"]["versao"] == 4 and data.attrs["dropped"]["duplicado"] == 0
    # two rows of the latest version: the first one; without VERSAO: the first row of the report
    data = clean.clean(frame(3, NUM_BO=["A", "A", "A"], VERSAO=[2, 2, 1], MARCA_OBJETO=["Apple", "LG", "Sony"]))
    assert list(data.index) == [0] and data.attrs["dropped"] == {**dict.fromkeys(clean.DROP_REASONS, 0),
                                                                 "versao": 1, "duplicado": 1}
    data = clean.clean(frame(3, NUM_BO=["A", "A", "A"], MARCA_OBJETO=["Sony", "Apple", "LG"]))
    assert list(data["marca"]) == ["Sony"]


def test_ato_infracional_rubrics_are_counted_and_kept_by_choice(monkeypatch):
    rubrics = ["A.I.-Roubo (art. 157)", "A.I.-Furto (art. 155)", "A.I.-Lesão corporal (art. 129)", "Roubo (art. 157)"]
    data = clean.clean(frame(4, RUBRICA=rubrics))
    assert clean.KEEP_ATO_INFRACIONAL is True
    assert list(data.index) == [0, 1, 3]
    assert list(data["rubrica"]) == ["ROUBO", "FURTO", "ROUBO"]
    assert data.attrs["ato_infracional"] == 2
    assert data.attrs["dropped"]["rubrica"] == 1 and data.attrs["dropped"]["ato_infracional"] == 0
    monkeypatch.setattr(clean, "KEEP_ATO_INFRACIONAL", False)
    data = clean.clean(frame(4, RUBRICA=rubrics))
    assert list(data.index) == [3]
    assert data.attrs["ato_infracional"] == 2 and data.attrs["dropped"]["ato_infracional"] == 2


def test_quarantine_keeps_a_few_examples_and_every_count():
    hours = ["x"] * 8 + ["10:00"]
    data = clean.clean(frame(9, HORA_OCORRENCIA=hours))
    q = data.attrs["quarantine"]["hora_invalida"]
    assert q["count"] == 8 and len(q["examples"]) == clean.QUARANTINE_EXAMPLES == 5
    assert [e["index"] for e in q["examples"]] == [0, 1, 2, 3, 4]
    assert q["examples"][0]["where"] == "DataFrame index 0"
    assert set(data.attrs["quarantine"]) == set(clean.QUARANTINE_REASONS)


# ---------------------------------------------------------------------------------------------
# brands


@pytest.mark.parametrize("value, brand", [
    ("IPHONE 11", "Apple"), ("GALAXY A10", "Samsung"), ("MOTO G7", "Motorola"), ("REDMI NOTE 8", "Xiaomi"),
    ("SAMSUNG GALAXY S20", "Samsung"), ("Apple iPhone 12", "Apple"), ("  samsung   galaxy s20 ", "Samsung"),
    ("iPhone", "Apple"), ("Xiaomi", "Xiaomi"), ("MI 9", "Xiaomi"), ("POCO X3", "Xiaomi"), ("Zenfone 5", "Asus"),
    ("HUAWEI P30 LITE", "Huawei"), ("P30 LITE", "Huawei"), ("MATE 20", "Huawei"), ("K10", "LG"),
    ("LG K10 POWER", "LG"), ("XPERIA Z3", "Sony"), ("LUMIA 535", "Microsoft"), ("LUMIA 520", "Nokia"),
    ("NOKIA LUMIA 535", "Nokia"), ("MICROSOFT LUMIA 640", "Microsoft"), ("RAZR V3", "Motorola"),
    ("BLACK BERRY CURVE", "BlackBerry"), ("Positivo Twist", "Positivo"), ("Multilaser MS50", "Multilaser"),
    ("ZTE BLADE", "ZTE"), ("Blu", "BLU"), ("Siemens", "Siemens"), ("Sansung", "Samsung"),
    # not known: "Outros"
    ("LUMIA", "Outros"), ("IPHONE11", "Outros"), ("MIA", "Outros"), ("Marca Desconhecida", "Outros"),
    ("NOVA 5T", "Outros"), ("OUTROS", "Outros"), ("123", "Outros"),
    # missing
    (None, None), ("", None), ("   ", None), (np.nan, None),
])
def test_brand_of(value, brand):
    assert brands.brand_of(value) == brand


def test_brand_rule_takes_the_longest_prefix():
    table = {"MOTO": "Motorola", "MOTO X": "Lenovo"}
    assert brands.brand_of("MOTO X PLAY", table) == "Lenovo"
    assert brands.brand_of("MOTO G", table) == "Motorola"
    assert brands.brand_of("MOTO X", table) == "Lenovo"           # exact
    assert brands.brand_of("MOTOX", table) == "Outros"            # a key must be followed by a space
    assert brands.brand_of("SONY XPERIA", table) == "Sony"        # brand names always count


def test_brand_table_is_folded_and_names_only_known_brands():
    table = brands.brand_table()
    assert table["IPHONE"] == "Apple" and table["GALAXY"] == "Samsung" and table["REDMI"] == "Xiaomi"
    assert all(text.normalize(k) == k for k in table)
    assert set(table.values()) <= set(MARCAS) - {"Outros"}
    lines = brands.TABLE_PATH.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "text,brand" and len(lines) - 1 == len(table)     # no key listed twice
    series = brands.brand_of_series(pd.Series(["IPHONE 11", None, "IPHONE 11", "foo"]))
    assert list(series) == ["Apple", None, "Apple", "Outros"]


# ---------------------------------------------------------------------------------------------
# places


def test_sourced_place_names_are_classified():
    assert len(places.SOURCED) == 131
    expected = {   # sub-type (as the sources write it) -> class index (LABELS order)
        "Berçário/Creche": 0, "Escritórios": 1, "Delegacia/Distrito policial": 1, "Posto de Saúde": 2,
        "Casa de show/Espetáculo": 3, "Bar/Botequim": 4, "Café/Lanchonete": 4, "Interior de Veículo Particular": 5,
        "Estacionamento com vigilância": 5, "Farmácia/Drogaria": 6, "Caixa eletrônico": 6, "Shopping Center": 6,
        "Garagem ou abrigo de residência": 7, "Pensão/Estalagem/Hospedaria": 7, "Edícula/Fundos": 7,
        "Metroviário e Ferroviário Metropolitano": 8, "Interior de Transporte Coletivo": 8, "Ponto de Ônibus": 8,
        "Transeunte": 9, "De frente a residência da vítima": 9, "Túnel/Viaduto/Ponte": 9, "Via Pública": 9,
    }
    subs = list(expected)
    data = clean.clean(frame(len(subs), DESCR_TIPOLOCAL="NULL", DESCR_SUBTIPOLOCAL=subs))
    assert dict(zip(subs, data["local"])) == expected
    # type-level names classify rows without a sub-type, in either column
    data = clean.clean(frame(3, DESCR_TIPOLOCAL=["Comércio e Serviços", "Terminal/Estação", "NULL"],
                             DESCR_SUBTIPOLOCAL=[None, "NULL", "Condomínio Residencial"]))
    assert list(data["local"]) == [6, 8, 7]


def test_unclassified_places_are_listed():
    data = clean.clean(frame(3, DESCR_TIPOLOCAL=["Outros", "Internet", "Templo e afins"],
                             DESCR_SUBTIPOLOCAL=["Outros", None, "Igreja"]))
    assert len(data) == 0
    assert data.attrs["unknown_places"] == {("Outros", "Outros"): 1, ("Internet", None): 1,
                                            ("Templo e afins", "Igreja"): 1}


# ---------------------------------------------------------------------------------------------
# file problems still raise; the old row errors are quarantined now


def test_missing_column(tmp_path):
    text_ = CSV_2023.replace("HORA_OCORRENCIA", "HORA")
    with pytest.raises(ValueError, match="missing column HORA_OCORRENCIA"):
        clean.clean(clean.read_raw(write(tmp_path, "x.csv", text_, "latin-1")))
    with pytest.raises(ValueError, match="missing column MARCA_OBJETO"):
        clean.clean(generate.generate(50).drop(columns="MARCA_OBJETO"))


def _replace_line(text_, line, old, new):
    lines = text_.split("\n")
    assert old in lines[line - 1]
    lines[line - 1] = lines[line - 1].replace(old, new, 1)
    return "\n".join(lines)


def test_bad_date_is_quarantined_with_its_line(tmp_path):
    text_ = _replace_line(CSV_2023, 3, "03/01/2023", "31/02/2023")
    data = clean.clean(clean.read_raw(write(tmp_path, "x.csv", text_, "latin-1")))
    assert 3 not in data.index and len(data) == len(EXPECTED) - 1
    assert quarantined(data) == {"data_invalida": [(3, "31/02/2023")]}


def test_bad_hours_are_quarantined_and_24_00_is_read(tmp_path):
    text_ = _replace_line(CSV_2023, 5, "12:00", "12h00")
    data = clean.clean(clean.read_raw(write(tmp_path, "x.csv", text_, "latin-1")))
    assert quarantined(data) == {"hora_invalida": [(5, "12h00")]}
    # line 6 of the old file: Fri 06/01/2023 24:00 is Saturday 00:00
    data = clean.clean(clean.read_raw(write(tmp_path, "y.csv", _replace_line(CSV_OLD, 6, "12:01", "24:00"), "utf-8")))
    assert (data.loc[6, "dia"], data.loc[6, "periodo"]) == ("SABADO", "MADRUGADA")


def test_bad_values_in_xlsx_name_the_sheet_and_row(tmp_path):
    raw = clean.read_raw(write(tmp_path, "celulares.csv", _replace_line(CSV_2023, 4, "06:01", "6.01"), "latin-1"))
    data = clean.clean(clean.read_raw(_to_xlsx(raw, tmp_path / "bad.xlsx")))
    example = data.attrs["quarantine"]["hora_invalida"]["examples"][0]
    assert (example["sheet"], example["row"], example["value"]) == ("Sheet1", 4, "6.01")
    assert example["where"].startswith("sheet 'Sheet1' row 4 of ") and example["where"].endswith("bad.xlsx")


def test_bad_values_in_a_dataframe_name_its_index():
    frame_ = generate.generate(400, seed=1)
    kept = clean.clean(frame_).index
    frame_.loc[kept[3], "HORA_OCORRENCIA"] = "noon"
    data = clean.clean(frame_)
    assert kept[3] not in data.index and len(data) == len(kept) - 1
    example = data.attrs["quarantine"]["hora_invalida"]["examples"][0]
    assert (example["index"], example["value"], example["where"]) == (kept[3], "noon", f"DataFrame index {kept[3]}")


def test_bad_period_age_and_sex_are_quarantined(tmp_path):
    data = clean.clean(clean.read_raw(write(tmp_path, "a.csv", _replace_line(CSV_2023, 11, "A noite", "De noitinha"),
                                            "latin-1")))
    assert quarantined(data) == {"periodo_invalido": [(11, "De noitinha")]}
    data = clean.clean(clean.read_raw(write(tmp_path, "b.csv", _replace_line(CSV_OLD, 3, ",21,", ",vinte,"), "utf-8")))
    assert quarantined(data) == {"idade_invalida": [(3, "vinte")]}
    data = clean.clean(clean.read_raw(write(tmp_path, "c.csv", _replace_line(CSV_OLD, 2, ",M,", ",X,"), "utf-8")))
    assert quarantined(data) == {"sexo_invalido": [(2, "X")]}
    assert_every_row_accounted(data)


def test_rows_other_steps_drop_are_not_checked(tmp_path):
    # line 13 is in Guarulhos and has the hour 99:99: not quarantined, dropped as another city
    data = clean.clean(clean.read_raw(write(tmp_path, "x.csv", CSV_2023, "latin-1")))
    assert 13 not in data.index
    assert data.attrs["dropped"]["hora_invalida"] == 0 and data.attrs["dropped"]["cidade"] == 1


# ---------------------------------------------------------------------------------------------
# the generator's file, written and read back


@pytest.mark.parametrize("sep, encoding", [(";", "latin-1"), (",", "utf-8")])
def test_generated_file_round_trips_through_csv(tmp_path, sep, encoding):
    raw = generate.generate(3000, seed=5)
    path = tmp_path / "celulares.csv"
    raw.to_csv(path, sep=sep, encoding=encoding, index=False)
    from_file = clean.clean(clean.read_raw(path))
    direct = clean.clean(raw)
    assert list(from_file.index) == list(direct.index + 2)          # line = position + 2
    pd.testing.assert_frame_equal(from_file.reset_index(drop=True), direct.reset_index(drop=True))
    assert nonzero({k: v for k, v in direct.attrs["dropped"].items() if k in clean.QUARANTINE_REASONS}) == {}
    assert_every_row_accounted(direct)
