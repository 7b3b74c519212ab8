"""Real data (UNODC IDS 2011-2016), `detect --since 2013-01`: a change in who reports is not a
change in trafficking (Russia's partial 2016 reporting), and alert history keeps every episode
(the cocaine departure shift into Europe, 2013-14 and again 2016). Issue 15's acceptance."""

from __future__ import annotations

import pandas as pd
import pytest

from models.alerts import STATUSES

LEVEL_TYPES = {"decline", "surge", "emerging_trend"}
pytestmark = [pytest.mark.slow, pytest.mark.realdata]


@pytest.fixture(scope="module")
def ids_detected(ids_home):  # noqa: ANN201 - (summary, alerts, notices)
    """`detect --since 2013-01` once on the shared IDS home, then every alert and notice."""
    from serving.alerting.alerts_store import list_alerts
    from serving.alerting.detection import detect_and_store
    from serving.alerting.notices_store import list_notices
    from serving.db import session_scope

    summary = detect_and_store(ids_home, since="2013-01", log_mlflow=False)
    with session_scope(ids_home.service_database_url) as session:
        rows, _ = list_alerts(session, status=list(STATUSES), limit=100_000)
        alerts = [row.to_dict() for row in rows]
        notices = [row.to_dict() for row in list_notices(session, limit=10_000)]
    return summary, alerts, notices


def episodes_in(alerts: list[dict], year: str, **match: str) -> list[tuple[dict, dict]]:
    """(alert, episode) pairs detected in `year` of alerts matching every `match` field."""
    return [(a, e) for a in alerts if all(a[k] == v for k, v in match.items())
            for e in a["episodes"] if e["detected_at"].startswith(year)]


@pytest.mark.timeout(900)
def test_ids_no_decline_or_surge_on_russia_in_2016(ids_detected):
    _, alerts, _ = ids_detected
    found = [(a["type"], a["drug"], e["detected_at"])
             for a, e in episodes_in(alerts, "2016", geo="RUS") if a["type"] in LEVEL_TYPES]
    assert found == []


def test_ids_no_new_drug_in_russia_as_its_reports_come_back(ids_detected):
    # RUS sent a fraction of its reports 2015-04..2016-10; NPS "appearing" in its divisions in
    # 2016-11 is the reports coming back
    _, alerts, _ = ids_detected
    found = [(a["geo"], a["drug"], e["detected_at"]) for a in alerts if a["type"] == "new_drug"
             and (a["geo"] == "RUS" or a["geo"].startswith("RUS:")) for e in a["episodes"]
             if e["detected_at"] >= "2016-10"]
    assert found == []


@pytest.mark.timeout(900)
def test_ids_notices_name_russia_for_its_partial_months(ids_detected):
    _, _, notices = ids_detected
    months = {p["period"] for n in notices if n["geo"] == "RUS" for p in n["periods"]}
    assert {f"2016-{m:02d}" for m in range(1, 10)} <= months
    rus = [n for n in notices if n["geo"] == "RUS"]
    assert all(n["type"] == "reporting_change" and n["region"] == "Europe" for n in rus)
    # DESIGN's fields: the share of its usual reports RUS sent, low in every listed period
    shares = [p["reporting_completeness"] for n in rus for p in n["periods"]]
    assert shares and all(0 <= s < 0.8 for s in shares)
    assert all(n["kind"] == "reporting_change" and "RUS sent" in n["summary"] for n in rus)


@pytest.mark.timeout(900)
def test_ids_european_opioid_alerts_of_2016_hold_without_russia(ids_home, ids_detected):
    from training.detection_engine import detect_frame

    _, alerts, _ = ids_detected
    series = pd.read_parquet(ids_home.paths.series)
    for alert, episode in [(a, e) for geo in ("Eastern Europe", "Europe")
                           for a, e in episodes_in(alerts, "2016", geo=geo)
                           if a["drug"] in ("opioids", "heroin") and a["type"] in LEVEL_TYPES]:
        uid = f"{alert['geo']}/{alert['drug']}/{alert['metric']}"
        own = series[series["unique_id"] == uid].set_index("ds")
        rus = series[series["unique_id"] == f"RUS/{alert['drug']}/{alert['metric']}"]
        without = own["y"] - rus.set_index("ds")["y"].reindex(own.index).fillna(0.0)
        frame = own.assign(y=without.clip(lower=0)).reset_index()
        held = detect_frame(frame, None, episode["detected_at"])
        assert alert["type"] in {a["type"] for a in held}, (alert["geo"], alert["drug"],
                                                             episode["detected_at"])


@pytest.mark.timeout(900)
def test_ids_cocaine_departure_shift_into_europe_keeps_its_2013_14_episode(ids_detected):
    _, alerts, _ = ids_detected
    shifts = [a for a in alerts if a["type"] == "route_shift" and a["geo"] == "Europe"
              and a["drug"] == "cocaine" and a["route"]["attribute"] == "departure_country"]
    assert len(shifts) == 1
    episodes = shifts[0]["episodes"]
    early = [e for e in episodes if e["opened"] <= "2014-12"
             and {"BRA", "COL"} & set(e["route"]["gaining"])]
    assert early and early[0]["resolved"] is not None
    assert "BRA" in early[0]["evidence"]["summary"]
    assert shifts[0]["first_detected_at"] <= "2014-12"
    late = [e for e in episodes if e["opened"].startswith("2016")]
    assert late and late[-1]["evidence"] != early[0]["evidence"]


@pytest.mark.timeout(900)
def test_ids_cocaine_departure_shift_2013_14_names_dominican_republic_losing(ids_detected):
    # DOM is named losing from 2013-09 to 2014-09 (16% -> 3-5%), not at the episode's last
    # detection (2014-12, once the baseline holds its fall): the episode keeps who moved in it
    _, alerts, _ = ids_detected
    named = {c: e["named"][c] for a in alerts if a["type"] == "route_shift"
             and a["geo"] == "Europe" and a["drug"] == "cocaine"
             for e in a["episodes"] if e["opened"] <= "2014-12" for c in e["route"]["losing"]}
    assert "DOM" in named and named["DOM"]["side"] == "losing"
    assert named["DOM"]["baseline"] >= 2.5 * named["DOM"]["recent"]
    assert named["DOM"]["detected_at"] <= "2014-12"
