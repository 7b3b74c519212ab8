"""Scheduled reports by e-mail: which are due, to whom, rendered with whose scope, through the
same transactional outbox as the digests (DESIGN sections 5b and 8).

A subscription with `report` = `tactical-monthly` is due the tactical report of the build's
last data month (a build that adds a month makes a new one); `strategic-quarterly` is due the
strategic report of the last complete quarter. The places reported are those the report
subscriptions name and the UN region of each country named; a report of a region goes to the
subscribers of that region and of its countries, a country's to that country's. A subscription
made through the API renders with its key's regions (nothing once the key is revoked, and no
report of a place outside them); one made with the CLI is unscoped; one naming no place gets
none (there is no report of the world).

Each (recipient, report) is queued once: the outbox row (PDF attached, at most
`MAX_ATTACHMENT_BYTES`, else a link to the HTML route instead) and its `ReportDelivery` mark
are written in one transaction, so an SMTP outage defers it and a later cycle sends it, once.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime
from html import escape
from typing import Any

import pandas as pd
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.errors import NarcotrendError
from core.geography import WORLD, country_region
from core.settings import Settings
from serving.alerting.digest import sender_domain
from serving.alerting.outbox import dashboard_url, run_delivery_cycle
from serving.alerting.scopes import key_scopes
from serving.alerting.subscriptions import list_subscriptions
from serving.db import OutboxMessage, ReportDelivery, new_id, session_scope, utcnow
from serving.reports.documents import document, make_report, stored_alerts
from serving.reports.inputs import resolve_place

log = logging.getLogger(__name__)

SCHEDULE_KINDS = {"tactical-monthly": "tactical", "strategic-quarterly": "strategic"}
MAX_ATTACHMENT_BYTES = 5 * 1024 * 1024


def due_period(schedule: str, data_end: pd.Timestamp) -> str:
    """The period a schedule is due for data ending at `data_end` (a month start)."""
    month = pd.Period(data_end, "M")
    if schedule == "tactical-monthly":
        return str(month)
    quarter = month.asfreq("Q")
    if month.month % 3 != 0:  # the quarter is not complete yet: the one before it
        quarter -= 1
    return f"{quarter.year}-Q{quarter.quarter}"


def report_places(geos: list[str]) -> list[str]:
    """The places a subscription's geographies call for: each one and each country's region."""
    places: list[str] = []
    for geo in geos:
        for place in (geo, country_region(geo) if len(geo) == 3 else None):
            if place and place != WORLD and place not in places:
                places.append(place)
    return places


def recipients_of(place: str, subscriptions: list[Any]) -> list[Any]:
    """Report subscriptions a place's report goes to: of the place itself or of its countries."""
    countries = set(resolve_place(place).countries)
    return [s for s in subscriptions if place in (s.geos or [])
            or countries & set(s.geos or [])]


def _data_end(settings: Settings) -> pd.Timestamp | None:
    path = settings.paths.build_manifest
    if not path.exists():
        return None
    end = json.loads(path.read_text(encoding="utf-8")).get("end")
    return pd.Timestamp(end) if end else None


