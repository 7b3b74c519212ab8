"""Data tests on ../shared/data: what the ingest of the real UNODC and CBP files must find.

The UNODC IDS ingest takes seconds, so it runs once per session (session fixture) and every test
reads its report and records.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from core.settings import Settings
from features.importers.cbp import load_cbp_series
from features.ingest import IngestReport, ingest_files, read_records
from features.series import build_series

pytestmark = pytest.mark.realdata

IDS_FILE = "unodc_ids_2011_2016/drug-trafficking-unodc.csv"
CBP_GLOB = "cbp_nationwide_drugs/*.csv"
KNOWN_GROUPS = {"cannabis", "cocaine", "opioids", "amphetamine-type stimulants", "NPS",
                "sedatives", "precursors", "other"}


@pytest.fixture(scope="session")
def ids_ingest(shared_data: Path, tmp_path_factory) -> tuple[IngestReport, pd.DataFrame]:
    settings = Settings(home=tmp_path_factory.mktemp("ids_home"))
    report = ingest_files([shared_data / IDS_FILE], "unodc-ids", settings)
    return report, read_records(settings)


@pytest.fixture(scope="session")
def cbp_files(shared_data: Path) -> list[Path]:
    return sorted(shared_data.glob(CBP_GLOB))


def test_ids_ingest_reads_every_row_and_balances(ids_ingest):
    report, records = ids_ingest
    assert report.rows_read == 311_038
    assert report.rows_read == report.accepted + report.duplicates + report.quarantined_total
    assert len(records) == report.accepted


def test_ids_ingest_finds_the_exact_duplicates(ids_ingest):
    report, _ = ids_ingest
    assert report.duplicates >= 40_000


def test_ids_ingest_maps_at_least_99_percent_of_rows_to_a_known_group(ids_ingest):
    _, records = ids_ingest
    known = records["drug_group"].isin(KNOWN_GROUPS).mean()
    assert known >= 0.99, f"only {known:.2%} of rows map to a known group"


def test_colombia_is_the_top_seizing_country_by_record_count(ids_ingest):
    _, records = ids_ingest
    counts = records["country"].value_counts()
    assert counts.index[0] == "COL"
    assert counts.iloc[0] > 150_000


def test_ids_countries_are_iso3_with_un_regions(ids_ingest):
    _, records = ids_ingest
    assert records["country"].str.fullmatch(r"[A-Z]{3}").all()
    assert set(records["region"].dropna()) <= {"Africa", "Americas", "Asia", "Europe", "Oceania"}
    assert records["region"].notna().mean() > 0.999


def test_ids_transport_modes_are_the_fixed_set(ids_ingest):
    _, records = ids_ingest
    assert set(records["transport_mode"]) <= {"air", "land", "sea", "mail", "rail", "unknown"}
    assert (records["transport_mode"] == "air").sum() > 10_000


def _southwest_meth_counts_from_the_files(paths: list[Path]) -> pd.Series:
    """Independent reading: FY months by hand, the overlap dropped on the label columns."""
    rows = pd.concat([pd.read_csv(p) for p in paths], ignore_index=True)
    rows["FY"] = rows["FY"].astype(str).str[:4].astype(int)
    keys = ["FY", "Month (abbv)", "Component", "Region", "Land Filter",
            "Area of Responsibility", "Drug Type"]
    rows = rows.drop_duplicates(keys)
    rows = rows[(rows["Region"] == "Southwest Border") & (rows["Drug Type"] == "Methamphetamine")]
    months = {m: i for i, m in enumerate(["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG",
                                          "SEP", "OCT", "NOV", "DEC"], 1)}
    month = rows["Month (abbv)"].map(months)
    year = rows["FY"] - (month >= 10)
    ds = pd.to_datetime(pd.DataFrame({"year": year, "month": month, "day": 1}))
    return rows.groupby(ds)["Count of Event"].sum().astype(float)


def test_cbp_southwest_methamphetamine_counts_exist_every_month_and_match_the_files(cbp_files):
    series = load_cbp_series(cbp_files)
    meth = series[series["unique_id"] == "Southwest Border/methamphetamine/seizures"]
    got = meth.set_index("ds")["y"]
    months = pd.date_range("2018-10-01", "2025-05-01", freq="MS")
    assert got.reindex(months).notna().all()
    expected = _southwest_meth_counts_from_the_files(cbp_files)
    pd.testing.assert_series_equal(got.reindex(months), expected.reindex(months).fillna(0.0),
                                   check_names=False, check_freq=False)


def test_cbp_series_have_no_gaps_inside_their_span(cbp_files):
    series = load_cbp_series(cbp_files)
    assert series["y"].notna().all()
    assert series["ds"].min() == pd.Timestamp("2018-10-01")
    assert series["ds"].max() == pd.Timestamp("2025-05-01")
    assert set(series.loc[series["geo_level"] == "region", "geo"]) == {
        "Southwest Border", "Northern Border", "Coastal/Interior"}


def test_unodc_annual_tables_give_yearly_colombian_cocaine(shared_data, tmp_path):
    settings = Settings(home=tmp_path)
    paths = sorted((shared_data / "unodc_annual_seizures").glob("*.csv"))
    report = ingest_files(paths, "unodc-annual", settings)
    assert report.rows_read == 10_941 + 51_201
    assert report.rows_read == report.accepted + report.duplicates + report.quarantined_total
    series = pd.read_parquet(settings.warehouse_dir / "aggregates.parquet")
    cocaine = series[series["unique_id"] == "COL/cocaine/kg"].set_index("ds")["y"]
    years = pd.date_range("2000-01-01", "2022-01-01", freq="YS")
    assert (cocaine.reindex(years) > 10_000).all()


def test_ids_colombian_departments_are_normalised_onto_the_reviewed_table(ids_ingest):
    _, records = ids_ingest
    colombia = records.loc[records["country"] == "COL", "admin1"]
    assert colombia.notna().mean() > 0.85  # the rest name none, or a foreign country or sea
    assert colombia.nunique() == 33
    assert {"VALLE DEL CAUCA", "BOGOTA D.C.", "SAN ANDRES"} <= set(colombia.dropna())


def test_ids_built_series_hold_at_least_25_colombian_departments(ids_ingest):
    _, records = ids_ingest
    series = build_series(records[records["region"] == "Americas"])
    divisions = series.loc[series["geo_level"] == "admin1"]
    departments = {geo for geo in divisions["geo"] if geo.startswith("COL:")}
    assert len(departments) >= 25
    assert set(divisions.loc[divisions["geo"].isin(departments), "region"]) == {"Americas"}
