"""Data tests on the Colombian National Police's 2019 seizures (../shared/data/
colombia_pnc_incautaciones_2019): what `--format pnc-colombia` must find, checked against sums
computed here from the raw CSV with the standard library, not with the importer's code."""

from __future__ import annotations

import csv
from collections import defaultdict
from pathlib import Path

import pandas as pd
import pytest

from core.divisions import division_table, normalise_division
from core.settings import Settings
from features.build import build_all
from features.ingest import IngestReport, ingest_files, read_records

pytestmark = pytest.mark.realdata

PNC_FILE = "colombia_pnc_incautaciones_2019/incautacion_2019.csv"
QUANTITY = "Droga Incautada/ Cantidad"


@pytest.fixture(scope="module")
def pnc_home(shared_data: Path, tmp_path_factory) -> tuple[IngestReport, pd.DataFrame, Settings]:
    settings = Settings(home=tmp_path_factory.mktemp("pnc_home"))
    report = ingest_files([shared_data / PNC_FILE], "pnc-colombia", settings)
    build_all(settings)
    return report, read_records(settings), settings


@pytest.fixture(scope="module")
def raw_rows(shared_data: Path) -> list[dict[str, str]]:
    with (shared_data / PNC_FILE).open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def _grams(text: str) -> float:
    return float(text.replace(",", ""))


def test_pnc_ingest_balances_and_reports_the_total_row(pnc_home, raw_rows):
    report, records, _ = pnc_home
    assert report.rows_read == len(raw_rows) == 16_808
    assert report.rows_read == report.accepted + report.duplicates + report.quarantined_total
    assert report.quarantined["reported_total"] == 1
    assert len(records) == report.accepted


def test_pnc_per_drug_kilograms_equal_the_raw_file(pnc_home, raw_rows):
    _, records, _ = pnc_home
    expected: dict[str, float] = defaultdict(float)
    for row in raw_rows:
        if row["CLASE_BIEN"] != "TOTAL":
            expected[row["CLASE_BIEN"]] += _grams(row[QUANTITY]) / 1000
    got = records.groupby("drug_reported")["kg"].sum()
    assert set(got.index) == set(expected)
    for drug, kg in expected.items():
        assert got[drug] == pytest.approx(kg, rel=1e-9), drug


def test_pnc_total_row_is_the_file_sum_to_within_a_kilogram(pnc_home, raw_rows):
    # the export's own TOTAL (195,361,819 g) is 181 g below the sum of its rows
    _, records, _ = pnc_home
    total = next(_grams(row[QUANTITY]) for row in raw_rows if row["CLASE_BIEN"] == "TOTAL")
    assert records["kg"].sum() == pytest.approx(total / 1000, abs=1.0)


def test_pnc_departments_are_those_of_their_dane_codes(pnc_home, raw_rows):
    """Each department's record count is the count of rows whose municipality's DANE code
    (first two of eight digits) names it; Bogotá D.C. too, which the export files under
    CUNDINAMARCA."""
    _, records, _ = pnc_home
    _, by_code = division_table("COL")
    expected: dict[str, int] = defaultdict(int)
    for row in raw_rows:
        if row["CLASE_BIEN"] != "TOTAL" and _grams(row[QUANTITY]) > 0:
            expected[by_code[f"{int(_grams(row['CODIGO_DANE'])) // 1_000_000:02d}"]] += 1
    assert records["admin1"].value_counts().to_dict() == dict(expected)
    assert expected["BOGOTA D.C."] > 0


def test_pnc_department_names_all_map_to_the_reviewed_table(raw_rows):
    names = {row["DEPTO_HECHO"] for row in raw_rows if row["CLASE_BIEN"] != "TOTAL"}
    assert len(names) == 32
    assert all(normalise_division("COL", name) for name in names)


def test_pnc_built_series_hold_at_least_25_colombian_departments(pnc_home):
    _, _, settings = pnc_home
    series = pd.read_parquet(settings.series_dir / "series.parquet")
    divisions = series[series["geo_level"] == "admin1"]
    departments = set(divisions["geo"])
    assert len(departments) >= 25
    assert all(geo.startswith("COL:") for geo in departments)
    assert set(divisions["region"]) == {"Americas"}
    country = series[series["unique_id"] == "COL/cocaine/kg"].set_index("ds")["y"]
    summed = divisions[(divisions["drug"] == "cocaine") & (divisions["metric"] == "kg")]
    assert summed.groupby("ds")["y"].sum().to_numpy() == pytest.approx(country.to_numpy())
