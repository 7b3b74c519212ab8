"""The transactional e-mail outbox and its delivery over SMTP (DESIGN section 8).

`enqueue_digests` writes each recipient's digest as an `OutboxMessage` row AND records, in
`Delivery`, every alert fingerprint and severity the digest carries, in the same transaction:
either both exist or neither, so an alert is never marked as told without a message that tells
it. `deliver_pending` then sends due rows one by one:

1. claim the row (status "sending", a lease of `outbox_lease_seconds` from the moment of the
   claim, not from the start of the cycle), commit;
2. send it through SMTP (or write it as `<outbox id>.eml` when no SMTP host is set), a thread
   renewing the lease every third of its length while the send lasts, however slow the relay;
3. mark it "sent", commit.

So overlapping cycles (the scheduler's and a manual `alerts send`) never take a row another
live sender holds. A crash between 2 and 3 leaves the row "sending"; once its lease runs out
(no one renews it) the next cycle sends it again with the same Message-ID: at-least-once
delivery, duplicates only in that window and recognisable by Message-ID. An SMTP outage defers
rows (attempts, exponential backoff in `next_attempt_at`); nothing is dropped. A permanent
refusal (5xx) marks the row "failed".
"""

from __future__ import annotations

import base64
import logging
import os
import smtplib
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import parseaddr
from typing import Any

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.errors import NarcotrendError
from core.settings import Settings
from serving.alerting.digest import (
    MAX_CHARTS,
    build_message,
    load_chart_data,
    render_chart_png,
    render_digest,
    sender_domain,
)
from serving.alerting.incidents import Incident, group_incidents
from serving.alerting.scopes import KeyScope, key_scopes
from serving.alerting.silences import apply_silences
from serving.alerting.smtp import SMTP_TIMEOUT_SECONDS, connect_smtp, send_message, write_eml
from serving.alerting.subscriptions import list_subscriptions, severity_rank, subscription_matches
from serving.db import Alert, Delivery, OutboxMessage, new_id, session_scope, utcnow
from serving.periodic import Periodic

log = logging.getLogger(__name__)

CLAIM_SECONDS = 120  # the default of `outbox_lease_seconds`
BACKOFF_BASE_SECONDS = 60
BACKOFF_MAX_SECONDS = 3600
# Test hook: exit the process right after a message left (SMTP accepted it or the .eml file
# was written) and before the database records it, to prove that the crash loses nothing.
CRASH_AFTER_SEND_ENV = "NARCOTREND_TEST_CRASH_AFTER_SEND"
SENDABLE_STATUSES = ("open",)


def dashboard_url(settings: Settings) -> str:
    """Where the digest's links point: the configured URL, else the served dashboard."""
    return settings.dashboard_url or f"http://{settings.host}:{settings.port}/"


def backoff_seconds(attempts: int) -> int:
    """Wait before the next try after `attempts` tries: 60 s, 120 s, 240 s ... at most 1 h."""
    return min(BACKOFF_MAX_SECONDS, BACKOFF_BASE_SECONDS * 2 ** max(0, attempts - 1))


# --- enqueue ------------------------------------------------------------------------------------

def select_recipient_alerts(subscriptions: Iterable[Any], alerts: Iterable[Mapping[str, Any]],
                            sent: Mapping[tuple[str, str], str],
                            scopes: Mapping[str, KeyScope] | None = None
                            ) -> dict[str, dict[str, Mapping[str, Any]]]:
    """recipient -> {fingerprint: alert} still to tell them.

    An alert goes to a recipient when one of their subscriptions matches it and they were not
    already told it at this severity or higher (`sent`: (recipient, fingerprint) -> severity).
    With `scopes` (by key id, from `key_scopes`; `enqueue_digests` always passes them), a
    subscription made through the API (`owner_key_id`) carries its key's scope: only alerts in
    that key's regions, and nothing once the key is revoked or gone; one made with the CLI (no
    owner) covers every region. Without `scopes` only the subscriptions' own filters apply.
    """
    alerts = list(alerts)
    chosen: dict[str, dict[str, Mapping[str, Any]]] = {}
    for sub in subscriptions:
        scope = scopes.get(sub.owner_key_id) if scopes is not None and sub.owner_key_id else None
        if scopes is not None and sub.owner_key_id and (scope is None or scope.revoked):
            continue
        for alert in alerts:
            if scope is not None and not scope.covers(alert.get("region")):
                continue
            previous = sent.get((sub.email, alert["fingerprint"]))
            if previous is not None and severity_rank(previous) >= severity_rank(alert["severity"]):
                continue
            if subscription_matches(sub, alert):
                chosen.setdefault(sub.email, {})[alert["fingerprint"]] = alert
    return chosen


