"""Alert episodes and data-quality notices in the service database, on both backends (`db_url`:
SQLite, then PostgreSQL): a re-opened alert keeps its earlier episode's evidence; a notice is
updated in place by a later run; both reach the API."""

from __future__ import annotations

from models.alerts import make_alert
from serving.alerting.alerts_store import list_alerts, upsert_alerts
from serving.alerting.notices_store import list_notices, upsert_notices
from serving.db import session_scope

KEYS = {"geo_level": "region", "geo": "Europe", "region": "Europe", "drug_level": "group",
        "drug": "cocaine", "metric": "seizures"}


def route_alert(detected_at: str, gaining: list[str], losing: list[str]) -> dict:
    route = {"attribute": "departure_country", "gaining": gaining, "losing": losing,
             "destination": "Europe"}
    return make_alert(type_="route_shift", keys=KEYS, period=detected_at, detected_at=detected_at,
                      severity="high", score=5.0, route=route,
                      evidence={"summary": f"{'/'.join(losing)} lost, {'/'.join(gaining)} gained"})


def notice(detected_at: str, periods: list[str], status: str = "open") -> dict:
    return {"type": "reporting_change", "geo": "RUS", "region": "Europe",
            "periods": [{"period": p, "completeness": 0.05} for p in periods],
            "drugs": ["opioids"], "first_detected_at": periods[0], "detected_at": detected_at,
            "fingerprint": "f" * 32, "status": status, "evidence": {"summary": "RUS partial"}}


def test_a_reopened_alert_keeps_its_earlier_episode(db_url):
    with session_scope(db_url) as s:
        upsert_alerts(s, [route_alert("2013-02", ["BRA"], ["DOM"])], "2013-02")
        upsert_alerts(s, [route_alert("2013-06", ["BRA", "COL"], ["DOM"])], "2013-06")
        assert upsert_alerts(s, [], "2013-09")["resolved"] == 1
        counts = upsert_alerts(s, [route_alert("2016-03", ["COL"], [])], "2016-03")
        assert counts["reopened"] == 1
    with session_scope(db_url) as s:
        (row,), _ = list_alerts(s)
        out = row.to_dict()
    assert out["first_detected_at"] == "2013-02" and out["detected_at"] == "2016-03"
    first, second = out["episodes"]
    assert (first["opened"], first["resolved"], first["detected_at"]) == (
        "2013-02", "2013-09", "2013-06")
    assert first["route"]["losing"] == ["DOM"] and first["route"]["gaining"] == ["BRA", "COL"]
    assert first["evidence"]["summary"] == "DOM lost, BRA/COL gained"
    assert (second["opened"], second["resolved"], second["route"]["gaining"]) == (
        "2016-03", None, ["COL"])


def test_an_open_route_shift_episode_keeps_everyone_named_during_it(db_url):
    with session_scope(db_url) as s:
        upsert_alerts(s, [route_alert("2013-03", ["BRA"], [])], "2013-03")
        upsert_alerts(s, [route_alert("2014-01", ["BRA"], ["DOM"])], "2014-01")
        upsert_alerts(s, [route_alert("2014-12", ["BRA", "COL"], [])], "2014-12")
    with session_scope(db_url) as s:
        (row,), _ = list_alerts(s)
        out = row.to_dict()
    (episode,) = out["episodes"]
    assert (episode["opened"], episode["detected_at"]) == ("2013-03", "2014-12")
    assert episode["route"]["losing"] == ["DOM"] and episode["route"]["gaining"] == ["BRA", "COL"]
    assert episode["named"]["DOM"] == {"side": "losing", "detected_at": "2014-01"}
    assert episode["named"]["BRA"]["detected_at"] == "2014-12"
    assert episode["evidence"]["summary"] == " lost, BRA/COL gained"  # the latest detection's
    assert out["route"]["losing"] == ["DOM"]


def test_a_notice_is_updated_by_a_later_run_and_scoped_by_region(db_url):
    with session_scope(db_url) as s:
        assert upsert_notices(s, [notice("2016-02", ["2016-01", "2016-02"])])["created"] == 1
        counts = upsert_notices(s, [notice("2016-12", ["2016-01", "2016-09"], "resolved")])
        assert (counts["created"], counts["updated"], counts["resolved"]) == (0, 1, 1)
    with session_scope(db_url) as s:
        (row,) = list_notices(s)
        assert row.to_dict()["periods"][-1]["period"] == "2016-09"
        assert row.status == "resolved" and row.first_detected_at == "2016-01"
        assert list_notices(s, regions=["Africa"]) == []
