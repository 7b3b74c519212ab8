"""Who may see and do what: keys (401), roles (403), region scopes in every endpoint, keys stored
hashed, and the audit log."""

from __future__ import annotations

import hashlib
import json
from collections import Counter

import pandas as pd
import pytest
from api_home import LINKED_SEIZURES, Seeded, seed_links
from sqlalchemy import select

from core.settings import Settings
from serving.alerting.notices_store import upsert_notices
from serving.api.app import create_app
from serving.db import Alert, ApiKey, AuditEntry, session_scope

NON_EUROPE_SERIES = "COL/cocaine/kg"
EUROPE_SERIES = "ESP/cocaine/kg"



@pytest.mark.parametrize("headers", [
    {}, {"Authorization": "Bearer nt_not-a-real-key"}, {"Authorization": "Bearer "},
    {"Authorization": "Basic dXNlcjpwYXNz"}, {"Authorization": "nt_raw-key-without-scheme"},
], ids=["missing", "wrong", "empty", "basic", "no-scheme"])
def test_missing_or_wrong_key_is_401_with_a_bearer_challenge(client, headers):
    r = client.get("/v1/alerts", headers=headers)
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == "Bearer"
    assert r.json() == {"detail": "missing, unknown or revoked API key"}


def test_revoked_key_is_401(client, seeded: Seeded):
    assert client.get("/v1/series", headers=seeded.auth("revoked")).status_code == 401


def v1_operations() -> list[tuple[str, str]]:
    """(method, path template) of every operation under /v1, from the OpenAPI document."""
    paths = create_app(Settings(home="/nonexistent")).openapi()["paths"]
    return [(method.upper(), path) for path, ops in paths.items() if path.startswith("/v1")
            for method in ops]


def test_every_v1_route_refuses_a_call_without_a_key(client):
    operations = v1_operations()
    assert len(operations) >= 18
    for method, path in operations:
        url = path.replace("{unique_id}", "ESP/cocaine/kg")
        for name in ("alert_id", "job_id", "subscription_id", "key_id"):
            url = url.replace("{" + name + "}", "x")
        assert client.request(method, url).status_code == 401, (method, path)


def test_viewer_cannot_retrain_acknowledge_or_silence(client, seeded: Seeded):
    viewer = seeded.auth("viewer")
    alert_id = client.get("/v1/alerts", headers=viewer).json()["items"][0]["id"]
    assert client.post("/v1/retrain", headers=viewer).status_code == 403
    assert client.post(f"/v1/alerts/{alert_id}/ack", headers=viewer).status_code == 403
    r = client.post("/v1/silences", headers=viewer,
                    json={"geo": "ESP", "expires_at": "2099-01-01T00:00:00Z"})
    assert r.status_code == 403
    assert r.json() == {"detail": "this action needs the analyst role or higher"}


def test_analyst_cannot_manage_keys(client, seeded: Seeded):
    analyst = seeded.auth("analyst")
    assert client.get("/v1/keys", headers=analyst).status_code == 403
    assert client.post("/v1/keys", headers=analyst, json={"role": "admin"}).status_code == 403


def _all_pages(client, path: str, headers: dict, **params) -> list[dict]:
    items, offset = [], 0
    while True:
        body = client.get(path, headers=headers,
                          params={**params, "limit": 500, "offset": offset}).json()
        items += body["items"]
        offset += 500
        if offset >= body["total"]:
            return items