def _chart_images(entries: list[Incident], settings: Settings, outbox_id: str,
                  cache: dict[tuple[str, str], str | None]) -> list[dict[str, str]]:
    """PNG charts for the top entries (drawn once per series and period per cycle)."""
    top = entries[:MAX_CHARTS]
    missing = [e.unique_id for e in top if (e.unique_id, e.lead["period"]) not in cache]
    if missing:
        history, forecasts = load_chart_data(settings.series_dir / "series.parquet",
                                             settings.forecasts_dir / "forecasts.parquet",
                                             missing)
        for entry in top:
            key = (entry.unique_id, entry.lead["period"])
            if key in cache:
                continue
            rows = None if history is None else history[history["unique_id"] == entry.unique_id]
            if rows is None or rows["y"].notna().sum() == 0:
                cache[key] = None
                continue
            fc = None if forecasts is None else forecasts[forecasts["unique_id"] == entry.unique_id]
            png = render_chart_png(rows, fc, entry=entry)
            cache[key] = base64.b64encode(png).decode("ascii")
    images = []
    domain = sender_domain(settings.mail_from)
    for index, entry in enumerate(top):
        png_b64 = cache.get((entry.unique_id, entry.lead["period"]))
        if png_b64:
            entry.chart_cid = f"chart{index}.{outbox_id}@{domain}"
            images.append({"cid": entry.chart_cid, "png_b64": png_b64})
    return images


def forget_resolved(session: Session) -> int:
    """Drop the delivery marks of resolved alerts, so an alert that comes back is news again."""
    resolved = select(Alert.fingerprint).where(Alert.status == "resolved").scalar_subquery()
    result = session.execute(delete(Delivery).where(Delivery.fingerprint.in_(resolved)))
    return result.rowcount or 0


def enqueue_digests(session: Session, settings: Settings, now: datetime | None = None) -> int:
    """Queue one digest per recipient with alerts to tell; returns how many were queued.

    The outbox rows and the `Delivery` marks are added to `session` together, so they commit
    (or roll back) as one transaction. Only open alerts are sent: silenced, acknowledged and
    resolved alerts are not; a resolved alert that reopens later is sent again.
    """
    now = now or utcnow()
    forget_resolved(session)
    # a subscription with a scheduled report gets the report, not digests
    subscriptions = [s for s in list_subscriptions(session) if not s.report]
    if not subscriptions:
        return 0
    alerts = [a.to_dict() for a in
              session.scalars(select(Alert).where(Alert.status.in_(SENDABLE_STATUSES)))]
    recipients = sorted({sub.email for sub in subscriptions})
    marks = {(d.recipient, d.fingerprint): d for d in
             session.scalars(select(Delivery).where(Delivery.recipient.in_(recipients)))}
    chosen = select_recipient_alerts(subscriptions, alerts,
                                     {key: d.severity for key, d in marks.items()},
                                     key_scopes(session, (s.owner_key_id for s in subscriptions)))
    charts: dict[tuple[str, str], str | None] = {}
    domain = sender_domain(settings.mail_from)
    queued = 0
    for recipient in sorted(chosen):
        carried = chosen[recipient]
        entries = group_incidents(list(carried.values()))
        outbox_id = new_id()
        images = _chart_images(entries, settings, outbox_id, charts)
        subject, html, text = render_digest(entries, recipient=recipient,
                                            dashboard_url=dashboard_url(settings),
                                            generated_at=now)
        payload = {
            "html": html, "text": text, "images": images, "date": now.isoformat(),
            "alerts": [{"id": a["id"], "fingerprint": fp, "severity": a["severity"]}
                       for fp, a in sorted(carried.items())],
        }
        session.add(OutboxMessage(id=outbox_id, recipient=recipient, subject=subject,
                                  payload=payload, status="pending", attempts=0,
                                  next_attempt_at=now, created_at=now,
                                  message_id=f"<{outbox_id}@{domain}>"))
        for fingerprint, alert in carried.items():
            mark = marks.get((recipient, fingerprint))
            if mark is None:
                session.add(Delivery(recipient=recipient, fingerprint=fingerprint,
                                     severity=alert["severity"], outbox_id=outbox_id,
                                     sent_at=now))
            else:
                mark.severity, mark.outbox_id, mark.sent_at = alert["severity"], outbox_id, now
        queued += 1
    session.flush()
    return queued


# --- delivery -----------------------------------------------------------------------------------

