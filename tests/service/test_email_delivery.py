"""E-mail delivery against a real SMTP server (aiosmtpd on loopback): digests, the outbox,
retries, duplicates, crashes, the .eml sink and `narcotrend alerts send`."""

from __future__ import annotations

import email
import os
import socket
import subprocess
import sys
import time
from datetime import timedelta
from email.message import EmailMessage
from email.policy import default
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from core.settings import Settings
from serving.alerting.incidents import group_incidents
from serving.alerting.outbox import (
    CLAIM_SECONDS,
    CRASH_AFTER_SEND_ENV,
    deliver_pending,
    run_delivery_cycle,
)
from serving.alerting.subscriptions import add_subscription
from serving.db import Alert, Delivery, OutboxMessage, session_scope, utcnow

REPO = Path(__file__).resolve().parents[2]


class Recorder:
    """An aiosmtpd handler keeping every accepted message; refuses addresses in `refuse`."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], EmailMessage]] = []
        self.refuse: set[str] = set()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        if address in self.refuse:
            return "550 5.1.1 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        message = email.message_from_bytes(envelope.original_content or envelope.content,
                                           policy=default)
        self.messages.append((list(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"


class SmtpServer:
    """A real SMTP server on 127.0.0.1 that can be stopped (port closed) and started again."""

    def __init__(self) -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.handler = Recorder()
        self.controller: Controller | None = None

    def start(self) -> None:
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    @property
    def messages(self) -> list[tuple[list[str], EmailMessage]]:
        return self.handler.messages


@pytest.fixture
def smtp() -> SmtpServer:
    server = SmtpServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def settings(home, db_url, smtp) -> Settings:
    """Settings on the test SMTP server; the database is `db_url`'s (SQLite, then PostgreSQL)."""
    return Settings(home=home, smtp_host="127.0.0.1", smtp_port=smtp.port,
                    mail_from="Narcotrend <alerts@narcotrend.example.org>",
                    dashboard_url="https://dash.example.org/")


def add_alert(settings: Settings, **overrides: Any) -> str:
    """Store an alert row as detection would; returns its id."""
    data = {"type": "surge", "geo_level": "country", "geo": "ESP", "region": "Europe",
            "drug_level": "group", "drug": "cocaine", "metric": "kg", "period": "2024-05",
            "detected_at": "2024-05", "first_detected_at": "2024-05", "severity": "high",
            "score": 3.5, "evidence": {"z_score": 4.2}, "fingerprint": "fp-esp-cocaine"}
    data |= overrides
    with session_scope(settings.service_database_url) as session:
        row = Alert(**data)
        session.add(row)
        session.flush()
        return row.id


def set_alert(settings: Settings, fingerprint: str, **values: Any) -> None:
    with session_scope(settings.service_database_url) as session:
        row = session.scalars(select(Alert).where(Alert.fingerprint == fingerprint)).one()
        for key, value in values.items():
            setattr(row, key, value)


def subscribe(settings: Settings, email_address: str, **kwargs: Any) -> None:
    with session_scope(settings.service_database_url) as session:
        add_subscription(session, email_address, **kwargs)


def outbox_rows(settings: Settings) -> list[OutboxMessage]:
    with session_scope(settings.service_database_url) as session:
        return list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.created_at)))


def text_of(message: EmailMessage) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()


def html_of(message: EmailMessage) -> str:
    return message.get_body(preferencelist=("html",)).get_content()


