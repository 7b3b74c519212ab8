"""Subscriptions: who gets which alert e-mails (DESIGN section 8).

A subscription names an address, optional geographies (ISO3 countries, UN regions or
subregions), optional drugs (groups or substances) and a minimum severity. No filter means
everything; a region or subregion covers its countries. Addresses are checked by a maintained
validator and anything that could smuggle a header (CR, LF, NUL) is refused before it reaches a
message. The matching rules live in pure functions so the digest and the silences share them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.errors import NarcotrendError
from core.geography import WORLD, geo_covers, normalise_geo
from core.taxonomy import FORBIDDEN_CHARS, drug_covers, normalise_drugs
from models.alerts import SEVERITIES
from serving.db import Subscription


def severity_rank(severity: str) -> int:
    """Position of a severity in `SEVERITIES` (low = 0); unknown severities rank below low."""
    try:
        return SEVERITIES.index(str(severity).lower())
    except ValueError:
        return -1


def normalise_email(email: str) -> str:
    """The address in normalised form; refuses header injection and anything not RFC-valid."""
    text = str(email)
    if any(ch in text for ch in FORBIDDEN_CHARS):
        raise NarcotrendError(f"email {email!r} holds a line break or NUL (header injection); "
                              "give one plain address such as planner@example.org")
    try:
        result = validate_email(text.strip(), check_deliverability=False)
    except EmailNotValidError as err:
        raise NarcotrendError(f"email {email!r} is not a valid address: {err}") from err
    return result.normalized


def check_severity(severity: str) -> str:
    """The severity in lower case, or an error naming the allowed ones."""
    value = str(severity).strip().lower()
    if value not in SEVERITIES:
        raise NarcotrendError(f"min_severity {severity!r} is unknown; use one of "
                              f"{', '.join(SEVERITIES)}")
    return value


REPORT_SCHEDULES = ("tactical-monthly", "strategic-quarterly")


def check_report(report: str | None) -> str | None:
    """A report schedule (`tactical-monthly`, `strategic-quarterly`) or None."""
    if report is None or str(report).strip() == "":
        return None
    value = str(report).strip().lower()
    if value not in REPORT_SCHEDULES:
        raise NarcotrendError(f"report {report!r} is unknown; use one of "
                              f"{', '.join(REPORT_SCHEDULES)}")
    return value


def add_subscription(session: Session, email: str, geos: Iterable[str] = (),
                     drugs: Iterable[str] = (), min_severity: str = "low",
                     owner_key_id: str | None = None,
                     series_drugs: Iterable[str] = (), report: str | None = None
                     ) -> Subscription:
    """Validate and store a subscription; an identical one already stored is returned instead.
    Drugs are checked against the taxonomy and `series_drugs` (the built series' drugs).
    With `report` the subscription asks for that scheduled report of its places instead of
    alert digests (serving/reports/dissemination.py)."""
    address = normalise_email(email)
    geo_list: list[str] = []
    for geo in geos:
        value = normalise_geo(geo)
        if value not in geo_list:
            geo_list.append(value)
    if WORLD in geo_list:
        geo_list = []
    drug_list = normalise_drugs(drugs, series_drugs)
    severity = check_severity(min_severity)
    schedule = check_report(report)
    for existing in session.scalars(select(Subscription).where(Subscription.email == address)):
        if (sorted(existing.geos or []) == sorted(geo_list)
                and sorted(d.lower() for d in existing.drugs or [])
                == sorted(d.lower() for d in drug_list)
                and existing.min_severity == severity and existing.owner_key_id == owner_key_id
                and existing.report == schedule):
            return existing
    sub = Subscription(email=address, geos=geo_list, drugs=drug_list, min_severity=severity,
                       owner_key_id=owner_key_id, report=schedule)
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
            "owner_key_id": sub.owner_key_id, "report": sub.report,
            "created_at": sub.created_at.isoformat() if sub.created_at else None}


def subscription_matches(sub: Subscription, alert: Mapping[str, Any],
                         substance_groups: Mapping[str, str] | None = None) -> bool:
    """True when the alert passes the subscription's geography, drug and severity filters."""
    if severity_rank(alert.get("severity", "")) < severity_rank(sub.min_severity or "low"):
        return False
    if sub.geos and not any(geo_covers(geo, alert) for geo in sub.geos):
        return False
    return not sub.drugs or any(drug_covers(d, alert, substance_groups) for d in sub.drugs)
