"""Forecasters on series with a known answer: flat, purely seasonal, sparse, with gaps."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.exceptions import NotFittedError

from core.errors import NarcotrendError
from models.baselines import Drift, Naive, SeasonalNaive, WindowMean, WindowMedian
from models.global_gbm import GlobalGBM
from models.intermittent import TSB, Croston
from models.statistical import ARIMA, ETS, Theta

LOCAL = [Naive(), SeasonalNaive(12), Drift(), WindowMean(12), WindowMedian(12), ETS(12),
         ETS(12, transform="log1p", alias="log_ets"), ARIMA(12), Theta(12), Croston(), TSB()]
ALL = [*LOCAL, GlobalGBM(12, max_iter=20)]


def frame(values: dict[str, np.ndarray], start: str = "2015-01-01") -> pd.DataFrame:
    parts = [pd.DataFrame({"unique_id": uid, "ds": pd.date_range(start, periods=len(y),
                                                                 freq="MS"), "y": y})
             for uid, y in values.items()]
    return pd.concat(parts, ignore_index=True)


def seasonal(n: int, level: float = 100.0, amplitude: float = 30.0) -> np.ndarray:
    return level + amplitude * np.sin(2 * np.pi * np.arange(n) / 12)


def check_nested(fc: pd.DataFrame, alias: str) -> None:
    f = fc[alias]
    assert (fc[f"{alias}-lo-95"] <= fc[f"{alias}-lo-80"] + 1e-9).all()
    assert (fc[f"{alias}-lo-80"] <= f + 1e-9).all()
    assert (f <= fc[f"{alias}-hi-80"] + 1e-9).all()
    assert (fc[f"{alias}-hi-80"] <= fc[f"{alias}-hi-95"] + 1e-9).all()


@pytest.mark.parametrize("model", LOCAL, ids=lambda m: m.alias)
def test_flat_series_is_forecast_flat(model):
    df = frame({"flat": np.full(60, 42.0)})
    fc = model.fit(df).predict(6)
    assert fc[model.alias].to_numpy() == pytest.approx(np.full(6, 42.0), rel=1e-3)
    check_nested(fc, model.alias)


def test_global_model_forecasts_flat_series_flat():
    df = frame({f"flat{i}": np.full(60, 10.0 * (i + 1)) for i in range(5)})
    fc = GlobalGBM(12, max_iter=30).fit(df).predict(6)
    for i in range(5):
        got = fc.loc[fc["unique_id"] == f"flat{i}", "gbm"].to_numpy()
        assert got == pytest.approx(np.full(6, 10.0 * (i + 1)), rel=0.02)


@pytest.mark.parametrize("model", [SeasonalNaive(12), ETS(12), Theta(12),
                                   ETS(12, transform="log1p", alias="log_ets")],
                         ids=lambda m: m.alias)
def test_pure_seasonal_series_is_forecast_within_5_percent(model):
    y = seasonal(84)
    fc = model.fit(frame({"s": y})).predict(12)
    truth = seasonal(96)[84:]
    assert np.abs(fc[model.alias].to_numpy() / truth - 1).max() < 0.05


def test_global_model_learns_a_season_shared_by_series_of_different_sizes():
    df = frame({f"s{i}": seasonal(84) * (i + 1) for i in range(20)})
    fc = GlobalGBM(12).fit(df).predict(12)
    truth = seasonal(96)[84:] * 7
    got = fc.loc[fc["unique_id"] == "s6", "gbm"].to_numpy()
    assert np.abs(got / truth - 1).max() < 0.10


@pytest.mark.parametrize("model", ALL, ids=lambda m: m.alias)
def test_zeros_with_rare_ones_never_get_negative_forecasts_or_bounds(model):
    rng = np.random.default_rng(3)
    sparse = {f"z{i}": (rng.random(72) < 0.08).astype(float) for i in range(4)}
    fc = model.fit(frame(sparse)).predict(12)
    values = fc.drop(columns=["unique_id", "ds"]).to_numpy()
    assert np.isfinite(values).all()
    assert (values >= 0).all()
    check_nested(fc, model.alias)


@pytest.mark.parametrize("model", ALL, ids=lambda m: m.alias)
def test_intervals_contain_the_point_forecast_and_widen_with_level(model):
    rng = np.random.default_rng(1)
    df = frame({f"n{i}": seasonal(72) + rng.normal(0, 10, 72) for i in range(3)})
    fc = model.fit(df).predict(8, level=(80, 95))
    check_nested(fc, model.alias)
    assert (fc[f"{model.alias}-hi-95"] - fc[f"{model.alias}-lo-95"]).gt(0).all()


@pytest.mark.parametrize("model", [Naive(), WindowMean(12), WindowMedian(12), ETS(12), Theta(12),
                                   Theta(12, transform="log1p", alias="log_theta")],
                         ids=lambda m: m.alias)
def test_a_reporting_gap_is_not_read_as_zeros(model):
    rng = np.random.default_rng(0)
    y = 100 + rng.normal(0, 2, 60)
    y[40:52] = np.nan  # a year not reporting in the middle
    y[-3:] = np.nan  # and the last quarter
    fc = model.fit(frame({"gap": y})).predict(6)
    assert fc[model.alias].to_numpy() == pytest.approx(np.full(6, 100.0), rel=0.08)


def test_forecast_after_a_trailing_gap_starts_after_the_frame_end():
    y = np.r_[np.full(30, 5.0), np.nan, np.nan]
    fc = Naive().fit(frame({"a": y})).predict(3)
    assert list(fc["ds"]) == list(pd.date_range("2017-09-01", periods=3, freq="MS"))
    assert fc["naive"].tolist() == [5.0, 5.0, 5.0]


def test_predict_follows_nixtla_columns():
    fc = Naive(alias="nv").fit(frame({"a": np.arange(24.0)})).predict(2)
    assert list(fc.columns) == ["unique_id", "ds", "nv", "nv-lo-80", "nv-hi-80", "nv-lo-95",
                                "nv-hi-95"]


@pytest.mark.parametrize("model", ALL, ids=lambda m: m.alias)
def test_predict_before_fit_raises_not_fitted(model):
    from sklearn.base import clone

    with pytest.raises(NotFittedError):
        clone(model).predict(3)


def test_predict_rejects_a_non_positive_horizon():
    model = Naive().fit(frame({"a": np.arange(24.0)}))
    with pytest.raises(NarcotrendError, match="positive integer, got 0"):
        model.predict(0)


def test_a_series_without_observations_is_a_failure_not_a_crash():
    df = frame({"ok": np.arange(24.0), "empty": np.full(24, np.nan)})
    model = ETS(12).fit(df)
    fc = model.predict(3)
    assert "empty" in model.failures_
    assert fc.loc[fc["unique_id"] == "empty", "ets"].isna().all()
    assert fc.loc[fc["unique_id"] == "ok", "ets"].notna().all()


def test_ets_agrees_with_the_statsmodels_reference():
    from statsmodels.tsa.exponential_smoothing.ets import ETSModel

    rng = np.random.default_rng(5)
    y = 50 + np.cumsum(rng.normal(0, 1, 80)) + rng.normal(0, 2, 80)
    ours = ETS(1, model="ANN").fit(frame({"a": y})).predict(6)["ets"].to_numpy()
    reference = ETSModel(pd.Series(y), error="add", trend=None).fit(disp=False).forecast(6)
    assert ours == pytest.approx(reference.to_numpy(), rel=0.02)


def test_tsb_decays_after_demand_stops_while_croston_does_not():
    y = np.r_[np.tile([0.0, 2.0], 20), np.zeros(30)]
    df = frame({"stop": y})
    tsb = TSB(alpha_p=0.2).fit(df).predict(1)["tsb"].iloc[0]
    croston = Croston().fit(df).predict(1)["croston"].iloc[0]
    assert tsb < 0.05 < croston


def test_log_transform_forecasts_the_median_of_a_skewed_series():
    rng = np.random.default_rng(8)
    y = np.exp(rng.normal(3, 1, 120))  # lognormal: median e^3 ~ 20, mean e^3.5 ~ 33
    raw = ETS(1, model="ANN").fit(frame({"a": y})).predict(1)["ets"].iloc[0]
    logged = ETS(1, model="ANN", transform="log1p").fit(frame({"a": y})).predict(1)["ets"].iloc[0]
    assert abs(logged - np.exp(3)) < abs(raw - np.exp(3))
    assert logged == pytest.approx(np.exp(3), rel=0.35)


def test_window_median_ignores_a_single_spike():
    y = np.r_[np.full(11, 10.0), 500.0]
    fc = WindowMedian(12).fit(frame({"a": y})).predict(2)
    assert fc["median"].tolist() == [10.0, 10.0]


def test_a_forecast_past_twice_the_series_record_is_a_failure_named_with_its_reason():
    """A drift from 1..10 reaches 34 two years out (3.4 x its record of 10): a trend carried
    past anything the series showed, not a forecast; six months out (16) it stands."""
    from models.base import to_panel

    df = frame({"rising": np.arange(1.0, 11.0), "flat": np.full(10, 5.0)})
    model = Drift().fit(df)
    far = model.predict_panel(24)
    assert "rising" in far.failures and "largest period (10)" in far.failures["rising"]
    assert np.isnan(far.mean[list(far.ids).index("rising")]).all()
    assert "flat" not in far.failures
    near = Drift().fit_panel(to_panel(df)).predict_panel(6)
    assert not near.failures and near.mean[list(near.ids).index("rising")][-1] == pytest.approx(16)


def test_seasonal_naive_seen_for_under_two_cycles_is_not_certain():
    # 15 months, one 1.1 kg seizure in month 4: the three seasonal differences are all zero,
    # which is no evidence that next year's month 4 is exactly 1.1 kg
    y = np.zeros(15)
    y[3] = 1.1
    fc = SeasonalNaive(12).fit(frame({"sparse": y})).predict(12)
    width = (fc["snaive-hi-80"] - fc["snaive-lo-80"]).to_numpy()
    assert (width > 0.5).all()
    assert fc["snaive"].to_numpy()[0] == pytest.approx(1.1)  # still the same month last year
    # two full cycles: the seasonal differences alone set the spread, as before
    long = SeasonalNaive(12).fit(frame({"pure": seasonal(48)})).predict(6)
    assert (long["snaive-hi-80"] - long["snaive-lo-80"]).to_numpy() == pytest.approx(
        np.zeros(6), abs=1e-6)
