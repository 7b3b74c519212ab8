"""`/v1/links`: need to know. A Europe key sees a group with a European seizure, its own
seizures in full, and of the others only countries, counts and months: never their records."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from api_home import Seeded, write_linked_seizures

# group G1: Netherlands + Colombia + Brazil; group G2: Colombia only
SEIZURES = [("NL-1", "2024-01-10", "NLD", "G1", "120"), ("NL-2", "2024-02-03", "NLD", "G1", "80"),
            ("CO-1", "2024-01-20", "COL", "G1", "3000"), ("BR-1", "2024-03-15", "BRA", "G1", "700"),
            ("CO-2", "2024-05-02", "COL", "G2", "50"), ("CO-3", "2024-05-09", "COL", "G2", "60")]
SECRET = ("CO-1", "BR-1", "CO-2", "CO-3", "3000", "700", "2024-01-20", "2024-03-15")


@pytest.fixture(scope="module")
def linked_home(seeded: Seeded) -> Seeded:
    reasons = write_linked_seizures(seeded.settings, SEIZURES)
    assert reasons.isna().all()
    return seeded


def test_a_europe_key_sees_no_non_european_seizure_record(client, linked_home: Seeded):
    europe = linked_home.auth("europe")
    listing = client.get("/v1/links", headers=europe)
    assert listing.status_code == 200
    assert [g["group_id"] for g in listing.json()["items"]] == ["G1"]  # G2 has no European one
    detail = client.get("/v1/links/G1", headers=europe)
    assert detail.status_code == 200
    body = detail.json()
    assert [m["seizure_id"] for m in body["members"]] == ["NL-1", "NL-2"]
    assert {p["country"] for p in body["timeline"]} == {"NLD"}
    assert body["kg_in_scope"] == pytest.approx(sum(m["record"]["kg"] for m in body["members"]))
    assert body["n_seizures"] == 4 and body["countries"] == ["BRA", "COL", "NLD"]
    shares = {c["country"]: c for c in body["per_country"]}
    assert shares["COL"] == {"country": "COL", "region": "Americas", "seizures": 1,
                             "first_month": "2024-01", "last_month": "2024-01"}
    for text in (json.dumps(listing.json()), json.dumps(body)):
        for secret in SECRET:
            assert secret not in text, secret


def test_a_group_outside_the_keys_regions_is_unknown(client, linked_home: Seeded):
    europe = linked_home.auth("europe")
    assert client.get("/v1/links/G2", headers=europe).status_code == 404
    assert client.get("/v1/links", headers=europe, params={"country": "COL",
                                                            "cross_border": False}
                      ).json()["total"] == 0
    assert client.post("/v1/links/G2/decisions", headers=europe,
                       json={"kind": "confirm"}).status_code == 404


def test_an_unscoped_key_sees_every_member_and_filters(client, linked_home: Seeded):
    admin = linked_home.auth("admin")
    assert client.get("/v1/links", headers=admin).json()["total"] == 2
    assert [g["group_id"] for g in client.get(
        "/v1/links", headers=admin, params={"cross_border": True}).json()["items"]] == ["G1"]
    assert client.get("/v1/links", headers=admin,
                      params={"period": "2024-05"}).json()["items"][0]["group_id"] == "G2"
    body = client.get("/v1/links/G1", headers=admin).json()
    assert {m["seizure_id"] for m in body["members"]} == {"NL-1", "NL-2", "CO-1", "BR-1"}
    assert body["shared"]["logo"] == "tesla" and body["shared"]["colour"] == "pink"


def test_a_scoped_analyst_detaches_only_its_own_regions_seizures(client, linked_home: Seeded):
    europe = linked_home.auth("europe")
    refused = client.post("/v1/links/G1/decisions", headers=europe,
                          json={"kind": "detach", "seizure_id": "CO-1"})
    assert refused.status_code == 404
    kept = client.post("/v1/links/G1/decisions", headers=europe,
                       json={"kind": "detach", "seizure_id": "NL-2", "note": "other lab"})
    assert kept.status_code == 201 and kept.json()["members"] == 4
    viewer = client.post("/v1/links/G1/decisions", headers=linked_home.auth("viewer"),
                         json={"kind": "confirm"})
    assert viewer.status_code == 403


def test_the_dashboard_has_a_linked_cases_panel_reading_the_links_api(client):
    page = client.get("/").text
    assert 'id="links-panel"' in page and "/static/links.js" in page
    script = client.get("/static/links.js")
    assert script.status_code == 200 and "/v1/links" in script.text
    assert "innerHTML" not in script.text  # text only into the page


def test_linked_case_alerts_are_stored_and_listed_within_scope(client, linked_home: Seeded):
    from models.case_alerts import linked_case_alerts
    from serving.alerting.links import store_link_alerts
    from serving.db import session_scope
    from training.link import signature_of

    paths = linked_home.settings.paths
    groups = pd.read_parquet(paths.groups)
    members = pd.read_parquet(paths.links).merge(
        pd.read_parquet(paths.records, columns=["seizure_id", "country", "region", "date"]),
        on="seizure_id")
    alerts = linked_case_alerts(groups.assign(signature=[signature_of(r) for _, r in
                                                         groups.iterrows()]), members, "2024-06")
    assert sorted(a["geo"] for a in alerts) == ["BRA", "COL", "NLD"]  # G1 only: cross-border
    with session_scope(linked_home.settings.service_database_url) as session:
        assert store_link_alerts(session, alerts, "2024-06")["created"] == 3
    seen = client.get("/v1/alerts", headers=linked_home.auth("europe"),
                      params={"type": "linked_cases"}).json()
    assert [a["geo"] for a in seen["items"]] == ["NLD"]
    assert "BRA" in seen["items"][0]["evidence"]["summary"]
    assert seen["items"][0]["evidence"]["incident"] == "G1"
