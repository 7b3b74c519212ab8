"""The service-database stores on both backends (the `db_url` fixture: SQLite, then PostgreSQL).

The same calls the API, the CLI and the e-mail scheduler make: alerts (upsert, filters, region
scope, acknowledge, resolve and reopen), subscriptions and silences, API keys, the outbox and
the audit log. PostgreSQL is stricter than SQLite about types, transactions and ordering, so
these run against a real server (NARCOTREND_TEST_POSTGRES_URL; CI starts one).
"""

from __future__ import annotations

from datetime import timedelta
from email import message_from_bytes

import pytest
from sqlalchemy import select

from core.errors import NarcotrendError
from core.settings import get_settings
from models.alerts import make_alert
from serving.alerting.alerts_store import acknowledge_alert, list_alerts, upsert_alerts
from serving.alerting.outbox import outbox_status, run_delivery_cycle
from serving.alerting.silences import apply_silences, create_silence
from serving.alerting.subscriptions import add_subscription, list_subscriptions, remove_subscription
from serving.api.audit import AuditLog
from serving.api.auth import create_key, find_key, list_keys, revoke_key, verify_key
from serving.db import AuditEntry, Delivery, OutboxMessage, session_scope, utcnow


def alert(geo: str, region: str, *, severity: str = "medium", detected_at: str = "2024-05",
          drug: str = "cocaine", type_: str = "surge") -> dict:
    keys = {"geo_level": "country", "geo": geo, "region": region, "drug_level": "group",
            "drug": drug, "metric": "kg"}
    return make_alert(type_=type_, keys=keys, period=detected_at, detected_at=detected_at,
                      severity=severity, score=2.5, evidence={"ratio": 2.1, "months": [1, 2]})


def test_alerts_upsert_filter_scope_acknowledge_resolve_and_reopen(db_url):
    first = [alert("ESP", "Europe", severity="high"), alert("NGA", "Africa"),
             alert("BRA", "Americas", severity="critical", drug="cannabis")]
    with session_scope(db_url) as s:
        assert upsert_alerts(s, first, "2024-05")["created"] == 3
    with session_scope(db_url) as s:
        counts = upsert_alerts(s, [alert("ESP", "Europe", severity="critical",
                                         detected_at="2024-06")], "2024-06")
        assert (counts["created"], counts["updated"]) == (0, 1)
        rows, total = list_alerts(s)
        assert total == 3
        assert [r.geo for r in rows] == ["ESP", "BRA", "NGA"]  # severity, then most recent
        scoped, scoped_total = list_alerts(s, regions=["Europe", "Africa"], severity=["critical",
                                                                                     "medium"])
        assert ([r.geo for r in scoped], scoped_total) == (["ESP", "NGA"], 2)
        assert rows[0].evidence == {"ratio": 2.1, "months": [1, 2]}
        acknowledged = acknowledge_alert(s, rows[0].id, by="analyst-1")
        assert acknowledged.status == "acknowledged"
    with session_scope(db_url) as s:
        counts = upsert_alerts(s, [alert("ESP", "Europe", detected_at="2024-08")], "2024-08",
                               resolve_after_periods=3)
        assert counts["resolved"] == 2  # NGA and BRA: three months unseen
        assert {r.geo for r in list_alerts(s, status="resolved")[0]} == {"NGA", "BRA"}
    with session_scope(db_url) as s:
        counts = upsert_alerts(s, [alert("NGA", "Africa", detected_at="2024-09")], "2024-09")
        assert counts["reopened"] == 1
        assert list_alerts(s, geo="NGA")[0][0].status == "open"


def test_subscriptions_and_silences_round_trip(db_url):
    with session_scope(db_url) as s:
        sub = add_subscription(s, "planner@Example.ORG", ["Spain", "Western Africa"],
                               ["Cocaine"], "high")
        again = add_subscription(s, "planner@example.org", ["ESP", "western africa"],
                                 ["cocaine"], "HIGH")
        assert again.id == sub.id
        upsert_alerts(s, [alert("ESP", "Europe"), alert("NGA", "Africa")], "2024-05")
        create_silence(s, geo="ESP", expires_at=utcnow() + timedelta(days=1), comment="known")
    with session_scope(db_url) as s:
        [stored] = list_subscriptions(s)
        assert (stored.email, stored.geos, stored.drugs) == (
            "planner@example.org", ["ESP", "Western Africa"], ["cocaine"])
        assert apply_silences(s) == 1
        assert {r.geo: r.status for r in list_alerts(s)[0]} == {"ESP": "silenced",
                                                                 "NGA": "open"}
        assert remove_subscription(s, stored.id) is True
        assert list_subscriptions(s) == []


def test_api_keys_create_verify_revoke(db_url):
    with session_scope(db_url) as s:
        raw, row = create_key(s, "viewer", ["europe"], name="planner")
        create_key(s, "admin")
    with session_scope(db_url) as s:
        principal = verify_key(s, raw)
        assert principal is not None
        assert (principal.role, principal.regions) == ("viewer", frozenset({"Europe"}))
        assert [k.role for k in list_keys(s)] == ["viewer", "admin"]
        assert find_key(s, row.prefix).id == row.id
        revoke_key(s, row.id)
    with session_scope(db_url) as s:
        assert verify_key(s, raw) is None
        assert verify_key(s, raw[:-1] + "x") is None
        with pytest.raises(NarcotrendError, match="no API key"):
            find_key(s, "nt_missing")


def test_outbox_sends_each_alert_once_through_the_eml_sink(db_url):
    settings = get_settings()
    assert settings.service_database_url == db_url
    with session_scope(db_url) as s:
        add_subscription(s, "a@example.org")
        add_subscription(s, "b@example.org", ["Africa"])
        upsert_alerts(s, [alert("ESP", "Europe", severity="high"), alert("NGA", "Africa")],
                      "2024-05")

    counts = run_delivery_cycle(settings)
    again = run_delivery_cycle(settings)

    assert (counts["enqueued"], counts["written"], counts["pending"]) == (2, 2, 0)
    assert (again["enqueued"], again["written"]) == (0, 0)
    assert outbox_status(settings) == {"sent": 2}
    with session_scope(db_url) as s:
        marks = {(d.recipient, d.fingerprint) for d in s.scalars(select(Delivery))}
        rows = {r.recipient: r for r in s.scalars(select(OutboxMessage))}
    assert len(marks) == 3  # a@ gets both alerts, b@ only the African one
    eml = settings.outbox_dir / f"{rows['b@example.org'].id}.eml"
    assert message_from_bytes(eml.read_bytes())["To"] == "b@example.org"


def test_audit_log_flush_writes_buffered_rows(db_url):
    audit = AuditLog(db_url, flush_seconds=60)
    for i in range(5):
        audit.record(key_id="k1", role="viewer", method="GET", path=f"/v1/series/{i}",
                     status=200, client="127.0.0.1")
    assert audit.flush() == 5
    assert audit.flush() == 0
    with session_scope(db_url) as s:
        paths = s.scalars(select(AuditEntry.path).where(AuditEntry.key_id == "k1")
                          .order_by(AuditEntry.at.desc(), AuditEntry.id.desc())).all()
    assert paths == [f"/v1/series/{i}" for i in reversed(range(5))]
