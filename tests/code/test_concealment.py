"""The concealment taxonomy and classifier: hiding terms decide, place terms only without one,
original text kept, unknown text reported; and where a concealment method is not a place."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from core.geography import geo_covers
from core.settings import get_settings
from features.concealment import (
    METHODS,
    classify_concealment,
    method_of,
    read_concealment_taxonomy,
    unknown_parts,
)
from features.ingest import ingest_files, read_records
from features.synthetic_catalog import CONCEALMENT, CONCEALMENT_SHIFT_CANDIDATES


@pytest.mark.parametrize(("text", "method"), [
    ("Baggage | Vehicle | National territory/domestic seizure", "luggage"),  # hiding first
    ("Package | Post Office", "postal_parcel"),  # a wrapping gives way to a named place
    ("Package | Street", "other"),
    ("Cosmetics | Airport", "other"),  # hidden in goods, found at an airport
    ("Swallowed | Airport | Border - inbound", "body_carrier"),
    ("Airport | Border - inbound", "unknown"),  # said where, not how
    ("Car", "vehicle_compartment"),  # a place decides when nothing is hidden
    ("hidden in a false floor, truck", "vehicle_compartment"),  # words inside free text
    ("container bananas", "container_cargo"),
])
def test_method_of_lets_hiding_terms_decide_and_places_only_without_one(text, method):
    assert method_of(text)[0] == method


def test_place_terms_do_not_match_inside_free_text():
    assert method_of("paid at the bar") == ("unknown", ["paid at the bar"])


def test_classify_keeps_no_text_null_and_reports_unknown_parts():
    texts = pd.Series(["parcel", None, "  ", "zapatos | Airport", "zapatos | Airport", "Other"])
    methods = classify_concealment(texts)
    assert methods.isna().tolist() == [False, True, True, False, False, False]
    assert methods.dropna().tolist() == ["postal_parcel", "unknown", "unknown", "unknown"]
    assert unknown_parts(texts) == {"zapatos": 2}


def test_taxonomy_is_lower_case_unique_and_uses_known_methods():
    table = read_concealment_taxonomy()
    assert table["name"].is_unique
    assert (table["name"] == table["name"].str.lower()).all()
    assert set(table["method"]) == set(METHODS)


def test_every_synthetic_concealment_spelling_has_a_known_method():
    words = {w for texts in CONCEALMENT.values() for w in texts}
    words |= {w for c in CONCEALMENT_SHIFT_CANDIDATES for w in c[4]}
    assert {w: method_of(w)[0] for w in words if method_of(w)[0] in ("unknown", "other")} == {}
    for *_, method, texts, _story in CONCEALMENT_SHIFT_CANDIDATES:
        assert {method_of(t)[0] for t in texts} == {method}


def test_ingest_stores_the_method_beside_the_text_and_reports_unknown_text(home: Path):
    path = home / "c.csv"
    path.write_text("seizure_id,date,country,drug,quantity,unit,concealment\n"
                    "C1,2024-01-05,ESP,cocaine,1,kg,Swallowed | Airport\n"
                    "C2,2024-01-06,ESP,cocaine,1,kg,dentro de un zapato\n"
                    "C3,2024-01-07,ESP,cocaine,1,kg,\n", encoding="utf-8")
    report = ingest_files([path], "canonical", get_settings(), today=pd.Timestamp("2025-01-01"))
    records = read_records(get_settings()).set_index("seizure_id")
    assert records.loc["C1", ["concealment", "concealment_method"]].tolist() == [
        "Swallowed | Airport", "body_carrier"]
    assert records.loc["C2", "concealment_method"] == "unknown"
    assert records.loc["C3", "concealment_method"] is None
    assert report.unknown_concealment == {"dentro de un zapato": 1}


def test_a_method_gaining_share_is_not_a_place_but_a_departure_country_is():
    concealment = {"geo": "ESP", "region": "Europe", "geo_level": "country",
                   "route": {"attribute": "concealment", "gaining": ["postal_parcel"],
                             "losing": ["luggage"], "destination": None}}
    departure = {"geo": "Europe", "region": "Europe", "geo_level": "region",
                 "route": {"attribute": "departure_country", "gaining": ["ECU"],
                           "losing": ["BRA"], "destination": "Europe"}}
    assert not geo_covers("postal_parcel", concealment)
    assert geo_covers("ESP", concealment)
    assert geo_covers("ECU", departure) and geo_covers("BRA", departure)