def test_europe_key_sees_no_non_european_data_in_any_endpoint(client, seeded: Seeded):
    eu = seeded.auth("europe")
    admin = seeded.auth("admin")
    # The seeded world has data outside Europe, which an unscoped key sees.
    assert {s["region"] for s in _all_pages(client, "/v1/series", admin)} > {"Europe"}
    assert {a["region"] for a in _all_pages(client, "/v1/alerts", admin)} > {"Europe"}

    series = _all_pages(client, "/v1/series", eu)
    assert series and {s["region"] for s in series} == {"Europe"}
    assert _all_pages(client, "/v1/series", eu, region="Asia") == []
    assert _all_pages(client, "/v1/series", eu, geo="COL") == []
    for path in (f"/v1/series/{NON_EUROPE_SERIES}", f"/v1/forecasts/{NON_EUROPE_SERIES}",
                 "/v1/series/World/cocaine/kg", "/v1/forecasts/World/cocaine/kg"):
        r = client.get(path, headers=eu)
        assert r.status_code == 404 and r.json() == {"detail": "unknown series"}, path
    assert client.get(f"/v1/forecasts/{EUROPE_SERIES}", headers=eu).status_code == 200

    alerts = _all_pages(client, "/v1/alerts", eu)
    assert alerts and {a["region"] for a in alerts} == {"Europe"}
    assert _all_pages(client, "/v1/alerts", eu, region="Americas") == []
    trends = _all_pages(client, "/v1/trends", eu, status="open")
    assert {a["region"] for a in trends} <= {"Europe"}
    shifts = _all_pages(client, "/v1/routes/shifts", eu)
    assert {a["region"] for a in shifts} == {"Europe"}

    outside = next(a for a in _all_pages(client, "/v1/alerts", admin) if a["region"] != "Europe")
    assert client.get(f"/v1/alerts/{outside['id']}", headers=eu).status_code == 404
    assert client.post(f"/v1/alerts/{outside['id']}/ack", headers=eu).status_code == 404
    assert client.get(f"/v1/alerts/{outside['id']}", headers=admin).json()["status"] == "open"

    routes = pd.read_parquet(seeded.settings.series_dir / "routes.parquet")
    in_scope = routes[routes.destination_region == "Europe"]
    flows = client.get("/v1/routes", headers=eu, params={"top": 50}).json()
    got = sum(s["value"] for s in flows["shares"])
    assert got == pytest.approx(in_scope["kg"].sum())
    assert got < routes["kg"].sum()
    assert client.get("/v1/routes", headers=eu, params={"destination": "USA"}).json()[
        "shares"] == []

    bad = client.post("/v1/silences", headers=eu,
                      json={"geo": "COL", "expires_at": "2099-01-01T00:00:00Z"})
    assert bad.status_code == 400
    anywhere = client.post("/v1/silences", headers=eu,
                           json={"drug": "cocaine", "expires_at": "2099-01-01T00:00:00Z"})
    assert anywhere.status_code == 400
    ok = client.post("/v1/silences", headers=eu,
                     json={"geo": "NLD", "expires_at": "2099-01-01T00:00:00Z"})
    assert ok.status_code == 201
    client.post("/v1/silences", headers=admin,
                json={"geo": "AFG", "expires_at": "2099-01-01T00:00:00Z"})
    assert {s["geo"] for s in client.get("/v1/silences", headers=eu).json()} == {"NLD"}

    sub = client.post("/v1/subscriptions", headers=eu, json={"email": "eu@example.org"})
    assert sub.status_code == 201 and sub.json()["geos"] == ["Europe"]
    assert client.post("/v1/subscriptions", headers=eu, json={
        "email": "eu@example.org", "geos": ["Americas"]}).status_code == 400

    check_charts_are_scoped(client, seeded)
    check_notices_are_scoped(client, seeded)
    check_incidents_are_scoped(client, seeded)
    seed_links(seeded.settings)
    check_links_are_scoped(client, seeded)
    check_reports_are_scoped(client, seeded)


def _active_alerts(seeded: Seeded, region: str | None = None) -> list[Alert]:
    """Active (open or acknowledged) stored alerts, of one region or all, from the database."""
    with session_scope(seeded.settings.service_database_url) as session:
        rows = session.scalars(select(Alert).where(
            Alert.status.in_(["open", "acknowledged"]))).all()
        return [row.to_dict() for row in rows if region is None or row.region == region]


def _chart_rows(spec: dict) -> list[dict]:
    """The inline data of a Vega-Lite spec (every dataset, in order)."""
    return [row for rows in spec["datasets"].values() for row in rows]


