"""Subscriptions: who gets which alert e-mails (DESIGN section 8).

A subscription names an address, optional geographies (ISO3 countries, UN regions or
subregions), optional drugs (groups or substances) and a minimum severity. No filter means
everything; a region or subregion covers its countries. Addresses are checked by a maintained
validator and anything that could smuggle a header (CR, LF, NUL) is refused before it reaches a
message. The matching rules live in pure functions so the digest and the silences share them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import cache
from typing import Any

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import select
from sqlalchemy.orm import Session

from features.errors import NarcotrendError
from models.alerts import SEVERITIES
from serving.db import Subscription

WORLD = "World"
# country_converter's `continent` column is the UN region, but spells "Americas" "America".
_CONTINENT_TO_UN_REGION = {"Africa": "Africa", "America": "Americas", "Asia": "Asia",
                           "Europe": "Europe", "Oceania": "Oceania"}
_FORBIDDEN_CHARS = ("\r", "\n", "\0")


def severity_rank(severity: str) -> int:
    """Position of a severity in `SEVERITIES` (low = 0); unknown severities rank below low."""
    try:
        return SEVERITIES.index(str(severity).lower())
    except ValueError:
        return -1


@cache
def _geo_table() -> tuple[dict[str, tuple[str, str, str]], frozenset[str], frozenset[str]]:
    """ISO3 -> (UN region, UN subregion, short name), plus the region and subregion names.

    Read once from country_converter's table (a maintained source, not a hand-written list).
    """
    import country_converter as coco

    columns = ["ISO3", "continent", "UNregion", "name_short"]
    data = coco.CountryConverter().data[columns].dropna()
    table = {
        str(row.ISO3): (_CONTINENT_TO_UN_REGION[row.continent], str(row.UNregion),
                        str(row.name_short))
        for row in data.itertuples(index=False) if row.continent in _CONTINENT_TO_UN_REGION
    }
    regions = frozenset(entry[0] for entry in table.values())
    subregions = frozenset(entry[1] for entry in table.values())
    return table, regions, subregions


def country_subregion(iso3: str) -> str | None:
    """The UN subregion of a country (``"ESP"`` -> ``"Southern Europe"``), None when unknown."""
    entry = _geo_table()[0].get(str(iso3).upper())
    return entry[1] if entry else None


def geo_name(geo: str) -> str:
    """A readable name for a geography: the country's short name for ISO3, else as given."""
    entry = _geo_table()[0].get(str(geo))
    return entry[2] if entry else str(geo)


def normalise_geo(geo: str) -> str:
    """A subscription or silence geography as stored: a UN region or subregion name, or ISO3.

    Country names and ISO2 codes are converted to ISO3 with country_converter.
    """
    text = str(geo).strip()
    if not text or any(ch in text for ch in _FORBIDDEN_CHARS):
        raise NarcotrendError(f"geo {geo!r} is empty or holds control characters; give an "
                              "ISO3 code, a country name, or a UN region or subregion name")
    table, regions, subregions = _geo_table()
    named = {name.lower(): name for name in (*regions, *subregions, WORLD)}
    if text.lower() in named:
        return named[text.lower()]
    if len(text) == 3 and text.upper() in table:
        return text.upper()
    import pandas as pd

    from features.normalise import countries_to_iso3

    iso3 = countries_to_iso3(pd.Series([text], dtype=object)).iloc[0]
    if isinstance(iso3, str) and iso3 in table:
        return iso3
    raise NarcotrendError(
        f"geo {geo!r} is not a known country, UN region or UN subregion; give an ISO3 code "
        "(ESP), a country name (Spain), a region (Europe) or a subregion (Western Africa)")


def normalise_email(email: str) -> str:
    """The address in normalised form; refuses header injection and anything not RFC-valid."""
    text = str(email)
    if any(ch in text for ch in _FORBIDDEN_CHARS):
        raise NarcotrendError(f"email {email!r} holds a line break or NUL (header injection); "
                              "give one plain address such as planner@example.org")
    try:
        result = validate_email(text.strip(), check_deliverability=False)
    except EmailNotValidError as err:
        raise NarcotrendError(f"email {email!r} is not a valid address: {err}") from err
    return result.normalized


@cache
def known_drugs() -> dict[str, str]:
    """Lower-case name -> the drug as series name it: the groups first (`cocaine` is the group),
    then the taxonomy's substances, then its reported spellings (`ecstasy` -> `MDMA`)."""
    from features.normalise import load_taxonomy
    from features.schema import DRUG_GROUPS, UNCLASSIFIED

    table = load_taxonomy()
    names: dict[str, str] = {}
    for spelling, substance in zip(table.index, table["substance"], strict=True):
        names.setdefault(str(spelling).lower(), str(substance))
    names.update({str(s).lower(): str(s) for s in table["substance"]})
    names.update({g.lower(): g for g in (*DRUG_GROUPS, UNCLASSIFIED)})
    return names


