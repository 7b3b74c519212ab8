"""Normalisation of countries, drug names, units and transport modes, and the reviewed tables."""

from __future__ import annotations

import importlib
import importlib.util

import numpy as np
import pandas as pd
import pytest

from features.normalise import (
    classify_drugs,
    clean_text,
    countries_to_iso3,
    country_lists_to_iso3,
    country_regions,
    kilogram_equivalents,
    load_taxonomy,
    load_unit_factors,
    normalise_transport,
    normalise_units,
)
from features.schema import DRUG_GROUPS, UNCLASSIFIED


def test_countries_accept_iso3_iso2_and_official_names():
    names = pd.Series(["ESP", "es", "Spain", "Iran, Islamic Republic of", "Bolivia, Plurinational "
                       "State of", "Macau, SAR of China", "Côte d'Ivoire", "NA", "Türkiye"])
    assert countries_to_iso3(names).tolist() == ["ESP", "ESP", "ESP", "IRN", "BOL", "MAC", "CIV",
                                                 "NAM", "TUR"]


def test_countries_unknown_and_missing_are_null():
    iso3 = countries_to_iso3(pd.Series(["Atlantis", "Unknown", "", None]))
    assert iso3.isna().all()


def test_country_regions_use_un_region_names():
    regions = country_regions(pd.Series(["COL", "USA", "ESP", "NGA", "AUS", "IRN", None]))
    assert regions["region"].tolist()[:6] == ["Americas", "Americas", "Europe", "Africa",
                                              "Oceania", "Asia"]
    assert regions["subregion"].tolist()[:3] == ["South America", "Northern America",
                                                 "Southern Europe"]
    assert pd.isna(regions["region"].iloc[6])


def test_transit_lists_become_iso3_joined_with_semicolons():
    lists = pd.Series(["Ecuador; Panama", "ECU;Atlantis;PAN", None])
    assert country_lists_to_iso3(lists).tolist()[:2] == ["ECU;PAN", "ECU;PAN"]


def test_clean_text_treats_unknown_and_blank_as_missing():
    cleaned = clean_text(pd.Series(["  Cocaine \t HCL ", "Unknown", "", "n/a", "x\u00a0 y"]))
    assert cleaned.astype(object).tolist()[0] == "Cocaine HCL"
    assert cleaned.iloc[1:4].isna().all()
    assert cleaned.iloc[4] == "x y"


def test_drug_names_map_to_substance_and_group_whatever_the_case_and_spacing():
    drugs = classify_drugs(pd.Series(["Cocaine HCL", "COCAINE  hydrochloride", "crystal meth",
                                      "Captagon", "Coca paste", '"Crack" cocaine', "Heroin"]))
    assert drugs["substance"].tolist() == ["cocaine hydrochloride", "cocaine hydrochloride",
                                           "methamphetamine", "captagon", "coca paste",
                                           "crack cocaine", "heroin"]
    assert drugs["drug_group"].tolist()[:4] == ["cocaine", "cocaine",
                                                "amphetamine-type stimulants",
                                                "amphetamine-type stimulants"]


def test_unknown_drug_names_are_unclassified_with_their_cleaned_name():
    drugs = classify_drugs(pd.Series(["Blue  Dream Powder"]))
    assert drugs["drug_group"].iloc[0] == UNCLASSIFIED
    assert drugs["substance"].iloc[0] == "blue dream powder"


def test_every_substance_reported_by_its_own_name_is_classified_in_its_group():
    # one substance series holds every spelling of it: an unknown spelling equal to the
    # substance's name would put unclassified records into the poppy series of opioids
    from core.taxonomy import read_taxonomy

    table = read_taxonomy().drop_duplicates("substance")
    drugs = classify_drugs(table["substance"].str.upper().reset_index(drop=True))
    assert drugs["substance"].tolist() == table["substance"].tolist()
    assert drugs["drug_group"].tolist() == table["group"].tolist()
    assert classify_drugs(pd.Series(["Poppy"]))["drug_group"].iloc[0] == "opioids"


def test_taxonomy_uses_only_the_fixed_groups():
    assert set(load_taxonomy()["group"]) <= set(DRUG_GROUPS)


def test_no_substance_shares_a_group_name():
    substances = {s.lower() for s in load_taxonomy()["substance"]}
    assert substances.isdisjoint({g.lower() for g in DRUG_GROUPS} | {UNCLASSIFIED})


def test_each_substance_has_one_group_and_one_unit_weight():
    table = load_taxonomy()
    assert table.groupby("substance")["group"].nunique().max() == 1
    assert table.groupby("substance")["kg_per_unit"].nunique().max() <= 1


def test_taxonomy_names_are_unique_lookup_keys():
    raw = pd.read_csv("data/reference/drug_taxonomy.csv", keep_default_na=False)
    keys = raw["name"].str.lower().str.split().str.join(" ")
    assert not keys.duplicated().any()
    assert (raw["name"] == keys).all()