def check_charts_are_scoped(client, seeded: Seeded) -> None:
    """/v1/charts/*: a series chart of another region is unknown; route, severity and trend
    charts are drawn from the key's data only."""
    eu, admin = seeded.auth("europe"), seeded.auth("admin")
    for uid in (NON_EUROPE_SERIES, "World/cocaine/kg", "Americas/cocaine/kg"):
        r = client.get(f"/v1/charts/series/{uid}", headers=eu)
        assert r.status_code == 404 and r.json() == {"detail": "unknown series"}, uid
    assert client.get(f"/v1/charts/series/{NON_EUROPE_SERIES}", headers=admin).status_code == 200
    assert client.get(f"/v1/charts/series/{EUROPE_SERIES}", headers=eu).status_code == 200

    def routes_chart(headers: dict, **params) -> dict:
        r = client.get("/v1/charts/routes", headers=headers, params=params)
        assert r.status_code == 200, r.text
        return r.json()

    # The flows to the key's regions only: as an unscoped key's chart of flows to Europe.
    mine = _chart_rows(routes_chart(eu))
    assert mine and mine == _chart_rows(routes_chart(admin, destination="Europe"))
    assert mine != _chart_rows(routes_chart(admin))
    assert _chart_rows(routes_chart(eu, destination="USA")) == []
    assert _chart_rows(routes_chart(eu, destination="Americas")) == []

    # The route map: lines only into the key's regions' countries, the same as an unscoped
    # key's map of flows to Europe.
    def map_lines(headers: dict, **params) -> list[dict]:
        r = client.get("/v1/charts/route-map", headers=headers, params=params)
        assert r.status_code == 200, r.text
        return _chart_rows(r.json())

    routes = pd.read_parquet(seeded.settings.series_dir / "routes.parquet")
    european = set(routes.loc[routes.destination_region == "Europe", "country"])
    mine = map_lines(eu)
    assert mine and {line["to"] for line in mine} <= european
    assert mine == map_lines(admin, destination="Europe")
    assert {line["to"] for line in map_lines(admin)} - european
    assert map_lines(eu, destination="USA") == []

    in_scope, everywhere = _active_alerts(seeded, "Europe"), _active_alerts(seeded)
    counts = {row["severity"]: row["count"] for row in _chart_rows(
        client.get("/v1/charts/severity", headers=eu).json())}
    assert {k: v for k, v in counts.items() if v} == Counter(a["severity"] for a in in_scope)
    assert sum(counts.values()) < len(everywhere)

    def trend_labels(headers: dict) -> set[str]:
        spec = client.get("/v1/charts/trends", headers=headers, params={"limit": 50}).json()
        return {row["label"] for row in _chart_rows(spec)}

    def labels(alerts: list[dict]) -> set[str]:
        return {f"{a['geo']} · {a['drug']} ({a['metric']})" for a in alerts
                if a["type"] == "emerging_trend"}

    assert trend_labels(eu) == labels(in_scope)
    assert trend_labels(admin) == labels(everywhere) > labels(in_scope)


def check_notices_are_scoped(client, seeded: Seeded) -> None:
    """/v1/notices: only notices of the key's regions, whatever the filters."""
    eu, admin = seeded.auth("europe"), seeded.auth("admin")

    def notice(geo: str, region: str) -> dict:
        return {"type": "reporting_change", "geo": geo, "region": region,
                "periods": [{"period": "2023-06", "completeness": 0.1}], "drugs": ["cannabis"],
                "first_detected_at": "2023-06", "detected_at": "2023-07",
                "fingerprint": f"scope-notice-{geo}", "status": "open",
                "evidence": {"summary": f"{geo} sent 10% of its usual reports"}}

    with session_scope(seeded.settings.service_database_url) as session:
        upsert_notices(session, [notice("BEL", "Europe"), notice("NGA", "Africa"),
                                 notice("COL", "Americas")])
    assert {n["geo"] for n in _all_pages(client, "/v1/notices", admin)} == {"BEL", "NGA", "COL"}
    assert [n["geo"] for n in _all_pages(client, "/v1/notices", eu)] == ["BEL"]
    assert _all_pages(client, "/v1/notices", eu, geo="NGA") == []
    assert _all_pages(client, "/v1/notices", eu, region="Africa") == []
    assert _all_pages(client, "/v1/notices", eu, region="Africa", geo="NGA") == []


