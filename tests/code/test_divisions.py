"""Admin-1 divisions: the reviewed Colombian table, name normalisation and the geo matchers."""

from __future__ import annotations

import csv

import pandas as pd
import pytest

from core.divisions import (
    DIVISION_TABLES,
    division_name,
    division_table,
    normalise_division,
    split_admin1,
)
from core.errors import NarcotrendError
from core.geography import country_region, country_subregion, geo_covers, geo_name, normalise_geo
from core.taxonomy import REFERENCE_DIR
from features.normalise import divisions_of


def _colombia_rows() -> list[dict[str, str]]:
    with (REFERENCE_DIR / DIVISION_TABLES["COL"]).open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def test_colombia_table_holds_its_33_departments_once_with_two_digit_dane_codes():
    rows = _colombia_rows()
    assert len(rows) == 33
    assert len({r["dane_code"] for r in rows}) == 33
    assert len({r["geo_name"] for r in rows}) == 33
    assert all(len(r["dane_code"]) == 2 and r["dane_code"].isdigit() for r in rows)
    assert {"BOGOTA D.C.", "SAN ANDRES"} <= {r["geo_name"] for r in rows}


def test_colombia_table_names_are_in_their_normalised_form():
    for row in _colombia_rows():
        assert division_name(row["geo_name"]) == row["geo_name"]


@pytest.mark.parametrize(("reported", "expected"), [
    ("Valle del Cauca", "VALLE DEL CAUCA"), ("VALLE", "VALLE DEL CAUCA"),
    ("Bogotá, D.C.", "BOGOTA D.C."), ("BOGOTA, D.C.", "BOGOTA D.C."),
    ("ATLÁNTICO", "ATLANTICO"), ("Nariño", "NARINO"), ("GUAJIRA", "LA GUAJIRA"),
    ("SAN ANDRÉS", "SAN ANDRES"), ("PROVIDENCIA Y SANTA CATALINA", "SAN ANDRES"),
    ("Archipiélago de San Andrés, Providencia y Santa Catalina", "SAN ANDRES"),
    ("  norte   de santander ", "NORTE DE SANTANDER"),
])
def test_reporters_spellings_of_colombian_departments_map_to_the_table(reported, expected):
    assert normalise_division("COL", reported) == expected


def test_a_name_the_reviewed_table_does_not_know_is_no_division():
    # the IDS export names foreign countries and seas as Colombian "divisions"
    assert normalise_division("COL", "PANAMA") is None
    assert normalise_division("COL", "MAR PACÍFICO") is None


def test_other_countries_keep_the_normalised_name_as_reported():
    assert normalise_division("ESP", "Andalucía") == "ANDALUCIA"
    assert normalise_division("RUS", "г. Москва") == "Г. МОСКВА"
    assert normalise_division("ECU", "D.M. / QUITO:norte") == "D.M. QUITO NORTE"
    assert normalise_division("ESP", "Unknown") is None
    assert normalise_division("ESP", None) is None


def test_divisions_of_records_map_each_distinct_pair_once_and_keep_nulls():
    iso3 = pd.Series(["COL", "COL", "ESP", None, "COL"])
    names = pd.Series(["VALLE", "Antioquia", "Madrid", "Madrid", None])
    divisions = divisions_of(iso3, names)
    assert divisions.astype(object).where(divisions.notna(), None).tolist() == [
        "VALLE DEL CAUCA", "ANTIOQUIA", "MADRID", None, None]


def test_normalise_geo_accepts_a_division_and_normalises_both_parts():
    assert normalise_geo("COL:ANTIOQUIA") == "COL:ANTIOQUIA"
    assert normalise_geo("Colombia:Valle") == "COL:VALLE DEL CAUCA"
    assert normalise_geo("co: bogotá") == "COL:BOGOTA D.C."
    assert normalise_geo("ESP:Andalucía") == "ESP:ANDALUCIA"
    assert split_admin1("COL:BOGOTA D.C.") == ("COL", "BOGOTA D.C.")
    assert split_admin1("Europe") is None


@pytest.mark.parametrize("geo", ["COL:PANAMA", "Europe:MADRID", "Atlantis:North", "COL:"])
def test_normalise_geo_refuses_a_division_of_no_country_or_unknown_to_its_table(geo):
    with pytest.raises(NarcotrendError):
        normalise_geo(geo)


def test_a_division_lies_in_its_country_region_and_subregion():
    assert country_region("COL:ANTIOQUIA") == "Americas"
    assert country_subregion("COL:ANTIOQUIA") == country_subregion("COL")
    assert country_region("ESP:ANDALUCIA") == "Europe"
    assert geo_name("COL:ANTIOQUIA") == "ANTIOQUIA, Colombia"


def test_country_region_and_subregion_filters_cover_a_division_alert():
    alert = {"geo_level": "admin1", "geo": "COL:ANTIOQUIA", "region": "Americas"}
    covering = ["COL", country_subregion("COL"), "Americas", "World", "COL:ANTIOQUIA"]
    assert [geo_covers(geo, alert) for geo in covering] == [True] * len(covering)
    assert [geo_covers(geo, alert) for geo in ["ESP", "Europe", "COL:CAUCA", "ECU"]] == [
        False] * 4


def test_a_division_filter_does_not_cover_its_country_alert():
    alert = {"geo_level": "country", "geo": "COL", "region": "Americas"}
    assert not geo_covers("COL:ANTIOQUIA", alert)


def test_dane_codes_name_the_same_departments_as_the_names():
    _, codes = division_table("COL")
    assert codes["05"] == "ANTIOQUIA"
    assert codes["11"] == "BOGOTA D.C."
    assert codes["88"] == "SAN ANDRES"
