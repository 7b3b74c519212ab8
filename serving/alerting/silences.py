"""Silences: mute alerts by matcher (geo, drug, type) until an expiry, as Alertmanager does.

A silence matches an alert when every matcher it sets matches (a region or subregion geo covers
its countries, as in subscriptions). `apply_silences` runs at the start of each delivery cycle:
open alerts under an active silence become "silenced" and are not e-mailed; once no active
silence covers a silenced alert it is open again and goes out with the next digest.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.errors import NarcotrendError
from core.geography import geo_covers, normalise_geo
from core.taxonomy import drug_covers
from models.alerts import ALERT_TYPES
from serving.alerting.scopes import KeyScope, key_scopes
from serving.db import Alert, Silence, utcnow


def create_silence(session: Session, *, geo: str | None = None, drug: str | None = None,
                   type: str | None = None, expires_at: datetime, comment: str = "",
                   created_by: str | None = None) -> Silence:
    """Validate and store a silence; at least one matcher and a future expiry are required."""
    if not (geo or drug or type):
        raise NarcotrendError("a silence needs at least one matcher (geo, drug or type); "
                              "one without would mute every alert")
    if type is not None and type not in ALERT_TYPES:
        raise NarcotrendError(f"type {type!r} is not an alert type; use one of "
                              f"{', '.join(ALERT_TYPES)}")
    expires = _naive_utc(expires_at)
    if expires <= utcnow():
        raise NarcotrendError(f"expires_at {expires_at.isoformat()} is in the past; give a "
                              "future time (UTC)")
    silence = Silence(geo=normalise_geo(geo) if geo else None,
                      drug=drug.strip() if drug else None, type=type,
                      expires_at=expires, comment=comment or "", created_by=created_by)
    session.add(silence)
    session.flush()
    return silence


def list_silences(session: Session, active_only: bool = True,
                  now: datetime | None = None) -> list[Silence]:
    """Silences, soonest expiry first; only unexpired ones unless `active_only` is False."""
    query = select(Silence).order_by(Silence.expires_at, Silence.id)
    if active_only:
        query = query.where(Silence.expires_at > _naive_utc(now or utcnow()))
    return list(session.scalars(query))


def silence_to_dict(silence: Silence) -> dict[str, Any]:
    """A silence as JSON for the CLI and the API."""
    return {"id": silence.id, "geo": silence.geo, "drug": silence.drug, "type": silence.type,
            "comment": silence.comment, "created_by": silence.created_by,
            "created_at": silence.created_at.isoformat() if silence.created_at else None,
            "expires_at": silence.expires_at.isoformat()}


def silence_matches(silence: Silence, alert: Mapping[str, Any],
                    scope: KeyScope | None = None) -> bool:
    """True when every matcher the silence sets matches the alert and, for a silence a
    region-scoped key set (`scope`), the alert lies in that key's regions: a route shift in
    Europe naming Ecuador is not an Americas desk's to mute."""
    if scope is not None and not scope.covers(alert.get("region")):
        return False
    if silence.type is not None and silence.type != alert.get("type"):
        return False
    if silence.geo is not None and not geo_covers(silence.geo, alert):
        return False
    return silence.drug is None or drug_covers(silence.drug, alert)


def silenced_by(silences: Sequence[Silence], alert: Mapping[str, Any],
                scopes: Mapping[str, KeyScope] | None = None) -> bool:
    """True when a silence mutes the alert; `scopes` (by key id, from `key_scopes`) confines
    the silences API keys set to their keys' regions (the CLI's apply everywhere)."""
    scopes = scopes or {}
    return any(silence_matches(silence, alert, scopes.get(silence.created_by or ""))
               for silence in silences)


def apply_silences(session: Session, now: datetime | None = None) -> int:
    """Silence open alerts under an active silence and reopen silenced ones no longer covered.

    Returns how many alerts changed status. Acknowledged and resolved alerts are left alone.
    """
    active = list_silences(session, active_only=True, now=now)
    scopes = key_scopes(session, (silence.created_by for silence in active))
    changed = 0
    query = select(Alert).where(Alert.status.in_(("open", "silenced")))
    for alert in session.scalars(query):
        muted = silenced_by(active, alert.to_dict(), scopes)
        if alert.status == "open" and muted:
            alert.status = "silenced"
            changed += 1
        elif alert.status == "silenced" and not muted:
            alert.status = "open"
            changed += 1
    session.flush()
    return changed


def _naive_utc(moment: datetime) -> datetime:
    """Aware datetimes to naive UTC, as the database stores them."""
    if moment.tzinfo is None:
        return moment
    return moment.astimezone(UTC).replace(tzinfo=None)
