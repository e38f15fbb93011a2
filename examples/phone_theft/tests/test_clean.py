"""clean.read_raw and clean.clean on small hand-written files in both column layouts."""
import datetime

import numpy as np
import pandas as pd
import pytest

from phone_theft import clean, generate
from phone_theft.constants import FEATURES, LABELS

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
DROPPED = {"cidade": 1, "rubrica": 1, "duplicado": 1, "periodo": 1, "local": 1, "marca": 1, "bairro": 1, "data": 0}


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
# bad input: ValueError naming the column and the row


def test_missing_column(tmp_path):
    text = CSV_2023.replace("HORA_OCORRENCIA", "HORA")
    with pytest.raises(ValueError, match="missing column HORA_OCORRENCIA"):
        clean.clean(clean.read_raw(write(tmp_path, "x.csv", text, "latin-1")))
    with pytest.raises(ValueError, match="missing column MARCA_OBJETO"):
        clean.clean(generate.generate(50).drop(columns="MARCA_OBJETO"))


def _replace_line(text, line, old, new):
    lines = text.split("\n")
    assert old in lines[line - 1]
    lines[line - 1] = lines[line - 1].replace(old, new, 1)
    return "\n".join(lines)


def test_bad_date_names_column_and_line(tmp_path):
    text = _replace_line(CSV_2023, 3, "03/01/2023", "31/02/2023")
    with pytest.raises(ValueError, match=r"line 3 of .*x\.csv: column DATA_OCORRENCIA_BO: .*'31/02/2023'"):
        clean.clean(clean.read_raw(write(tmp_path, "x.csv", text, "latin-1")))


def test_bad_hour_names_column_and_line(tmp_path):
    text = _replace_line(CSV_2023, 5, "12:00", "12h00")
    with pytest.raises(ValueError, match=r"line 5 of .*: column HORA_OCORRENCIA: .*'12h00'"):
        clean.clean(clean.read_raw(write(tmp_path, "x.csv", text, "latin-1")))
    text = _replace_line(CSV_OLD, 6, "12:01", "24:00")
    with pytest.raises(ValueError, match=r"line 6 of .*: column HORA_OCORRENCIA: .*'24:00'"):
        clean.clean(clean.read_raw(write(tmp_path, "y.csv", text, "utf-8")))


def test_bad_values_in_xlsx_name_the_spreadsheet_row(tmp_path):
    raw = clean.read_raw(write(tmp_path, "celulares.csv", _replace_line(CSV_2023, 4, "06:01", "6.01"), "latin-1"))
    with pytest.raises(ValueError, match=r"row 4 of .*\.xlsx: column HORA_OCORRENCIA: .*'6.01'"):
        clean.clean(clean.read_raw(_to_xlsx(raw, tmp_path / "bad.xlsx")))


def test_bad_values_in_a_dataframe_name_its_index():
    frame = generate.generate(400, seed=1)
    kept = clean.clean(frame).index
    frame.loc[kept[3], "HORA_OCORRENCIA"] = "noon"
    with pytest.raises(ValueError, match=rf"DataFrame index {kept[3]}: column HORA_OCORRENCIA: .*'noon'"):
        clean.clean(frame)


def test_bad_period_age_and_sex(tmp_path):
    text = _replace_line(CSV_2023, 11, "A noite", "De noitinha")
    with pytest.raises(ValueError, match=r"line 11 of .*: column DESCR_PERIODO: .*'De noitinha'"):
        clean.clean(clean.read_raw(write(tmp_path, "a.csv", text, "latin-1")))
    text = _replace_line(CSV_OLD, 3, ",21,", ",vinte,")
    with pytest.raises(ValueError, match=r"line 3 of .*: column IDADE: .*'vinte'"):
        clean.clean(clean.read_raw(write(tmp_path, "b.csv", text, "utf-8")))
    text = _replace_line(CSV_OLD, 2, ",M,", ",X,")
    with pytest.raises(ValueError, match=r"line 2 of .*: column SEXO: .*'X'"):
        clean.clean(clean.read_raw(write(tmp_path, "c.csv", text, "utf-8")))


def test_rows_other_steps_drop_are_not_checked(tmp_path):
    # line 13 is in Guarulhos and has the hour 99:99: no error, the row is dropped
    data = clean.clean(clean.read_raw(write(tmp_path, "x.csv", CSV_2023, "latin-1")))
    assert 13 not in data.index


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