def check_incidents_are_scoped(client, seeded: Seeded) -> None:
    """/v1/incidents: a key sees an incident with its in-scope members only; an incident with
    none in scope is unknown (404)."""
    eu, admin = seeded.auth("europe"), seeded.auth("admin")
    # One event seen in the world, in Spain and in Colombia: an incident across regions.
    base = {"type": "surge", "drug_level": "group", "drug": "cocaine", "metric": "kg",
            "period": "2024-01", "detected_at": "2024-02", "first_detected_at": "2024-02",
            "severity": "high", "score": 2.5, "evidence": {"summary": "+80% over 2 months"},
            "status": "open"}
    with session_scope(seeded.settings.service_database_url) as session:
        session.add_all(Alert(**base, fingerprint=f"scope-world-{geo}", geo_level=level, geo=geo,
                              region=region)
                        for level, geo, region in (("world", "World", "World"),
                                                   ("country", "ESP", "Europe"),
                                                   ("country", "COL", "Americas")))

    everything = _all_pages(client, "/v1/incidents", admin)
    mine = _all_pages(client, "/v1/incidents", eu)
    assert {r for i in everything for r in i["regions"]} > {"Europe"}
    assert mine and {r for i in mine for r in i["regions"]} == {"Europe"}
    assert all(a["region"] == "Europe" for i in mine for a in [i["lead"], *i["alerts"]])
    whole = next(i for i in everything if i["lead"]["geo"] == "World"
                 and i["period"] == "2024-01")
    assert {a["geo"] for a in whole["alerts"]} == {"World", "ESP", "COL"}
    seen = next(i for i in mine if i["id"] == whole["id"])
    assert [a["geo"] for a in seen["alerts"]] == ["ESP"] and seen["regions"] == ["Europe"]
    assert seen["geos"] == ["ESP"] and "Colombia" not in json.dumps(seen)
    assert client.get(f"/v1/incidents/{whole['id']}", headers=eu).json() == seen
    for outside in (i for i in everything if "Europe" not in i["regions"]):
        r = client.get(f"/v1/incidents/{outside['id']}", headers=eu)
        assert r.status_code == 404 and r.json() == {"detail": "unknown incident"}
        assert client.get(f"/v1/incidents/{outside['id']}", headers=admin).status_code == 200
    assert _all_pages(client, "/v1/incidents", eu, geo="COL") == []
    assert _all_pages(client, "/v1/incidents", eu, region="Americas") == []


# Of the seizures outside Europe a Europe key may know the countries and counts, not records.
OUTSIDE_SEIZURES = [(sid, date) for sid, date, country, _, _ in LINKED_SEIZURES
                    if country != "NLD"]
SEIZURE_SECRETS = [text for seizure in OUTSIDE_SEIZURES for text in seizure]


def check_links_are_scoped(client, seeded: Seeded) -> None:
    """/v1/links: groups with a seizure in the key's regions, records of those seizures only."""
    eu, admin = seeded.auth("europe"), seeded.auth("admin")
    assert {g["group_id"] for g in _all_pages(client, "/v1/links", admin)} == {"G1", "G2"}
    listing = _all_pages(client, "/v1/links", eu)
    assert [g["group_id"] for g in listing] == ["G1"]
    assert _all_pages(client, "/v1/links", eu, country="COL", cross_border=False) == []
    detail = client.get("/v1/links/G1", headers=eu)
    assert detail.status_code == 200
    body = detail.json()
    assert {m["region"] for m in body["members"]} == {"Europe"}
    assert [m["seizure_id"] for m in body["members"]] == ["NL-1", "NL-2"]
    assert {p["country"] for p in body["timeline"]} == {"NLD"}
    for text in (json.dumps(listing), json.dumps(body)):
        for secret in SEIZURE_SECRETS:
            assert secret not in text, secret
    r = client.get("/v1/links/G2", headers=eu)
    assert r.status_code == 404 and r.json() == {"detail": "unknown case group"}
    assert client.get("/v1/links/G2", headers=admin).status_code == 200


