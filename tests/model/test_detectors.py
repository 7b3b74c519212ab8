"""Each detector on small hand-made frames with a known answer: one with the change, one without."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from detect_frames import START, noisy, route_frame, series_frame

from models.alerts import fingerprint, level_evidence, level_severity
from models.changepoint import scan_level_shifts
from models.novelty import scan_new_drugs
from models.panel import clip_spikes, mask_incomplete_aggregates, to_matrix
from models.route_shift import Windows, compare_shares, scan_route_shifts
from models.threshold import scan_thresholds
from models.trend import mann_kendall, null_scale, scan_trends
from training.detection_config import DetectionConfig, DetectionPeriods
from training.detection_engine import benjamini_hochberg, detect_frame


def types_of(alerts: list[dict]) -> set[tuple[str, str]]:
    return {(a["type"], a["geo"]) for a in alerts}


# --- change points: surge and decline -------------------------------------------------------
def test_level_shift_finds_surge_after_three_high_periods():
    ys = noisy(20, 30, 1) + noisy(50, 4, 2)
    found = scan_level_shifts(to_matrix(series_frame({"ESP": ys})))
    assert len(found) == 1
    rec = found.iloc[0]
    assert rec["direction"] == 1 and rec["p_value"] < 1e-4
    assert rec["change_at"] == 30 and rec["after"] > 2 * rec["before"]


def test_level_shift_flat_series_is_not_significant():
    found = scan_level_shifts(to_matrix(series_frame({"ESP": noisy(20, 34, 30)})))
    assert found["p_value"].min() > 0.05


def test_detect_frame_raises_surge_and_decline_and_nothing_on_flat():
    frame = series_frame({"ESP": noisy(20, 30, 1) + noisy(55, 4, 2),
                          "FRA": noisy(40, 30, 4) + noisy(8, 4, 5),
                          "ITA": noisy(30, 34, 6)})
    alerts = detect_frame(frame, None, None)
    assert ("surge", "ESP") in types_of(alerts)
    assert ("decline", "FRA") in types_of(alerts)
    assert not [a for a in alerts if a["geo"] == "ITA"]


def test_reporting_gap_is_not_a_decline():
    ys = noisy(40, 30, 7) + [np.nan] * 5
    assert detect_frame(series_frame({"ESP": ys}), None, None) == []


def test_gap_of_a_country_is_not_a_decline_of_its_region():
    esp = noisy(60, 30, 8) + [np.nan] * 5
    fra = noisy(20, 35, 9)
    region = [a + (0 if np.isnan(b) else b) for a, b in zip(fra, esp, strict=True)]
    frame = series_frame({"ESP": esp, "FRA": fra, "Europe": region},
                         geo_level={"ESP": "country", "FRA": "country", "Europe": "region"})
    panel = mask_incomplete_aggregates(to_matrix(frame))
    europe = panel.values[panel.keys.index[panel.keys["geo"] == "Europe"][0]]
    assert np.isnan(europe[-5:]).all() and not np.isnan(europe[:30]).any()
    assert detect_frame(frame, None, None) == []


def test_one_month_outlier_raises_nothing():
    for spike_at in (-1, -2, -4):
        ys = noisy(20, 34, 10)
        ys[spike_at] = 400.0
        assert detect_frame(series_frame({"ESP": ys}), None, None) == []


# --- emerging trend -------------------------------------------------------------------------
def test_trend_finds_sustained_rise():
    ramp = [20 * 1.15 ** k for k in range(1, 9)]
    ys = noisy(20, 26, 11) + list(np.random.default_rng(12).poisson(ramp).astype(float))
    found = scan_trends(to_matrix(series_frame({"ESP": ys})))
    rec = found.iloc[0]
    assert rec["p_value"] < 1e-3 and rec["n_above"] >= 2 and rec["slope"] > 0
    alerts = detect_frame(series_frame({"ESP": ys}), None, None)
    assert {a["type"] for a in alerts} & {"emerging_trend", "surge"}


def test_trend_flat_series_has_no_trend():
    found = scan_trends(to_matrix(series_frame({"ESP": noisy(20, 34, 13)})))
    assert found.iloc[0]["p_value"] > 0.01 or found.iloc[0]["n_above"] < 2


def test_mann_kendall_counts_concordant_pairs_and_skips_nan():
    s, var, n = mann_kendall(np.array([[1.0, 2.0, np.nan, 3.0, 4.0]]))
    assert s[0] == 6 and n[0] == 4 and var[0] == pytest.approx(4 * 3 * 13 / 18)


def test_clip_spikes_flattens_isolated_peak_only():
    out = clip_spikes(np.array([[1.0, 1.0, 9.0, 1.0, 2.0, 3.0, 4.0]]), np.array([1.0]))
    assert out.tolist() == [[1.0, 1.0, 1.0, 1.0, 2.0, 3.0, 4.0]]


# --- new drug -------------------------------------------------------------------------------
def test_new_drug_found_after_long_absence():
    ys = [0.0] * 24 + [3.0, 4.0, 6.0]
    found = scan_new_drugs(to_matrix(series_frame({"ESP": ys})))
    assert found["row"].tolist() == [0] and found["first_seen"].tolist() == [24]
    alerts = detect_frame(series_frame({"ESP": ys}), None, None)
    assert [(a["type"], a["period"]) for a in alerts] == [("new_drug", "2021-01")]


def test_new_drug_not_raised_for_drug_always_present_or_single_seizure():
    assert scan_new_drugs(to_matrix(series_frame({"ESP": noisy(5, 30, 14)}))).empty
    assert scan_new_drugs(to_matrix(series_frame({"ESP": [0.0] * 24 + [1.0, 0.0]}))).empty


def test_new_drug_needs_reported_history_not_gaps():
    ys = [np.nan] * 24 + [3.0, 4.0, 6.0]
    assert scan_new_drugs(to_matrix(series_frame({"ESP": ys}))).empty


def test_a_first_sighting_as_reports_come_back_is_not_a_new_drug():
    # 20 months reported without the drug, 4 unknown (a gap, or a low-reporting spell read as
    # NaN), then seizures: the drug's absence was not seen just before it appeared
    back = [0.0] * 20 + [np.nan] * 4 + [3.0, 4.0, 6.0]
    assert scan_new_drugs(to_matrix(series_frame({"ESP": back})), seen_absent=3).empty
    assert not detect_frame(series_frame({"ESP": back}), None, None)
    # the same appearance after reported months without it is one
    seen = [0.0] * 20 + [np.nan] * 4 + [0.0] * 3 + [3.0, 4.0, 6.0]
    found = scan_new_drugs(to_matrix(series_frame({"ESP": seen})), seen_absent=3)
    assert found["first_seen"].tolist() == [27]


# --- route shift ----------------------------------------------------------------------------
def test_route_shift_names_gaining_and_losing_departures():
    routes = route_frame({"DOM": 6, "BRA": 10, "COL": 14}, {"DOM": 1, "BRA": 10, "COL": 19})
    windows = Windows.ending(pd.Timestamp("2021-06-01"), recent=6, baseline=24)
    found = scan_route_shifts(routes, windows)
    group = found[(found["drug_level"] == "group")
                  & (found["attribute"] == "departure_country")].iloc[0]
    assert group["losing"] == ["DOM"] and group["gaining"] == ["COL"]
    assert group["p_value"] < 1e-4 and group["cramers_v"] > 0.1
    alerts = detect_frame(series_frame({"ESP": noisy(20, 30, 15)}), routes, None)
    route = [a for a in alerts if a["type"] == "route_shift"]
    assert route and route[0]["route"]["losing"] == ["DOM"]
    assert route[0]["geo"] == "Europe" and route[0]["region"] == "Europe"


def test_route_shift_stable_shares_not_significant():
    routes = route_frame({"DOM": 6, "BRA": 10, "COL": 14}, {"DOM": 6, "BRA": 10, "COL": 14})
    windows = Windows.ending(pd.Timestamp("2021-06-01"), recent=6, baseline=24)
    found = scan_route_shifts(routes, windows)
    assert (found["p_value"] > 0.5).all() and not any(found["gaining"].map(len))


def test_route_shift_new_transit_country_counts():
    routes = route_frame({"ESP": 20, "PRT": 10}, {"ESP": 20, "PRT": 10, "MAR": 12},
                         attribute="transit_countries")
    windows = Windows.ending(pd.Timestamp("2021-06-01"), recent=6, baseline=24)
    found = scan_route_shifts(routes, windows, attributes=("transit_countries",))
    rec = found.iloc[0]
    assert rec["gaining"] == ["MAR"] and rec["new"] == ["MAR"]


def test_compare_shares_pools_small_entities():
    result = compare_shares(pd.Series({"A": 100.0, "B": 100.0, "C": 1.0}),
                            pd.Series({"A": 100.0, "B": 100.0, "C": 2.0}))
    assert "(other)" in result["shares"] and result["dof"] == 2


# --- forecast threshold ---------------------------------------------------------------------
def test_threshold_crossed_by_upper_interval_only():
    fc = pd.DataFrame({"unique_id": "ESP/cocaine/kg",
                       "ds": pd.date_range("2021-01-01", periods=3, freq="MS"),
                       "forecast": [80.0, 90.0, 95.0], "lo_80": 60.0, "hi_80": [95.0, 110.0, 120.0],
                       "lo_95": 50.0, "hi_95": [105.0, 125.0, 130.0], "model": "ets"})
    thresholds = pd.DataFrame({"unique_id": ["ESP/cocaine/kg"], "threshold": [100.0],
                               "level": [80]})
    crossed = scan_thresholds(fc, thresholds)
    assert crossed["first_ds"].tolist() == [pd.Timestamp("2021-02-01")]
    assert crossed["upper"].tolist() == [110.0] and crossed["peak_upper"].tolist() == [120.0]
    high = thresholds.assign(threshold=200.0)
    assert scan_thresholds(fc, high).empty


# --- multiple testing and alert shape -------------------------------------------------------
def test_benjamini_hochberg_matches_textbook_example():
    q = benjamini_hochberg(np.array([0.01, 0.04, 0.03, 0.005, np.nan]))
    assert q[:4] == pytest.approx([0.02, 0.04, 0.04, 0.02]) and np.isnan(q[4])


def test_fingerprint_ignores_period_and_numbers_but_not_route_attribute():
    a = fingerprint("route_shift", "Europe", "group", "cocaine", "seizures",
                    {"attribute": "departure_country", "destination": "Europe", "gaining": ["X"]})
    b = fingerprint("route_shift", "Europe", "group", "cocaine", "seizures",
                    {"attribute": "departure_country", "destination": "Europe", "gaining": ["Y"]})
    c = fingerprint("route_shift", "Europe", "group", "cocaine", "seizures",
                    {"attribute": "transport_mode", "destination": "Europe"})
    assert a == b != c


def test_evidence_reads_like_a_planner_sentence():
    ev = level_evidence(42.0, 15.0, 6, "seizures")
    assert ev["summary"] == "+180% over 6 months: 42 seizures against 15 expected"
    assert level_severity(2.8, 7.0, "seizures") == "medium"
    assert level_severity(5.0, 80.0, "seizures") == "critical"


def test_detect_frame_alert_has_design_shape():
    frame = series_frame({"ESP": noisy(20, 30, 1) + noisy(55, 4, 2)})
    alert = detect_frame(frame, None, "2021-10")[0]
    assert set(alert) == {"id", "type", "geo_level", "geo", "region", "drug_level", "drug",
                          "metric", "period", "detected_at", "severity", "score", "evidence",
                          "status", "fingerprint"}
    assert alert["detected_at"] == "2021-10" and alert["period"] == "2021-07"
    assert alert["region"] == "Europe" and alert["status"] == "open"


def test_config_reads_detection_settings(home):
    from core.settings import get_settings

    config = DetectionConfig.from_settings(get_settings())
    assert config.false_discovery_rate == get_settings().false_discovery_rate


def test_spike_in_last_period_after_two_high_months_is_not_a_surge():
    kg = [35.0, 21, 61, 65, 24, 118, 66, 22, 240, 109, 34, 113] * 2 + [110, 130, 279, 5377]
    counts = list(np.random.default_rng(16).poisson(9, len(kg)).astype(float))
    frame = pd.concat([series_frame({"ITA": kg}, metric="kg"),
                       series_frame({"ITA": counts})], ignore_index=True)
    assert [a for a in detect_frame(frame, None, None) if a["type"] == "surge"] == []


# --- trends against seasonality, noise calibration ------------------------------------------
def seasonal(level: float, n: int, seed: int, amplitude: float = 0.35) -> list[float]:
    months = np.arange(n)
    lam = level * (1 + amplitude * np.cos(2 * np.pi * (months % 12 - 9) / 12))
    return list(np.random.default_rng(seed).poisson(lam).astype(float))


def test_seasonal_peak_as_high_as_last_years_is_not_a_trend():
    frame = series_frame({"ESP": seasonal(40, 46, 21)})  # ends at the October peak
    assert not [a for a in detect_frame(frame, None, None) if a["type"] == "emerging_trend"]


def test_trend_compares_the_recent_months_with_the_same_months_last_year():
    ramp = [20 * 1.15 ** k for k in range(1, 9)]
    ys = noisy(20, 26, 11) + list(np.random.default_rng(12).poisson(ramp).astype(float))
    rec = scan_trends(to_matrix(series_frame({"ESP": ys}))).iloc[0]
    assert rec["last_year"] == pytest.approx(np.mean(ys[-15:-12]))
    assert rec["recent_mean"] > 1.5 * rec["last_year"]


def test_null_scale_widens_only_series_whose_history_swings_more_than_noise():
    level = np.r_[np.linspace(5, 200, 20), 10.0, 200.0]
    past_var = np.r_[1 + 0.01 * level[:20], 0.8, np.nan]  # extra variance grows with the level
    scale = null_scale(past_var, level)
    assert scale[20] == 1.0  # a quiet small series is never narrowed below independent noise
    assert scale[21] == pytest.approx(np.sqrt(1 + 0.01 * 200), rel=0.05)  # no history: the model
    assert scale[19] == pytest.approx(np.sqrt(3), rel=0.05)


def test_trend_z_is_smaller_on_a_series_with_slow_waves_than_on_plain_noise():
    rng = np.random.default_rng(22)
    t = np.arange(60)
    wavy = rng.poisson(200 * (1 + 0.2 * np.sin(2 * np.pi * t / 30))).astype(float)
    flat = rng.poisson(200, 60).astype(float)
    wavy[-8:] = flat[-8:] = rng.poisson(200 * 1.25, 8)
    found = scan_trends(to_matrix(series_frame({"ESP": list(wavy), "FRA": list(flat)})))
    z = dict(zip(found["row"], found["z"], strict=True))
    assert z[0] < z[1]  # ESP (row 0) swings on its own, so its rise says less


# --- volume gates ---------------------------------------------------------------------------
def test_kg_surge_needs_twenty_seizures_a_period_behind_it():
    rng = np.random.default_rng(23)
    kg = list(rng.lognormal(4, .3, 30)) + list(rng.lognormal(5.5, .3, 4))
    for counts, alerted in ((8.0, False), (30.0, True)):
        frame = pd.concat([series_frame({"BEL": kg}, metric="kg"),
                           series_frame({"BEL": noisy(counts, 34, 24)})], ignore_index=True)
        surges = [a for a in detect_frame(frame, None, None)
                  if a["type"] == "surge" and a["metric"] == "kg"]
        assert bool(surges) is alerted, counts


def test_series_too_small_to_alert_are_not_tested():
    from training.detection_engine import testable_rows

    frame = series_frame({"ESP": noisy(20, 34, 25), "MLT": noisy(0.5, 34, 26)})
    panel = to_matrix(frame)
    rows = testable_rows(panel, DetectionPeriods.of(DetectionConfig()))
    assert panel.keys.loc[rows, "geo"].tolist() == ["ESP"]


# --- route shifts stratified by seizing country -------------------------------------------------
def reporter_routes(recent_a: dict[str, int], recent_b: dict[str, int],
                    a_factor: int = 1) -> pd.DataFrame:
    """Flows seized by two countries with their own departure mixes: 24 baseline months, then 6."""
    rows = []
    base = {"ESP": {"BRA": 12, "COL": 4}, "NLD": {"BRA": 3, "COL": 12}}
    for k, ds in enumerate(pd.date_range(START, periods=30, freq="MS")):
        mixes = base if k < 24 else {"ESP": recent_a, "NLD": recent_b}
        for country, mix in mixes.items():
            for dep, n in mix.items():
                rows.append({"ds": ds, "country": country, "drug_group": "cocaine",
                             "substance": "cocaine hydrochloride", "destination_region": "Europe",
                             "departure_country": dep, "transit_countries": None,
                             "transport_mode": "sea", "seizures": n * (a_factor if k >= 24 and
                                                                        country == "ESP" else 1),
                             "kg": 10.0 * n})
    return pd.DataFrame(rows)


def test_route_shift_more_seizures_in_one_country_is_not_a_route_change():
    routes = reporter_routes({"BRA": 12, "COL": 4}, {"BRA": 3, "COL": 12}, a_factor=3)
    windows = Windows.ending(pd.Timestamp("2021-06-01"), recent=6, baseline=24)
    found = scan_route_shifts(routes, windows, attributes=("departure_country",))
    rec = found[found["drug_level"] == "group"].iloc[0]
    assert rec["p_table"] < 1e-3  # the pooled shares moved with the mix of seizing countries
    assert rec["p_value"] > 0.05 and not rec["gaining"] and not rec["losing"]


def test_route_shift_within_seizing_countries_is_found():
    routes = reporter_routes({"BRA": 4, "COL": 12}, {"BRA": 1, "COL": 14})
    windows = Windows.ending(pd.Timestamp("2021-06-01"), recent=6, baseline=24)
    found = scan_route_shifts(routes, windows, attributes=("departure_country",))
    rec = found[found["drug_level"] == "group"].iloc[0]
    assert rec["p_value"] < 1e-6 and rec["gaining"] == ["COL"] and rec["losing"] == ["BRA"]
