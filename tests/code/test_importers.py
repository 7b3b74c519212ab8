"""Importers of real formats on small hand-made files with known answers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core.errors import NarcotrendError
from core.settings import get_settings
from features.importers.cbp import KG_PER_LB, fiscal_month_start, load_cbp_series
from features.ingest import ingest_files, read_records

TODAY = pd.Timestamp("2025-06-01")

IDS_HEADER = ("REGION;SUBREGION;COUNTRY;ADMINISTRATIVE_DIVISION;PLACE;SEIZURE_DATE;DRUG_NAME;"
              "AMOUNT;DRUG_UNIT;HIDING_PLACE;INSTALLATION;TRANSPORT;PRODUCING_COUNTRY;"
              "DEPARTURE_COUNTRY;DESTINATION_COUNTRY;ROUTING\n")
IDS_ROWS = (
    "Americas;South America;Colombia;;Cali;2014-03-02;Coca paste;2.5;Kilogram;Vehicle;Road;"
    "Private road;Colombia;Unknown;Unknown;National territory/domestic seizure\n"
    # the same row again: an exact duplicate of the export
    "Americas;South America;Colombia;;Cali;2014-03-02;Coca paste;2.5;Kilogram;Vehicle;Road;"
    "Private road;Colombia;Unknown;Unknown;National territory/domestic seizure\n"
    # the same seizure reported with another TRANSPORT: a second record, as in the export
    "Americas;South America;Colombia;;Cali;2014-03-02;Coca paste;2.5;Kilogram;Vehicle;Road;"
    "Other;Colombia;Unknown;Unknown;\n"
    'Africa;East Africa;Mauritius;;"GRAND\nPORT";2011-03-30;Buprenorphine;9884.0;Tablet;Baggage;'
    "Airport;Commercial air;Unknown;France;Mauritius;Border - inbound\n"
    "Europe;East Europe;Russian Federation;;Moscow;2015-05-05;Unknown;1;Gram;;;;;;;\n"
    "Oceania;Oceania;New Zealand;;Auckland;2016-01-01;LSD;20;Blotting paper;;;Mail;;;;\n"
    "Europe;West & Central Europe;Spain;;Madrid;2013-07-07;Heroin;1.5;Litre;;;Commercial sea;;;;\n"
)


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def test_unodc_ids_export_maps_to_canonical_records(home):
    path = write(home / "ids.csv", IDS_HEADER + IDS_ROWS)
    report = ingest_files([path], "unodc-ids", get_settings(), today=TODAY)
    records = read_records(get_settings()).set_index("country")
    assert (report.rows_read, report.accepted, report.duplicates) == (7, 5, 1)
    assert report.quarantined == {"empty_drug": 1}  # DRUG_NAME 'Unknown' means missing
    colombia = records.loc["COL"].sort_values("transport_mode")
    assert colombia["transport_mode"].tolist() == ["land", "unknown"]
    assert colombia["substance"].tolist() == ["coca paste", "coca paste"]
    assert colombia["origin_country"].tolist() == ["COL", "COL"]
    assert colombia["departure_country"].isna().all()
    assert colombia["concealment"].tolist()[0] == (
        "Vehicle | Road | National territory/domestic seizure")
    mauritius = records.loc["MUS"]
    assert (mauritius["unit"], mauritius["departure_country"], mauritius["transport_mode"]) == (
        "tablet", "FRA", "air")
    assert mauritius["kg"] == pytest.approx(9884 * 0.0002)  # buprenorphine tablet: 0.2 g
    assert (records.loc["NZL", "unit"], records.loc["NZL", "transport_mode"]) == ("dose", "mail")
    assert records.loc["ESP", "kg"] == pytest.approx(1.5)  # 1 l = 1 kg
    assert (records["source"] == "UNODC IDS").all()
    assert records["seizure_id"].str.startswith("ids-").all()


def test_unodc_ids_reingest_finds_every_row_a_duplicate(home):
    path = write(home / "ids.csv", IDS_HEADER + IDS_ROWS)
    ingest_files([path], "unodc-ids", get_settings(), today=TODAY)
    again = ingest_files([path], "unodc-ids", get_settings(), today=TODAY)
    assert (again.accepted, again.duplicates) == (0, 6)


def test_unodc_ids_without_its_columns_is_refused(home):
    path = write(home / "x.csv", "date,country,drug,quantity,unit\n2024-01-01,ESP,x,1,kg\n")
    with pytest.raises(NarcotrendError, match="COUNTRY, SEIZURE_DATE, DRUG_NAME"):
        ingest_files([path], "unodc-ids", get_settings(), today=TODAY)


CBP_HEADER = ("FY,Month (abbv),Component,Region,Land Filter,Area of Responsibility,Drug Type,"
              "Count of Event,Sum Qty (lbs)\r\n")


def cbp_row(fy: str, month: str, region: str, area: str, drug: str, count: int,
            lbs: float, component: str = "Office of Field Operations") -> str:
    return f"{fy},{month},{component},{region},Land Only,{area},{drug},{count},{lbs}\r\n"


@pytest.fixture
def cbp_files(tmp_path) -> list[Path]:
    first = CBP_HEADER + "".join([
        cbp_row("2022", "SEP", "Southwest Border", "TUCSON SECTOR", "Methamphetamine", 3, 10.0),
        cbp_row("2022", "SEP", "Southwest Border", "TUCSON SECTOR", "Methamphetamine", 2, 5.0,
                "U.S. Border Patrol"),
        cbp_row("2022", "AUG", "Southwest Border", "YUMA SECTOR", "Fentanyl", 1, 2.0),
        cbp_row("2022", "AUG", "Northern Border", "BLAINE SECTOR", "Marijuana", 4, 1.0),
    ])
    second = CBP_HEADER + "".join([
        # FY2022 again (the overlap of the two published files)
        cbp_row("2022", "SEP", "Southwest Border", "TUCSON SECTOR", "Methamphetamine", 3, 10.0),
        cbp_row("2023", "OCT", "Southwest Border", "YUMA SECTOR", "Methamphetamine", 7, 20.0),
        cbp_row("2023", "OCT", "Northern Border", "BLAINE SECTOR", "Cocaine", 1, 1.0),
    ])
    return [write(tmp_path / "a.csv", first), write(tmp_path / "b.csv", second)]


def test_fiscal_months_map_to_calendar_months():
    starts = fiscal_month_start(pd.Series(["2019", "2019", "2025 (FYTD)", "2020"]),
                                pd.Series(["OCT", "SEP", "MAY", "DEC"]))
    assert starts.tolist() == [pd.Timestamp("2018-10-01"), pd.Timestamp("2019-09-01"),
                               pd.Timestamp("2025-05-01"), pd.Timestamp("2019-12-01")]


def test_cbp_series_sum_components_and_count_the_overlap_once(cbp_files):
    series = load_cbp_series(cbp_files).set_index(["unique_id", "ds"])["y"]
    assert series[("Southwest Border/methamphetamine/seizures", pd.Timestamp("2022-09-01"))] == 5
    assert series[("TUCSON SECTOR/methamphetamine/kg", pd.Timestamp("2022-09-01"))] == (
        pytest.approx(15 * KG_PER_LB))
    assert series[("USA/methamphetamine/seizures", pd.Timestamp("2022-10-01"))] == 7


def test_cbp_missing_cells_are_zero_when_the_region_reported_that_month(cbp_files):
    series = load_cbp_series(cbp_files)
    yuma = series[series["unique_id"] == "YUMA SECTOR/methamphetamine/seizures"]
    assert yuma.set_index("ds")["y"].to_dict() == {
        pd.Timestamp("2022-08-01"): 0.0, pd.Timestamp("2022-09-01"): 0.0,
        pd.Timestamp("2022-10-01"): 7.0}
    blaine = series[series["unique_id"] == "BLAINE SECTOR/cannabis herb/seizures"]
    # the Northern Border reported nothing in Sep 2022: not reporting, not zero
    assert blaine["y"].tolist()[0] == 4.0
    assert np.isnan(blaine["y"].tolist()[1])
    assert blaine["y"].tolist()[2] == 0.0


def test_cbp_series_have_the_long_format_keys(cbp_files):
    series = load_cbp_series(cbp_files)
    assert list(series.columns) == ["unique_id", "ds", "y", "geo_level", "geo", "region",
                                    "drug_level", "drug", "metric"]
    assert set(series["geo_level"]) == {"country", "region", "area"}
    assert set(series["region"]) == {"Americas"}
    assert set(series["drug_level"]) == {"substance"}
    assert set(series["metric"]) == {"seizures", "kg"}


def test_cbp_ingest_writes_aggregates_and_dedupes_on_reingest(home, cbp_files):
    first = ingest_files(cbp_files, "cbp", get_settings())
    again = ingest_files(cbp_files, "cbp", get_settings())
    aggregates = pd.read_parquet(get_settings().warehouse_dir / "aggregates.parquet")
    assert (first.rows_read, first.accepted, first.duplicates) == (7, 6, 1)
    assert (again.accepted, again.duplicates) == (0, 7)
    expected = load_cbp_series(cbp_files).assign(source="cbp")
    pd.testing.assert_frame_equal(aggregates.reset_index(drop=True), expected)


ANNUAL_A = (
    "Region,SubRegion,Country/Territory,msCode,Drug group,DrugSubGroup,Drug,Year,Kilograms\n"
    "Europe,Southern Europe,Spain,ESP,Cocaine and Derivatives,Cocaine,Cocaine hydrochloride,"
    "2019,100\n"
    "Europe,Southern Europe,Spain,ESP,Cocaine and Derivatives,Cocaine,Cocaine hydrochloride,"
    "2019,50\n"
    'Europe,Southern Europe,Spain,ESP,Cocaine and Derivatives,Cocaine,"Cocaine (total of the '
    'above, including if unspecified/undistinguished, but excluding coca leaf and coca bush)",'
    "2019,150\n"
    "Europe,Southern Europe,Spain,ESP,Opioids and Opiates,Opiates,Heroin,2021,3\n"
)
ANNUAL_B = (
    "Region,country,ISO Code,Drug Group,Drug,Year,KG Equivalent\n"
    "Europe,Spain,ESP,Cocaine-type,Cocaine salts,2019,999\n"
    "Europe,Spain,ESP,Cocaine-type,Cocaine salts,2018,80\n"
    "Europe,USSR,,Opioids,Heroin,1985,5\n"
    "Europe,Spain,ESP,Opioids,Heroin,2017,NULL\n"
)


def test_unodc_annual_tables_become_yearly_country_series(home, tmp_path):
    paths = [write(tmp_path / "a.csv", ANNUAL_A), write(tmp_path / "b.csv", ANNUAL_B)]
    report = ingest_files(paths, "unodc-annual", get_settings())
    assert report.quarantined == {"reported_total": 1, "unknown_country": 1,
                                  "non_finite_quantity": 1}
    series = pd.read_parquet(get_settings().warehouse_dir / "aggregates.parquet")
    y = series.set_index(["unique_id", "ds"])["y"]
    # 2019: both tables; the dataUNODC one wins and its two rows are summed
    assert y[("ESP/cocaine hydrochloride/kg", pd.Timestamp("2019-01-01"))] == 150
    assert y[("ESP/cocaine/kg", pd.Timestamp("2018-01-01"))] == 80
    # 2020: Spain reported nothing at all -> not reporting; 2021 heroin only -> cocaine 0
    assert np.isnan(y[("ESP/cocaine/kg", pd.Timestamp("2020-01-01"))])
    assert y[("ESP/cocaine/kg", pd.Timestamp("2021-01-01"))] == 0
    assert y[("ESP/heroin/kg", pd.Timestamp("2021-01-01"))] == 3
    assert set(series["geo_level"]) == {"country"}
    assert set(series["region"]) == {"Europe"}


def test_unodc_annual_refuses_an_unknown_layout(home, tmp_path):
    path = write(tmp_path / "x.csv", "a,b\n1,2\n")
    with pytest.raises(NarcotrendError, match="not a UNODC annual seizure table"):
        ingest_files([path], "unodc-annual", get_settings())


def test_cbp_and_a_yearly_table_sharing_an_id_keep_the_monthly_series(home, tmp_path, cbp_files):
    """CBP's national roll-up and UNODC's annual table both say `USA/methamphetamine/kg`: a
    monthly build keeps CBP's months (the yearly table is the coarser source), a yearly build
    has two values for one year and leaves the id out, saying so."""
    from features.build import build_all

    annual = write(tmp_path / "annual.csv", (
        "Region,SubRegion,Country/Territory,msCode,Drug group,DrugSubGroup,Drug,Year,Kilograms\n"
        "Americas,Northern America,United States of America,USA,Amphetamine-type stimulants,"
        "Methamphetamine,Methamphetamine,2022,1000\n"))
    settings = get_settings()
    ingest_files(cbp_files, "cbp", settings)
    ingest_files([annual], "unodc-annual", settings)
    uid = "USA/methamphetamine/kg"

    monthly = build_all(settings, freq="MS")
    series = pd.read_parquet(settings.series_dir / "series.parquet")
    cbp = load_cbp_series(cbp_files)
    expected = cbp[cbp["unique_id"] == uid].set_index("ds")["y"]
    got = series[series["unique_id"] == uid].set_index("ds")["y"]
    pd.testing.assert_series_equal(got, expected, check_names=False)
    assert monthly["aggregate_series"] == cbp["unique_id"].nunique()

    messages: list[str] = []
    build_all(settings, messages.append, freq="YS")
    series = pd.read_parquet(settings.series_dir / "series.parquet")
    assert uid not in set(series["unique_id"])
    assert any("two values for one period" in m for m in messages)


def test_unodc_ids_maps_its_wrappings_to_packaging_and_nothing_else_to_signatures(home):
    rows = ("Europe;West & Central Europe;Spain;;Madrid;2013-07-07;Heroin;1;Kilogram;"
            "Plastic bags;Airport;;;;;\n"
            "Europe;West & Central Europe;Spain;;Madrid;2013-07-08;Heroin;2;Kilogram;"
            "Baggage;Airport;;;;;\n")
    records = ingested_records(home / "ids.csv", IDS_HEADER + rows, "unodc-ids").sort_values("date")
    assert records["packaging"].tolist() == ["plastic bag", None]
    assert records["concealment"].tolist()[0] == "Plastic bags | Airport"
    assert records[["logo", "colour", "shape", "unit_weight_g", "purity_pct",
                    "profile"]].isna().all().all()


def ingested_records(path: Path, text: str, fmt: str) -> pd.DataFrame:
    """The stored records after ingesting `text` written to `path` in format `fmt`."""
    ingest_files([write(path, text)], fmt, get_settings(), today=TODAY)
    return read_records(get_settings())


def test_unodc_ids_keeps_the_division_and_the_place(home):
    rows = ("Americas;South America;Colombia;VALLE DEL CAUCA;Cali;2014-03-02;Coca paste;2.5;"
            "Kilogram;;;;;;;\n"
            "Americas;South America;Colombia;PANAMA;Cali;2014-03-03;Coca paste;1;Kilogram;;;;;;;\n"
            "Europe;West & Central Europe;Spain;Andalucía;Algeciras;2013-07-07;Heroin;1;Kilogram;"
            ";;;;;;\n")
    records = ingested_records(home / "ids.csv", IDS_HEADER + rows, "unodc-ids").sort_values("date")
    assert records["admin1"].tolist() == ["ANDALUCIA", "VALLE DEL CAUCA", None]
    assert records["municipality"].tolist() == ["Algeciras", "Cali", "Cali"]


PNC_HEADER = ("\ufeffCLASE_BIEN,DEPTO_HECHO,MUNICIPIO_HECHO,FECHA_HECHO,CLASE_SITIO,DIA_SEMANA,"
              "ZONA,CODIGO_DANE,BIEN_UNIDAD_MEDIDA,Droga Incautada/ Cantidad\n")
PNC_ROWS = (
    'BASE DE COCA,AMAZONAS,LETICIA (CT),02/20/2019 12:00:00 AM,BODEGAS Y SIMILARES,Miércoles,'
    'URBANA,"91,001,000",GRAMO,"16,780"\n'
    'MARIHUANA,VALLE,CALI (CT),03/01/2019 12:00:00 AM,NO DEFINIDO,Viernes,URBANA,"76,001,000",'
    'GRAMO,"1,250,500.5"\n'
    # two identical lines: two seizures of one day and place, both kept
    "COCAINA,BOLÍVAR,CARTAGENA (CT),04/30/2019 12:00:00 AM,PUERTO,Martes,URBANA,"
    '"13,001,000",GRAMO,500\n'
    "COCAINA,BOLÍVAR,CARTAGENA (CT),04/30/2019 12:00:00 AM,PUERTO,Martes,URBANA,"
    '"13,001,000",GRAMO,500\n'
    # a decimal comma is not a thousands separator: quarantined
    'HEROINA,NARIÑO,PASTO (CT),01/15/2019 12:00:00 AM,AEROPUERTO,Martes,URBANA,"52,001,000",'
    'GRAMO,"1,5"\n'
    "HEROINA,NARIÑO,PASTO (CT),13/45/2019 12:00:00 AM,AEROPUERTO,Martes,URBANA,"
    '"52,001,000",GRAMO,3\n'
    'TOTAL,,,,,,,,,"1,268,284.5"\n'
)


def test_pnc_colombia_export_maps_to_records_and_reports_the_total_row(home):
    path = write(home / "pnc.csv", PNC_HEADER + PNC_ROWS)
    report = ingest_files([path], "pnc-colombia", get_settings(), today=TODAY)
    assert (report.rows_read, report.accepted, report.duplicates) == (7, 4, 0)
    assert report.quarantined == {"reported_total": 1, "unparseable_quantity": 1,
                                  "unparseable_date": 1}
    records = read_records(get_settings()).sort_values(["date", "kg"])
    assert records["date"].dt.strftime("%Y-%m-%d").tolist() == [
        "2019-02-20", "2019-03-01", "2019-04-30", "2019-04-30"]
    assert records["kg"].tolist() == pytest.approx([16.78, 1250.5005, 0.5, 0.5])
    assert records["admin1"].tolist() == ["AMAZONAS", "VALLE DEL CAUCA", "BOLIVAR", "BOLIVAR"]
    assert records["municipality"].tolist()[0] == "LETICIA (CT)"
    assert records["concealment"].tolist() == ["BODEGAS Y SIMILARES", None, "PUERTO", "PUERTO"]
    assert records["substance"].tolist() == [
        "coca paste", "cannabis herb", "cocaine hydrochloride", "cocaine hydrochloride"]
    assert set(records["country"]) == {"COL"}
    assert records["seizure_id"].nunique() == 4


def test_pnc_colombia_quarantine_names_the_total_row(home):
    path = write(home / "pnc.csv", PNC_HEADER + PNC_ROWS)
    ingest_files([path], "pnc-colombia", get_settings(), today=TODAY)
    quarantine = pd.read_parquet(get_settings().warehouse_dir / "quarantine.parquet")
    total = quarantine[quarantine["reason"] == "reported_total"]
    assert total["CLASE_BIEN"].tolist() == ["TOTAL"]
    assert total["line"].tolist() == [8]


def test_pnc_colombia_reingest_adds_nothing(home):
    path = write(home / "pnc.csv", PNC_HEADER + PNC_ROWS)
    ingest_files([path], "pnc-colombia", get_settings(), today=TODAY)
    again = ingest_files([path], "pnc-colombia", get_settings(), today=TODAY)
    assert (again.accepted, again.duplicates) == (0, 4)
    assert len(read_records(get_settings())) == 4


def test_pnc_colombia_without_a_quantity_column_is_refused(home):
    path = write(home / "pnc.csv", "CLASE_BIEN,DEPTO_HECHO,FECHA_HECHO,BIEN_UNIDAD_MEDIDA\n"
                                   "COCAINA,META,01/01/2019 12:00:00 AM,GRAMO\n")
    with pytest.raises(NarcotrendError, match="quantity column"):
        ingest_files([path], "pnc-colombia", get_settings(), today=TODAY)


def test_records_stored_before_the_division_columns_gain_them_on_the_next_ingest(home):
    path = write(home / "pnc.csv", PNC_HEADER + PNC_ROWS)
    ingest_files([path], "pnc-colombia", get_settings(), today=TODAY)
    store = get_settings().warehouse_dir / "records.parquet"
    old = pd.read_parquet(store).drop(columns=["admin1", "municipality"])
    old.to_parquet(store, index=False)
    other = write(home / "c.csv", "date,country,drug,quantity,unit,admin1\n"
                                  "2024-01-01,ESP,cocaine,1,kg,Madrid\n")
    ingest_files([other], "canonical", get_settings(), today=TODAY)
    records = read_records(get_settings())
    assert len(records) == 5
    assert records["admin1"].notna().sum() == 1


def test_pnc_colombia_reads_the_department_from_the_dane_code_where_there_is_one(home):
    # the 2019 export files Bogotá (DANE 11001000) under CUNDINAMARCA
    rows = ('MARIHUANA,CUNDINAMARCA,BOGOTÁ D.C. (CT),01/02/2019 12:00:00 AM,VIAS PUBLICAS,'
            'Miércoles,URBANA,"11,001,000",GRAMO,10\n'
            "MARIHUANA,CUNDINAMARCA,SOACHA,01/02/2019 12:00:00 AM,VIAS PUBLICAS,Miércoles,"
            'URBANA,"25,754,000",GRAMO,10\n'
            "MARIHUANA,CUNDINAMARCA,SOACHA,01/03/2019 12:00:00 AM,VIAS PUBLICAS,Jueves,URBANA,"
            ",GRAMO,10\n")
    records = ingested_records(home / "pnc.csv", PNC_HEADER + rows, "pnc-colombia")
    records = records.sort_values(["date", "municipality"])
    assert records["admin1"].tolist() == ["BOGOTA D.C.", "CUNDINAMARCA", "CUNDINAMARCA"]
