"""Geography: the one reader of country_converter's table (ISO3, ISO2, UN region and subregion,
names), country-name matching, and the geo matchers that subscriptions, silences, alert filters,
digests and key scopes share.

UN regions are Africa, Americas, Asia, Europe, Oceania (the UN geoscheme); country_converter's
`continent` column is that region but spells "Americas" "America".
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from functools import cache
from typing import Any

import pandas as pd

from core.divisions import admin1_geo, normalise_division, split_admin1
from core.errors import NarcotrendError
from core.taxonomy import FORBIDDEN_CHARS

WORLD = "World"
UN_REGIONS: tuple[str, ...] = ("Africa", "Americas", "Asia", "Europe", "Oceania")
_CONTINENT_TO_UN_REGION = {"Africa": "Africa", "America": "Americas", "Asia": "Asia",
                           "Europe": "Europe", "Oceania": "Oceania"}
# Reporters write these where they mean "no value"; they are never a country.
MISSING_TOKENS = frozenset({"", "unknown", "n/a", "na/unknown", "none", "null", "-", "?",
                            "not known", "unk", "not available"})


@cache
def _converter():  # noqa: ANN202 - country_converter has no type hints
    import country_converter as coco

    return coco.CountryConverter()


@cache
def country_table() -> pd.DataFrame:
    """ISO3-indexed: `iso2`, `region` (UN), `subregion` (UN), `name` (short), `official`,
    `member` (UN member state)."""
    data = _converter().data
    table = pd.DataFrame({
        "iso3": data["ISO3"].astype(str), "iso2": data["ISO2"].astype(str),
        "region": data["continent"].map(_CONTINENT_TO_UN_REGION),
        "subregion": data["UNregion"].astype(str),
        "name": data["name_short"].astype(str), "official": data["name_official"].astype(str),
        "member": data["UNmember"].notna(),
    })
    return table.drop_duplicates("iso3").set_index("iso3")


@cache
def _exact_names() -> dict[str, str]:
    """Lower-case official name, short name, ISO2 and ISO3 -> ISO3."""
    data = _converter().data
    exact: dict[str, str] = {}
    for column in ("name_official", "name_short", "ISO2", "ISO3"):
        for name, iso3 in zip(data[column].astype(str), data["ISO3"].astype(str), strict=True):
            exact[name.lower()] = iso3
    return exact


def _regex_iso3(names: list[str]) -> list[str | None]:
    """country_converter's regex match for names the exact index does not know (one batch).

    A name matching several countries ("Macau, SAR of China") is retried on its part before the
    first comma or parenthesis; still ambiguous or unmatched gives None.
    """
    if not names:
        return []
    logger = logging.getLogger("country_converter.country_converter")
    previous = logger.level
    logger.setLevel(logging.CRITICAL)  # "X not found in regex": the quarantine reports it
    try:
        results = _converter().convert(names, to="ISO3", not_found=None)
        results = results if isinstance(results, list) and len(names) > 1 else [results]
        known = country_table().index
        out: list[str | None] = []
        for name, result in zip(names, results, strict=True):
            if isinstance(result, list):
                head = re.split(r"[,(]", name)[0].strip()
                result = _converter().convert(head, to="ISO3", not_found=None) if head else None
            out.append(result if isinstance(result, str) and result in known else None)
    finally:
        logger.setLevel(previous)
    return out


def match_countries(names: list[str]) -> list[str | None]:
    """ISO3 for each distinct country spelling (ISO2/ISO3 codes, short or official names, the
    regexes of country_converter); None where unknown or a missing token."""
    exact = _exact_names()
    out: list[str | None] = [exact.get(str(name).strip().lower()) for name in names]
    todo = [i for i, (name, iso3) in enumerate(zip(names, out, strict=True))
            if iso3 is None and str(name).strip().lower() not in MISSING_TOKENS]
    for i, iso3 in zip(todo, _regex_iso3([str(names[i]).strip() for i in todo]), strict=True):
        out[i] = iso3
    return out


@cache
def _geo_index() -> tuple[dict[str, tuple[str, str, str]], frozenset[str], frozenset[str]]:
    """ISO3 -> (UN region, UN subregion, short name) for countries with a region, plus the
    region and subregion names."""
    table = country_table().dropna(subset=["region"])
    index = {str(iso3): (str(region), str(subregion), str(name))
             for iso3, region, subregion, name in zip(table.index, table["region"],
                                                      table["subregion"], table["name"],
                                                      strict=True)}
    return (index, frozenset(e[0] for e in index.values()),
            frozenset(e[1] for e in index.values()))


def _country_of(geo: str) -> str:
    """The ISO3 a country or admin-1 geography lies in (``"COL:ANTIOQUIA"`` -> ``"COL"``)."""
    division = split_admin1(geo)
    return division[0] if division else str(geo).upper()


def country_region(iso3: str) -> str | None:
    """The UN region of a country (``"ESP"`` -> ``"Europe"``) or of a division's country
    (``"COL:ANTIOQUIA"`` -> ``"Americas"``), None when unknown."""
    entry = _geo_index()[0].get(_country_of(iso3))
    return entry[0] if entry else None


def country_subregion(iso3: str) -> str | None:
    """The UN subregion of a country (``"ESP"`` -> ``"Southern Europe"``) or of a division's
    country, None when unknown."""
    entry = _geo_index()[0].get(_country_of(iso3))
    return entry[1] if entry else None


def geo_name(geo: str) -> str:
    """A readable name for a geography: the country's short name for ISO3, ``NAME, country``
    for an admin-1 division, else as given."""
    division = split_admin1(geo)
    if division:
        entry = _geo_index()[0].get(division[0])
        return f"{division[1]}, {entry[2] if entry else division[0]}"
    entry = _geo_index()[0].get(str(geo))
    return entry[2] if entry else str(geo)


def _normalise_admin1(geo: str, country: str, name: str) -> str:
    """``ISO3:NAME`` for a filter naming a division (``"Colombia:Valle"`` -> ``COL:VALLE DEL
    CAUCA``); the country part must be a country, the name one its reviewed table knows."""
    iso3 = normalise_geo(country)
    if iso3 not in _geo_index()[0]:
        raise NarcotrendError(f"geo {geo!r}: {country!r} is not a country; write a division "
                              "as ISO3:NAME (COL:ANTIOQUIA)")
    division = normalise_division(iso3, name)
    if division is None:
        raise NarcotrendError(f"geo {geo!r}: {name!r} is not a known division of {iso3}")
    return admin1_geo(iso3, division)


def normalise_geo(geo: str) -> str:
    """A filter geography as stored: "World", a UN region or subregion name, ISO3 (country
    names and ISO2 codes are converted with country_converter), or ``ISO3:NAME`` for an
    admin-1 division (core/divisions.py)."""
    text = str(geo).strip()
    if not text or any(ch in text for ch in FORBIDDEN_CHARS):
        raise NarcotrendError(f"geo {geo!r} is empty or holds control characters; give an "
                              "ISO3 code, a country name, or a UN region or subregion name")
    if ":" in text:
        country, _, name = text.partition(":")
        return _normalise_admin1(geo, country.strip(), name)
    index, regions, subregions = _geo_index()
    named = {name.lower(): name for name in (*regions, *subregions, WORLD)}
    if text.lower() in named:
        return named[text.lower()]
    if len(text) == 3 and text.upper() in index:
        return text.upper()
    iso3 = match_countries([text])[0]
    if isinstance(iso3, str) and iso3 in index:
        return iso3
    raise NarcotrendError(
        f"geo {geo!r} is not a known country, UN region or UN subregion; give an ISO3 code "
        "(ESP), a country name (Spain), a region (Europe) or a subregion (Western Africa)")


#: Route-shift attributes whose gaining and losing entities are countries (ISO3).
COUNTRY_ATTRIBUTES = frozenset({"departure_country", "origin_country", "transit_countries",
                                "destination_country"})


def geo_covers(geo: str, alert: Mapping[str, Any]) -> bool:
    """True when a filter geography covers an alert.

    The same place, the alert's UN region, the UN subregion of an alert's country or division,
    the country of an admin-1 division, or (route shifts over countries) a country gaining or
    losing share on the route; "World" covers everything. A transport mode or a concealment
    method gaining share is not a place.
    """
    if geo == WORLD or geo == alert.get("geo") or geo == alert.get("region"):
        return True
    if alert.get("geo_level") in ("country", "admin1") and geo in (
            country_subregion(str(alert.get("geo"))), _country_of(str(alert.get("geo")))):
        return True
    route = alert.get("route") or {}
    if route.get("attribute") not in COUNTRY_ATTRIBUTES:
        return False
    return geo in (route.get("gaining") or []) or geo in (route.get("losing") or [])


@cache
def iso_numeric() -> dict[str, str]:
    """ISO3 -> ISO 3166-1 numeric code as three digits ("ESP" -> "724"), the ids of the
    vendored world-atlas TopoJSON (serving/dashboard/vendor/world-atlas)."""
    data = _converter().data
    codes = pd.to_numeric(data["ISOnumeric"], errors="coerce")
    return {str(iso3): f"{int(code):03d}" for iso3, code in zip(data["ISO3"], codes, strict=True)
            if pd.notna(code)}