def write_series(settings: Settings, unique_id: str = "ESP/cocaine/kg",
                 with_forecast: bool = True) -> None:
    """A small stored series (and forecast) in the formats of ARCHITECTURE.md."""
    geo, drug, metric = unique_id.split("/")
    ds = pd.date_range("2022-01-01", "2024-05-01", freq="MS")
    y = np.linspace(100.0, 180.0, len(ds))
    series = pd.DataFrame({"unique_id": unique_id, "ds": ds, "y": y, "geo_level": "country",
                           "geo": geo, "region": "Europe", "drug_level": "group", "drug": drug,
                           "metric": metric})
    settings.series_dir.mkdir(parents=True, exist_ok=True)
    series.to_parquet(settings.series_dir / "series.parquet")
    if with_forecast:
        future = pd.date_range("2024-06-01", periods=6, freq="MS")
        mean = np.full(len(future), 185.0)
        forecasts = pd.DataFrame({"unique_id": unique_id, "ds": future, "forecast": mean,
                                  "lo_80": mean - 20, "hi_80": mean + 20, "lo_95": mean - 35,
                                  "hi_95": mean + 35, "model": "ets"})
        settings.forecasts_dir.mkdir(parents=True, exist_ok=True)
        forecasts.to_parquet(settings.forecasts_dir / "forecasts.parquet")


def test_digest_is_delivered_with_text_html_and_inline_chart(settings, smtp):
    write_series(settings)
    alert_id = add_alert(settings)
    subscribe(settings, "planner@example.org")

    counts = run_delivery_cycle(settings)

    assert (counts["enqueued"], counts["sent"], counts["deferred"]) == (1, 1, 0)
    assert len(smtp.messages) == 1
    rcpt, message = smtp.messages[0]
    assert rcpt == ["planner@example.org"]
    assert message["Subject"] == "Narcotrend: 1 alert in 1 incident, top severity HIGH"
    assert message["To"] == "planner@example.org"
    assert message.get_content_type() == "multipart/alternative"
    text, html = text_of(message), html_of(message)
    assert "[HIGH] Surge: cocaine (kg) in Spain" in text
    assert f"https://dash.example.org/?alert={alert_id}" in text
    assert f'href="https://dash.example.org/?alert={alert_id}"' in html
    images = [part for part in message.walk() if part.get_content_type() == "image/png"]
    assert len(images) == 1
    cid = images[0]["Content-ID"].strip("<>")
    assert f'src="cid:{cid}"' in html
    assert images[0].get_content()[:8] == b"\x89PNG\r\n\x1a\n"
    row = outbox_rows(settings)[0]
    assert row.status == "sent" and row.attempts == 1 and message["Message-ID"] == row.message_id


def test_chart_is_drawn_without_forecast_band_when_forecasts_are_absent(settings, smtp):
    write_series(settings, with_forecast=False)
    add_alert(settings)
    subscribe(settings, "planner@example.org")
    run_delivery_cycle(settings)
    pngs = [p for p in smtp.messages[0][1].walk() if p.get_content_type() == "image/png"]
    assert len(pngs) == 1


def test_rerunning_the_cycle_sends_no_duplicates(settings, smtp):
    add_alert(settings)
    subscribe(settings, "planner@example.org")
    subscribe(settings, "planner@example.org", geos=["Europe"])  # two matching subscriptions

    first = run_delivery_cycle(settings)
    second = run_delivery_cycle(settings)
    third = run_delivery_cycle(settings, now=utcnow() + timedelta(days=1))

    assert (first["sent"], second["enqueued"], second["sent"], third["sent"]) == (1, 0, 0, 0)
    assert len(smtp.messages) == 1


def test_severity_rise_sends_the_alert_again_and_a_fall_does_not(settings, smtp):
    alert_id = add_alert(settings, severity="medium")
    subscribe(settings, "planner@example.org")
    run_delivery_cycle(settings)

    set_alert(settings, "fp-esp-cocaine", severity="critical")
    run_delivery_cycle(settings)
    set_alert(settings, "fp-esp-cocaine", severity="high")
    run_delivery_cycle(settings)

    assert [m["Subject"] for _, m in smtp.messages] == [
        "Narcotrend: 1 alert in 1 incident, top severity MEDIUM",
        "Narcotrend: 1 alert in 1 incident, top severity CRITICAL"]
    assert alert_id in text_of(smtp.messages[1][1])
    with session_scope(settings.service_database_url) as session:
        mark = session.scalars(select(Delivery)).one()
        assert (mark.recipient, mark.severity) == ("planner@example.org", "critical")


