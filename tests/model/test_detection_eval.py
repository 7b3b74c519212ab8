"""Alert backtests (never the future) and their scoring against planted events."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from models.alerts import make_alert
from training.alert_backtest import backtest_alerts
from training.detection_engine import detect_frame
from training.detection_eval import Geography, load_events, score_alerts

GEO = Geography({"ESP": {"Southern Europe", "Europe", "World"},
                 "PAK": {"Southern Asia", "Asia", "World"}})
GROUPS = {"cocaine hydrochloride": "cocaine", "heroin": "opioids"}


def alert(type_: str, geo: str, drug: str, detected_at: str, *, metric: str = "seizures",
          geo_level: str = "country", route: dict | None = None,
          period: str | None = None) -> dict:
    keys = {"geo_level": geo_level, "geo": geo, "region": "Europe", "drug_level": "group",
            "drug": drug, "metric": metric}
    return make_alert(type_=type_, keys=keys, period=period or detected_at,
                      detected_at=detected_at,
                      severity="low", score=1.0, evidence={}, route=route)


EVENTS = [
    {"id": "S1", "type": "surge", "geo": "ESP", "drug": "cocaine", "metric": "seizures",
     "onset": "2022-03"},
    {"id": "R1", "type": "route_shift", "destination_region": "Europe", "drug": "heroin",
     "attribute": "transit_countries", "gaining": ["AZE"], "losing": ["TUR"],
     "onset": "2022-05"},
]
DISTRACTORS = [{"type": "reporting_gap", "geo": "PAK", "start": "2022-01", "end": "2022-03"}]


def test_score_counts_substance_and_region_duplicates_as_matches():
    alerts = [alert("surge", "ESP", "cocaine", "2022-05"),
              alert("emerging_trend", "Europe", "cocaine hydrochloride", "2022-06", metric="kg",
                    geo_level="region"),
              alert("route_shift", "Europe", "heroin", "2022-06",
                    route={"attribute": "transit_countries", "gaining": ["AZE"], "losing": [],
                           "destination": "Europe"})]
    scores = score_alerts(alerts, EVENTS, DISTRACTORS, GEO, GROUPS)
    assert scores["recall"] == 1.0 and scores["precision"] == 1.0
    assert [e["delay"] for e in scores["per_event"]] == [2, 1]
    assert scores["median_delay"] == 1.5 and scores["distractor_alerts"] == 0


def test_score_counts_an_alert_on_a_division_of_the_event_country_as_a_match():
    alerts = [alert("surge", "ESP:ANDALUCIA", "cocaine", "2022-05", geo_level="admin1"),
              alert("surge", "ESPX:ANDALUCIA", "cocaine", "2022-05", geo_level="admin1")]
    scores = score_alerts(alerts, EVENTS[:1], [], GEO, GROUPS)
    assert scores["recall"] == 1.0
    assert scores["precision"] == 0.5  # a division of another place is no match


def test_score_rejects_wrong_family_early_alert_and_wrong_route_side():
    alerts = [alert("decline", "ESP", "cocaine", "2022-05"),  # wrong family
              alert("surge", "ESP", "cocaine", "2022-01"),  # before onset
              alert("surge", "ESP", "cocaine", "2022-11"),  # after the 6-month window
              alert("route_shift", "Europe", "heroin", "2022-06",
                    route={"attribute": "transit_countries", "gaining": ["TUR"], "losing": [],
                           "destination": "Europe"})]
    scores = score_alerts(alerts, EVENTS, DISTRACTORS, GEO, GROUPS)
    assert scores["recall"] == 0.0
    # the surge key matched later (the change persists); the decline and the route did not
    assert scores["alert_keys"] == 3 and scores["matched_keys"] == 1


def test_kg_event_is_not_matched_by_count_alert():
    kg_event = [{**EVENTS[0], "metric": "kg"}]
    scores = score_alerts([alert("surge", "ESP", "cocaine", "2022-04")], kg_event, [], GEO,
                          GROUPS)
    assert scores["recall"] == 0.0


def test_decline_during_reporting_gap_is_blamed_on_distractor():
    alerts = [alert("decline", "Asia", "cocaine", "2022-04", geo_level="region",
                    period="2022-02"),
              # a decline that starts after the gap ended is not the gap's doing
              alert("decline", "Asia", "heroin", "2022-07", geo_level="region",
                    period="2022-04")]
    scores = score_alerts(alerts, EVENTS, DISTRACTORS, GEO, GROUPS)
    assert scores["distractor_alerts"] == 1 and scores["precision"] == 0.0


def test_load_events_splits_distractors(tmp_path):
    path = tmp_path / "events.json"
    path.write_text(json.dumps({"events": EVENTS, "distractors": DISTRACTORS}))
    events, distractors = load_events(path)
    assert [e["id"] for e in events] == ["S1", "R1"] and distractors == DISTRACTORS


# --- the backtest sees no future --------------------------------------------------------------
def small_world() -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(5)
    ds = pd.date_range("2019-01-01", periods=40, freq="MS")
    ys = {"ESP": np.r_[rng.poisson(20, 30), rng.poisson(60, 10)].astype(float),
          "FRA": rng.poisson(30, 40).astype(float)}
    series = pd.concat([pd.DataFrame({
        "unique_id": f"{g}/cocaine/seizures", "ds": ds, "y": y, "geo_level": "country",
        "geo": g, "region": "Europe", "drug_level": "group", "drug": "cocaine",
        "metric": "seizures"}) for g, y in ys.items()], ignore_index=True)
    rows = [{"ds": d, "drug_group": "cocaine", "substance": "cocaine hydrochloride",
             "destination_region": "Europe", "departure_country": dep,
             "transit_countries": None, "transport_mode": "sea", "seizures": n, "kg": 1.0}
            for k, d in enumerate(ds)
            for dep, n in ({"BRA": 10, "ECU": 3} if k < 32 else {"BRA": 2, "ECU": 12}).items()]
    return series, pd.DataFrame(rows)


def test_backtest_month_equals_detection_on_truncated_data():
    series, routes = small_world()
    replay = backtest_alerts(series, routes, "2021-06", "2021-12")
    assert {a["detected_at"] for a in replay} <= {f"2021-{m:02d}" for m in range(6, 13)}
    for month in ("2021-08", "2021-10"):
        cut = pd.Timestamp(f"{month}-01")
        alone = detect_frame(series[series["ds"] <= cut], routes[routes["ds"] <= cut], month)
        assert [a for a in replay if a["detected_at"] == month] == alone
    types = {(a["type"], a["geo"]) for a in replay}
    assert ("surge", "ESP") in types and ("route_shift", "Europe") in types
    assert not any(a["geo"] == "FRA" for a in replay)


def test_backtest_rejects_reversed_months():
    from core.errors import NarcotrendError

    series, routes = small_world()
    with pytest.raises(NarcotrendError, match="before"):
        backtest_alerts(series, routes, "2021-06", "2021-01")


# --- the built-in world -----------------------------------------------------------------------
@pytest.mark.slow
def test_world_backtest_has_no_distractor_alerts_and_high_precision(home):
    from bench.detect import prepare
    from core.settings import get_settings
    from training.alert_backtest import run_backtest

    settings = get_settings()
    prepare(settings.home, seed=4)
    result = run_backtest(settings, "2022-01", "2024-06", log_mlflow=True)
    scores = result["evaluation"]
    assert scores["distractor_alerts"] == 0
    assert scores["precision"] >= 0.8
    assert scores["median_delay"] <= 2
    assert scores["mlflow_run_id"]


# --- real data (../shared/data) -------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.realdata
def test_unodc_ids_route_shift_names_dominican_republic_losing(ids_home):
    from models.route_shift import Windows, scan_route_shifts

    routes = pd.read_parquet(ids_home.paths.routes)
    windows = Windows(pd.Timestamp("2011-01-01"), pd.Timestamp("2011-12-01"),
                      pd.Timestamp("2016-01-01"), pd.Timestamp("2016-12-01"))
    found = scan_route_shifts(routes, windows, attributes=("departure_country",))
    cocaine = found[(found["drug"] == "cocaine") & (found["destination_region"] == "Europe")]
    rec = cocaine.iloc[0]
    assert "DOM" in rec["losing"] and rec["p_value"] < 1e-6 and rec["cramers_v"] > 0.3
    before, after = rec["shares"]["DOM"]
    assert before > 0.12 and after < 0.05


@pytest.mark.slow
@pytest.mark.realdata
def test_cbp_backtest_sees_fentanyl_rise_then_fall_at_southwest_border(shared_data):
    from features.importers.cbp import load_cbp_series

    folder = shared_data / "cbp_nationwide_drugs"
    series = load_cbp_series([folder / "cbp_drug_seizures_fy19_22.csv",
                              folder / "cbp_drug_seizures_fy22_25.csv"])
    alerts = backtest_alerts(series, None, "2019-10", "2025-05")
    fentanyl = [(a["type"], a["detected_at"]) for a in alerts
                if a["geo"] == "Southwest Border" and a["drug"] == "fentanyl"]
    assert any(t == "surge" and d < "2021-07" for t, d in fentanyl)
    assert any(t == "decline" and d >= "2023-09" for t, d in fentanyl)
    assert not any(t == "decline" and d < "2023-01" for t, d in fentanyl)
