"""Linked cases in the service: storing the link stage's alerts, and analysts' decisions.

`store_link_alerts` upserts a link run's `linked_cases` alerts through the `link` producer, so
a link run resolves only linked-case alerts (and a detect run never resolves them). Decisions
(`confirm` a group, `detach` a seizure from it, `join` two groups) are rows of
`link_decisions` with who took them and the members they were taken on; `decisions_for_run`
turns them into the must-link / cannot-link pairs every later run honours.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.errors import NarcotrendError
from core.home import HomePaths, read_stored
from core.settings import Settings
from serving.alerting.alerts_store import upsert_alerts
from serving.db import LinkDecision, session_scope
from training.link import Decisions, link

DECISION_KINDS = ("confirm", "detach", "join")


def link_and_store(settings: Settings, progress: Any = None) -> dict[str, Any]:
    """`narcotrend link` (and the link step of `narcotrend run`): the link stage with the
    analysts' decisions, then its alerts stored; the stage's summary with the store's counts."""
    with session_scope(settings.service_database_url) as session:
        decisions = decisions_for_run(session)
    summary = link(settings, decisions=decisions, progress=progress)
    alerts = summary.pop("alerts")
    with session_scope(settings.service_database_url) as session:
        counts = store_link_alerts(session, alerts, summary["detected_at"],
                                   settings.alert_resolve_after_periods)
    summary.update(alerts=len(alerts), **counts)
    return summary


def store_link_alerts(session: Session, alerts: Iterable[dict[str, Any]], as_of: str,
                      resolve_after_periods: int = 3) -> dict[str, int]:
    """Upsert one link run's alerts as of `as_of`; resolves only linked-case alerts."""
    return upsert_alerts(session, alerts, as_of, resolve_after_periods, producer="link")


def group_members(paths: HomePaths, group_id: str) -> list[str]:
    """The seizure ids of a group in the last link run (NarcotrendError when unknown)."""
    links = read_stored(paths.links, "narcotrend link", "links", ["seizure_id", "group_id"])
    members = sorted(links.loc[links["group_id"] == group_id, "seizure_id"].astype(str))
    if not members:
        raise NarcotrendError(f"no case group {group_id!r} in {paths.links}")
    return members


def record_decision(session: Session, paths: HomePaths, kind: str, group_id: str, *,
                    decided_by: str, seizure_id: str | None = None,
                    other_group_id: str | None = None, note: str | None = None) -> LinkDecision:
    """Keep one analyst decision with the members it was taken on; it is applied by the next
    link run. `detach` needs `seizure_id` (a member), `join` needs `other_group_id`."""
    if kind not in DECISION_KINDS:
        raise NarcotrendError(f"`kind` must be one of {', '.join(DECISION_KINDS)}, got {kind!r}")
    members = group_members(paths, group_id)
    if kind == "detach" and seizure_id not in members:
        raise NarcotrendError(f"seizure {seizure_id!r} is not in group {group_id}")
    if kind == "join":
        if not other_group_id or other_group_id == group_id:
            raise NarcotrendError("`join` needs another group id")
        members = members + group_members(paths, other_group_id)
    row = LinkDecision(kind=kind, group_id=group_id, other_group_id=other_group_id,
                       seizure_id=seizure_id if kind == "detach" else None, members=members,
                       decided_by=decided_by, note=note)
    session.add(row)
    session.flush()
    return row


def list_decisions(session: Session, group_id: str | None = None) -> list[LinkDecision]:
    query = select(LinkDecision).order_by(LinkDecision.decided_at, LinkDecision.id)
    if group_id is not None:
        query = query.where((LinkDecision.group_id == group_id)
                            | (LinkDecision.other_group_id == group_id))
    return list(session.scalars(query))


def decisions_for_run(session: Session) -> Decisions:
    """Every decision as must-link / cannot-link pairs (a detach wins over a confirm)."""
    out = Decisions()
    for row in list_decisions(session):
        members = list(row.members)
        if row.kind in ("confirm", "join"):
            out.must_link += [(members[0], m) for m in members[1:]]
            out.confirmed.add(row.group_id)
        elif row.kind == "detach":
            out.cannot_link += [(row.seizure_id, m) for m in members if m != row.seizure_id]
    return out


def decisions_frame(rows: list[LinkDecision]) -> pd.DataFrame:
    return pd.DataFrame([{"kind": r.kind, "group_id": r.group_id,
                          "other_group_id": r.other_group_id, "seizure_id": r.seizure_id,
                          "decided_by": r.decided_by, "decided_at": r.decided_at.isoformat(),
                          "note": r.note} for r in rows])


__all__ = ["DECISION_KINDS", "decisions_for_run", "decisions_frame", "group_members",
           "list_decisions", "record_decision", "store_link_alerts"]
