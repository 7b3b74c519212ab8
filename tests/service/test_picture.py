"""The one alert picture through the API: incidents with their members, scoped, acknowledged and
silenced as a whole; the active default; and the dashboard's series chart and the digest's chart
of one series coming from one spec."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from alert_builders import hkg_event

from serving.alerting.digest import entry_chart_spec, load_chart_data
from serving.alerting.incidents import Incident
from serving.charts import layer_names
from serving.db import Alert, session_scope

STORED = ("fingerprint", "type", "geo_level", "geo", "region", "drug_level", "drug", "metric",
          "period", "detected_at", "severity", "score", "evidence", "status")


@pytest.fixture(scope="module")
def with_event(seeded):
    """The seeded home plus one surge seen at three geo levels and two drug levels."""
    with session_scope(seeded.settings.service_database_url) as session:
        for alert in hkg_event():
            session.add(Alert(**{k: alert[k] for k in STORED}, first_detected_at="2024-11"))
    return seeded


def incidents(client, seeded, key: str = "viewer", query: str = "") -> dict:
    response = client.get(f"/v1/incidents?limit=500{query}", headers=seeded.auth(key))
    assert response.status_code == 200, response.text
    return response.json()


def event_of(page: dict) -> dict:
    return next(i for i in page["items"] if "Eastern Asia" in i["geos"])


def test_one_event_is_one_incident_with_its_member_alerts(client, with_event):
    page = incidents(client, with_event)
    event = event_of(page)
    assert len(event["members"]) == 6 and event["lead"]["geo"] == "Asia"
    assert [a["id"] for a in event["alerts"]] == event["members"]
    assert event["severity"] == "critical" and event["status"] == "open"
    assert event["summary"].startswith("Seizures of cocaine in Asia rose 176%")
    assert event["alerts"][0]["figures"] and event["alerts"][0]["summary"]
    members = sum(len(i["members"]) for i in page["items"])
    active = client.get("/v1/alerts?limit=1", headers=with_event.auth("viewer")).json()["total"]
    assert members == active  # every active alert is in exactly one incident


def test_a_europe_key_sees_no_asian_incident(client, with_event):
    page = incidents(client, with_event, "europe")
    assert page["items"] and all(i["regions"] == ["Europe"] for i in page["items"])
    asia = event_of(incidents(client, with_event))
    response = client.get(f"/v1/incidents/{asia['id']}", headers=with_event.auth("europe"))
    assert response.status_code == 404


def test_the_api_default_is_the_active_alerts(client, with_event):
    auth = with_event.auth("viewer")
    with session_scope(with_event.settings.service_database_url) as session:
        row = session.query(Alert).filter_by(fingerprint="fp-00003").one()
        row.status, silenced_id = "silenced", row.id
    listed = client.get("/v1/alerts?limit=500", headers=auth).json()
    assert {a["status"] for a in listed["items"]} <= {"open", "acknowledged"}
    assert silenced_id not in {a["id"] for a in listed["items"]}
    apart = client.get("/v1/alerts?status=silenced", headers=auth).json()
    assert [a["id"] for a in apart["items"]] == [silenced_id]


def test_an_incident_is_acknowledged_and_silenced_as_a_whole(client, with_event):
    event = event_of(incidents(client, with_event))
    done = client.post(f"/v1/incidents/{event['id']}/ack", headers=with_event.auth("analyst"))
    assert done.status_code == 200, done.text
    again = event_of(incidents(client, with_event))
    assert again["status"] == "acknowledged"
    assert {a["status"] for a in again["alerts"]} == {"acknowledged"}
    assert client.post(f"/v1/incidents/{event['id']}/ack",
                       headers=with_event.auth("viewer")).status_code == 403

    until = (datetime.now(UTC) + timedelta(days=30)).isoformat()
    muted = client.post(f"/v1/incidents/{event['id']}/silence", json={"expires_at": until},
                        headers=with_event.auth("analyst"))
    assert muted.status_code == 201, muted.text
    assert muted.json()["geo"] == "Asia" and muted.json()["type"] == "surge"


def test_the_dashboard_and_the_digest_chart_a_series_from_one_spec(client, seeded):
    """Same data, same marks: the spec /v1/charts/series serves (the dashboard draws it) and the
    one the digest renders to PNG are equal for the same series and alert period."""
    with session_scope(seeded.settings.service_database_url) as session:
        alert = session.query(Alert).filter_by(fingerprint="fp-00001").one().to_dict()
    series_id = f"{alert['geo']}/{alert['drug']}/{alert['metric']}"
    served = client.get(f"/v1/charts/series/{series_id}?mark_period={alert['period']}",
                        headers=seeded.auth("viewer"))
    assert served.status_code == 200, served.text
    history, forecasts = load_chart_data(seeded.settings.series_dir / "series.parquet",
                                         seeded.settings.forecasts_dir / "forecasts.parquet",
                                         [series_id])
    mailed = entry_chart_spec(Incident(lead=alert),
                              history[history["unique_id"] == series_id],
                              forecasts[forecasts["unique_id"] == series_id])
    assert layer_names(mailed) == ["history", "band95", "band80", "forecast", "alert_period"]
    assert served.json()["datasets"] == mailed["datasets"]
    assert served.json() == mailed