def _normalise_drugs(drugs: Iterable[str], series_drugs: Iterable[str] = ()) -> list[str]:
    """Each filter drug as the group or substance series name it; unknown names refused (a
    misspelt filter would silently never match). `series_drugs`, the drugs of the built
    series, adds the names the taxonomy does not know but the data has (unclassified ones)."""
    known = {**{str(d).lower(): str(d) for d in series_drugs}, **known_drugs()}
    out: list[str] = []
    for drug in drugs:
        text = " ".join(str(drug).split())
        if not text or len(text) > 64 or any(ch in str(drug) for ch in _FORBIDDEN_CHARS):
            raise NarcotrendError(f"drug {drug!r} must be a group or substance name of 1 to 64 "
                                  "characters without line breaks, e.g. cocaine")
        name = known.get(text.lower())
        if name is None:
            raise NarcotrendError(f"unknown drug {text!r}: give a drug group (cocaine, opioids, "
                                  "cannabis, amphetamine-type stimulants, NPS, ...) or a "
                                  "substance of data/reference/drug_taxonomy.csv")
        if name not in out:
            out.append(name)
    return out


def check_severity(severity: str) -> str:
    """The severity in lower case, or an error naming the allowed ones."""
    value = str(severity).strip().lower()
    if value not in SEVERITIES:
        raise NarcotrendError(f"min_severity {severity!r} is unknown; use one of "
                              f"{', '.join(SEVERITIES)}")
    return value


def add_subscription(session: Session, email: str, geos: Iterable[str] = (),
                     drugs: Iterable[str] = (), min_severity: str = "low",
                     owner_key_id: str | None = None,
                     series_drugs: Iterable[str] = ()) -> Subscription:
    """Validate and store a subscription; an identical one already stored is returned instead.
    Drugs are checked against the taxonomy and `series_drugs` (the built series' drugs)."""
    address = normalise_email(email)
    geo_list: list[str] = []
    for geo in geos:
        value = normalise_geo(geo)
        if value not in geo_list:
            geo_list.append(value)
    if WORLD in geo_list:
        geo_list = []
    drug_list = _normalise_drugs(drugs, series_drugs)
    severity = check_severity(min_severity)
    for existing in session.scalars(select(Subscription).where(Subscription.email == address)):
        if (sorted(existing.geos or []) == sorted(geo_list)
                and sorted(d.lower() for d in existing.drugs or [])
                == sorted(d.lower() for d in drug_list)
                and existing.min_severity == severity and existing.owner_key_id == owner_key_id):
            return existing
    sub = Subscription(email=address, geos=geo_list, drugs=drug_list, min_severity=severity,
                       owner_key_id=owner_key_id)
    session.add(sub)
    session.flush()
    return sub


def list_subscriptions(session: Session, owner_key_id: str | None = None) -> list[Subscription]:
    """All subscriptions, oldest first; only those of one API key when `owner_key_id` is given."""
    query = select(Subscription).order_by(Subscription.created_at, Subscription.id)
    if owner_key_id is not None:
        query = query.where(Subscription.owner_key_id == owner_key_id)
    return list(session.scalars(query))


def remove_subscription(session: Session, subscription_id: str) -> bool:
    """Delete a subscription; False when no subscription has that id."""
    sub = session.get(Subscription, subscription_id)
    if sub is None:
        return False
    session.delete(sub)
    session.flush()
    return True


def subscription_to_dict(sub: Subscription) -> dict[str, Any]:
    """A subscription as JSON for the CLI and the API."""
    return {"id": sub.id, "email": sub.email, "geos": list(sub.geos or []),
            "drugs": list(sub.drugs or []), "min_severity": sub.min_severity,
            "owner_key_id": sub.owner_key_id,
            "created_at": sub.created_at.isoformat() if sub.created_at else None}


def geo_covers(geo: str, alert: Mapping[str, Any]) -> bool:
    """True when a filter geography covers an alert.

    The same place, the alert's UN region, the UN subregion of an alert's country, or (route
    shifts) a country gaining or losing share on the route; "World" covers everything.
    """
    if geo == WORLD or geo == alert.get("geo") or geo == alert.get("region"):
        return True
    if alert.get("geo_level") == "country" and geo == country_subregion(str(alert.get("geo"))):
        return True
    route = alert.get("route") or {}
    return geo in (route.get("gaining") or []) or geo in (route.get("losing") or [])


@cache
def taxonomy_groups() -> dict[str, str]:
    """Substance -> drug group from the reviewed taxonomy (`data/reference/drug_taxonomy.csv`)."""
    from features.normalise import load_taxonomy

    table = load_taxonomy()
    return {str(s).lower(): str(g) for s, g in zip(table["substance"], table["group"],
                                                    strict=True)}


def drug_covers(drug: str, alert: Mapping[str, Any],
                substance_groups: Mapping[str, str] | None = None) -> bool:
    """True when a filter drug names the alert's drug, or the group of the alert's substance.

    `substance_groups` (substance -> group) defaults to the reviewed taxonomy.
    """
    wanted = drug.lower()
    alert_drug = str(alert.get("drug", ""))
    if wanted == alert_drug.lower():
        return True
    if alert.get("drug_level") != "substance":
        return False
    groups = taxonomy_groups() if substance_groups is None else substance_groups
    group = groups.get(alert_drug.lower())
    return group is not None and wanted == group.lower()


def subscription_matches(sub: Subscription, alert: Mapping[str, Any],
                         substance_groups: Mapping[str, str] | None = None) -> bool:
    """True when the alert passes the subscription's geography, drug and severity filters."""
    if severity_rank(alert.get("severity", "")) < severity_rank(sub.min_severity or "low"):
        return False
    if sub.geos and not any(geo_covers(geo, alert) for geo in sub.geos):
        return False
    return not sub.drugs or any(drug_covers(d, alert, substance_groups) for d in sub.drugs)