def message_for(row: OutboxMessage, settings: Settings) -> EmailMessage:
    """The MIME message of an outbox row; the same row always gives the same message (with
    its attachment, a report's PDF, when the row has one)."""
    payload = row.payload
    message = build_message(subject=row.subject, html=payload["html"], text=payload["text"],
                         images=payload.get("images", []), mail_from=settings.mail_from,
                         recipient=row.recipient, message_id=row.message_id or f"<{row.id}@"
                         f"{sender_domain(settings.mail_from)}>",
                         date=datetime.fromisoformat(payload.get("date") or
                                                     row.created_at.isoformat()))
    if row.attachment is not None:
        message.add_attachment(row.attachment, maintype="application", subtype="pdf",
                               filename=row.attachment_name or f"{row.id}.pdf")
    return message


def _due_clause(now: datetime, force: bool) -> Any:
    """Rows to try now: pending ones past their backoff (all pending with `force`), and rows
    left "sending" by a process that died, once their lease ran out."""
    pending = OutboxMessage.status == "pending"
    if not force:
        pending = pending & (OutboxMessage.next_attempt_at <= now)
    stale = (OutboxMessage.status == "sending") & (OutboxMessage.next_attempt_at <= now)
    return or_(pending, stale)


class _Clock:
    """The cycle's clock: real time, shifted by the `now` a caller passed (tests, replays)."""

    def __init__(self, now: datetime | None) -> None:
        self.offset = (now - utcnow()) if now is not None else timedelta(0)

    def __call__(self) -> datetime:
        return utcnow() + self.offset


def _claim(url: str, outbox_id: str, clock: _Clock, lease: float,
           force: bool) -> OutboxMessage | None:
    """Take a row for sending (atomic conditional update, committed); None if another took it.
    The lease runs from this moment; the row's `attempts` after the claim identifies it."""
    now = clock()
    with session_scope(url) as session:
        result = session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == outbox_id, _due_clause(now, force))
            .values(status="sending", attempts=OutboxMessage.attempts + 1,
                    next_attempt_at=now + timedelta(seconds=lease)))
        if result.rowcount != 1:
            return None
        return session.get(OutboxMessage, outbox_id)


@contextmanager
def _lease_renewed(url: str, outbox_id: str, attempts: int, clock: _Clock,
                   lease: float) -> Iterator[None]:
    """Keep extending the claim of one row while the block runs (a send through a slow relay
    may outlast any fixed lease); only the claim numbered `attempts` is extended."""
    done = threading.Event()

    def renew() -> None:
        while not done.wait(lease / 3):
            try:
                with session_scope(url) as session:
                    session.execute(
                        update(OutboxMessage)
                        .where(OutboxMessage.id == outbox_id, OutboxMessage.status == "sending",
                               OutboxMessage.attempts == attempts)
                        .values(next_attempt_at=clock() + timedelta(seconds=lease)))
            except Exception:  # noqa: BLE001 - a missed renewal is retried at the next tick
                log.exception("renewing the lease of outbox %s failed", outbox_id)

    renewer = threading.Thread(target=renew, name=f"lease-{outbox_id}", daemon=True)
    renewer.start()
    try:
        yield
    finally:
        done.set()
        renewer.join()


def _finish(url: str, outbox_id: str, now: datetime, *, status: str,
            error: str | None = None) -> None:
    """Record the outcome of a try: sent, failed, or back to pending after a backoff."""
    with session_scope(url) as session:
        row = session.get(OutboxMessage, outbox_id)
        if row is None:
            return
        row.status = status
        row.last_error = error
        if status == "sent":
            row.sent_at = now
            session.execute(update(Delivery).where(Delivery.outbox_id == outbox_id)
                            .values(sent_at=now))
        elif status == "pending":
            row.next_attempt_at = now + timedelta(seconds=backoff_seconds(row.attempts))


def _defer_unclaimed(url: str, outbox_ids: list[str], now: datetime, error: str) -> None:
    """Count a try against rows not attempted because the server was unreachable."""
    with session_scope(url) as session:
        for row in session.scalars(select(OutboxMessage).where(OutboxMessage.id.in_(outbox_ids),
                                                               OutboxMessage.status == "pending")):
            row.attempts += 1
            row.last_error = error
            row.next_attempt_at = now + timedelta(seconds=backoff_seconds(row.attempts))


def _defer_rest(settings: Settings, outbox_ids: list[str], now: datetime,
                error: BaseException | str | None) -> int:
    """Back off every row of `outbox_ids` (the first one claimed, the rest not) after the
    server became unreachable; returns how many were deferred."""
    text = error if isinstance(error, str) else f"{type(error).__name__}: {error}"[:1000]
    url = settings.service_database_url
    _finish(url, outbox_ids[0], now, status="pending", error=text)
    _defer_unclaimed(url, outbox_ids[1:], now, text)
    log.warning("SMTP %s:%s unreachable, %d message(s) deferred: %s", settings.smtp_host,
                settings.smtp_port, len(outbox_ids), text)
    return len(outbox_ids)


