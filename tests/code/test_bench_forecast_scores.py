"""The scores bench/forecast.py reports, on tables whose answers are known by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bench.forecast_scores import (
    avg_relative,
    hindsight,
    hindsight_band_bound,
    holdout_mae,
    interval_figures,
    record_bound,
    reported_share,
    weighted_by_unit,
)
from training.source_trees import Tree


def test_holdout_mae_skips_unknown_months():
    months = pd.date_range("2024-01-01", periods=3, freq="MS")
    test = pd.DataFrame({"unique_id": "a", "ds": months, "y": [1.0, np.nan, 5.0]})
    forecasts = pd.DataFrame({"unique_id": "a", "ds": months, "f": [2.0, 100.0, 2.0]})
    assert holdout_mae(test, forecasts, "f")["a"] == pytest.approx(2.0)  # (1 + 3) / 2


def test_avg_relative_is_the_geometric_mean_and_counts_what_it_leaves_out():
    ours = pd.Series({"a": 1.0, "b": 4.0, "c": 0.0, "d": 2e-8, "e": 3.0})
    theirs = pd.Series({"a": 2.0, "b": 2.0, "c": 5.0, "d": 1e-118, "e": 0.0})  # d: both exact
    out = avg_relative(ours, theirs)
    assert out["avg_relative"] == pytest.approx(1.0)  # sqrt(0.5 * 2)
    assert out["n_series"] == 2 and out["share_of_series_better"] == 0.5
    assert (out["n_left_out_only_project_exact"], out["n_left_out_only_peer_exact"],
            out["n_left_out_both_exact"]) == (1, 1, 1)


def test_hindsight_takes_each_series_best_and_finds_the_series_that_make_the_mean():
    per_series = {"project": pd.Series({"a": 1.0, "b": 3.0, "shock": 100.0}),
                  "peer": pd.Series({"a": 2.0, "b": 1.0, "shock": 100.0})}
    out = hindsight(per_series, "peer", regular={"a", "b"})
    assert out["best_of_all_mase_all"] == pytest.approx(102 / 3)
    assert out["best_of_all_ratio_all"] == pytest.approx(102 / 103, abs=1e-4)
    assert out["best_of_all_ratio_regular"] == pytest.approx(2 / 3, abs=1e-4)
    assert out["shock_series"] == 1 and out["shock_series_ids"] == ["shock"]


def test_record_bound_charges_only_the_months_above_the_training_record():
    months = pd.date_range("2024-01-01", periods=2, freq="MS")
    test = pd.DataFrame({"unique_id": ["a/kg", "a/kg", "b/kg", "b/kg"], "ds": [*months, *months],
                         "y": [10.0, 30.0, 1.0, np.nan]})
    bound = record_bound(test, pd.Series({"a/kg": 20.0, "b/kg": 5.0}),
                         pd.Series({"a/kg": 2.0, "b/kg": 1.0}), 80)
    # a: (2 / 0.2) x (30 - 20) / 2 on one month of two; b: below its record
    assert bound["a/kg"] == pytest.approx(25.0) and bound["b/kg"] == 0.0


def test_the_hindsight_band_pays_a_lone_shock_in_full_at_80_and_buys_it_at_95():
    months = pd.date_range("2024-01-01", periods=12, freq="MS")
    y = [1.0] * 11 + [101.0]  # one shock month in twelve
    test = pd.DataFrame({"unique_id": "a/kg", "ds": months, "y": y})
    scale = pd.Series({"a/kg": 2.0})
    # 80%: widening by d costs 12d, saves 10d on the shock: the band stays [1, 1] and pays
    # (2 / 0.2) x 100 / 12 for it
    assert hindsight_band_bound(test, scale, 80)["a/kg"] == pytest.approx(10 * 100 / 12 / 2)
    # 95%: saving 40d beats 12d, so the band reaches the shock: its width, 100
    assert hindsight_band_bound(test, scale, 95)["a/kg"] == pytest.approx(100 / 2)


def test_weighted_by_unit_keeps_kg_and_seizures_apart_and_renormalises():
    per_series = pd.Series({"a/kg": 1.0, "b/kg": 3.0, "a/seizures": 5.0})
    weights = pd.Series({"a/kg": 0.3, "b/kg": 0.1, "c/kg": 0.6, "a/seizures": 1.0})
    out = weighted_by_unit(per_series, weights)
    assert out == pytest.approx({"kg": (0.3 * 1 + 0.1 * 3) / 0.4, "seizures": 5.0})


def test_interval_figures_compare_with_the_best_peer_every_way():
    ids = ["a/kg", "b/kg", "shock/kg"]

    def method(values):
        msis = pd.Series(values, index=ids)
        regular = msis[["a/kg", "b/kg"]]
        return {"msis_80_all": msis.mean(), "msis_80": regular.mean(),
                "per_series_msis_80": msis, "wmsis_80": {"kg": float(regular.mean())}}

    project, peers = method([1.0, 1.0, 100.0]), {"p": method([2.0, 2.0, 100.0])}
    bound = {80: pd.Series({"shock/kg": 99.0})}
    out = interval_figures(project, peers, bound, {"a/kg", "b/kg"}, (80,))["80"]
    assert out["ratio_all"] == pytest.approx(102 / 104, abs=1e-4)
    assert out["ratio_regular"] == 0.5 and out["ratio_volume_weighted"] == {"kg": 0.5}
    assert out["avg_relative_by_peer"]["p"] == pytest.approx(0.25 ** (1 / 3), abs=1e-4)
    # the shock's 99 of the best peer's 104 points: no band within the record gets below
    assert out["record_bound_ratio_all"] == pytest.approx(99 / 3 / (104 / 3), abs=1e-4)
    assert out["record_bound_ratio_regular"] == 0.0


def test_reported_share_is_the_part_of_the_forecast_whose_countries_reported():
    months = pd.date_range("2024-01-01", periods=2, freq="MS")
    tree = Tree("t", ["Europe", "ESP", "FRA"], ["region", "country", "country"],
                np.array([[1.0, 1.0], [1.0, 0.0], [0.0, 1.0]]))
    forecasts = pd.DataFrame({"unique_id": ["Europe", "ESP", "FRA"] * 2,
                              "ds": np.repeat(months, 3), "forecast": [40.0, 30.0, 10.0] * 2})
    # France silent in January, Spain in February
    test = pd.DataFrame({"unique_id": ["Europe", "ESP", "FRA"] * 2,
                         "ds": np.repeat(months, 3), "y": [25.0, 25.0, np.nan,
                                                            12.0, np.nan, 12.0]})
    share = reported_share(forecasts, test, [tree])
    assert share[("Europe", months[0])] == pytest.approx(0.75)
    assert share[("Europe", months[1])] == pytest.approx(0.25)
    assert len(share) == 2  # aggregates only
    # a zero forecast has no share to carry: unknown, not "reported in full"
    zero = forecasts.assign(forecast=0.0)
    assert reported_share(zero, test, [tree]).isna().all()