def check_reports_are_scoped(client, seeded: Seeded) -> None:
    """/v1/reports/{geo}[.pdf]: a place outside the key's regions is unknown (one answer,
    whether or not it has data); inside a report, alerts and linked cases are the key's."""
    eu, admin = seeded.auth("europe"), seeded.auth("admin")
    query = {"period": "2023-Q4", "kind": "tactical"}
    # COL has series in the seeded home, BRA none: the answer must not tell them apart.
    for geo in ("COL", "BRA", "USA", "Americas", "South America", "Asia"):
        for path in (f"/v1/reports/{geo}", f"/v1/reports/{geo}.pdf"):
            r = client.get(path, headers=eu, params=query)
            assert r.status_code == 404, path
            assert r.json() == {"detail": "no report for that place"}, path
    assert client.get("/v1/reports/COL", headers=admin, params=query).status_code == 200

    outside = [a for a in _active_alerts(seeded) if a["region"] != "Europe"]
    for geo in ("NLD", "Europe"):
        r = client.get(f"/v1/reports/{geo}", headers=eu, params=query)
        assert r.status_code == 200, (geo, r.text)
        assert "<td>Reader's scope</td><td>Europe</td>" in r.text
        assert not [a["id"] for a in outside if a["id"] in r.text], geo
        for seizure_id, _ in OUTSIDE_SEIZURES:  # dates: the test below
            assert seizure_id not in r.text, (geo, seizure_id)
    full = client.get("/v1/reports/NLD", headers=admin, params=query).text
    assert "2023-12" in full  # the unscoped reader sees when the group's last seizure was
    pdf = client.get("/v1/reports/NLD.pdf", headers=eu, params=query)
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")


def test_a_report_gives_no_date_of_a_seizure_outside_the_keys_regions(client, seeded: Seeded):
    seed_links(seeded.settings)
    report = client.get("/v1/reports/NLD", headers=seeded.auth("europe"),
                        params={"period": "2023-Q4", "kind": "tactical"})
    assert report.status_code == 200 and "G1" in report.text
    for _, date in OUTSIDE_SEIZURES:
        assert date not in report.text, date


def test_every_get_list_endpoint_is_covered_by_the_scope_test():
    """A new GET endpoint must be added to the scope test above (and to this list)."""
    covered = {"/v1/series", "/v1/series/{unique_id}", "/v1/forecasts/{unique_id}",
               "/v1/alerts", "/v1/alerts/{alert_id}", "/v1/trends", "/v1/routes",
               "/v1/routes/shifts", "/v1/silences", "/v1/subscriptions",
               "/v1/charts/series/{unique_id}", "/v1/charts/routes", "/v1/charts/severity",
               "/v1/charts/trends", "/v1/charts/route-map", "/v1/notices", "/v1/incidents",
               "/v1/incidents/{incident_id}", "/v1/links", "/v1/links/{group_id}",
               "/v1/reports/{geo}", "/v1/reports/{geo}.pdf",
               # global or per key, not regional data:
               "/v1/models", "/v1/jobs/{job_id}", "/v1/keys", "/v1/me"}
    assert {path for method, path in v1_operations() if method == "GET"} == covered


def test_keys_are_stored_hashed_never_raw(client, seeded: Seeded):
    db_file = seeded.settings.data_dir / "narcotrend.db"
    with session_scope(seeded.settings.service_database_url) as session:
        rows = session.scalars(select(ApiKey)).all()
        hashes = {row.key_hash for row in rows}
        stored = [(row.prefix, row.key_hash, row.name) for row in rows]
    raw_bytes = b"".join(p.read_bytes() for p in db_file.parent.glob("narcotrend.db*"))
    for name, raw in seeded.keys.items():
        assert hashlib.sha256(raw.encode()).hexdigest() in hashes, name
        assert raw.encode() not in raw_bytes, name
        assert all(raw not in value for row in stored for value in row)


def test_audit_log_records_who_what_and_status(client, seeded: Seeded):
    client.get("/v1/models", headers=seeded.auth("analyst"))
    client.get("/v1/models", headers={"Authorization": "Bearer nt_wrong"})
    client.post("/v1/retrain", headers=seeded.auth("viewer"))
    client.app.state.audit.flush()
    with session_scope(seeded.settings.service_database_url) as session:
        rows = session.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()
        entries = [(r.role, r.method, r.path, r.status, r.key_id is not None) for r in rows]
        assert all(r.at is not None and r.client for r in rows)
    assert ("analyst", "GET", "/v1/models", 200, True) in entries
    assert (None, "GET", "/v1/models", 401, False) in entries
    assert ("viewer", "POST", "/v1/retrain", 403, True) in entries
    assert not any(path in ("/health", "/ready") for _, _, path, _, _ in entries)
