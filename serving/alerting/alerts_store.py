"""Alerts in the service database: one row per fingerprint, updated while the condition lasts,
resolved automatically when it has not been seen for a few periods.

Absence is counted in periods of data, not in runs: an alert last detected at 2024-03 is three
periods absent in a run as of 2024-06, however often detection ran in between, so re-running a
detection never resolves anything by itself.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import case, func, or_, select
from sqlalchemy.orm import Session

from core.errors import NarcotrendError
from core.geography import normalise_geo
from core.taxonomy import substance_groups
from models.alerts import ALERT_TYPES, SEVERITIES
from models.panel import label_period
from serving.db import Alert, utcnow

# Which run raises which alert types: a run resolves only alerts of its own types, so a `link`
# run and a `detect` run never resolve each other's.
PRODUCER_TYPES: dict[str, tuple[str, ...]] = {
    "link": ("linked_cases",),
    "detect": tuple(t for t in ALERT_TYPES if t != "linked_cases"),
}

_UPDATED_FIELDS = ("period", "detected_at", "severity", "score", "evidence", "route", "region",
                   "geo_level")


def periods_between(start: str, end: str) -> int:
    """Periods from `start` to `end` (labels of one frequency: `YYYY-MM`, `YYYY-Www`, `YYYY`),
    negative when `end` is earlier."""
    return int(label_period(end).ordinal - label_period(start).ordinal)


def episode_of(alert: dict[str, Any], *, opened: str,
               resolved: str | None = None) -> dict[str, Any]:
    """One episode of an alert: when it opened and resolved (periods), and what it said then
    (its period, detection, severity, evidence and, for a route shift, who gained and lost)."""
    episode = {"opened": opened, "resolved": resolved, "period": alert["period"],
               "detected_at": alert["detected_at"], "severity": alert["severity"],
               "evidence": alert.get("evidence", {}), "route": alert.get("route")}
    if alert.get("route"):
        episode["named"] = _named(alert)
    return episode


def continued_episode(episode: dict[str, Any], alert: dict[str, Any]) -> dict[str, Any]:
    """The open `episode` updated by a new detection of its alert: what the alert says now,
    and for a route shift every entity named gaining or losing at any detection of the episode
    (`route`, first named first; `named`: each one's side, shares and detection when last
    named). A shift is told while it happens: once the baseline window holds the fall, the
    later detections no longer name who lost (the 2013-14 cocaine shift into Europe names DOM
    losing from 2013-09 to 2014-09, not at its last detection, 2014-12)."""
    out = episode_of(alert, opened=episode["opened"])
    before, now = episode.get("route"), out.get("route")
    if before and now:
        out["route"] = {**now, **{side: list(dict.fromkeys([*before.get(side, []),
                                                              *now.get(side, [])]))
                                  for side in ("gaining", "losing")}}
        out["named"] = {**episode.get("named", {}), **out.get("named", {})}
    return out


def _named(alert: dict[str, Any]) -> dict[str, Any]:
    """A route shift's movers at this detection: entity -> side, baseline and recent shares."""
    route = alert.get("route") or {}
    shares = (alert.get("evidence") or {}).get("shares", {})
    return {e: {"side": side, **shares.get(e, {}), "detected_at": alert["detected_at"]}
            for side in ("gaining", "losing") for e in route.get(side, [])}


def upsert_alerts(session: Session, alerts: Iterable[dict[str, Any]], as_of: str,
                  resolve_after_periods: int = 3, *, producer: str = "detect") -> dict[str, int]:
    """Store one run's alerts as of period `as_of` (`YYYY-MM`).

    A known fingerprint updates its row (period, detected_at, severity, score, evidence,
    periods_absent = 0) and its current episode, or re-opens it with a new episode if it was
    resolved (earlier episodes and their evidence are kept); a new one is created. Rows not seen
    in this run get `periods_absent` = periods since they were last detected, and are resolved
    once that reaches `resolve_after_periods`; only alerts of the types `producer` raises
    (`PRODUCER_TYPES`) are counted absent. Returns counts `created`, `updated`, `reopened`,
    `resolved`.
    """
    if producer not in PRODUCER_TYPES:
        raise ValueError(f"`producer` must be one of {sorted(PRODUCER_TYPES)}, got {producer!r}")
    counts = {"created": 0, "updated": 0, "reopened": 0, "resolved": 0}
    seen: set[str] = set()
    incoming = {a["fingerprint"]: a for a in alerts}
    existing = {}
    if incoming:
        rows = session.scalars(select(Alert).where(Alert.fingerprint.in_(list(incoming))))
        existing = {row.fingerprint: row for row in rows}
    for fp, alert in incoming.items():
        seen.add(fp)
        row = existing.get(fp)
        if row is None:
            session.add(Alert(
                fingerprint=fp, type=alert["type"], geo_level=alert["geo_level"],
                geo=alert["geo"], region=alert["region"], drug_level=alert["drug_level"],
                drug=alert["drug"], metric=alert["metric"], period=alert["period"],
                detected_at=alert["detected_at"], first_detected_at=alert["detected_at"],
                severity=alert["severity"], score=alert["score"], route=alert.get("route"),
                evidence=alert.get("evidence", {}), status="open", periods_absent=0,
                episodes=[episode_of(alert, opened=alert["detected_at"])]))
            counts["created"] += 1
            continue
        if periods_between(row.detected_at, alert["detected_at"]) < 0:
            continue  # an older replay never overwrites newer news
        episodes = list(row.episodes or [])
        if row.status == "resolved" or not episodes:  # a new episode; the earlier ones stay
            episodes.append(episode_of(alert, opened=alert["detected_at"]))
        else:
            episodes[-1] = continued_episode(episodes[-1], alert)
        row.episodes = episodes
        for name in _UPDATED_FIELDS:
            setattr(row, name, alert.get(name))
        row.route = episodes[-1]["route"]  # a route shift: everyone who moved in the episode
        row.periods_absent = 0
        if row.status == "resolved":
            row.status = "open"
            row.resolved_at = None
            counts["reopened"] += 1
        counts["updated"] += 1
    stale = session.scalars(select(Alert).where(Alert.status != "resolved",
                                                Alert.type.in_(PRODUCER_TYPES[producer])))
    for row in stale:
        if row.fingerprint in seen:
            continue
        absent = periods_between(row.detected_at, as_of)
        if absent <= 0:
            continue
        row.periods_absent = absent
        if absent >= resolve_after_periods:
            row.status = "resolved"
            row.resolved_at = utcnow()
            episodes = list(row.episodes or [])
            if episodes:
                episodes[-1] = {**episodes[-1], "resolved": as_of}
                row.episodes = episodes
            counts["resolved"] += 1
    session.flush()
    return counts