def test_alert_that_resolves_and_reopens_is_sent_again(settings, smtp):
    add_alert(settings)
    subscribe(settings, "planner@example.org")
    run_delivery_cycle(settings)
    set_alert(settings, "fp-esp-cocaine", status="resolved")
    run_delivery_cycle(settings)
    set_alert(settings, "fp-esp-cocaine", status="open")
    run_delivery_cycle(settings)
    assert len(smtp.messages) == 2


def test_scheduler_runs_cycles_in_the_background_until_stopped(home):
    from serving.alerting.outbox import start_delivery_scheduler

    settings = Settings(home=home, send_interval_seconds=1)
    subscribe(settings, "planner@example.org")
    stop = start_delivery_scheduler(settings)
    try:
        add_alert(settings)
        deadline = time.monotonic() + 10
        while not list(settings.outbox_dir.glob("*.eml")) and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        stop()
    assert len(list(settings.outbox_dir.glob("*.eml"))) == 1


def test_outage_defers_every_digest_and_recovery_delivers_them_all(settings, smtp):
    add_alert(settings, fingerprint="fp-esp")
    add_alert(settings, geo="NGA", region="Africa", fingerprint="fp-nga")
    for address in ("a@example.org", "b@example.org", "c@example.org"):
        subscribe(settings, address)
    smtp.stop()
    now = utcnow()

    down = run_delivery_cycle(settings, now=now)
    still_down = run_delivery_cycle(settings, now=now + timedelta(minutes=2))

    assert (down["enqueued"], down["sent"], down["deferred"], down["pending"]) == (3, 0, 3, 3)
    assert still_down["enqueued"] == 0 and still_down["deferred"] == 3
    rows = outbox_rows(settings)
    assert all(r.status == "pending" and r.attempts == 2 and r.last_error for r in rows)
    assert all(r.next_attempt_at > now + timedelta(minutes=2) for r in rows)  # backoff grew

    smtp.start()
    in_backoff = run_delivery_cycle(settings, now=now + timedelta(minutes=3))
    recovered = run_delivery_cycle(settings, now=now + timedelta(hours=2))
    again = run_delivery_cycle(settings, now=now + timedelta(hours=3))

    assert in_backoff["sent"] == 0
    assert (recovered["sent"], recovered["pending"], again["sent"]) == (3, 0, 0)
    assert sorted(rcpt[0] for rcpt, _ in smtp.messages) == [
        "a@example.org", "b@example.org", "c@example.org"]
    assert all("2 alerts" in m["Subject"] for _, m in smtp.messages)


