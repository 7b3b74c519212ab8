"""Detection at the build's frequency, on frames with a known answer: a weekly build detects in
weeks (52-period year, week-sized windows, `YYYY-Www` labels); a yearly build runs what yearly
series allow (new drugs, route shifts) and names the detectors it skips."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from detect_frames import noisy, route_frame, series_frame

from models.panel import period_label, to_matrix
from training.detection_config import DetectionConfig, DetectionPeriods
from training.detection_engine import detect_frame


def test_weekly_periods_are_the_months_in_weeks():
    weeks = DetectionPeriods.of(DetectionConfig(), "W-MON")
    assert (weeks.season, weeks.baseline, weeks.shift_max_lag, weeks.route_recent) == (
        52, 104, 39, 26)
    assert weeks.min_seizures == pytest.approx(10.0 * 12 / 52)  # volumes stay per month
    months = DetectionPeriods.of(DetectionConfig(), "MS")
    assert (months.season, months.baseline, months.min_seizures) == (12, 24, 10.0)


def test_weekly_surge_is_found_at_its_week():
    rng = np.random.default_rng(3)
    ys = np.concatenate([rng.poisson(20, 190), rng.poisson(50, 18)]).astype(float)
    frame = series_frame({"ESP": list(ys)}, freq="W-MON")
    weeks = pd.date_range("2019-01-01", periods=len(ys), freq="W-MON")
    alerts = detect_frame(frame, None, None, freq="W-MON")
    surges = [a for a in alerts if a["type"] == "surge"]
    assert len(surges) == 1
    assert surges[0]["period"] == period_label(weeks[190], "W-MON")
    assert surges[0]["detected_at"] == period_label(weeks[-1], "W-MON")
    assert surges[0]["period"].startswith("2022-W")
    assert "weeks" in surges[0]["evidence"]["summary"]


def test_weekly_flat_series_raises_nothing():
    frame = series_frame({"ESP": noisy(20, 208, 4)}, freq="W-MON")
    assert detect_frame(frame, None, None, freq="W-MON") == []


def test_weekly_matrix_labels_iso_weeks():
    frame = series_frame({"ESP": [1.0, 2.0, 3.0]}, freq="W-MON", start="2024-12-23")
    matrix = to_matrix(frame, freq="W-MON")
    assert [matrix.period_label(t) for t in range(3)] == ["2024-W52", "2025-W01", "2025-W02"]


def test_yearly_build_runs_new_drug_and_route_shift_and_skips_the_rest():
    years = DetectionPeriods.of(DetectionConfig(), "YS")
    assert set(years.skipped) == {"emerging_trend", "surge", "decline"}
    # a tripled level (a surge on any sub-year build) and a drug absent for years, then present
    frame = pd.concat([
        series_frame({"ESP": [300.0] * 6 + [900.0, 950.0]}, freq="YS"),
        series_frame({"FRA": [0.0] * 7 + [60.0]}, freq="YS").assign(
            unique_id="FRA/nitazenes/seizures", drug="nitazenes"),
    ], ignore_index=True)
    routes = route_frame({"DOM": 60, "BRA": 100, "COL": 140}, {"DOM": 10, "BRA": 100, "COL": 190},
                         freq="YS", before=6, after=2)
    alerts = detect_frame(frame, routes, None, freq="YS")
    assert {a["type"] for a in alerts} == {"new_drug", "route_shift"}
    new = [a for a in alerts if a["type"] == "new_drug"]
    assert [(a["geo"], a["drug"], a["period"]) for a in new] == [("FRA", "nitazenes", "2026")]
    route = next(a for a in alerts if a["type"] == "route_shift")
    assert route["route"]["losing"] == ["DOM"] and route["period"] == "2026"
    assert "1 years against the 2 before" in route["evidence"]["summary"]
