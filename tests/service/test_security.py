"""Who may see and do what: keys (401), roles (403), region scopes in every endpoint, keys stored
hashed, and the audit log."""

from __future__ import annotations

import hashlib

import pandas as pd
import pytest
from api_home import Seeded
from sqlalchemy import select

from core.settings import Settings
from serving.api.app import create_app
from serving.db import ApiKey, AuditEntry, session_scope

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


def test_every_get_list_endpoint_is_covered_by_the_scope_test():
    """A new GET endpoint must be added to the scope test above (and to this list)."""
    covered = {"/v1/series", "/v1/series/{unique_id}", "/v1/forecasts/{unique_id}",
               "/v1/alerts", "/v1/alerts/{alert_id}", "/v1/trends", "/v1/routes",
               "/v1/routes/shifts", "/v1/silences", "/v1/subscriptions",
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