def run_cycle_killed_after_send(home: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """One delivery cycle in a real process that dies (exit 70) right after the first send."""
    code = ("from serving.alerting.outbox import run_delivery_cycle\n"
            "from core.settings import get_settings\n"
            "run_delivery_cycle(get_settings())\n")
    full_env = os.environ | {"NARCOTREND_HOME": str(home), CRASH_AFTER_SEND_ENV: "70"} | env
    return subprocess.run([sys.executable, "-c", code], env=full_env, cwd=REPO,
                          capture_output=True, text=True, timeout=120)


def test_process_killed_between_smtp_send_and_commit_loses_no_alert(settings, smtp):
    alert_id = add_alert(settings)
    subscribe(settings, "planner@example.org")

    killed = run_cycle_killed_after_send(settings.home, NARCOTREND_SMTP_HOST="127.0.0.1",
                                         NARCOTREND_SMTP_PORT=str(smtp.port))

    assert killed.returncode == 70, killed.stderr
    assert len(smtp.messages) == 1  # the server took it, the database never heard
    assert [r.status for r in outbox_rows(settings)] == ["sending"]

    after_lease = utcnow() + timedelta(seconds=CLAIM_SECONDS + 1)
    rerun = run_delivery_cycle(settings, now=after_lease)
    final = run_delivery_cycle(settings, now=after_lease + timedelta(hours=1))

    assert (rerun["enqueued"], rerun["sent"], final["sent"]) == (0, 1, 0)
    assert len(smtp.messages) == 2
    first, second = (m for _, m in smtp.messages)
    assert first["Message-ID"] == second["Message-ID"]  # a receiver can drop the duplicate
    assert alert_id in text_of(second)
    assert [r.status for r in outbox_rows(settings)] == ["sent"]


def test_html_in_evidence_is_escaped_in_the_html_part(settings, smtp):
    add_alert(settings, evidence={"note": '<script>alert("x")</script><b>big</b> & co'})
    subscribe(settings, "planner@example.org")
    run_delivery_cycle(settings)
    _, message = smtp.messages[0]
    html = html_of(message)
    assert "<script>" not in html and "<b>big</b>" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;&lt;b&gt;big&lt;/b&gt; &amp; co" in html
    assert '<script>alert("x")</script><b>big</b> & co' in text_of(message)


def test_region_subscription_gets_its_countries_alerts_and_min_severity_holds(settings, smtp):
    add_alert(settings, geo="ESP", fingerprint="fp-esp", severity="high")
    add_alert(settings, geo="FRA", fingerprint="fp-fra", severity="low")
    add_alert(settings, geo="NGA", region="Africa", fingerprint="fp-nga", severity="critical")
    subscribe(settings, "europe@example.org", geos=["Europe"], min_severity="medium")

    run_delivery_cycle(settings)

    assert len(smtp.messages) == 1
    text = text_of(smtp.messages[0][1])
    assert "in Spain" in text and "France" not in text and "Nigeria" not in text


def test_region_alert_and_same_alert_in_its_countries_form_one_entry(settings, smtp):
    add_alert(settings, geo_level="region", geo="Europe", fingerprint="fp-eu", severity="medium")
    add_alert(settings, geo="ESP", fingerprint="fp-esp", severity="high")
    add_alert(settings, geo="PRT", fingerprint="fp-prt", severity="low")
    add_alert(settings, geo="PRT", fingerprint="fp-prt-cannabis", drug="cannabis")
    subscribe(settings, "planner@example.org")

    run_delivery_cycle(settings)

    message = smtp.messages[0][1]
    assert message["Subject"] == "Narcotrend: 4 alerts in 2 incidents, top severity HIGH"
    text = text_of(message)
    assert "Surge: cocaine (kg) in Europe" in text
    assert "also in: Spain (ESP, high), Portugal (PRT, low)" in text
    assert "Surge: cocaine (kg) in Spain" not in text
    with session_scope(settings.service_database_url) as session:
        assert len(session.scalars(select(Delivery)).all()) == 4


def test_group_alerts_keeps_different_periods_and_route_shifts_apart():
    base = {"type": "surge", "geo_level": "region", "geo": "Europe", "region": "Europe",
            "drug_level": "group", "drug": "cocaine", "metric": "kg", "period": "2024-05",
            "severity": "low", "score": 1.0}
    alerts = [base | {"fingerprint": "eu"},
              base | {"fingerprint": "esp", "geo_level": "country", "geo": "ESP"},
              base | {"fingerprint": "esp-apr", "geo_level": "country", "geo": "ESP",
                      "period": "2024-04"},
              base | {"fingerprint": "route", "type": "route_shift", "severity": "high"}]
    entries = group_incidents(alerts)
    assert [e.lead["fingerprint"] for e in entries] == ["route", "eu", "esp-apr"]
    assert [m["fingerprint"] for m in entries[1].members] == ["esp"]


def test_group_alerts_makes_one_entry_of_an_event_seen_at_every_level_and_drug_level():
    base = {"type": "surge", "region": "Asia", "metric": "seizures", "period": "2024-04",
            "severity": "high", "score": 2.0}
    alerts = [base | {"fingerprint": f"{geo}-{drug}", "geo_level": level, "geo": geo,
                      "drug_level": drug_level, "drug": drug}
              for level, geo in (("region", "Asia"), ("subregion", "Eastern Asia"),
                                 ("country", "HKG"))
              for drug_level, drug in (("group", "cocaine"),
                                       ("substance", "cocaine hydrochloride"))]
    alerts.append(base | {"fingerprint": "hkg-crack", "geo_level": "country", "geo": "HKG",
                          "drug_level": "substance", "drug": "crack cocaine"})
    alerts.append(base | {"fingerprint": "hkg-heroin", "geo_level": "country", "geo": "HKG",
                          "drug_level": "substance", "drug": "heroin"})
    entries = group_incidents(alerts)
    assert [e.lead["fingerprint"] for e in entries] == ["Asia-cocaine", "hkg-heroin"]
    assert len(entries[0].members) == 6
    assert "Eastern Asia (high)" in entries[0].countries
    assert any(c.endswith("(HKG, high): crack cocaine") for c in entries[0].countries)
    # a substance-level lead does not stand for another substance of its group
    only_substances = [a for a in alerts if a["drug_level"] == "substance"
                       and a["drug"] != "heroin"]
    entries = group_incidents(only_substances)
    assert [e.lead["fingerprint"] for e in entries] == ["Asia-cocaine hydrochloride",
                                                        "hkg-crack"]


def test_silenced_and_acknowledged_alerts_are_not_sent_until_reopened(settings, smtp):
    from serving.alerting.silences import create_silence

    add_alert(settings, fingerprint="fp-ack", status="acknowledged")
    add_alert(settings, geo="NGA", region="Africa", fingerprint="fp-nga")
    subscribe(settings, "planner@example.org")
    now = utcnow()
    with session_scope(settings.service_database_url) as session:
        create_silence(session, geo="NGA", expires_at=now + timedelta(hours=1))

    muted = run_delivery_cycle(settings, now=now)
    reopened = run_delivery_cycle(settings, now=now + timedelta(hours=2))

    assert (muted["silences_changed"], muted["enqueued"]) == (1, 0)
    assert (reopened["silences_changed"], reopened["sent"]) == (1, 1)
    assert "Nigeria" in text_of(smtp.messages[0][1])
    assert "Spain" not in text_of(smtp.messages[0][1])


def test_permanent_refusal_marks_the_message_failed_and_others_still_go(settings, smtp):
    smtp.handler.refuse.add("gone@example.org")
    add_alert(settings)
    subscribe(settings, "gone@example.org")
    subscribe(settings, "here@example.org")

    counts = run_delivery_cycle(settings)

    assert (counts["sent"], counts["failed"], counts["deferred"]) == (1, 1, 0)
    assert [rcpt for rcpt, _ in smtp.messages] == [["here@example.org"]]
    failed = [r for r in outbox_rows(settings) if r.status == "failed"]
    assert failed[0].recipient == "gone@example.org" and "550" in failed[0].last_error


def test_without_smtp_host_digests_are_written_once_as_readable_eml(home):
    settings = Settings(home=home)
    add_alert(settings)
    subscribe(settings, "planner@example.org")

    first = run_delivery_cycle(settings)
    second = run_delivery_cycle(settings)

    files = sorted(settings.outbox_dir.glob("*.eml"))
    assert (first["written"], second["written"]) == (1, 0)
    row = outbox_rows(settings)[0]
    assert [f.name for f in files] == [f"{row.id}.eml"] and row.status == "sent"
    message = email.message_from_bytes(files[0].read_bytes(), policy=default)
    assert message["To"] == "planner@example.org"
    assert message["Message-ID"] == row.message_id
    assert "Surge: cocaine (kg) in Spain" in text_of(message)
    assert "Surge: cocaine (kg) in Spain" in html_of(message)


def test_eml_sink_rerun_after_crash_does_not_write_twice(home):
    settings = Settings(home=home)
    add_alert(settings)
    subscribe(settings, "planner@example.org")
    killed = run_cycle_killed_after_send(home, NARCOTREND_SMTP_HOST="")
    assert killed.returncode == 70, killed.stderr

    counts = deliver_pending(settings, utcnow() + timedelta(seconds=CLAIM_SECONDS + 1))

    assert counts["written"] == 1
    assert len(list(settings.outbox_dir.glob("*.eml"))) == 1
    assert [r.status for r in outbox_rows(settings)] == ["sent"]


def test_cli_alerts_send_reports_deferral_then_next_cycle_delivers(settings, smtp, run_cli):
    add_alert(settings)
    subscribe(settings, "cli@example.org", geos=["Spain"], min_severity="medium")
    smtp.stop()

    relay = {"NARCOTREND_SMTP_HOST": "127.0.0.1", "NARCOTREND_SMTP_PORT": str(smtp.port)}
    down = run_cli(settings.home, "alerts", "send", env=relay)

    assert down.returncode == 3
    assert "1 digest(s) deferred" in down.stderr and "next cycle" in down.stderr
    smtp.start()
    up = run_cli(settings.home, "alerts", "send", "--json", env=relay)
    assert up.returncode == 0, up.stderr
    assert '"sent": 1' in up.stdout
    assert [rcpt for rcpt, _ in smtp.messages] == [["cli@example.org"]]


def run_cli_here(monkeypatch, capsys, *args: str) -> tuple[int, str, str]:
    """`narcotrend ARGS` in this process (the console entry point): exit code, stdout, stderr."""
    from serving.cli import main

    monkeypatch.setattr(sys, "argv", ["narcotrend", *args])
    try:
        main()
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_cli_subscriptions_add_list_remove_and_refuse_injection(home, monkeypatch, capsys):
    import json

    code, out, _ = run_cli_here(monkeypatch, capsys, "subscriptions", "add", "--email",
                           "p@example.org", "--drug", "cocaine", "--geo", "Western Africa",
                           "--json")
    sub_id = json.loads(out)["id"]
    _, listed, _ = run_cli_here(monkeypatch, capsys, "subscriptions", "list", "--json")
    assert [(s["id"], s["geos"], s["drugs"]) for s in json.loads(listed)] == [
        (sub_id, ["Western Africa"], ["cocaine"])]
    removed, _, _ = run_cli_here(monkeypatch, capsys, "subscriptions", "remove", sub_id)
    again, _, err = run_cli_here(monkeypatch, capsys, "subscriptions", "remove", sub_id)
    assert (code, removed, again) == (0, 0, 2)
    assert "does not exist" in err
    injected, _, err = run_cli_here(monkeypatch, capsys, "subscriptions", "add", "--email",
                               "a@b.com\r\nBcc: x@y.com")
    assert injected == 2 and "injection" in err


def test_backoff_doubles_from_one_minute_up_to_one_hour():
    from serving.alerting.outbox import backoff_seconds

    assert [backoff_seconds(n) for n in (1, 2, 3, 4, 7, 30)] == [60, 120, 240, 480, 3600, 3600]


def test_ssl_and_starttls_together_are_refused_before_anything_is_claimed(home):
    from core.errors import NarcotrendError

    settings = Settings(home=home, smtp_host="127.0.0.1", smtp_ssl=True, smtp_starttls=True)
    add_alert(settings)
    subscribe(settings, "planner@example.org")
    with pytest.raises(NarcotrendError, match="SMTP_SSL and NARCOTREND_SMTP_STARTTLS"):
        run_delivery_cycle(settings)
    assert [r.status for r in outbox_rows(settings)] == ["pending"]
