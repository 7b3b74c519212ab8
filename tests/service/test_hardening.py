"""API hardening (issue 18): security headers, a body limit before authentication, 422s that
do not echo the body, and API keys in the query string refused and kept out of every log."""

from __future__ import annotations

import base64
import hashlib
import logging
import re

import httpx
import pytest
from api_home import Seeded, serve_in_thread
from sqlalchemy import select

from serving.db import AuditEntry, session_scope

MB = 1 << 20


def test_v1_responses_carry_the_security_headers_and_no_store(client, seeded: Seeded):
    for response in (client.get("/v1/alerts", headers=seeded.auth("viewer")),
                     client.get("/v1/alerts")):  # refused ones too
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["cache-control"] == "no-store"
        policy = response.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in policy and "unsafe-eval" not in policy
    assert client.get("/v1/alerts").status_code == 401


def test_dashboard_scripts_are_allowed_by_self_and_docs_by_the_hash_of_its_script(client):
    page = client.get("/")
    assert "script-src 'self';" in page.headers["content-security-policy"]
    assert re.findall(r'<script src="(/static/[^"]+)"', page.text)  # served by 'self'
    docs = client.get("/docs")
    [inline] = re.findall(r"<script>(.*?)</script>", docs.text, flags=re.S)
    digest = base64.b64encode(hashlib.sha256(inline.encode()).digest()).decode()
    assert f"'sha256-{digest}'" in docs.headers["content-security-policy"]
    assert "unsafe-eval" not in docs.headers["content-security-policy"]
    assert "cache-control" not in page.headers or page.headers["cache-control"] != "no-store"


def test_a_20_mb_body_is_refused_413_before_authentication(client):
    response = client.post("/v1/subscriptions", content=b"x" * (20 * MB),
                           headers={"content-type": "application/json"})
    assert response.status_code == 413
    assert len(response.content) < 200


def test_a_streamed_body_without_length_is_cut_at_the_limit(client, seeded: Seeded):
    def chunks():
        for _ in range(20):
            yield b"x" * MB

    response = client.post("/v1/subscriptions", content=chunks(),
                           headers={**seeded.auth("admin"), "content-type": "application/json"})
    assert response.status_code == 413


def test_a_422_does_not_echo_a_large_invalid_body(client, seeded: Seeded):
    body = {"email": "a" * 500_000, "geos": ["x" * 200_000]}
    response = client.post("/v1/subscriptions", json=body, headers=seeded.auth("admin"))
    assert response.status_code == 422
    assert len(response.content) < 5_000
    assert response.json()["detail"][0]["loc"]


def test_a_query_string_key_is_refused_and_kept_out_of_the_audit_table(client, seeded: Seeded):
    key = seeded.keys["viewer"]
    response = client.get(f"/v1/alerts?api_key={key}&limit=5")
    assert response.status_code == 400
    assert key not in response.text
    client.app.state.audit.flush()
    with session_scope(seeded.settings.service_database_url) as session:
        paths = [row.path for row in session.scalars(select(AuditEntry))]
    assert "/v1/alerts?api_key=REDACTED&limit=5" in paths
    assert not any(key in path for path in paths)


@pytest.mark.slow
@pytest.mark.timeout(60)
def test_a_query_string_key_never_reaches_the_uvicorn_access_log(seeded: Seeded, caplog):
    from serving.api.app import create_app

    key = seeded.keys["viewer"]
    with caplog.at_level(logging.INFO, logger="uvicorn.access"), serve_in_thread(
            create_app(seeded.settings), log_config=None, log_level="info", access_log=True,
            server_header=False) as url:
        response = httpx.get(f"{url}/v1/alerts", params={"api_key": key})
    assert response.status_code == 400
    assert "server" not in response.headers
    logged = [record.getMessage() for record in caplog.records if record.name == "uvicorn.access"]
    assert any("api_key=REDACTED" in line for line in logged)
    assert not any(key in line for line in logged)