def test_cbp_drug_types_map_to_known_groups():
    cbp_types = ["Marijuana", "Other Drugs**", "Cocaine", "Methamphetamine", "Heroin", "Ecstasy",
                 "Fentanyl", "Ketamine", "Lsd", "Khat (Catha Edulis)"]
    drugs = classify_drugs(pd.Series(cbp_types))
    assert UNCLASSIFIED not in set(drugs["drug_group"])
    assert drugs["substance"].tolist()[3] == "methamphetamine"
    assert drugs["substance"].tolist()[6] == "fentanyl"


def _reported_names() -> dict[str, tuple[str, str]]:
    """The synthetic world's spellings (the contract names features.synthetic_world; the first
    version keeps the table in features.synthetic_catalog)."""
    for module in ("features.synthetic_world", "features.synthetic_catalog"):
        if importlib.util.find_spec(module) is not None:
            names = getattr(importlib.import_module(module), "REPORTED_NAMES", None)
            if names:
                return names
    pytest.skip("the synthetic world does not expose REPORTED_NAMES yet")


def test_every_synthetic_world_name_maps_to_its_intended_substance_and_group():
    REPORTED_NAMES = _reported_names()  # noqa: N806 - the module constant's name
    names = list(REPORTED_NAMES)
    drugs = classify_drugs(pd.Series(names))
    got = dict(zip(names, zip(drugs["substance"], drugs["drug_group"], strict=True),
                   strict=True))
    wrong = {name: (got[name], want) for name, want in REPORTED_NAMES.items()
             if got[name] != tuple(want)}
    assert wrong == {}


@pytest.mark.parametrize(("spelling", "unit", "kg"), [
    ("Kilogram", "kg", 1.0), ("KG", "kg", 1.0), ("kgs", "kg", 1.0), ("grams", "g", 0.001),
    ("Gram", "g", 0.001), ("mg", "mg", 1e-6), ("t", "t", 1000.0), ("Ton", "t", 1000.0),
    ("Litre", "l", 1.0), ("ml", "ml", 0.001), ("Millilitre", "ml", 0.001),
    ("lbs", "lb", 0.45359237),
])
def test_mass_and_volume_units_normalise_with_their_factor(spelling, unit, kg):
    units = normalise_units(pd.Series([spelling]))
    assert units["unit"].iloc[0] == unit
    assert units["unit_kg"].iloc[0] == pytest.approx(kg)


@pytest.mark.parametrize("spelling", ["Tablet", "tablets", "tab", "Pill", "pills", "Capsule"])
def test_tablet_spellings_normalise_to_tablet(spelling):
    assert normalise_units(pd.Series([spelling]))["unit"].iloc[0] == "tablet"


@pytest.mark.parametrize("spelling", ["unit", "Units", "piece", "Pieces"])
def test_unit_and_piece_spellings_normalise_to_unit(spelling):
    assert normalise_units(pd.Series([spelling]))["unit"].iloc[0] == "unit"


def test_unknown_units_are_null():
    units = normalise_units(pd.Series(["bales", "Acres", "Plants"]))
    assert units["unit"].isna().all()


def test_unit_table_kinds_are_mass_volume_or_count():
    assert set(load_unit_factors()["kind"]) == {"mass", "volume", "count"}


def test_kilogram_equivalents_follow_unodc_practice():
    drugs = classify_drugs(pd.Series(["Captagon", "ecstasy", "heroin", "cannabis oil"]))
    units = normalise_units(pd.Series(["tablets", "tablets", "g", "l"]))
    kg = kilogram_equivalents(np.array([1000.0, 1000.0, 500.0, 2.0]),
                              units["unit_kind"].to_numpy(), units["unit_kg"].to_numpy(),
                              drugs["kg_per_unit"].to_numpy())
    np.testing.assert_allclose(kg, [0.17, 0.3, 0.5, 2.0])


def test_counted_units_without_a_substance_weight_use_the_unit_default():
    drugs = classify_drugs(pd.Series(["opium"]))
    units = normalise_units(pd.Series(["unit"]))
    kg = kilogram_equivalents(np.array([10.0]), units["unit_kind"].to_numpy(),
                              units["unit_kg"].to_numpy(), drugs["kg_per_unit"].to_numpy())
    assert kg[0] == pytest.approx(10 * 0.001)


def test_unodc_transport_values_map_to_modes():
    values = ["Commercial air", "Private air", "Air", "Land", "Private road", "Commercial road",
              "Pedestrian", "Commercial sea", "Private sea", "River", "Mail", "Rail", "Other",
              "Unknown", "None", "", None]
    assert normalise_transport(pd.Series(values)).tolist() == [
        "air", "air", "air", "land", "land", "land", "land", "sea", "sea", "sea", "mail", "rail",
        "unknown", "unknown", "unknown", "unknown", "unknown"]


def test_reporter_transport_variants_map_to_modes():
    values = ["Private vehicle", "Maritime", "by road", "Air cargo", "postal", "Railway",
              "container ship", "truck", "courier"]
    assert normalise_transport(pd.Series(values)).tolist() == [
        "land", "sea", "land", "air", "mail", "rail", "sea", "land", "mail"]


def test_unknown_country_names_log_nothing(caplog):
    caplog.set_level("DEBUG")
    countries_to_iso3(pd.Series(["Atlantis", "Wakanda", "Freedonia"]))
    assert [r for r in caplog.records if r.name.startswith("country_converter")] == []
