"""Data-quality notices in the service database (`notices`): one row per fingerprint, updated
while the condition lasts, like alerts; never e-mailed (the outbox reads alerts only)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from serving.db import Notice, utcnow

_UPDATED_FIELDS = ("periods", "drugs", "evidence", "detected_at", "region")


def upsert_notices(session: Session, notices: Iterable[dict[str, Any]]) -> dict[str, int]:
    """Store a run's notices: a known fingerprint updates its row (and its status), a new one is
    created. Returns counts `created`, `updated`, `resolved`."""
    counts = {"created": 0, "updated": 0, "resolved": 0}
    incoming = {n["fingerprint"]: n for n in notices}
    if not incoming:
        return counts
    rows = session.scalars(select(Notice).where(Notice.fingerprint.in_(list(incoming))))
    existing = {row.fingerprint: row for row in rows}
    for fp, notice in incoming.items():
        row = existing.get(fp)
        if row is None:
            row = Notice(fingerprint=fp, type=notice["type"], geo=notice["geo"],
                         first_detected_at=notice["first_detected_at"], status="open")
            session.add(row)
            counts["created"] += 1
        else:
            counts["updated"] += 1
        for name in _UPDATED_FIELDS:
            setattr(row, name, notice[name])
        if notice["status"] == "resolved" and row.status != "resolved":
            row.resolved_at = utcnow()
            counts["resolved"] += 1
        row.status = notice["status"]
    session.flush()
    return counts


def list_notices(session: Session, *, regions: list[str] | None = None,
                 status: list[str] | None = None, geo: str | None = None,
                 limit: int = 100, offset: int = 0) -> list[Notice]:
    """Notices, most recent first; `regions` keeps only those in the list (a key's scope)."""
    query = select(Notice)
    if regions is not None:
        query = query.where(Notice.region.in_(regions))
    if status:
        query = query.where(Notice.status.in_(status))
    if geo is not None:
        query = query.where(Notice.geo == geo)
    query = query.order_by(Notice.detected_at.desc(), Notice.first_detected_at.desc(), Notice.id)
    return list(session.scalars(query.limit(limit).offset(offset)))
