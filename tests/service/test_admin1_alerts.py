"""A department-level (admin1) alert in the API: it carries its country's region from the
built series, so an Americas-scoped key sees it and a Europe-scoped key does not, on every
route (list, one alert, series catalogue, silences)."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest
from api_home import Seeded, seed_home, serve_in_thread
from playwright.sync_api import expect
from test_dashboard_browser import browser, open_dashboard  # noqa: F401 - `browser` is a fixture

from core.settings import Settings
from features.series import build_series
from models.alerts import make_alert
from serving.alerting.alerts_store import upsert_alerts
from serving.api.app import create_app
from serving.api.auth import create_key
from serving.db import session_scope

DIVISION = "COL:ANTIOQUIA"


def _division_series(start: str = "2021-01-01", n_periods: int = 36) -> pd.DataFrame:
    """Built series of Colombian records naming Antioquia or Cauca, one record a month each."""
    dates = pd.date_range(start, periods=n_periods, freq="MS") + pd.Timedelta(days=4)
    records = pd.DataFrame({
        "date": list(dates) * 2, "country": "COL", "region": "Americas",
        "subregion": "Latin America and the Caribbean", "drug_group": "cocaine",
        "substance": "cocaine hydrochloride", "kg": [10.0] * n_periods * 2,
        "admin1": ["ANTIOQUIA"] * n_periods + ["CAUCA"] * n_periods})
    series = build_series(records)
    return series[series["geo_level"] == "admin1"]


@pytest.fixture(scope="module")
def seeded(tmp_path_factory) -> Seeded:
    """This module's seeded home, served by the conftest's `client`: the API home plus
    department series, one surge alert made from the Antioquia series' own keys, and an
    Americas-scoped analyst key."""
    settings = Settings(home=tmp_path_factory.mktemp("admin1-home"))
    keys = seed_home(settings, with_model=False)
    divisions = _division_series()
    series = pd.concat([pd.read_parquet(settings.paths.series), divisions], ignore_index=True)
    series.to_parquet(settings.paths.series, index=False)
    row = divisions[divisions["unique_id"] == f"{DIVISION}/cocaine/kg"].iloc[0]
    alert = make_alert(type_="surge", keys=row.to_dict(), period="2023-11", detected_at="2023-12",
                       severity="high", score=6.0, evidence={"summary": "+200% in a month"})
    with session_scope(settings.service_database_url) as session:
        upsert_alerts(session, [alert], as_of="2023-12")
        keys["americas"], _ = create_key(session, "analyst", ["Americas"], name="Americas desk")
    return Seeded(settings, keys)


def _division_alerts(client: Any, home: Seeded, key: str, **params: str) -> list[dict[str, Any]]:
    response = client.get("/v1/alerts", params={"limit": 200, **params}, headers=home.auth(key))
    assert response.status_code == 200, response.text
    return [a for a in response.json()["items"] if a["geo_level"] == "admin1"]


def test_a_department_alert_carries_its_country_region(client, seeded):
    alerts = _division_alerts(client, seeded, "admin")
    assert [(a["geo"], a["region"]) for a in alerts] == [(DIVISION, "Americas")]


def test_an_americas_key_sees_the_department_alert_by_its_geo_or_its_country(client, seeded):
    by_division = _division_alerts(client, seeded, "americas", geo="Colombia:Antioquia")
    by_country = _division_alerts(client, seeded, "americas", geo="COL")
    assert [a["geo"] for a in by_division] == [a["geo"] for a in by_country] == [DIVISION]
    one = client.get(f"/v1/alerts/{by_division[0]['id']}", headers=seeded.auth("americas"))
    assert one.status_code == 200 and one.json()["geo"] == DIVISION


def test_a_europe_key_sees_neither_the_department_alert_nor_its_series(client, seeded):
    assert _division_alerts(client, seeded, "europe") == []
    assert _division_alerts(client, seeded, "europe", geo=DIVISION) == []
    alert_id = _division_alerts(client, seeded, "admin")[0]["id"]
    assert client.get(f"/v1/alerts/{alert_id}",
                   headers=seeded.auth("europe")).status_code == 404
    catalogue = client.get("/v1/series", params={"geo_level": "admin1"},
                        headers=seeded.auth("europe"))
    assert catalogue.status_code == 200 and catalogue.json()["total"] == 0
    history = client.get(f"/v1/series/{DIVISION}/cocaine/kg", headers=seeded.auth("europe"))
    assert history.status_code == 404


def test_an_americas_key_lists_the_department_series(client, seeded):
    catalogue = client.get("/v1/series", params={"geo_level": "admin1", "limit": 500},
                        headers=seeded.auth("americas"))
    assert catalogue.status_code == 200
    assert {s["geo"] for s in catalogue.json()["items"]} == {DIVISION, "COL:CAUCA"}


def test_only_the_americas_key_may_silence_a_department(client, seeded):
    body = {"geo": "COL:antioquia", "expires_at": "2099-01-01T00:00:00Z", "comment": "known"}
    europe = client.post("/v1/silences", json=body, headers=seeded.auth("europe"))
    americas = client.post("/v1/silences", json=body, headers=seeded.auth("americas"))
    assert europe.status_code == 400
    assert americas.status_code == 201, americas.text
    assert americas.json()["geo"] == DIVISION


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_dashboard_incident_table_filters_by_a_department(browser, seeded):  # noqa: F811
    with serve_in_thread(create_app(seeded.settings)) as base:
        page, problems = open_dashboard(browser, base, seeded.keys["americas"])
        # the route-shares chart logs Vega viewBox errors at load when a key sees no route
        # flow to its destination (this home's flows go to Europe): not the filter's doing
        loaded = len(problems)
        page.fill("#alerts-geo", "Colombia:Antioquia")
        page.press("#alerts-geo", "Tab")  # the change event
        expect(page.locator("#alerts-picture")).to_have_attribute("data-alerts", "1")
        expect(page.locator("#alerts-table tbody tr")).to_have_count(1)
        expect(page.locator("#alerts-table tbody tr")).to_contain_text("ANTIOQUIA")
        assert problems[loaded:] == []
        page.close()
