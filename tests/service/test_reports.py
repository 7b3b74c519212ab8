"""Reports on the built-in world (issue 22's acceptance): the PDF's seven sections, charts and
map; a planted event named in the key judgements; the same numbers as the dashboard's series;
region scope on the routes; one e-mail with one PDF per scheduled report after an outage."""

from __future__ import annotations

import json
import shutil
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from test_email_delivery import SmtpServer

from core.geography import geo_name
from core.settings import Settings
from serving.alerting.subscriptions import add_subscription
from serving.api.app import create_app
from serving.api.auth import create_key
from serving.db import session_scope, utcnow
from serving.reports.dissemination import run_report_cycle
from serving.reports.documents import make_report

ARTIFACTS = Path(__file__).with_name("artifacts")
SECTIONS = ["Strategic report: Spain, 2024-Q4", "Key judgements", "Seizures by drug group",
            "Routes", "First sightings", "Linked cases", "Data coverage and caveats"]
pytestmark = [pytest.mark.slow, pytest.mark.timeout(1200)]  # the first one builds the world


def pdf_pages(path: Path) -> list[str]:
    """The text of each page (pdftotext, form feeds between pages)."""
    text = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True,
                          text=True, check=True).stdout
    return text.split("\f")


def screenshot(pdf: Path, page: int, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    stem = ARTIFACTS / name
    subprocess.run(["pdftoppm", "-png", "-r", "80", "-f", str(page), "-l", str(page),
                    "-singlefile", str(pdf), str(stem)], check=True)
    return stem.with_suffix(".png")


def test_cli_report_pdf_has_seven_sections_four_charts_and_a_map(built_world, run_cli,
                                                                  tmp_path):
    out = tmp_path / "report.pdf"
    done = run_cli(built_world, "report", "--geo", "ESP", "--period", "2024-Q4", "--kind",
                   "strategic", "--out", str(out), timeout=300)
    assert done.returncode == 0, done.stderr
    pages = pdf_pages(out)
    text = "\n".join(pages)
    for title in SECTIONS:
        assert title in text, title
    figures = [line for line in text.splitlines() if "Figure " in line and ":" in line]
    assert len(figures) >= 4
    assert "Map " in text and "Route flows" in text
    routes_page = next(i for i, page in enumerate(pages, 1) if "Inbound flows" in page)
    first = screenshot(out, 1, "report-esp-2024q4-page1")
    routes = screenshot(out, routes_page, "report-esp-2024q4-routes")
    assert first.stat().st_size > 10_000 and routes.stat().st_size > 10_000


def test_report_of_a_planted_event_names_it_in_the_key_judgements(built_world):
    events = json.loads((built_world / "data" / "demo" / "events.json").read_text())["events"]
    event = next(e for e in events if e["type"] == "surge" and e["geo_level"] == "country")
    report = make_report(Settings(home=built_world), event["geo"], event["onset"][:4],
                         "strategic")
    named = [j.text for j in report.judgements
             if event["drug"] in j.text and geo_name(event["geo"]) in j.text
             and j.source == "alert" and "surge" in j.text.lower()]
    assert named, [j.text for j in report.judgements]
    assert 3 <= len(report.judgements) <= 6
    assert all(j.confidence in ("high", "medium", "low") and j.evidence
               for j in report.judgements)


@pytest.fixture(scope="module")
def api(built_world):
    """The API on the built world, with an unscoped and a Europe-scoped viewer key."""
    settings = Settings(home=built_world)
    with session_scope(settings.service_database_url) as session:
        everywhere, _ = create_key(session, "viewer", name="reports-all")
        europe, _ = create_key(session, "viewer", regions=["Europe"], name="reports-europe")
    with TestClient(create_app(settings)) as client:
        yield client, {"all": everywhere, "europe": europe}


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_europe_key_gets_spain_report_and_404_for_colombia(api):
    client, keys = api
    query = {"period": "2024-Q4", "kind": "tactical"}
    spain = client.get("/v1/reports/ESP", params=query, headers=auth(keys["europe"]))
    colombia = client.get("/v1/reports/COL", params=query, headers=auth(keys["europe"]))
    colombia_pdf = client.get("/v1/reports/COL.pdf", params=query,
                              headers=auth(keys["europe"]))
    pdf = client.get("/v1/reports/ESP.pdf", params=query, headers=auth(keys["europe"]))
    anonymous = client.get("/v1/reports/ESP", params=query)
    assert spain.status_code == 200 and "Tactical report: Spain" in spain.text
    assert "<td>Reader's scope</td><td>Europe</td>" in spain.text
    assert (colombia.status_code, colombia_pdf.status_code, anonymous.status_code) == (
        404, 404, 401)
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert pdf.headers["content-type"] == "application/pdf"
    bad = client.get("/v1/reports/ESP", params={"period": "2024-13"}, headers=auth(keys["all"]))
    assert bad.status_code == 400 and "not a month" in bad.json()["detail"]


def test_a_report_and_the_dashboard_draw_a_series_from_one_spec(api, built_world):
    """The report's series chart is the spec the dashboard fetches for the same series and
    marked period (`/v1/charts/series/{id}`): same data, same marks."""
    client, keys = api
    report = make_report(Settings(home=built_world), "ESP", "2024-Q4", "strategic")
    chart = next(c for c in report.charts if c.kind == "series")
    drug = report.seizures["top"][0]
    served = client.get(f"/v1/charts/series/ESP/{drug}/seizures",
                        params={"mark_period": "2024-10"}, headers=auth(keys["all"]))
    assert served.status_code == 200, served.text
    assert json.loads(json.dumps(chart.spec, default=str)) == served.json()


def test_monthly_tactical_subscriber_gets_one_email_with_one_pdf_per_report_after_outage(
        built_world, tmp_path):
    database = tmp_path / "service.db"
    shutil.copy(built_world / "data" / "narcotrend.db", database)
    smtp = SmtpServer()
    settings = Settings(home=built_world, database_url=f"sqlite:///{database}",
                        smtp_host="127.0.0.1", smtp_port=smtp.port,
                        mail_from="Narcotrend <reports@narcotrend.example.org>")
    with session_scope(settings.service_database_url) as session:
        add_subscription(session, "desk@example.org", ["ESP"], report="tactical-monthly")
    now = utcnow()
    down = run_report_cycle(settings, now=now)  # no relay: the reports wait in the outbox
    still_down = run_report_cycle(settings, now=now + timedelta(minutes=2))
    smtp.start()
    try:
        recovered = run_report_cycle(settings, now=now + timedelta(hours=2))
        again = run_report_cycle(settings, now=now + timedelta(hours=3))
    finally:
        smtp.stop()
    assert (down["reports_enqueued"], down["deferred"], down["sent"]) == (2, 2, 0)
    assert (still_down["reports_enqueued"], still_down["sent"]) == (0, 0)
    assert (recovered["sent"], again["reports_enqueued"], again["sent"]) == (2, 0, 0)
    subjects = sorted(m["Subject"] for _, m in smtp.messages)
    assert subjects == ["Narcotrend tactical report: ESP, 2024-12",
                        "Narcotrend tactical report: Europe, 2024-12"]
    for rcpt, message in smtp.messages:
        pdfs = [p for p in message.iter_attachments() if p.get_content_type() == "application/pdf"]
        assert rcpt == ["desk@example.org"] and len(pdfs) == 1
        assert pdfs[0].get_content().startswith(b"%PDF")
