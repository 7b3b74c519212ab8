"""The alert picture the store holds now: incidents, acknowledging or silencing one as a whole,
and the one summary line every surface prints.

Incidents are not stored: they are grouped (serving/alerting/incidents.py) from the alerts
table on every read, so they can never disagree with the alerts. The summary line reads
`12 active alerts in 5 incidents (9 surge, 3 emerging_trend); 2 silenced` and, after a
detection run, is preceded by what the run changed (`as of 2024-12: 3 new, 8 updated, 0
re-opened, 1 resolved; `).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.errors import NarcotrendError
from core.settings import Settings
from serving.alerting import silences
from serving.alerting.incidents import (
    ACTIVE_STATUSES,
    SILENCED_STATUSES,
    Incident,
    group_incidents,
    scoped_incidents,
)
from serving.db import Alert, session_scope


def stored_alerts(session: Session, statuses: Iterable[str]) -> list[dict[str, Any]]:
    """Every stored alert with one of these statuses, as dicts."""
    rows = session.scalars(select(Alert).where(Alert.status.in_(list(statuses))))
    return [row.to_dict() for row in rows]


def list_incidents(session: Session, *, statuses: Iterable[str] = ACTIVE_STATUSES,
                   regions: Iterable[str] | None = None) -> list[Incident]:
    """Incidents of the alerts with these statuses (default: the active ones), ranked; a key
    confined to `regions` sees each with its in-scope members only."""
    return scoped_incidents(group_incidents(stored_alerts(session, statuses)), regions)


def find_incident(session: Session, incident_id: str,
                  regions: Iterable[str] | None = None) -> Incident | None:
    """The incident with this id among every unresolved alert, as the key sees it."""
    everything = list_incidents(session, statuses=(*ACTIVE_STATUSES, *SILENCED_STATUSES),
                                regions=regions)
    return next((i for i in everything if i.id == incident_id), None)


def acknowledge_incident(session: Session, incident: Incident, by: str) -> int:
    """Acknowledge every (visible) member; returns how many changed status."""
    ids = [a["id"] for a in incident.alerts]
    changed = 0
    for row in session.scalars(select(Alert).where(Alert.id.in_(ids))):
        row.acknowledged_by = by
        if row.status == "open":
            row.status = "acknowledged"
            changed += 1
    session.flush()
    return changed


def silence_incident(session: Session, incident: Incident, *, expires_at: datetime,
                     comment: str = "", created_by: str | None = None) -> Any:
    """One silence on the lead's type, place and drug (which cover every member), applied now."""
    lead = incident.lead
    if lead.get("group_id"):
        raise NarcotrendError("an incident of linked cases is silenced by its alerts' place "
                              "and drug; silence them with POST /v1/silences")
    silence = silences.create_silence(
        session, geo=lead["geo"], drug=lead["drug"], type=lead["type"], expires_at=expires_at,
        comment=comment or f"incident {incident.id}", created_by=created_by)
    silences.apply_silences(session)
    return silence


def picture_counts(alerts: Iterable[Mapping[str, Any]],
                   regions: Iterable[str] | None = None) -> dict[str, Any]:
    """Counts of the picture: active alerts, by type, incidents, silenced (in `regions`)."""
    regions = None if regions is None else list(regions)
    active = [a for a in alerts if a.get("status") in ACTIVE_STATUSES]
    incidents = scoped_incidents(group_incidents(active), regions)
    alerts = [a for a in alerts if regions is None or a.get("region") in regions]
    active = [a for a in active if regions is None or a.get("region") in regions]
    return {"active": len(active),
            "incidents": len(incidents),
            "by_type": dict(sorted(Counter(a["type"] for a in active).items())),
            "silenced": sum(a.get("status") in SILENCED_STATUSES for a in alerts)}


def picture_line(counts: Mapping[str, Any]) -> str:
    """`12 active alerts in 5 incidents (9 surge, 3 emerging_trend); 2 silenced`."""
    kinds = ", ".join(f"{n} {t}" for t, n in counts["by_type"].items()) or "none"
    plural = "" if counts["active"] == 1 else "s"
    return (f"{counts['active']} active alert{plural} in {counts['incidents']} incident"
            f"{'' if counts['incidents'] == 1 else 's'} ({kinds}); {counts['silenced']} silenced")


def store_picture(session: Session, run: Mapping[str, Any] | None = None,
                  regions: Iterable[str] | None = None) -> tuple[dict[str, Any], str]:
    """(counts, line) of what the store holds now, for `regions` (None: all); with a detection
    run's summary (`detected_at`, `created`, `updated`, `reopened`, `resolved`) the line starts
    with what the run changed."""
    counts = picture_counts(stored_alerts(session, (*ACTIVE_STATUSES, *SILENCED_STATUSES)),
                            regions)
    line = picture_line(counts)
    if run is not None:
        unit = f", detected on {run['unit']}" if run.get("unit") else ""
        line = (f"as of {run['detected_at']}{unit}: {run['created']} new, "
                f"{run['updated']} updated, {run['reopened']} re-opened, "
                f"{run['resolved']} resolved; {line}")
    return counts, line


def detect_summary_line(settings: Settings, run: Mapping[str, Any]) -> str:
    """What `narcotrend detect` prints after a run: the run's changes and the store's picture."""
    with session_scope(settings.service_database_url) as session:
        _, line = store_picture(session, run)
    return f"{line} ({run['seconds']:.1f}s)"