def list_alerts(
    session: Session,
    *,
    type: str | None = None,  # noqa: A002 - the field's name in the alert shape
    geo: str | None = None,
    drug: str | None = None,
    severity: str | list[str] | None = None,
    status: str | list[str] | None = None,
    regions: list[str] | None = None,
    limit: int = 100,
    offset: int = 0,
) -> tuple[list[Alert], int]:
    """Alerts matching every given filter, most severe and most recent first, and their total.

    `geo` is read as subscriptions read it (a country name or ISO2 code means its ISO3; region
    and subregion names in any case, ``COL:Antioquia`` a division) and matches the alert's own
    place, a country also its divisions' alerts (``COL`` finds ``COL:ANTIOQUIA``); `drug`
    matches in any case, and a drug group also matches its substances' alerts (`cocaine` finds
    crack cocaine), as subscriptions and silences do. `regions` keeps only alerts whose `region`
    is in the list (the region scope of an API key); `severity` and `status` take one value or a
    list.
    """
    query = select(Alert)
    if type is not None:
        query = query.where(Alert.type == type)
    if geo is not None:
        query = query.where(_geo_matches(_stored_geo(geo)))
    if drug is not None:
        names = {drug.strip().lower(), *_substances_of(drug)}
        query = query.where(func.lower(Alert.drug).in_(sorted(names)))
    if severity is not None:
        query = query.where(Alert.severity.in_(_as_list(severity)))
    if status is not None:
        query = query.where(Alert.status.in_(_as_list(status)))
    if regions is not None:
        query = query.where(Alert.region.in_(regions))
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rank = case({name: i for i, name in enumerate(SEVERITIES)}, value=Alert.severity, else_=-1)
    rows = session.scalars(query.order_by(rank.desc(), Alert.detected_at.desc(),
                                          Alert.score.desc(), Alert.id)
                           .limit(limit).offset(offset))
    return list(rows), int(total)


def _stored_geo(geo: str) -> str:
    """A geo filter as alerts store it; text no table knows is matched as given."""
    try:
        return normalise_geo(geo)
    except NarcotrendError:
        return geo


def _geo_matches(geo: str):  # noqa: ANN202 - a SQLAlchemy condition
    """The alert's own place is `geo`; a country also matches its divisions' alerts (ISO3:...)."""
    if len(geo) == 3 and geo.isalpha() and geo.isupper():
        return or_(Alert.geo == geo, Alert.geo.startswith(geo + ":", autoescape=True))
    return Alert.geo == geo


def _substances_of(drug: str) -> set[str]:
    """The substances (lower case) of a drug group, by the reviewed taxonomy; none otherwise."""
    wanted = drug.strip().lower()
    return {substance for substance, group in substance_groups().items()
            if group.lower() == wanted}


def get_alert(session: Session, alert_id: str) -> Alert | None:
    """The alert with this id, or None."""
    return session.get(Alert, alert_id)


def acknowledge_alert(session: Session, alert_id: str, by: str) -> Alert | None:
    """Record that `by` acknowledged the alert; an open alert becomes `acknowledged`, a resolved
    or silenced one keeps its status. None if the id is unknown."""
    row = session.get(Alert, alert_id)
    if row is None:
        return None
    row.acknowledged_by = by
    if row.status == "open":
        row.status = "acknowledged"
    session.flush()
    return row


def _as_list(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else list(value)
