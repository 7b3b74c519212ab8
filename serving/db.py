"""The service database: alerts, silences, API keys, subscriptions, the e-mail outbox, the audit
log and background jobs (SQLite by default, any SQLAlchemy URL by setting).

Tables are declared once here; each area keeps its queries in its own module.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import (
    JSON,
    DateTime,
    Float,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    create_engine,
    event,
)
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def new_id() -> str:
    return uuid.uuid4().hex


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[str]: JSON}


class Alert(Base):
    """One alert (DESIGN section 5); a continuing condition updates the row with its fingerprint."""

    __tablename__ = "alerts"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    fingerprint: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    type: Mapped[str] = mapped_column(String(32), index=True)
    geo_level: Mapped[str] = mapped_column(String(16))
    geo: Mapped[str] = mapped_column(String(64), index=True)
    region: Mapped[str] = mapped_column(String(32), index=True)
    drug_level: Mapped[str] = mapped_column(String(16))
    drug: Mapped[str] = mapped_column(String(64), index=True)
    metric: Mapped[str] = mapped_column(String(16))
    period: Mapped[str] = mapped_column(String(10))
    detected_at: Mapped[str] = mapped_column(String(10))
    first_detected_at: Mapped[str] = mapped_column(String(10))
    severity: Mapped[str] = mapped_column(String(16), index=True)
    score: Mapped[float] = mapped_column(Float)
    route: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    evidence: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(16), default="open", index=True)
    periods_absent: Mapped[int] = mapped_column(Integer, default=0)
    acknowledged_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    # every episode, oldest first: {opened, resolved, period, detected_at, severity, evidence,
    # route}; the row's own fields are its last episode's (serving/alerting/alerts_store.py)
    episodes: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON, nullable=True)

    def to_dict(self) -> dict[str, Any]:
        """The alert in the one JSON shape of DESIGN section 5, with `first_detected_at` and its
        `episodes`."""
        out: dict[str, Any] = {
            "id": self.id, "type": self.type, "geo_level": self.geo_level, "geo": self.geo,
            "region": self.region, "drug_level": self.drug_level, "drug": self.drug,
            "metric": self.metric, "period": self.period, "detected_at": self.detected_at,
            "severity": self.severity, "score": self.score, "evidence": self.evidence or {},
            "status": self.status, "fingerprint": self.fingerprint,
            "first_detected_at": self.first_detected_at,
            "episodes": list(self.episodes or []) or [self._current_episode()],
        }
        if self.route is not None:
            out["route"] = self.route
        return out


    def _current_episode(self) -> dict[str, Any]:
        """A row stored without episodes (written directly, not by `upsert_alerts`): its one
        known episode, from its own fields."""
        return {"opened": self.first_detected_at,
                "resolved": self.detected_at if self.status == "resolved" else None,
                "period": self.period, "detected_at": self.detected_at,
                "severity": self.severity, "evidence": self.evidence or {}, "route": self.route}


class Notice(Base):
    """A data-quality notice (`reporting_change`: a country sent a fraction of its usual
    reports), with a lifecycle like an alert's: one row per fingerprint, updated while it lasts.
    Served beside the alerts, never e-mailed as a threat."""

    __tablename__ = "notices"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    fingerprint: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    type: Mapped[str] = mapped_column(String(32))
    geo: Mapped[str] = mapped_column(String(64), index=True)
    region: Mapped[str] = mapped_column(String(32), index=True)
    periods: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    drugs: Mapped[list[str]] = mapped_column(JSON, default=list)
    evidence: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    detected_at: Mapped[str] = mapped_column(String(10))
    first_detected_at: Mapped[str] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(String(16), default="open", index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)

    def to_dict(self) -> dict[str, Any]:
        """The notice as DESIGN's contract has it (``kind``, ``summary``, ``periods`` of
        ``{period, reporting_completeness}``), with ``type`` and ``evidence`` as before; a
        notice stored before the rename (``completeness``) reads the same."""
        evidence = self.evidence or {}
        return {"id": self.id, "kind": self.type, "type": self.type, "geo": self.geo,
                "region": self.region, "periods": [_notice_period(p) for p in self.periods or []],
                "drugs": list(self.drugs or []), "summary": str(evidence.get("summary", "")),
                "evidence": evidence, "detected_at": self.detected_at,
                "first_detected_at": self.first_detected_at, "status": self.status,
                "fingerprint": self.fingerprint}


def _notice_period(period: dict[str, Any]) -> dict[str, Any]:
    """``{period, reporting_completeness}`` of a stored notice period (older rows said
    ``completeness``)."""
    share = period.get("reporting_completeness", period.get("completeness"))
    return {"period": period.get("period"), "reporting_completeness": share}


class Silence(Base):
    """Mutes alerts matching every non-null matcher until it expires."""

    __tablename__ = "silences"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    geo: Mapped[str | None] = mapped_column(String(64), nullable=True)
    drug: Mapped[str | None] = mapped_column(String(64), nullable=True)
    type: Mapped[str | None] = mapped_column(String(32), nullable=True)
    comment: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime)


class ApiKey(Base):
    """An API key: only its SHA-256 hash is stored; `prefix` identifies it in logs."""

    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    prefix: Mapped[str] = mapped_column(String(16), index=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    regions: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    name: Mapped[str] = mapped_column(String(128), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class Subscription(Base):
    """Who gets which alerts: empty geos/drugs mean everything; a region covers its countries."""

    __tablename__ = "subscriptions"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    email: Mapped[str] = mapped_column(String(254), index=True)
    geos: Mapped[list[str]] = mapped_column(JSON, default=list)
    drugs: Mapped[list[str]] = mapped_column(JSON, default=list)
    min_severity: Mapped[str] = mapped_column(String(16), default="low")
    owner_key_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    # reports (serving/reports/dissemination.py): tactical-monthly | strategic-quarterly; a
    # subscription with a report gets that report, not alert digests
    report: Mapped[str | None] = mapped_column(String(32), nullable=True)


class OutboxMessage(Base):
    """A digest waiting to be sent (transactional outbox: written with the alerts it carries)."""

    __tablename__ = "outbox"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    recipient: Mapped[str] = mapped_column(String(254), index=True)
    subject: Mapped[str] = mapped_column(String(255))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    message_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    # one file attached to the message (a report's PDF), bounded in size by its producer
    attachment: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    attachment_name: Mapped[str | None] = mapped_column(String(255), nullable=True)


class ReportDelivery(Base):
    """A scheduled report queued for a recipient: `report_key` = kind/geo/period, so a report
    is queued once per recipient however many cycles run (written with its outbox row)."""

    __tablename__ = "report_deliveries"
    __table_args__ = (UniqueConstraint("recipient", "report_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    recipient: Mapped[str] = mapped_column(String(254))
    report_key: Mapped[str] = mapped_column(String(128))
    outbox_id: Mapped[str] = mapped_column(String(32))
    queued_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Delivery(Base):
    """The highest severity of an alert already sent to a recipient (no resend unless it rises)."""

    __tablename__ = "deliveries"
    __table_args__ = (UniqueConstraint("recipient", "fingerprint"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    recipient: Mapped[str] = mapped_column(String(254))
    fingerprint: Mapped[str] = mapped_column(String(64))
    severity: Mapped[str] = mapped_column(String(16))
    outbox_id: Mapped[str] = mapped_column(String(32))
    sent_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class AuditEntry(Base):
    """Every API call: who, what, when, status."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_key_id_at", "key_id", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)
    key_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    role: Mapped[str | None] = mapped_column(String(16), nullable=True)
    method: Mapped[str] = mapped_column(String(8))
    path: Mapped[str] = mapped_column(String(512))
    status: Mapped[int] = mapped_column(Integer)
    client: Mapped[str | None] = mapped_column(String(64), nullable=True)