def _crash_hook() -> None:
    code = os.environ.get(CRASH_AFTER_SEND_ENV)
    if code:
        os._exit(int(code) if code.isdigit() else 70)


def deliver_pending(settings: Settings, now: datetime | None = None, *,
                    force: bool = False) -> dict[str, int]:
    """Send due outbox rows; returns counts `sent`, `deferred`, `failed`, `written` (.eml).

    `force` also tries pending rows still in their backoff (a manual `alerts send`).
    """
    if settings.smtp_ssl and settings.smtp_starttls:
        raise NarcotrendError("NARCOTREND_SMTP_SSL and NARCOTREND_SMTP_STARTTLS are both set; "
                              "use SSL for implicit TLS (port 465) or STARTTLS (port 587)")
    clock = _Clock(now)
    lease = settings.outbox_lease_seconds
    url = settings.service_database_url
    counts = {"sent": 0, "deferred": 0, "failed": 0, "written": 0}
    with session_scope(url) as session:
        due = list(session.scalars(select(OutboxMessage.id).where(_due_clause(clock(), force))
                                   .order_by(OutboxMessage.created_at, OutboxMessage.id)))
    smtp: smtplib.SMTP | None = None
    envelope_from = parseaddr(settings.mail_from)[1] or settings.mail_from
    try:
        for position, outbox_id in enumerate(due):
            row = _claim(url, outbox_id, clock, lease, force)
            if row is None:
                continue
            message = message_for(row, settings)
            if not settings.smtp_host:
                write_eml(settings.outbox_dir, outbox_id, message)
                _crash_hook()
                _finish(url, outbox_id, clock(), status="sent")
                counts["written"] += 1
                continue
            if smtp is None:
                try:
                    with _lease_renewed(url, outbox_id, row.attempts, clock, lease):
                        smtp = connect_smtp(settings)
                except (smtplib.SMTPException, OSError) as err:
                    counts["deferred"] += _defer_rest(settings, due[position:], clock(), err)
                    break
            with _lease_renewed(url, outbox_id, row.attempts, clock, lease):
                outcome, error = send_message(smtp, message, envelope_from, row.recipient)
            if outcome == "sent":
                _crash_hook()
                _finish(url, outbox_id, clock(), status="sent")
                counts["sent"] += 1
            elif outcome == "failed":
                _finish(url, outbox_id, clock(), status="failed", error=error)
                counts["failed"] += 1
                log.error("outbox %s to %s refused: %s", outbox_id, row.recipient, error)
            elif outcome == "deferred":
                _finish(url, outbox_id, clock(), status="pending", error=error)
                counts["deferred"] += 1
            else:  # the connection is gone: this and the rest wait for the next cycle
                smtp = None
                counts["deferred"] += _defer_rest(settings, due[position:], clock(), error)
                break
    finally:
        if smtp is not None:
            try:
                smtp.quit()
            except (smtplib.SMTPException, OSError):
                pass
    return counts


def outbox_status(settings: Settings) -> dict[str, int]:
    """How many outbox rows are in each status."""
    with session_scope(settings.service_database_url) as session:
        rows = session.execute(select(OutboxMessage.status, func.count())
                               .group_by(OutboxMessage.status))
        return {status: count for status, count in rows}


def run_delivery_cycle(settings: Settings, now: datetime | None = None, *,
                       force: bool = False) -> dict[str, Any]:
    """One cycle: apply silences, queue digests, deliver; returns the counts of each step."""
    now = now or utcnow()
    url = settings.service_database_url
    with session_scope(url) as session:
        silences_changed = apply_silences(session, now=now)
    try:
        with session_scope(url) as session:
            enqueued = enqueue_digests(session, settings, now)
    except IntegrityError:
        # Another process queued the same alerts at the same moment; its digests stand.
        log.warning("concurrent enqueue detected; this cycle queued nothing")
        enqueued = 0
    counts = deliver_pending(settings, now, force=force)
    return {"silences_changed": silences_changed, "enqueued": enqueued, **counts,
            "pending": outbox_status(settings).get("pending", 0)}


def start_delivery_scheduler(settings: Settings,
                             run: Callable[[Settings], Any] = run_delivery_cycle
                             ) -> Callable[[], None]:
    """Run a delivery cycle now and every `send_interval_seconds` in a daemon thread.

    Returns `stop()`, which ends the loop and waits for a running cycle to finish. A failing
    cycle is logged and retried at the next tick; it never kills the thread.
    """
    def cycle() -> None:
        log.info("delivery cycle: %s", run(settings))

    loop = Periodic(cycle, settings.send_interval_seconds, "narcotrend-mail", immediately=True,
                    join_seconds=SMTP_TIMEOUT_SECONDS + 5)
    loop.start()
    return loop.stop
