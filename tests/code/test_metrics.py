"""Accuracy metrics on hand-computed examples."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from training.metrics import evaluate, pinball, seasonal_scale, summarize, summarize_by_class


def backtest(y: list[float], f: list[float], lo: list[float], hi: list[float],
             uid: str = "a") -> pd.DataFrame:
    n = len(y)
    frame = pd.DataFrame({"unique_id": uid, "ds": pd.date_range("2020-01-01", periods=n,
                                                                freq="MS"),
                          "cutoff": pd.Timestamp("2019-12-01"), "y": y, "m": f})
    for lvl in (80, 95):
        frame[f"m-lo-{lvl}"], frame[f"m-hi-{lvl}"] = lo, hi
    return frame


def scales(uid: str = "a", scale: float = 2.0) -> pd.DataFrame:
    return pd.DataFrame({"unique_id": [uid], "scale": [scale], "sq_scale": [scale ** 2]})


def metric(evaluation: pd.DataFrame, name: str, model: str = "m", uid: str = "a") -> float:
    row = evaluation[(evaluation["metric"] == name) & (evaluation["unique_id"] == uid)]
    return float(row[model].iloc[0])


def test_mase_is_mean_absolute_error_over_the_scale():
    ev = evaluate(backtest([10, 12, 14], [11, 12, 10], [0] * 3, [99] * 3), scales(), ["m"])
    assert metric(ev, "mase") == pytest.approx((1 + 0 + 4) / 3 / 2.0)


def test_rmsse_is_root_mean_squared_error_over_the_squared_scale():
    ev = evaluate(backtest([10, 12, 14], [11, 12, 10], [0] * 3, [99] * 3), scales(), ["m"])
    assert metric(ev, "rmsse") == pytest.approx(np.sqrt((1 + 0 + 16) / 3 / 4.0))


def test_coverage_counts_points_inside_the_interval_bounds_included():
    ev = evaluate(backtest([1, 5, 9, 10], [5] * 4, [1] * 4, [9] * 4), scales(), ["m"])
    assert metric(ev, "coverage_80") == pytest.approx(0.75)


def test_unknown_actuals_are_left_out_not_scored_as_zero():
    with_gap = evaluate(backtest([10, np.nan, 14], [10, 10, 14], [0] * 3, [99] * 3), scales(),
                        ["m"])
    assert metric(with_gap, "mase") == 0.0


def test_a_model_that_failed_on_a_point_gets_no_score_for_the_series():
    ev = evaluate(backtest([10, 12], [10, np.nan], [0, 0], [99, 99]), scales(), ["m"])
    assert np.isnan(metric(ev, "mase"))


def test_pinball_loss_weights_under_and_over_forecasts_by_the_quantile():
    assert pinball(np.array([10.0]), np.array([8.0]), 0.9)[0] == pytest.approx(1.8)
    assert pinball(np.array([10.0]), np.array([12.0]), 0.9)[0] == pytest.approx(0.2)


def test_seasonal_scale_uses_the_seasonal_difference():
    y = np.array([1.0, 2, 3, 4, 3, 5, 5, 7])
    assert seasonal_scale(y, 4)[0] == pytest.approx(np.mean([2, 3, 2, 3]))


def test_seasonal_scale_of_a_flat_series_falls_back_to_its_level():
    assert seasonal_scale(np.full(30, 5.0), 12) == (5.0, 25.0)
    assert seasonal_scale(np.zeros(30), 12) == (1.0, 1.0)


def test_evaluation_has_one_row_per_series_and_metric_and_a_column_per_model():
    frame = pd.concat([backtest([1, 2], [1, 2], [0, 0], [3, 3], "a"),
                       backtest([1, 2], [2, 2], [0, 0], [3, 3], "b")])
    frame["n"] = np.where(frame["unique_id"] == "b", frame["y"], frame["y"] + 5)
    for lvl in (80, 95):
        frame[f"n-lo-{lvl}"], frame[f"n-hi-{lvl}"] = frame[f"m-lo-{lvl}"], frame[f"m-hi-{lvl}"]
    ev = evaluate(frame, pd.concat([scales("a", 1.0), scales("b", 1.0)]), ["m", "n"])
    assert set(ev["metric"]) == {"mase", "rmsse", "coverage_80", "coverage_95", "msis_80",
                                 "msis_95", "pinball"}
    assert len(ev) == 2 * 7
    assert list(ev.columns) == ["unique_id", "metric", "m", "n"]
    assert summarize(ev).loc["mase", "m"] == pytest.approx((0 + 0.5) / 2)
    assert ev[ev["metric"] == "mase"].set_index("unique_id")[["m", "n"]].idxmin(axis=1).to_dict(
    ) == {"a": "m", "b": "n"}


def test_msis_is_width_plus_scaled_misses_over_the_scale():
    # 80%: alpha 0.2, so a miss costs 2 / 0.2 = 10 per unit outside; width 4 everywhere
    ev = evaluate(backtest([5, 8, 0], [5, 5, 5], [3, 3, 3], [7, 7, 7]), scales(), ["m"])
    assert metric(ev, "msis_80") == pytest.approx((4 + (4 + 10 * 1) + (4 + 10 * 3)) / 3 / 2.0)
    # 95%: a miss costs 2 / 0.05 = 40 per unit
    assert metric(ev, "msis_95") == pytest.approx((4 + (4 + 40) + (4 + 120)) / 3 / 2.0)


def test_summary_by_class_weights_mase_by_volume_within_each_unit():
    frame = pd.concat([backtest([10, 10], [12, 12], [0, 0], [20, 20], "A/coke/kg"),
                       backtest([1, 1], [3, 3], [0, 0], [5, 5], "B/coke/kg"),
                       backtest([4, 4], [4, 4], [0, 0], [9, 9], "A/coke/seizures")])
    ev = evaluate(frame, pd.concat([scales(u, 1.0) for u in ("A/coke/kg", "B/coke/kg",
                                                             "A/coke/seizures")]), ["m"])
    classes = pd.DataFrame({"unique_id": ["A/coke/kg", "B/coke/kg", "A/coke/seizures"],
                            "series_class": ["smooth", "lumpy", "smooth"]})
    weights = pd.Series({"A/coke/kg": 0.9, "B/coke/kg": 0.1, "A/coke/seizures": 1.0})
    out = summarize_by_class(ev, classes, weights)
    overall = out["overall"]["m"]
    assert overall["mase"] == pytest.approx((2 + 2 + 0) / 3)
    assert overall["wmase.kg"] == pytest.approx(0.9 * 2 + 0.1 * 2)
    assert overall["wmase.seizures"] == 0.0
    assert out["smooth"]["m"]["n_series"] == 2 and out["lumpy"]["m"]["mase"] == 2.0


def test_a_versions_setup_and_class_figures_are_read_from_its_run():
    from training.registry import class_figures, version_setup

    params = {"horizon": "12", "backtest_windows": "3", "backtest_step": "3", "freq": "MS",
              "models": "median,ets"}
    assert version_setup(params) == {"horizon": "12", "windows": "3", "step": "3", "freq": "MS"}
    metrics = {"mase": 1.0, "class.lumpy.mase": 0.9, "class.lumpy.coverage_80": 0.8,
               "class.smooth.wmase.kg": 0.5}
    assert class_figures(metrics) == {"lumpy": {"mase": 0.9, "coverage_80": 0.8},
                                      "smooth": {"wmase.kg": 0.5}}


def test_the_series_that_set_a_volume_weighted_mase_are_named_with_their_share():
    from training.metrics import weighted_mase_drivers

    # a record haul against a near-zero scale: MASE 10,000 at a 1 % weight is 99 % of the figure
    evaluation = pd.DataFrame({"unique_id": ["big/cocaine/kg", "haul/opioids/kg",
                                             "count/cocaine/seizures"],
                               "metric": "mase", "project": [1.0, 10_000.0, 2.0]})
    weights = pd.Series({"big/cocaine/kg": 0.99, "haul/opioids/kg": 0.01,
                         "count/cocaine/seizures": 1.0})
    drivers = weighted_mase_drivers(evaluation, "project", weights)
    kg = drivers["kg"]
    assert kg[0]["unique_id"] == "haul/opioids/kg"
    assert kg[0]["share"] == pytest.approx(100.0 / 100.99)
    assert kg[0]["mase"] == 10_000.0 and kg[0]["weight"] == 0.01
    assert sum(d["share"] for d in kg) == pytest.approx(1.0)
    # units are never mixed: the counts have their own figure, all of it from one series
    assert drivers["seizures"] == [{"unique_id": "count/cocaine/seizures", "share": 1.0,
                                    "mase": 2.0, "weight": 1.0}]
