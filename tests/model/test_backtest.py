"""Rolling-origin backtests, choice per series, interval calibration and fallbacks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models.base import LocalForecaster
from models.baselines import Naive, SeasonalNaive, WindowMean
from training.backtest import backtest_offsets, cross_validation
from training.fit import NO_SCORED_PERIOD, fit_forecasts
from training.selection import calibrate, choose, combine, conformal_factors


def frame(values: dict[str, np.ndarray]) -> pd.DataFrame:
    return pd.concat([pd.DataFrame({"unique_id": uid, "ds": pd.date_range(
        "2016-01-01", periods=len(y), freq="MS"), "y": y}) for uid, y in values.items()],
        ignore_index=True)


class FailsOn(LocalForecaster):
    """Naive, except that it raises on the series named in ``bad``."""

    def __init__(self, bad: tuple[str, ...] = (), alias: str = "fragile",
                 nonnegative: bool = True, on_error: str = "nan") -> None:
        self.bad = bad
        self.alias = alias
        self.nonnegative = nonnegative
        self.on_error = on_error

    def _fit_one(self, y: np.ndarray) -> float:
        if y.size and y[0] == -1.0:
            raise RuntimeError("boom")
        return float(y[-1])

    def _forecast_one(self, state, h, levels):
        mean = np.full(h, state)
        return mean, {lvl: (mean - 1, mean + 1) for lvl in levels}


def test_backtest_offsets_step_back_from_the_end_oldest_first():
    assert backtest_offsets(h=6, windows=3, step=3) == [12, 9, 6]


def test_cross_validation_has_keys_cutoff_actuals_and_a_column_per_model():
    df = frame({"a": np.arange(40.0), "b": np.arange(40.0) * 2})
    cv, failures = cross_validation(df, [Naive(), WindowMean(3)], h=4, windows=3, step=2)
    assert list(cv.columns[:4]) == ["unique_id", "ds", "cutoff", "y"]
    assert {"naive", "naive-lo-80", "mean-hi-95"} <= set(cv.columns)
    assert len(cv) == 2 * 3 * 4
    assert sorted(cv["cutoff"].unique()) == list(pd.to_datetime(
        ["2018-08-01", "2018-10-01", "2018-12-01"]))
    # naive forecasts the value at the cutoff: it saw nothing after it
    value_of = dict(zip(df.loc[df["unique_id"] == "a", "ds"], np.arange(40.0), strict=True))
    a = cv[cv["unique_id"] == "a"]
    assert (a["naive"] == a["cutoff"].map(value_of)).all()
    assert (a["y"] == a["ds"].map(value_of)).all()
    assert failures == {"naive": {}, "mean": {}}


def test_parallel_backtest_equals_the_serial_one():
    rng = np.random.default_rng(0)
    df = frame({f"s{i}": rng.gamma(2, 10, 48) for i in range(8)})
    serial, _ = cross_validation(df, [Naive(), SeasonalNaive(12)], 6, 2, 3, n_jobs=1)
    parallel, _ = cross_validation(df, [Naive(), SeasonalNaive(12)], 6, 2, 3, n_jobs=2)
    pd.testing.assert_frame_equal(serial, parallel)


def test_a_model_failing_on_one_series_gives_nan_there_and_is_reported():
    df = frame({"good": np.arange(30.0), "bad": np.r_[-1.0, np.arange(29.0)]})
    cv, failures = cross_validation(df, [FailsOn()], h=3, windows=2, step=1)
    assert cv.loc[cv["unique_id"] == "bad", "fragile"].isna().all()
    assert cv.loc[cv["unique_id"] == "good", "fragile"].notna().all()
    assert set(failures["fragile"]) == {"bad"}


def test_choose_best_is_the_per_series_idxmin_and_ensemble_weights_sum_to_one():
    ev = pd.DataFrame({"unique_id": ["a", "b"], "metric": "mase", "x": [0.5, 2.0],
                       "y": [1.0, 1.0], "z": [2.0, np.nan]})
    best = choose(ev, method="best")
    assert dict(zip(best["unique_id"], best["model"], strict=True)) == {"a": "x", "b": "y"}
    ens = choose(ev, top_k=2)
    assert ens.groupby("unique_id")["weight"].sum().to_numpy() == pytest.approx([1, 1])
    a = ens[ens["unique_id"] == "a"].set_index("model")["weight"]
    assert a["x"] == pytest.approx(2 * a["y"], rel=1e-4)  # weights ~ 1 / MASE


def test_conformal_calibration_widens_too_narrow_intervals_to_nominal_coverage():
    rng = np.random.default_rng(2)
    n = 4000
    y = rng.normal(0, 1, n)
    frame_ = pd.DataFrame({"unique_id": "a", "y": y, "forecast": 0.0,
                           "lo-80": -0.5, "hi-80": 0.5, "lo-95": -0.8, "hi-95": 0.8})
    factors = conformal_factors(frame_)
    assert factors[80] == pytest.approx(1.2816 / 0.5, rel=0.08)
    calibrated = calibrate(frame_, factors, nonnegative=False)
    inside = (y >= calibrated["lo-80"]) & (y <= calibrated["hi-80"])
    assert inside.mean() == pytest.approx(0.80, abs=0.02)


def test_combine_averages_members_by_weight_and_names_the_ensemble():
    fc = pd.DataFrame({"unique_id": ["a"], "ds": [pd.Timestamp("2020-01-01")], "p": [10.0],
                       "q": [20.0]})
    for lvl in (80, 95):
        fc[f"p-lo-{lvl}"], fc[f"p-hi-{lvl}"] = 8.0, 12.0
        fc[f"q-lo-{lvl}"], fc[f"q-hi-{lvl}"] = 16.0, 24.0
    weights = pd.DataFrame({"unique_id": ["a", "a"], "model": ["p", "q"], "weight": [0.75, 0.25]})
    out = combine(fc, weights)
    assert out["forecast"].iloc[0] == pytest.approx(12.5)
    assert out["lo-80"].iloc[0] == pytest.approx(10.0)
    assert out["model"].iloc[0] == "ensemble:p+q"


def test_pure_seasonal_series_is_forecast_within_5_percent_by_the_selected_model():
    season = 100 + 30 * np.sin(2 * np.pi * np.arange(96) / 12)
    rng = np.random.default_rng(4)
    df = frame({"pure": season[:84], "noisy": season[:84] + rng.normal(0, 10, 84)})
    result = fit_forecasts(df, h=12, windows=2, step=3, n_jobs=1,
                           models=[Naive(), SeasonalNaive(12), WindowMean(12)])
    pure = result.forecasts[result.forecasts["unique_id"] == "pure"]
    assert np.abs(pure["forecast"].to_numpy() / season[84:] - 1).max() < 0.05
    assert (pure["lo_95"] <= pure["forecast"]).all() and (pure["forecast"] <= pure["hi_95"]).all()


def test_series_too_short_or_failing_everywhere_fall_back_to_seasonal_naive_and_are_listed():
    df = frame({"long": np.arange(60.0) % 12 + 5, "short": np.r_[np.full(52, np.nan),
                                                                   np.arange(8.0)],
                "cursed": np.r_[-1.0, np.arange(59.0) % 12 + 5], "empty": np.full(60, np.nan),
                "once": np.r_[np.full(30, np.nan), 4400.0, np.full(29, np.nan)],
                "silent": np.r_[np.arange(40.0) % 12 + 5, np.full(20, np.nan)]})
    # both candidates (one standing in for the seasonal naive) fail on "cursed"; "silent"
    # stopped reporting before the backtest windows: nothing to score, no model failed
    result = fit_forecasts(df, h=6, windows=2, step=2, n_jobs=1,
                           models=[FailsOn(), FailsOn(alias="snaive")])
    assert result.fallbacks == {"short": "too short for a backtest",
                                "cursed": "every model failed in the backtest",
                                "silent": NO_SCORED_PERIOD}
    # one 4,400 kg seizure is no basis for "4,400 kg every month": no forecast, and why
    assert result.skipped == {"empty": "no reported period",
                              "once": "1 reported period, fewer than the 3 a forecast needs"}
    assert not result.forecasts["unique_id"].isin(["empty", "once"]).any()
    assert result.params["n_series_total"] == 6
    fc = result.forecasts.set_index("unique_id")
    assert (fc.loc["cursed", "model"] == "snaive (fallback)").all()
    assert fc.loc["long", "model"].iloc[0] in {"fragile", "snaive"}
    assert list(result.forecasts.columns) == ["unique_id", "ds", "forecast", "lo_80", "hi_80",
                                              "lo_95", "hi_95", "model"]
    assert (result.forecasts[["forecast", "lo_80", "lo_95"]] >= 0).all().all()


def test_smoothing_models_run_on_smooth_series_and_tsb_on_mostly_zero_ones():
    rng = np.random.default_rng(6)
    df = frame({"smooth": 50 + rng.normal(0, 5, 48), "sparse": (rng.random(48) < 0.2) * 3.0})
    result = fit_forecasts(df, h=6, windows=2, step=3, n_jobs=1)
    ran = result.backtest.groupby("unique_id")[["ets", "theta", "tsb"]].count()
    assert ran.loc["smooth", "ets"] > 0 and ran.loc["smooth", "theta"] > 0
    assert ran.loc["smooth", "tsb"] == 0
    assert ran.loc["sparse", "ets"] == 0 and ran.loc["sparse", "theta"] == 0
    assert ran.loc["sparse", "tsb"] > 0
    assert result.params["n_series_sparse"] == 1


def _covered_by_prefix(bt: pd.DataFrame, bands: pd.DataFrame, lvl: int = 80) -> pd.Series:
    """The share of ``bt``'s actuals inside ``bands``' ``lvl``% band, per series-name prefix
    (the first letter: the kind of series a test made)."""
    inside = (bt["y"] >= bands[f"lo-{lvl}"]) & (bt["y"] <= bands[f"hi-{lvl}"])
    return inside.groupby(bt["unique_id"].str[0]).mean()


def _backtest_rows(rng: np.random.Generator, n_series: int, draw, cls: str, point: float,
                   steps: int = 6, cutoffs: int = 3) -> tuple[pd.DataFrame, pd.Series]:
    """A backtest-shaped frame (``unique_id, ds, cutoff, y, forecast, lo-*, hi-*``) of
    ``n_series`` series whose actuals come from ``draw(size, step)``, forecast flat at ``point`` and
    its own band empty (the calibration must not need it)."""
    rows = []
    for i in range(n_series):
        for c in range(cutoffs):
            cutoff = pd.Timestamp("2020-01-01") + pd.DateOffset(months=3 * c)
            ds = pd.date_range(cutoff + pd.DateOffset(months=1), periods=steps, freq="MS")
            y = np.array([draw(1, k)[0] for k in range(1, steps + 1)])
            rows.append(pd.DataFrame({"unique_id": f"{cls}{i}", "ds": ds, "cutoff": cutoff,
                                      "y": y, "forecast": point, "lo-80": point,
                                      "hi-80": point, "lo-95": point, "hi-95": point}))
    return pd.concat(rows, ignore_index=True), pd.Series(cls, index=[f"{cls}{i}"
                                                                     for i in range(n_series)])


def _normal_rows(rng: np.random.Generator, n_series: int, level: float, sd: float, cls: str,
                 **shape) -> tuple[pd.DataFrame, pd.Series]:
    """:func:`_backtest_rows` of actuals ``level`` plus normal noise of ``sd``, forecast flat
    at ``level``."""
    return _backtest_rows(rng, n_series, lambda size, step: level + rng.normal(0, sd, size),
                          cls, level, **shape)


def test_scaled_conformal_bands_reach_nominal_coverage_on_simulated_intermittent_series():
    from training.selection import calibrate_scaled, error_quantiles

    rng = np.random.default_rng(16)

    def lumpy(size, step):  # seized in 30% of months, sizes lognormal
        return (rng.random(size) < 0.3) * rng.lognormal(1.0, 1.0, size)

    def smooth(size, step):  # errors growing with the lead time, never near zero
        return 10.0 + rng.normal(0, 0.2 * step, size)

    parts = [_backtest_rows(rng, 150, lumpy, "lumpy", 1.0),
             _backtest_rows(rng, 150, smooth, "smooth", 10.0)]
    bt = pd.concat([p[0] for p in parts], ignore_index=True)
    classes = pd.concat([p[1] for p in parts])
    scale = pd.Series(1.0, index=classes.index)
    quantiles = error_quantiles(bt, scale, classes, (80, 95))
    fresh = pd.concat([_backtest_rows(rng, 150, lumpy, "lumpy", 1.0)[0],
                       _backtest_rows(rng, 150, smooth, "smooth", 10.0)[0]], ignore_index=True)
    out = calibrate_scaled(fresh.drop(columns="y"), quantiles, scale, classes)
    out["y"], out["class"] = fresh["y"], fresh["unique_id"].map(classes)
    for cls, part in out.groupby("class"):
        for lvl in (80, 95):
            inside = ((part["y"] >= part[f"lo-{lvl}"]) & (part["y"] <= part[f"hi-{lvl}"])).mean()
            assert inside == pytest.approx(lvl / 100, abs=0.03), (cls, lvl)
    assert (out["lo-95"] >= 0).all() and (out["lo-95"] <= out["forecast"]).all()
    # a lumpy series misses upwards (the band's lower end is zero), a smooth one widens with
    # the lead time
    lumpy_rows = out[out["class"] == "lumpy"]
    assert (lumpy_rows["lo-80"] == 0).all() and (lumpy_rows["hi-95"] > 5).all()
    smooth_rows = out[out["class"] == "smooth"].assign(step=lambda d: (
        d["ds"].dt.month - d["cutoff"].dt.month) % 12)
    width = (smooth_rows["hi-80"] - smooth_rows["lo-80"]).groupby(smooth_rows["step"]).mean()
    assert width.iloc[-1] > 3 * width.iloc[0]


def test_cross_calibration_sets_a_windows_bands_from_the_other_windows_only():
    from training.selection import cross_calibrated

    rng = np.random.default_rng(3)
    bt, classes = _normal_rows(rng, 200, 10.0, 1.0, "smooth")
    scale = pd.Series(1.0, index=classes.index)
    out = cross_calibrated(bt, scale, classes, (80, 95))
    inside = ((out["y"] >= out["lo-80"]) & (out["y"] <= out["hi-80"])).mean()
    assert inside == pytest.approx(0.80, abs=0.03)
    # wild errors in the first window widen the others' bands, never its own
    first = bt["cutoff"] == bt["cutoff"].min()
    wild = bt.assign(y=np.where(first, 10 + 50 * (bt["y"] - 10), bt["y"]))
    again = cross_calibrated(wild, scale, classes, (80, 95))
    width = lambda frame: frame["hi-80"] - frame["lo-80"]  # noqa: E731
    assert np.allclose(width(again)[first], width(out)[first])
    assert (width(again)[~first] > 3 * width(out)[~first]).all()


def test_median_of_three_members_beats_its_worst_and_ignores_one_wild_member():
    rng = np.random.default_rng(5)
    n = 500
    y = 10 + rng.normal(0, 1, n)
    fc = pd.DataFrame({"unique_id": "a", "ds": pd.date_range("2000-01-01", periods=n,
                                                              freq="MS"), "y": y,
                       "low": y - 1 + rng.normal(0, 0.5, n), "high": y + 1 + rng.normal(0, 0.5, n),
                       "wild": y + rng.normal(0, 30, n)})
    for m in ("low", "high", "wild"):
        for lvl in (80, 95):
            fc[f"{m}-lo-{lvl}"], fc[f"{m}-hi-{lvl}"] = fc[m] - 2, fc[m] + 2
    evaluation = pd.DataFrame({"unique_id": "a", "metric": ["mase"], "low": [1.0],
                               "high": [1.0], "wild": [3.0]})
    weights = choose(evaluation, "mase", 3, "median")
    assert weights["weight"].tolist() == pytest.approx([1 / 3] * 3)  # equal: membership only
    median = combine(fc, weights, how="median")
    mean = combine(fc, weights)
    mae = {m: np.abs(fc[m] - y).mean() for m in ("low", "high", "wild")}
    med_mae = np.abs(median["forecast"] - y).mean()
    assert med_mae < max(mae.values()) / 10  # far better than its worst member
    assert med_mae < np.abs(mean["forecast"] - y).mean() / 3  # the mean follows the wild one
    assert med_mae <= max(mae["low"], mae["high"])


def test_bands_in_units_of_each_series_backtest_error_fit_a_quiet_and_a_wild_series_alike():
    from training.selection import calibrate_scaled, error_quantiles, error_scale

    rng = np.random.default_rng(8)
    calm, classes = _normal_rows(rng, 60, 100.0, 1.0, "c")
    wild, more = _normal_rows(rng, 60, 100.0, 10.0, "w")
    bt = pd.concat([calm, wild], ignore_index=True)
    one_class = pd.Series("erratic", index=pd.concat([classes, more]).index)
    seasonal = pd.Series(1.0, index=one_class.index)  # the same in-sample scale for all
    scale = error_scale(bt, seasonal)
    assert scale[scale.index.str.startswith("w")].mean() == pytest.approx(
        10 * scale[scale.index.str.startswith("c")].mean(), rel=0.15)
    out = calibrate_scaled(bt.drop(columns="y"), error_quantiles(bt, scale, one_class),
                           scale, one_class)
    for prefix, inside in _covered_by_prefix(bt, out).items():
        assert inside == pytest.approx(0.80, abs=0.04), prefix


def test_silent_series_forecast_exactly_do_not_shrink_an_active_series_band():
    from training.selection import calibrate_scaled, error_quantiles

    rng = np.random.default_rng(11)
    active, classes = _backtest_rows(rng, 40, lambda size, step: rng.poisson(2.0, size) * 1.0,
                                     "a", 2.0)
    silent, more = _backtest_rows(rng, 400, lambda size, step: np.zeros(size), "s", 0.0)
    bt = pd.concat([active, silent], ignore_index=True)
    one_class = pd.Series("intermittent", index=pd.concat([classes, more]).index)
    scale = pd.Series(1.0, index=one_class.index)
    out = calibrate_scaled(active.drop(columns="y"), error_quantiles(bt, scale, one_class),
                           scale, one_class)
    inside = ((active["y"] >= out["lo-80"]) & (active["y"] <= out["hi-80"])).mean()
    # not the band [2, 2] the silent zeros would make (covering only the 27% of twos); counts
    # are discrete, so at least nominal rather than exactly
    assert (out["hi-80"] > out["lo-80"]).all() and 0.78 <= inside <= 0.92


def test_bands_never_narrow_as_the_lead_grows_when_the_last_steps_are_quiet():
    """Errors spread alike at every lead time except the last two steps, which the backtest
    happens to see in a quiet spell (zero error): the least-squares monotone fit pools them
    with the earlier steps, so the last bands do not collapse on the point (their own
    quantiles are 0) and no step is narrower than an earlier one."""
    from training.selection import error_quantiles, widening

    rng = np.random.default_rng(21)
    bt, classes = _backtest_rows(rng, 120, lambda size, step: 10 + (
        rng.normal(0, 1, size) if step <= 4 else np.zeros(size)), "smooth", 10.0)
    scale = pd.Series(1.0, index=classes.index)
    table = error_quantiles(bt, scale, classes, (80,))["smooth"][80]
    width = table[:, 1] - table[:, 0]
    assert (np.diff(width) >= -1e-12).all()
    # N(0, 1) errors on 4 steps of 6: 2 x 1.28 there, pooled with two zero-width steps
    assert width[-1] == pytest.approx(width[0]) and width[-1] > 1.2
    # one wild step is averaged with its neighbours, not carried to every later step
    noisy = np.array([[-1.0, 1.0], [-1.0, 5.0], [-1.0, 1.0], [-1.0, 1.0]])
    assert widening(noisy)[:, 1] == pytest.approx([1.0, 7 / 3, 7 / 3, 7 / 3])


class RunsAwayOnFullHistory(LocalForecaster):
    """The seasonal naive while the history is shorter than ``full``, ten times it from then
    on: exact in every backtest window of a purely seasonal series, a trend past its record in
    the final fit."""

    def __init__(self, full: int = 48, alias: str = "runaway", nonnegative: bool = True,
                 on_error: str = "nan") -> None:
        self.full = full
        self.alias = alias
        self.nonnegative = nonnegative
        self.on_error = on_error

    def _fit_one(self, y: np.ndarray) -> np.ndarray:
        return y[-12:] * (10.0 if y.size >= self.full else 1.0)

    def _forecast_one(self, state, h, levels):
        mean = np.resize(state, h)
        return mean, {lvl: (mean, mean) for lvl in levels}


def test_a_series_whose_choice_runs_past_its_record_in_the_final_fit_takes_its_next_model():
    rng = np.random.default_rng(8)
    seasonal = 20.0 + 5.0 * np.sin(2 * np.pi * np.arange(48) / 12) + rng.normal(0, 0.3, 48)
    result = fit_forecasts(frame({"a": seasonal}), h=6, windows=2, step=2, n_jobs=1,
                           models=[RunsAwayOnFullHistory(), WindowMean(12, alias="mean12")])
    mase = result.evaluation.set_index(["unique_id", "metric"]).loc[("a", "mase")]
    assert mase["runaway"] < 0.5 * mase["mean12"]  # the runaway model won the backtest
    fc = result.forecasts.set_index("unique_id")
    assert (fc.loc["a", "model"] == "mean12").all() and "a" not in result.fallbacks
    assert fc.loc["a", "forecast"].between(15, 26).all()


def test_the_union_of_two_calibrations_takes_the_wider_bound_of_each_lead_and_side():
    from training.selection import wider_quantiles

    recent = {"pooled": {80: np.array([[-1.0, 1.0], [-2.0, 2.0]])},
              "smooth": {80: np.array([[-1.0, 1.0], [-1.0, 1.0]])},
              "lumpy": {80: np.array([[0.0, 3.0], [0.0, 3.0]])}}
    spanned = {"pooled": {80: np.array([[-1.0, 1.0], [-2.0, 2.0]])},
               "smooth": {80: np.array([[-0.5, 2.5], [-3.0, 0.5]])},
               "lumpy": {80: np.array([[0.0, 2.0], [0.0, 2.0]])}}
    out, widened = wider_quantiles(recent, spanned)
    assert out["smooth"][80].tolist() == [[-1.0, 2.5], [-3.0, 1.0]]
    assert out["lumpy"][80].tolist() == recent["lumpy"][80].tolist()
    assert widened == ["smooth"]


def test_older_calibration_windows_widen_bands_for_a_shock_they_saw_and_leave_the_choice():
    # every series jumps together for three months (a drug-wide move) in a stretch only the
    # older windows forecast; the newest windows are calm
    rng = np.random.default_rng(5)
    n = 60
    shock = np.zeros(n)
    shock[n - 15:n - 12] = 40.0
    df = frame({f"s{i}": 100 + rng.normal(0, 2, n) + shock for i in range(30)})
    kwargs = dict(h=6, windows=2, step=3, n_jobs=1, models=[WindowMean(12), Naive()])
    calm = fit_forecasts(df, calibration_windows=2, **kwargs)
    spanned = fit_forecasts(df, calibration_windows=5, **kwargs)
    pd.testing.assert_frame_equal(calm.weights, spanned.weights)  # chosen on the newest two
    pd.testing.assert_series_equal(calm.forecasts["forecast"], spanned.forecasts["forecast"])
    width = {name: (r.forecasts["hi_80"] - r.forecasts["lo_80"]).to_numpy()
             for name, r in (("calm", calm), ("spanned", spanned))}
    assert (width["spanned"] >= width["calm"] - 1e-9).all()
    assert width["spanned"].mean() > 1.5 * width["calm"].mean()
    assert spanned.params["calibration_windows"] == 5
    assert spanned.params["bands_widened_by_older_windows"] != ""
    assert calm.params["bands_widened_by_older_windows"] == ""
    # the run's own figures judge the bands it serves: wider bands, more covered and paid for
    assert spanned.metrics["coverage_80"] > calm.metrics["coverage_80"]
    assert spanned.metrics["msis_80"] > 2 * calm.metrics["msis_80"]
    assert spanned.by_class["class.smooth"]["coverage_80"] == spanned.metrics["coverage_80"]
    # while the backtest reconciliation calibrates its aggregates on stays the newest windows'
    # (the bottoms' widening reaches the aggregates through the sampled sums)
    pd.testing.assert_frame_equal(calm.project_backtest, spanned.project_backtest)


def test_a_class_is_calibrated_apart_at_each_geography_level_with_its_own_errors():
    from training.band_strata import band_strata, describe_bands
    from training.selection import calibrate_scaled, error_quantiles

    rng = np.random.default_rng(8)
    # one class at two levels: many quiet provinces, fewer countries erring five times as much
    provinces, p_cls = _normal_rows(rng, 300, 10.0, 1.0, "p")
    countries, c_cls = _normal_rows(rng, 40, 10.0, 5.0, "c")
    few, f_cls = _normal_rows(rng, 2, 10.0, 5.0, "w")
    # enough series, too few backtest points (35 x 2)
    brief, b_cls = _normal_rows(rng, 35, 10.0, 5.0, "s", steps=2, cutoffs=1)
    ids = pd.concat([p_cls, c_cls, f_cls, b_cls]).index
    classes = pd.Series("smooth", index=ids)
    levels = pd.DataFrame({"unique_id": ids, "geo_level": ["admin1"] * 300 + ["country"] * 40
                           + ["world"] * 2 + ["subregion"] * 35})
    bands = band_strata(classes, levels)
    assert bands["c0"] == "smooth@country" and bands["p0"] == "smooth@admin1"
    assert bands["w0"] == "smooth"  # two series are two samples: the class's bands
    assert band_strata(classes, levels[["unique_id"]]).equals(classes)  # no level: the class
    bt = pd.concat([provinces, countries, few, brief], ignore_index=True)
    scale = pd.Series(1.0, index=ids)
    quantiles = error_quantiles(bt, scale, bands, (80,))
    # the subregions' 70 points are too few for bands of their own: the class's (every level)
    assert np.array_equal(quantiles["smooth@subregion"][80], quantiles["smooth"][80])
    assert "(smooth (at admin1, country);" in describe_bands(quantiles, set(), [])
    out = calibrate_scaled(bt.drop(columns="y"), quantiles, scale, bands)
    by_level = _covered_by_prefix(bt, out)
    assert by_level["c"] == pytest.approx(0.8, abs=0.04)
    assert by_level["p"] == pytest.approx(0.8, abs=0.04)
    # a unit (backtest error or seasonal scale) is the class's at every level: a level that
    # takes its class's quantiles takes them in the unit they were drawn in
    from training.selection import band_units_by_class, error_scale, mixed_scale
    seasonal = pd.Series(np.r_[np.full(300, 0.2), np.full(77, 5.0)], index=ids)
    units, _ = band_units_by_class(bt, seasonal, bands, (80,))
    drawn = mixed_scale(bt, seasonal, bands, units)
    assert units <= {"smooth"} and drawn.equals(
        error_scale(bt, seasonal).reindex(ids) if units else seasonal.astype(float))
    # pooled over the class, the provinces' errors set the countries' band
    pooled = calibrate_scaled(bt.drop(columns="y"), error_quantiles(bt, scale, classes, (80,)),
                              scale, classes)
    assert _covered_by_prefix(bt, pooled)["c"] < 0.5
