"""The scores bench/forecast.py reports, on tables whose answers are known by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bench.forecast import avg_rel_mae, hindsight, holdout_mae


def test_holdout_mae_skips_unknown_months():
    months = pd.date_range("2024-01-01", periods=3, freq="MS")
    test = pd.DataFrame({"unique_id": "a", "ds": months, "y": [1.0, np.nan, 5.0]})
    forecasts = pd.DataFrame({"unique_id": "a", "ds": months, "f": [2.0, 100.0, 2.0]})
    assert holdout_mae(test, forecasts, "f")["a"] == pytest.approx(2.0)  # (1 + 3) / 2


def test_avg_rel_mae_is_the_geometric_mean_and_counts_what_it_leaves_out():
    ours = pd.Series({"a": 1.0, "b": 4.0, "c": 0.0, "d": 2e-8, "e": 3.0})
    theirs = pd.Series({"a": 2.0, "b": 2.0, "c": 5.0, "d": 1e-118, "e": 0.0})  # d: both exact
    out = avg_rel_mae(ours, theirs)
    assert out["avg_rel_mae"] == pytest.approx(1.0)  # sqrt(0.5 * 2)
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
