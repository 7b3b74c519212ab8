"""The alerts table: one row per fingerprint, updates, re-opening, automatic resolution, filters."""

from __future__ import annotations

import pytest

from models.alerts import make_alert
from serving.alerting.alerts_store import acknowledge_alert, get_alert, list_alerts, upsert_alerts
from serving.db import session_scope


def alert(geo: str = "ESP", *, type_: str = "surge", detected_at: str = "2024-05",
          severity: str = "medium", region: str = "Europe", drug: str = "cocaine") -> dict:
    keys = {"geo_level": "country", "geo": geo, "region": region, "drug_level": "group",
            "drug": drug, "metric": "kg"}
    return make_alert(type_=type_, keys=keys, period="2024-03", detected_at=detected_at,
                      severity=severity, score=3.0, evidence={"summary": "x"})


@pytest.fixture
def db_url(home) -> str:
    from core.settings import get_settings

    return get_settings().service_database_url


def test_same_fingerprint_updates_instead_of_duplicating(db_url):
    with session_scope(db_url) as s:
        assert upsert_alerts(s, [alert()], "2024-05")["created"] == 1
    with session_scope(db_url) as s:
        counts = upsert_alerts(s, [alert(detected_at="2024-06", severity="high")], "2024-06")
        assert counts["created"] == 0 and counts["updated"] == 1
        rows, total = list_alerts(s)
        assert total == 1
        assert rows[0].detected_at == "2024-06" and rows[0].severity == "high"
        assert rows[0].first_detected_at == "2024-05"


def test_absent_alert_resolves_after_periods_and_reopens(db_url):
    with session_scope(db_url) as s:
        upsert_alerts(s, [alert()], "2024-05")
    with session_scope(db_url) as s:
        assert upsert_alerts(s, [], "2024-07", resolve_after_periods=3)["resolved"] == 0
        assert list_alerts(s)[0][0].periods_absent == 2
    with session_scope(db_url) as s:
        # a second run for the same period resolves nothing more
        assert upsert_alerts(s, [], "2024-07", resolve_after_periods=3)["resolved"] == 0
        assert upsert_alerts(s, [], "2024-08", resolve_after_periods=3)["resolved"] == 1
        assert list_alerts(s, status="resolved")[1] == 1
    with session_scope(db_url) as s:
        counts = upsert_alerts(s, [alert(detected_at="2024-09")], "2024-09")
        assert counts["reopened"] == 1
        row = list_alerts(s)[0][0]
        assert row.status == "open" and row.periods_absent == 0 and row.resolved_at is None


def test_list_filters_by_region_scope_type_and_severity(db_url):
    with session_scope(db_url) as s:
        upsert_alerts(s, [alert("ESP"), alert("NGA", region="Africa", severity="critical"),
                          alert("COL", region="Americas", type_="decline", severity="low")],
                      "2024-05")
    with session_scope(db_url) as s:
        rows, total = list_alerts(s, regions=["Europe", "Africa"])
        assert total == 2 and [r.geo for r in rows] == ["NGA", "ESP"]  # most severe first
        assert [r.geo for r in list_alerts(s, type="decline")[0]] == ["COL"]
        assert [r.geo for r in list_alerts(s, severity=["low", "medium"])[0]] == ["ESP", "COL"]
        assert list_alerts(s, regions=[])[1] == 0
        page, total = list_alerts(s, limit=1, offset=1)
        assert total == 3 and len(page) == 1


def test_drug_and_geo_filters_read_names_as_subscriptions_do(db_url):
    crack = alert("ESP", drug="crack cocaine") | {"drug_level": "substance"}
    crack = make_alert(type_="surge", keys={k: crack[k] for k in (
        "geo_level", "geo", "region", "drug_level", "drug", "metric")}, period="2024-03",
        detected_at="2024-05", severity="medium", score=3.0, evidence={})
    with session_scope(db_url) as s:
        upsert_alerts(s, [alert("ESP"), crack, alert("ESP", drug="heroin"),
                          alert("HKG", region="Asia")], "2024-05")
    with session_scope(db_url) as s:
        cocaine = {(r.geo, r.drug) for r in list_alerts(s, drug="Cocaine")[0]}
        assert cocaine == {("ESP", "cocaine"), ("ESP", "crack cocaine"), ("HKG", "cocaine")}
        assert {r.drug for r in list_alerts(s, drug="crack cocaine")[0]} == {"crack cocaine"}
        assert {r.geo for r in list_alerts(s, geo="Hong Kong")[0]} == {"HKG"}
        assert list_alerts(s, geo="Spain")[1] == 3
        assert list_alerts(s, geo="Atlantis")[1] == 0  # unknown text matches nothing


def test_acknowledge_sets_status_and_who(db_url):
    with session_scope(db_url) as s:
        upsert_alerts(s, [alert()], "2024-05")
        alert_id = list_alerts(s)[0][0].id
    with session_scope(db_url) as s:
        row = acknowledge_alert(s, alert_id, "analyst-1")
        assert row.status == "acknowledged" and row.acknowledged_by == "analyst-1"
        assert acknowledge_alert(s, "nope", "x") is None
    with session_scope(db_url) as s:
        assert get_alert(s, alert_id).to_dict()["status"] == "acknowledged"
        # an acknowledged alert seen again stays acknowledged
        upsert_alerts(s, [alert(detected_at="2024-06")], "2024-06")
        assert get_alert(s, alert_id).status == "acknowledged"


def test_a_run_resolves_only_the_alert_types_its_producer_raises(db_url):
    with session_scope(db_url) as s:
        upsert_alerts(s, [alert(type_="surge")], "2024-05")
        upsert_alerts(s, [alert(type_="linked_cases")], "2024-05", producer="link")
    with session_scope(db_url) as s:
        # a detect run far later without the linked case leaves it open, and vice versa
        assert upsert_alerts(s, [], "2024-12")["resolved"] == 1
        by_type = {row.type: row.status for row in list_alerts(s)[0]}
        assert by_type == {"surge": "resolved", "linked_cases": "open"}
        assert upsert_alerts(s, [], "2024-12", producer="link")["resolved"] == 1


def test_unknown_producer_is_refused(db_url):
    with session_scope(db_url) as s, pytest.raises(ValueError, match="producer"):
        upsert_alerts(s, [], "2024-05", producer="forecast")