class Job(Base):
    """A background job (retrain) started through the API."""

    __tablename__ = "jobs"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    kind: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default="queued")
    requested_by: Mapped[str | None] = mapped_column(String(32), nullable=True)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class LinkDecision(Base):
    """An analyst's decision on a case group (confirm, detach a seizure, join two groups), with
    the members it was taken on; later link runs honour it (must-link / cannot-link)."""

    __tablename__ = "link_decisions"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    kind: Mapped[str] = mapped_column(String(16))
    group_id: Mapped[str] = mapped_column(String(32), index=True)
    other_group_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    seizure_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    members: Mapped[list[str]] = mapped_column(JSON)
    decided_by: Mapped[str] = mapped_column(String(64))
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
    decided_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


@lru_cache(maxsize=8)
def get_engine(url: str) -> Engine:
    """One engine per database URL, its schema upgraded to the newest migration.

    SQLite gets WAL and a busy timeout for concurrent readers. The upgrade (serving/migrations)
    is a version check when the schema is current and is serialised between processes.
    """
    from serving.migrations import upgrade_database

    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record) -> None:  # pragma: no cover - trivial
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()
    else:
        engine = create_engine(url, pool_pre_ping=True)
    upgrade_database(engine)
    return engine


@contextmanager
def session_scope(url: str) -> Iterator[Session]:
    """A session that commits on success and rolls back on error."""
    factory = sessionmaker(bind=get_engine(url), expire_on_commit=False)
    session = factory()
    try:
        yield session
        session.commit()
    except Exception:
        session.rollback()
        raise
    finally:
        session.close()
