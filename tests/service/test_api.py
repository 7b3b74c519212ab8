"""The HTTP API on a seeded home: every resource, pagination, errors, jobs, the CLI for keys, a
real uvicorn server on loopback, and hot reload of the champion and the data files."""

from __future__ import annotations

import json
import threading
import time

import httpx
import pandas as pd
import pytest
from api_home import (
    Seeded,
    make_forecasts,
    make_series,
    register_champion,
    seed_home,
    serve_in_thread,
)
from fastapi.testclient import TestClient

from core.settings import Settings
from serving.api.app import create_app
from serving.api.routers.jobs import get_train_target


def wait_for(predicate, timeout: float = 30.0, step: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    raise AssertionError("condition not reached in time")


def test_health_answers_without_a_key(client):
    assert client.get("/health").json() == {"status": "ok"}


def test_ready_reports_database_champion_and_forecast_source(client):
    body = client.get("/ready").json()
    assert body["status"] == "ready" and body["database"] and body["model_loaded"]
    assert body["model_version"] == "1"
    assert body["forecasts_source"] == "model version 1"


def test_ready_and_forecasts_are_503_without_a_champion_or_forecasts(tmp_path):
    settings = Settings(home=tmp_path)
    keys = seed_home(settings, with_model=False)
    (settings.forecasts_dir / "forecasts.parquet").unlink()
    with TestClient(create_app(settings)) as c:
        ready = c.get("/ready")
        assert ready.status_code == 503 and ready.json()["model_loaded"] is False
        r = c.get("/v1/forecasts/ESP/cocaine/kg",
                  headers={"Authorization": f"Bearer {keys['viewer']}"})
        assert r.status_code == 503
        assert r.json()["detail"] == "no forecasts loaded; run `narcotrend train`"


def test_series_catalogue_filters_and_paginates(client, seeded: Seeded):
    pages = [client.get("/v1/series", params={"geo": "ESP", "metric": "kg", "limit": 2,
                                               "offset": offset},
                        headers=seeded.auth("viewer")).json() for offset in (0, 2, 4)]
    assert [p["total"] for p in pages] == [5, 5, 5]  # 2 groups + 3 substances, in kg
    assert [len(p["items"]) for p in pages] == [2, 2, 1]
    ids = [item["unique_id"] for p in pages for item in p["items"]]
    assert len(set(ids)) == 5 and all(i.startswith("ESP/") and i.endswith("/kg") for i in ids)
    groups = client.get("/v1/series", params={"geo": "ESP", "metric": "kg",
                                              "drug_level": "group"},
                        headers=seeded.auth("viewer")).json()
    assert sorted(i["drug"] for i in groups["items"]) == ["cannabis", "cocaine"]


def test_series_history_keeps_not_reporting_as_null(client, seeded: Seeded):
    body = client.get("/v1/series/NGA/cannabis/kg", headers=seeded.auth("viewer")).json()
    ys = [p["y"] for p in body["points"]]
    assert len(ys) == 36 and ys[10:13] == [None, None, None] and ys[9] is not None
    assert body["series"]["region"] == "Africa" and body["series"]["n_obs"] == 33


def test_unknown_series_is_404_with_a_stable_detail(client, seeded: Seeded):
    r = client.get("/v1/series/XXX/cocaine/kg", headers=seeded.auth("viewer"))
    assert r.status_code == 404 and r.json() == {"detail": "unknown series"}
    r = client.get("/v1/forecasts/XXX/cocaine/kg", headers=seeded.auth("viewer"))
    assert r.status_code == 404 and r.json() == {"detail": "unknown series"}


def test_forecast_has_intervals_model_and_champion_version(client, seeded: Seeded):
    body = client.get("/v1/forecasts/ESP/cocaine hydrochloride/kg",
                      headers=seeded.auth("viewer")).json()
    assert body["model_version"] == "1" and body["model"] == "naive"
    assert len(body["points"]) == 6
    for p in body["points"]:
        assert p["lo_95"] <= p["lo_80"] <= p["forecast"] <= p["hi_80"] <= p["hi_95"]
    history = client.get("/v1/series/ESP/cocaine hydrochloride/kg",
                         headers=seeded.auth("viewer")).json()
    assert body["points"][0]["forecast"] == pytest.approx(history["points"][-1]["y"])
    # reported to the end: the last period reported is the history's last, and no note
    assert body["last_reported"] == history["points"][-1]["ds"] and body["notes"] == []
    assert history["series"]["last_reported"] == body["last_reported"]
    assert history["series"]["silent_periods"] == 0


def test_trends_are_active_emerging_trends_ranked_by_score(client, seeded: Seeded):
    body = client.get("/v1/trends", headers=seeded.auth("viewer")).json()
    assert body["total"] >= 3
    assert {t["type"] for t in body["items"]} == {"emerging_trend"}
    scores = [t["score"] for t in body["items"]]
    assert scores == sorted(scores, reverse=True)


def test_route_shares_sum_to_one_and_show_the_shift(client, seeded: Seeded):
    body = client.get("/v1/routes", params={"drug": "cocaine", "destination": "Europe"},
                      headers=seeded.auth("viewer")).json()
    shares = pd.DataFrame(body["shares"])
    assert shares.groupby("ds")["share"].sum().round(9).eq(1).all()
    ecu = shares[shares.key == "ECU"].set_index("ds")["share"]
    assert ecu.iloc[-6:].mean() > ecu.iloc[:6].mean() + 0.2  # the planted BRA -> ECU shift
    assert body["keys"][-1] == "unknown"


def test_concealment_shares_are_by_seizing_place_and_scoped_by_its_region(client,
                                                                        seeded: Seeded):
    def methods(key: str, **params: str) -> list[str]:
        response = client.get("/v1/routes", params={"attribute": "concealment",
                                                    "metric": "seizures", **params},
                              headers=seeded.auth(key))
        assert response.status_code == 200, response.text
        return response.json()["keys"]

    # NGA's seizures have no known destination: only the seizing place finds them
    assert methods("viewer", destination="Africa") == ["body_carrier", "unknown"]
    assert set(methods("europe")) == {"container_cargo", "postal_parcel", "unknown"}
    assert methods("viewer", destination="NLD") == ["postal_parcel", "unknown"]


def test_route_shifts_lists_route_shift_alerts(client, seeded: Seeded):
    body = client.get("/v1/routes/shifts", headers=seeded.auth("viewer")).json()
    assert body["total"] == 1
    assert body["items"][0]["route"]["gaining"] == ["ECU"]


def test_alerts_filter_by_severity_and_paginate(client, seeded: Seeded):
    everything = client.get("/v1/alerts", params={"limit": 500}, headers=seeded.auth("viewer"))
    total = everything.json()["total"]
    assert total == 25
    high = client.get("/v1/alerts", params={"severity": "high", "limit": 500},
                      headers=seeded.auth("viewer")).json()
    assert high["total"] > 0 and {a["severity"] for a in high["items"]} == {"high"}
    pages = [client.get("/v1/alerts", params={"limit": 10, "offset": o},
                        headers=seeded.auth("viewer")).json() for o in (0, 10, 20)]
    ids = [a["id"] for p in pages for a in p["items"]]
    assert len(ids) == len(set(ids)) == total


def test_analyst_acknowledges_an_alert_and_lists_reflect_it_at_once(client, seeded: Seeded):
    def open_alerts() -> dict:
        return client.get("/v1/alerts", params={"status": "open", "limit": 1},
                          headers=seeded.auth("viewer")).json()

    before = open_alerts()
    assert open_alerts() == before  # served from the query cache, same answer
    alert = before["items"][0]
    r = client.post(f"/v1/alerts/{alert['id']}/ack", headers=seeded.auth("analyst"))
    assert r.status_code == 200 and r.json()["status"] == "acknowledged"
    again = client.get(f"/v1/alerts/{alert['id']}", headers=seeded.auth("viewer")).json()
    assert again["status"] == "acknowledged"
    after = open_alerts()
    assert after["total"] == before["total"] - 1 and after["items"][0]["id"] != alert["id"]


def test_analyst_silences_and_everyone_lists_silences(client, seeded: Seeded):
    r = client.post("/v1/silences", headers=seeded.auth("analyst"), json={
        "geo": "Spain", "drug": "cocaine", "expires_at": "2099-01-01T00:00:00Z",
        "comment": "port operation"})
    assert r.status_code == 201 and r.json()["geo"] == "ESP"
    listed = client.get("/v1/silences", headers=seeded.auth("viewer")).json()
    assert [s["id"] for s in listed] == [r.json()["id"]]
    past = client.post("/v1/silences", headers=seeded.auth("analyst"),
                       json={"geo": "ESP", "expires_at": "2001-01-01T00:00:00Z"})
    assert past.status_code == 400 and "in the past" in past.json()["detail"]


def test_subscriptions_are_per_key_and_admins_see_all(client, seeded: Seeded):
    mine = client.post("/v1/subscriptions", headers=seeded.auth("viewer"), json={
        "email": "planner@example.org", "geos": ["Europe"], "min_severity": "high"})
    assert mine.status_code == 201
    theirs = client.post("/v1/subscriptions", headers=seeded.auth("analyst"),
                         json={"email": "analyst@example.org"})
    assert theirs.status_code == 201
    viewer_ids = {s["id"] for s in client.get("/v1/subscriptions",
                                              headers=seeded.auth("viewer")).json()}
    admin_ids = {s["id"] for s in client.get("/v1/subscriptions",
                                             headers=seeded.auth("admin")).json()}
    assert viewer_ids == {mine.json()["id"]}
    assert {mine.json()["id"], theirs.json()["id"]} <= admin_ids
    denied = client.delete(f"/v1/subscriptions/{theirs.json()['id']}",
                           headers=seeded.auth("viewer"))
    assert denied.status_code == 404
    assert client.delete(f"/v1/subscriptions/{theirs.json()['id']}",
                         headers=seeded.auth("admin")).status_code == 204


def test_models_lists_versions_metrics_and_champion(client, seeded: Seeded):
    body = client.get("/v1/models", headers=seeded.auth("viewer")).json()
    assert body["champion"] == "1" and body["serving"] == "1"
    assert body["versions"][0]["metrics"]["mase"] == pytest.approx(0.9)
    assert body["versions"][0]["aliases"] == ["champion"]


def test_retrain_runs_in_a_background_process_and_reports_its_job(seeded: Seeded):
    app = create_app(seeded.settings)
    app.dependency_overrides[get_train_target] = lambda: "builtins:repr"
    with TestClient(app) as c:
        r = c.post("/v1/retrain", headers=seeded.auth("analyst"))
        assert r.status_code == 202 and r.json()["status"] in ("queued", "running")
        job_id = r.json()["id"]
        job = wait_for(lambda: (j := c.get(f"/v1/jobs/{job_id}", headers=seeded.auth("analyst"))
                                .json())["status"] in ("succeeded", "failed") and j, timeout=60)
        assert job["status"] == "succeeded", job
        assert job["result"]["result"].startswith("Settings(")
        assert c.get("/v1/jobs/nope", headers=seeded.auth("analyst")).status_code == 404


def test_a_finished_retrain_process_exits_although_joblib_workers_idle(seeded: Seeded):
    """The training process must end when its job does: a process waiting on idle joblib
    workers at exit kept `serve` from stopping."""
    import multiprocessing
    import os

    import psutil

    app = create_app(seeded.settings)
    app.dependency_overrides[get_train_target] = lambda: "api_home:train_with_joblib_workers"
    with TestClient(app) as c:
        job_id = c.post("/v1/retrain", headers=seeded.auth("analyst")).json()["id"]
        job = wait_for(lambda: (j := c.get(f"/v1/jobs/{job_id}", headers=seeded.auth("analyst"))
                                .json())["status"] in ("succeeded", "failed") and j, timeout=60)
        assert job["status"] == "succeeded" and job["result"]["total"] == 10, job
        wait_for(lambda: not [p for p in multiprocessing.active_children()
                              if p.name == f"job-{job_id}"], timeout=20)
        # and the joblib workers it started are gone too (they held hundreds of MB each)
        workers = job["result"]["worker_pids"]
        assert workers and os.getpid() not in workers
        wait_for(lambda: not any(psutil.pid_exists(pid) for pid in workers), timeout=20)


def test_admin_creates_and_revokes_keys_over_http(client, seeded: Seeded):
    r = client.post("/v1/keys", headers=seeded.auth("admin"),
                    json={"role": "viewer", "regions": ["Asia"], "name": "desk"})
    assert r.status_code == 201
    new = r.json()
    assert client.get("/v1/series", headers={"Authorization": f"Bearer {new['key']}"}).json()[
        "items"][0]["region"] == "Asia"
    assert client.delete(f"/v1/keys/{new['id']}", headers=seeded.auth("admin")).status_code == 200
    assert client.get("/v1/series", headers={"Authorization": f"Bearer {new['key']}"}
                      ).status_code == 401
    listed = client.get("/v1/keys", headers=seeded.auth("admin")).json()
    assert all("key" not in k and "key_hash" not in k for k in listed)


def test_keys_cli_creates_json_key_and_revokes_it_by_prefix(home):
    from typer.testing import CliRunner

    from serving.cli import register_commands
    from serving.cli.app import app as cli

    register_commands()
    runner = CliRunner()
    created = runner.invoke(cli, ["keys", "create", "--role", "analyst", "--regions", "europe",
                                  "--name", "lisbon", "--json"])
    assert created.exit_code == 0, created.output
    body = json.loads(created.stdout)
    assert body["key"].startswith("nt_") and body["role"] == "analyst"
    assert body["regions"] == ["Europe"]
    revoked = runner.invoke(cli, ["keys", "revoke", body["key"][:11]])
    assert revoked.exit_code == 0, revoked.output
    listed = json.loads(runner.invoke(cli, ["keys", "list", "--json"]).stdout)
    assert listed[0]["revoked_at"] is not None and body["key"] not in json.dumps(listed)


def test_api_answers_over_real_http_under_uvicorn(seeded: Seeded):
    with serve_in_thread(create_app(seeded.settings)) as base:
        with httpx.Client(base_url=base, timeout=10) as http:
            assert http.get("/health").status_code == 200
            r = http.get("/v1/alerts", params={"limit": 3}, headers=seeded.auth("viewer"))
            assert r.status_code == 200 and len(r.json()["items"]) == 3
            assert http.get("/v1/alerts").headers["www-authenticate"] == "Bearer"
            page = http.get("/")
            assert page.status_code == 200 and "Narcotrend" in page.text
            assert http.get("/static/vendor/vega/vega.min.js").status_code == 200


@pytest.mark.slow
def test_champion_alias_move_is_served_without_restart_or_failed_requests(tmp_path):
    settings = Settings(home=tmp_path, model_poll_seconds=0.2)
    keys = seed_home(settings)
    auth = {"Authorization": f"Bearer {keys['viewer']}"}
    uid = "ESP/cocaine/kg"
    errors: list[str] = []
    seen: set[str] = set()
    stop = threading.Event()

    def hammer(base: str) -> None:
        with httpx.Client(base_url=base, timeout=10) as http:
            while not stop.is_set():
                for path in (f"/v1/forecasts/{uid}", "/ready", "/v1/models"):
                    r = http.get(path, headers=auth)
                    if r.status_code != 200:
                        errors.append(f"{path}: {r.status_code} {r.text[:200]}")
                    elif path.startswith("/v1/forecasts"):
                        seen.add(r.json()["model_version"])

    with serve_in_thread(create_app(settings)) as base:
        first = httpx.get(f"{base}/v1/forecasts/{uid}", headers=auth).json()
        assert first["model_version"] == "1"
        threads = [threading.Thread(target=hammer, args=(base,)) for _ in range(2)]
        for t in threads:
            t.start()
        doubled = make_forecasts(make_series(), scale=2.0)
        version = register_champion(settings, doubled, mase=0.7)
        assert version == "2"
        latest = wait_for(lambda: (b := httpx.get(f"{base}/v1/forecasts/{uid}", headers=auth)
                                   .json())["model_version"] == "2" and b, timeout=30)
        time.sleep(0.5)
        stop.set()
        for t in threads:
            t.join()
    assert errors == []
    assert seen == {"1", "2"}
    assert latest["points"][0]["forecast"] == pytest.approx(2 * first["points"][0]["forecast"])


def test_series_file_rewritten_on_disk_is_reloaded(tmp_path):
    settings = Settings(home=tmp_path, model_poll_seconds=0.2)
    keys = seed_home(settings, with_model=False)
    auth = {"Authorization": f"Bearer {keys['viewer']}"}
    with TestClient(create_app(settings)) as c:
        before = c.get("/v1/series", headers=auth).json()["total"]
        series = pd.read_parquet(settings.series_dir / "series.parquet")
        extra = series[series.unique_id == "ESP/cocaine/kg"].assign(
            unique_id="ESP/cocaine/kgx", metric="kgx")
        pd.concat([series, extra]).to_parquet(settings.series_dir / "series.parquet")
        wait_for(lambda: c.get("/v1/series", headers=auth).json()["total"] == before + 1)
        assert c.get("/v1/series/ESP/cocaine/kgx", headers=auth).status_code == 200


def test_jobs_left_running_by_a_stopped_service_are_failed_at_start(tmp_path):
    from serving.db import Job as JobRow
    from serving.db import session_scope

    settings = Settings(home=tmp_path)
    keys = seed_home(settings, with_model=False)
    with session_scope(settings.service_database_url) as session:
        session.add_all([JobRow(id="gone", kind="retrain", status="running",
                                result={"pid": 2 ** 22 + 12345}),
                         JobRow(id="queued", kind="retrain", status="queued")])
    with TestClient(create_app(settings)) as c:
        auth = {"Authorization": f"Bearer {keys['analyst']}"}
        for job_id in ("gone", "queued"):
            job = c.get(f"/v1/jobs/{job_id}", headers=auth).json()
            assert job["status"] == "failed" and job["error"].startswith("interrupted")
        me = c.get("/v1/me", headers=auth).json()
        assert me["role"] == "analyst" and me["regions"] is None


def test_serve_on_a_busy_port_says_so_in_one_line_and_exits_2(tmp_path, run_cli):
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = run_cli(tmp_path, "serve", "--port", str(port), "--no-mail")
    assert done.returncode == 2, done.stdout + done.stderr
    output = done.stdout + done.stderr
    assert f"cannot listen on 127.0.0.1:{port}" in output
    assert "serving the API" not in output and "Traceback" not in output


def test_command_line_usage_errors_exit_2_with_the_usage_line(tmp_path, run_cli):
    done = run_cli(tmp_path, "export", "forecast", "--out", str(tmp_path / "x.csv"))
    assert done.returncode == 2
    assert "Usage: " in done.stderr and "'forecast' is not one of" in done.stderr


def test_alerts_list_prints_its_table_to_stdout_readable_when_piped(tmp_path, run_cli):
    seed_home(Settings(home=tmp_path), with_model=False)
    done = run_cli(tmp_path, "alerts", "list", "--limit", "3")
    assert done.returncode == 0, done.stderr
    assert "3 of 25 alerts" in done.stdout
    rows = [line for line in done.stdout.splitlines() if "over 6 months" in line]
    assert len(rows) == 3 and all("…" not in row for row in rows)  # evidence not cut at 80


def test_notices_are_served_region_scoped_and_alerts_carry_their_episodes(client,
                                                                          seeded: Seeded):
    from serving.alerting.notices_store import upsert_notices
    from serving.db import session_scope

    def notice(geo: str, region: str) -> dict:
        return {"type": "reporting_change", "geo": geo, "region": region,
                "periods": [{"period": "2024-01", "completeness": 0.1}], "drugs": ["opioids"],
                "first_detected_at": "2024-01", "detected_at": "2024-02",
                "fingerprint": f"notice-{geo}", "status": "open",
                "evidence": {"summary": f"{geo} sent 10% of its usual reports"}}

    with session_scope(seeded.settings.service_database_url) as session:
        upsert_notices(session, [notice("RUS", "Europe"), notice("NGA", "Africa")])
    everything = client.get("/v1/notices", headers=seeded.auth("viewer")).json()
    assert {n["geo"] for n in everything["items"]} == {"RUS", "NGA"}
    europe = client.get("/v1/notices", headers=seeded.auth("europe")).json()
    assert [n["geo"] for n in europe["items"]] == ["RUS"]
    # as DESIGN names the fields; a notice stored with the older `completeness` reads the same
    served = europe["items"][0]
    assert served["periods"] == [{"period": "2024-01", "reporting_completeness": 0.1}]
    assert served["kind"] == served["type"] == "reporting_change"
    assert served["summary"] == "RUS sent 10% of its usual reports"
    alert = client.get("/v1/alerts", params={"limit": 1},
                       headers=seeded.auth("viewer")).json()["items"][0]
    assert alert["first_detected_at"] and alert["episodes"][-1]["detected_at"] == (
        alert["detected_at"])