def enqueue_reports(session: Session, settings: Settings, now: datetime | None = None) -> int:
    """Queue every due report not yet queued for its recipient; returns how many were queued.

    A report is rendered once per place, kind, period and scope in a cycle, however many
    recipients share it.
    """
    now = now or utcnow()
    data_end = _data_end(settings)
    subs = [s for s in list_subscriptions(session) if s.report in SCHEDULE_KINDS]
    if data_end is None or not subs:
        return 0
    scopes = key_scopes(session, (s.owner_key_id for s in subs))
    queued_keys = {(d.recipient, d.report_key) for d in session.scalars(
        select(ReportDelivery).where(ReportDelivery.recipient.in_({s.email for s in subs})))}
    alerts = stored_alerts(settings)
    rendered: dict[tuple[str, str, str, tuple[str, ...] | None], tuple[bytes, str]] = {}
    domain = sender_domain(settings.mail_from)
    queued = 0
    for schedule, kind in SCHEDULE_KINDS.items():
        period = due_period(schedule, data_end)
        of_schedule = [s for s in subs if s.report == schedule]
        places = []
        for sub in of_schedule:
            places += [p for p in report_places(list(sub.geos or [])) if p not in places]
        for place in places:
            key = f"{kind}/{place}/{period}"
            for sub in recipients_of(place, of_schedule):
                if (sub.email, key) in queued_keys:
                    continue
                scope = scopes.get(sub.owner_key_id) if sub.owner_key_id else None
                if sub.owner_key_id and (scope is None or scope.revoked):
                    continue
                regions = tuple(sorted(scope.regions)) if scope and scope.regions else None
                if regions is not None and resolve_place(place).region not in regions:
                    continue
                cache_key = (kind, place, period, regions)
                if cache_key not in rendered:
                    try:
                        report = make_report(settings, place, period, kind, regions, alerts)
                        rendered[cache_key] = (document(report, "pdf"), report.filename)
                    except NarcotrendError as err:
                        log.error("report %s not made: %s", key, err)
                        rendered[cache_key] = (b"", "")
                pdf, name = rendered[cache_key]
                if not pdf:
                    continue
                session.add(_outbox_row(settings, sub.email, kind, place, period, pdf, name,
                                        now, domain, outbox_id := new_id()))
                session.add(ReportDelivery(recipient=sub.email, report_key=key,
                                           outbox_id=outbox_id, queued_at=now))
                queued_keys.add((sub.email, key))
                queued += 1
    session.flush()
    return queued


def _outbox_row(settings: Settings, recipient: str, kind: str, place: str, period: str,
                pdf: bytes, name: str, now: datetime, domain: str,
                outbox_id: str) -> OutboxMessage:
    """The e-mail of one report: a short text and HTML body, the PDF attached when it fits."""
    url = f"{dashboard_url(settings).rstrip('/')}/v1/reports/{place}?period={period}&kind={kind}"
    fits = len(pdf) <= MAX_ATTACHMENT_BYTES
    where = ("attached" if fits else
             f"too large to attach ({len(pdf) // 1024:,} KiB); read it at {url}")
    text = (f"The {kind} report of {place} for {period} is {where}.\n"
            f"HTML version (API key needed): {url}\n"
            "Handling: RESTRICTED, law-enforcement use only.\n")
    html = (f"<p>The {escape(kind)} report of <b>{escape(place)}</b> for {escape(period)} is "
            f"{escape(where)}.</p><p><a href=\"{escape(url)}\">HTML version</a> (API key "
            "needed)</p><p>Handling: RESTRICTED, law-enforcement use only.</p>")
    return OutboxMessage(
        id=outbox_id, recipient=recipient,
        subject=f"Narcotrend {kind} report: {place}, {period}",
        payload={"html": html, "text": text, "images": [], "date": now.isoformat(),
                 "report": {"kind": kind, "geo": place, "period": period}},
        status="pending", attempts=0, next_attempt_at=now, created_at=now,
        message_id=f"<{outbox_id}@{domain}>",
        attachment=pdf if fits else None, attachment_name=f"{name}.pdf" if fits else None)


def run_report_cycle(settings: Settings, now: datetime | None = None, *,
                     force: bool = False) -> dict[str, Any]:
    """One mail cycle with reports: queue due reports, then the digests' cycle (silences,
    digests, delivery of everything pending, reports included)."""
    now = now or utcnow()
    try:
        with session_scope(settings.service_database_url) as session:
            reports = enqueue_reports(session, settings, now)
    except IntegrityError:
        log.warning("concurrent report enqueue detected; this cycle queued no report")
        reports = 0
    return {"reports_enqueued": reports, **run_delivery_cycle(settings, now, force=force)}
