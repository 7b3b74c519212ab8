"""Fitting forecasts for many series: rolling-origin backtests of the candidates, a choice or
combination per series, conformal interval calibration, the final fit (`fit_forecasts`, pure:
frames in, a `TrainingResult` out). The train stage that stores and tracks it is
:mod:`training.train`."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from core.errors import NarcotrendError
from core.home import FORECAST_COLUMNS
from core.progress import steps
from models.base import (
    DEFAULT_LEVELS,
    PAST_RECORD,
    Forecaster,
    Panel,
    season_length_for,
    to_panel,
)
from models.baselines import SeasonalNaive, WindowMedian
from models.intermittent import TSB
from models.statistical import ETS, Theta
from training.backtest import cross_validation, forecast
from training.band_strata import band_strata, describe_bands
from training.classes import MIN_REPORTED, series_classes, too_few_reported, volume_weights
from training.metrics import (
    evaluate,
    series_scales,
    summarize,
    summarize_by_class,
    weighted_mase_drivers,
)
from training.selection import (
    band_units_by_class,
    calibrate,
    calibrate_scaled,
    choose,
    combine,
    conformal_factors,
    cross_calibrated,
    error_quantiles,
    mixed_scale,
    wider_quantiles,
)

Progress = Callable[[str], None]
FALLBACK = "snaive"
# Above this many (smooth series x fits) the full ETS and Theta searches give way to smaller ones
# (ETS: no trend, additive season; Theta: the standard model), about 4x cheaper, so that a panel of
# thousands of series still trains in minutes on two cores.
FULL_SEARCH_BUDGET = 8_000
SMOOTH_ONLY = ("ets", "theta", "arima")
SPARSE_ONLY = ("tsb", "croston")
SPARSE_ZERO_SHARE = 0.5
NO_SCORED_PERIOD = "no reported period in the backtest windows to score the models on"


def default_models(season_length: int, n_smooth: int = 0, fits_per_series: int = 4,
                   freq: str | None = None) -> list[Forecaster]:
    """The candidates a series chooses from: the window median, ETS and Theta on log1p
    (smooth series only) and TSB for sparse counts.

    Measured on the CBP 12-month holdout (bench/forecast.py): choosing per series among all
    eleven implemented models (naive, seasonal naive, drift, means, ETS, Theta, Croston, TSB,
    global gradient boosting) by backtest MASE was worse than these few robust ones (mean MASE
    over regular series 1.99 against 1.94): with three noisy backtest windows, the more
    candidates, the more often a lucky one wins (the winner's curse). Seizure series are spiky,
    and MASE rewards the median, which the window median and the log models forecast. ARIMA
    is left out as well: its order search costs 10-50x an ETS fit per series and window."""
    full = n_smooth * fits_per_series <= FULL_SEARCH_BUDGET
    window = max(season_length, 12)
    return [
        WindowMedian(window),
        ETS(season_length, model="ZZZ" if full else "ZNA", transform="log1p"),
        Theta(season_length, model=None if full else "STM", transform="log1p"),
        TSB(),
    ]


def sparse_series(panel: Panel, h: int) -> np.ndarray:
    """Ids of series that are mostly zeros before the last backtest cutoff: smoothing models
    built for continuous data add cost and no accuracy there (Croston/TSB/means cover them)."""
    out = []
    for uid, y in zip(panel.ids, panel.y, strict=True):
        seen = y[:-h] if len(y) > h else y
        seen = seen[~np.isnan(seen)]
        if seen.size and np.mean(seen == 0) >= SPARSE_ZERO_SHARE:
            out.append(uid)
    return np.array(out, dtype=object)


@dataclass
class TrainingResult:
    """Everything a training run produces, for storage, tracking and tests."""

    forecasts: pd.DataFrame
    backtest: pd.DataFrame
    project_backtest: pd.DataFrame  # the chosen forecasts, each window calibrated on the others
    evaluation: pd.DataFrame
    weights: pd.DataFrame
    factors: dict[int, float]  # the fallback's band factors (the others: ``quantiles``)
    fallbacks: dict[str, str]
    skipped: dict[str, str]  # series left without a forecast, and why
    model_failures: dict[str, int]
    metrics: dict[str, float]
    params: dict[str, Any]
    timings: dict[str, float] = field(default_factory=dict)
    classes: pd.DataFrame = field(default_factory=pd.DataFrame)
    # per band label (a class, or a class at a level): {level: (lead time x 2) quantiles}
    quantiles: dict[str, dict[int, np.ndarray]] = field(default_factory=dict)
    by_class: dict[str, dict[str, float]] = field(default_factory=dict)
    # per unit: the series that make the largest shares of the volume-weighted MASE
    wmase_drivers: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


def fit_forecasts(series: pd.DataFrame, h: int, windows: int = 3, step: int = 3,
                  calibration_windows: int | None = None, freq: str | None = None,
                  models: Sequence[Forecaster] | None = None,
                  method: Literal["best", "ensemble", "median"] = "best", top_k: int = 3,
                  level: Sequence[int] = DEFAULT_LEVELS, n_jobs: int = -1,
                  dask_scheduler: str | None = None,
                  progress: Progress | None = None) -> TrainingResult:
    """Backtest every model on every series, keep the best (or a weighted few) per series,
    set the bands from conformal quantiles of the backtest errors, refit on all data and
    forecast ``h`` ahead.

    ``method="best"`` (the per-series idxmin of backtest MASE) is the default: on the CBP holdout
    it scored a mean MASE of 1.94 over regular series against 1.97 for inverse-MASE weighted
    ensembles of the best 2 or 3 (bench/forecast.py). Smoothing models (ETS, Theta, ARIMA) run
    on smooth series only and intermittent-demand ones (TSB, Croston) on mostly-zero ones,
    when the default candidates are used.

    A series with too little history for a backtest, or on which every model failed, gets the
    seasonal naive forecast and is listed in ``fallbacks``; a series reported in fewer than
    ``MIN_REPORTED`` periods gets none and is listed in ``skipped`` with the reason.

    The models are chosen on the newest ``windows`` backtest windows; the bands are calibrated
    on ``calibration_windows`` of them (the same newest ones and older ones, every ``step``
    periods): drug-wide moves hit every series of a class at once, so a few overlapping windows
    hold only one or two of them, too few to set a band by.
    """
    say = progress or (lambda message: None)
    levels = tuple(level)
    timings: dict[str, float] = {}
    started = time.perf_counter()
    panel = to_panel(series, freq=freq)
    season_length = season_length_for(panel.freq)
    min_train = max(2 * season_length, 8)
    n_obs = panel.n_observed()
    skipped = {str(u): too_few_reported(int(n)) for u, n in zip(panel.ids, n_obs, strict=True)
               if n < MIN_REPORTED}
    n_total = len(panel)
    if len(skipped) == n_total:
        raise NarcotrendError(f"every series has fewer than {MIN_REPORTED} reported periods: "
                              "there is nothing to forecast from")
    panel = panel.subset(panel.ids[n_obs >= MIN_REPORTED]) if skipped else panel
    at_last_cutoff = np.array([np.count_nonzero(~np.isnan(y[:-h])) if len(y) > h else 0
                               for y in panel.y])
    eligible = panel.subset(panel.ids[at_last_cutoff >= min_train])
    short = panel.subset(panel.ids[at_last_cutoff < min_train])
    sparse = set(sparse_series(eligible, h))
    classes = series_classes(panel, min_train)
    classes.loc[classes["unique_id"].isin(set(short.ids)), "series_class"] = "too_short"
    class_of = classes.set_index("unique_id")["series_class"]
    band_of = band_strata(class_of, series)  # the labels bands are calibrated per
    smooth = eligible.subset([u for u in eligible.ids if u not in sparse])
    routed = models is None
    models = list(models) if models is not None else default_models(
        season_length, len(smooth), windows + 1, panel.freq)
    aliases = [m.alias for m in models]
    candidates = list(aliases)
    if FALLBACK not in aliases:  # backtested for the fallback's calibration, not a candidate
        models.append(SeasonalNaive(season_length, alias=FALLBACK))
        aliases.append(FALLBACK)
    spanned = max(windows, calibration_windows or windows)
    span = f", {spanned - windows} older ones for the bands" if spanned > windows else ""
    say(f"backtesting {len(models)} models on {len(eligible):,} series ({windows} windows"
        f"{span}, horizon {h}; smoothing models on {len(smooth):,} series, intermittent-demand "
        f"models on {len(sparse):,} mostly-zero ones); "
        f"{len(short):,} short series get the {FALLBACK} fallback")

    sparse_panel = eligible.subset(sorted(sparse))
    groups = [(eligible, [m for m in models
                          if not routed or m.alias not in SMOOTH_ONLY + SPARSE_ONLY]),
              (smooth, [m for m in models if routed and m.alias in SMOOTH_ONLY]),
              (sparse_panel, [m for m in models if routed and m.alias in SPARSE_ONLY])]
    cv, cv_failures = _backtest_groups(groups, h, windows, step, levels, min_train, n_jobs,
                                       dask_scheduler, say)
    timings["backtest_seconds"] = time.perf_counter() - started
    first_cutoff = cv.groupby("unique_id")["cutoff"].min() if len(cv) else None
    scales = series_scales(eligible, season_length, first_cutoff)
    ran = [a for a in aliases if a in cv.columns]
    evaluation = evaluate(cv, scales, ran, levels) if len(cv) else pd.DataFrame(
        columns=["unique_id", "metric", *ran])
    choosable = evaluation[["unique_id", "metric", *[a for a in ran if a in candidates]]]
    weights = choose(choosable, "mase", top_k, method) if len(evaluation) else pd.DataFrame(
        columns=["unique_id", "model", "weight"])
    how = "median" if method == "median" else "mean"
    project_cv = combine(cv, weights, levels, how) if len(weights) else pd.DataFrame()
    seasonal_scale = scales.set_index("unique_id")["scale"]
    error_classes, calibrated_cv = band_units_by_class(
        project_cv, seasonal_scale, band_of, levels) if len(project_cv) else (set(), project_cv)
    scale_of = mixed_scale(project_cv, seasonal_scale, band_of, error_classes) if len(
        project_cv) else seasonal_scale
    quantiles = error_quantiles(project_cv, scale_of, band_of, levels) if len(
        project_cv) else {"pooled": {lvl: np.zeros((h, 2)) for lvl in levels}}
    widened: list[str] = []
    reported_cv = calibrated_cv
    if spanned > windows and len(weights):
        # the same choice over the longer span: the wider of the two bands, per class and lead
        older = _older_windows(eligible, models, _needed(weights), h, windows, spanned, step,
                               levels, min_train, n_jobs, dask_scheduler, say)
        spanned_cv = combine(pd.concat([cv, older], ignore_index=True), weights, levels, how)
        quantiles, widened = wider_quantiles(quantiles, error_quantiles(
            spanned_cv, scale_of, band_of, levels))
        if widened:  # the run's figures judge the bands it serves
            reported_cv = cross_calibrated(project_cv, seasonal_scale, band_of, levels,
                                           error_classes, spanned=spanned_cv)
    # the fallback's own bands (series without a backtest have no scale to conform by)
    # are rescaled by one pooled factor from its backtest on the other series
    fallback_cv = combine(cv, _single(cv["unique_id"].unique(), FALLBACK), levels) \
        if len(cv) else pd.DataFrame()
    fallback_factors = conformal_factors(fallback_cv, levels) if len(fallback_cv) else {
        lvl: 1.0 for lvl in levels}
    say(f"chose per series by backtest MASE ({method}, top {top_k}); "
        f"{describe_bands(quantiles, error_classes, widened)}; fallback band factors "
        + ", ".join(f"{lvl}%: {f:.2f}" for lvl, f in fallback_factors.items()))

    t_final = time.perf_counter()
    fallbacks = {str(u): "too short for a backtest" for u in short.ids}
    unchosen = set(eligible.ids) - set(weights["unique_id"])
    # a series not reporting in any backtest window (mostly missing, NaN is not zero) has
    # nothing to score the models on: that is not a model failure, and says so
    scored = set(cv.loc[cv["y"].notna(), "unique_id"]) if len(cv) else set()
    fallbacks.update({str(u): NO_SCORED_PERIOD if u not in scored else
                      "every model failed in the backtest" for u in sorted(unchosen)})
    final, final_failures = _final_forecasts(eligible, models, _needed(weights), h, levels,
                                             n_jobs, dask_scheduler, say)
    chosen = combine(final, weights, levels, how) if len(final) else pd.DataFrame(
        columns=["unique_id", "ds", "forecast", "model"])
    lost = sorted(set(chosen.loc[chosen["forecast"].isna(), "unique_id"]))
    if lost:  # chosen again among the models that did not fail there
        again, again_weights, again_failures = _next_choice(
            lost, choosable, final_failures, eligible, models, h, levels, top_k, method, how,
            n_jobs, dask_scheduler)
        kept = again.loc[again["forecast"].notna(), "unique_id"].unique()
        if len(kept):
            say(f"{len(kept):,} series whose chosen model failed in the final fit use their "
                "next-ranked one")
            chosen = pd.concat([chosen[~chosen["unique_id"].isin(kept)],
                                again[again["unique_id"].isin(kept)]], ignore_index=True)
            weights = pd.concat([weights[~weights["unique_id"].isin(kept)],
                                 again_weights[again_weights["unique_id"].isin(kept)]],
                                ignore_index=True)
        for alias, failed in again_failures.items():
            final_failures.setdefault(alias, {}).update(failed)
        lost = sorted(set(lost) - set(kept))
    past_record = {str(u) for failed in final_failures.values()
                   for u, why in failed.items() if PAST_RECORD in why}
    fallbacks.update({str(u): "the chosen models failed in the final fit" + (
        f" ({PAST_RECORD})" if str(u) in past_record else "") for u in lost})
    chosen = calibrate_scaled(chosen[~chosen["unique_id"].isin(lost)], quantiles, scale_of,
                              band_of)
    fallback_ids = sorted(fallbacks)
    pieces = [chosen]
    if fallback_ids:
        fb_panel = panel.subset(fallback_ids)
        fb, _ = forecast(fb_panel, [SeasonalNaive(season_length, alias=FALLBACK)], h, levels, 1)
        fb = calibrate(combine(fb, _single(fb_panel.ids, FALLBACK), levels), fallback_factors)
        fb["model"] = f"{FALLBACK} (fallback)"
        pieces.append(fb[fb["forecast"].notna()])
    result = pd.concat([p for p in pieces if len(p)], ignore_index=True) if any(
        len(p) for p in pieces) else pd.DataFrame(columns=FORECAST_COLUMNS)
    result = result.rename(columns={f"{side}-{lvl}": f"{side}_{lvl}" for lvl in levels
                                    for side in ("lo", "hi")})
    result = result[FORECAST_COLUMNS].sort_values(["unique_id", "ds"], ignore_index=True)
    timings["final_fit_seconds"] = time.perf_counter() - t_final
    timings["fit_seconds"] = time.perf_counter() - started

    failures = {alias: len(set(cv_failures.get(alias, {})) | set(final_failures.get(alias, {})))
                for alias in aliases}
    # the run's figures judge the bands it serves: each window calibrated on the others
    metrics = _metrics(evaluation, reported_cv, scales, levels)
    by_class, drivers = _class_figures(reported_cv, scales, levels, classes,
                                       volume_weights(panel, max(season_length, h)))
    metrics.update({f"{group}.{name}": value for group, figures in by_class.items()
                    for name, value in figures.items() if group != "overall"})
    metrics.update({name: value for name, value in by_class.get("overall", {}).items()
                    if name.startswith("wmase.")})
    params = {"horizon": h, "backtest_windows": windows, "backtest_step": step,
              "freq": panel.freq, "season_length": season_length, "models": ",".join(aliases),
              "candidates": ",".join(candidates), "method": method, "top_k": top_k,
              "min_train": min_train,
              "n_series_total": n_total, "n_series_backtested": len(eligible),
              "n_series_sparse": len(sparse),
              "band_units_error_classes": ",".join(sorted(error_classes)),
              "calibration_windows": spanned,
              "bands_widened_by_older_windows": ",".join(widened)}
    params.update({f"model.{m.alias}": json.dumps(m.get_params(), default=str) for m in models})
    return TrainingResult(result, cv, calibrated_cv, evaluation, weights, fallback_factors,
                          fallbacks, skipped, failures, metrics, params, timings, classes,
                          quantiles, by_class, drivers)


def _backtest_groups(groups: Sequence[tuple[Panel, list[Forecaster]]], h: int, windows: int,
                     step: int, levels: tuple[int, ...], min_train: int, n_jobs: int,
                     dask_scheduler: str | None, say: Progress | None = None
                     ) -> tuple[pd.DataFrame, dict]:
    """Backtests of each (series, models) group, side by side (NaN where a model did not run),
    one model at a time so that progress shows per model."""
    keys = ["unique_id", "ds", "cutoff", "y"]
    frame: pd.DataFrame | None = None
    failures: dict[str, dict[str, str]] = {}
    tick = steps(say, "backtests", sum(len(m) for p, m in groups if len(p)))
    for panel, group_models in groups:
        if not len(panel) or not group_models:
            continue
        for model in group_models:
            cv, fails = cross_validation(panel, [model], h, windows, step, levels, min_train,
                                         n_jobs, dask_scheduler)
            tick(f"{model.alias} on {len(panel):,} series")
            failures.update(fails)
            frame = cv if frame is None else frame.merge(cv, on=keys, how="outer")
    return (frame if frame is not None else pd.DataFrame(columns=keys)), failures


def _older_windows(eligible: Panel, models: Sequence[Forecaster], needed: dict[str, set[str]],
                   h: int, windows: int, spanned: int, step: int, levels: tuple[int, ...],
                   min_train: int, n_jobs: int, dask_scheduler: str | None,
                   say: Progress) -> pd.DataFrame:
    """The backtest windows older than the newest ``windows``, up to ``spanned`` in all, of
    only the models each series chose (all a calibration of that choice needs: about a
    fifth of backtesting every candidate there)."""
    def run(part: Panel, model: Forecaster) -> tuple[pd.DataFrame, dict]:
        return cross_validation(part, [model], h, spanned, step, levels, min_train, n_jobs,
                                dask_scheduler, skip_newest=windows)

    frame, _ = _each_chosen_model(eligible, models, needed, ["unique_id", "ds", "cutoff", "y"],
                                  "older backtest windows", run, say)
    return frame


def _each_chosen_model(panel: Panel, models: Sequence[Forecaster], needed: dict[str, set[str]],
                       keys: list[str], label: str,
                       run: Callable[[Panel, Forecaster], tuple[pd.DataFrame, dict]],
                       say: Progress | None) -> tuple[pd.DataFrame, dict]:
    """``run(part, model)`` for each model on the series that use it (a global model on every
    series), side by side, and per model the series it failed on."""
    frame: pd.DataFrame | None = None
    failures: dict[str, dict[str, str]] = {}
    tick = steps(say, label, sum(bool(needed.get(m.alias)) for m in models))
    for model in models:
        ids = needed.get(model.alias)
        if not ids:
            continue
        part = panel if getattr(model, "is_global", False) else panel.subset(sorted(ids))
        out, fails = run(part, model)
        tick(f"{model.alias} on {len(part):,} series")
        failures.update(fails)
        frame = out if frame is None else frame.merge(out, on=keys, how="outer")
    return (frame if frame is not None else pd.DataFrame(columns=keys)), failures


def _single(ids: Sequence[str] | np.ndarray, alias: str) -> pd.DataFrame:
    return pd.DataFrame({"unique_id": list(ids), "model": alias, "weight": 1.0})


def _next_choice(lost: Sequence[str], choosable: pd.DataFrame, failures: dict[str, dict],
                 eligible: Panel, models: Sequence[Forecaster], h: int,
                 levels: tuple[int, ...], top_k: int, method: str,
                 how: Literal["mean", "median"], n_jobs: int,
                 dask_scheduler: str | None) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """The ``lost`` series (their chosen models failed in the final fit, e.g. a trend past the
    series' record) chosen again by backtest MASE among the models that did not fail on them,
    refit and combined: ``(forecasts, weights, failures)``; a series still without a forecast
    has NaN rows."""
    rest = choosable[choosable["unique_id"].isin(set(lost))].copy()
    for alias, failed in failures.items():
        if alias in rest.columns:
            rest.loc[rest["unique_id"].isin(set(failed)), alias] = np.nan
    weights = choose(rest, "mase", top_k, method) if len(rest) else pd.DataFrame(
        columns=["unique_id", "model", "weight"])
    if not len(weights):
        return pd.DataFrame(columns=["unique_id", "forecast"]), weights, {}
    final, again_failures = _final_forecasts(eligible.subset(sorted(set(weights["unique_id"]))),
                                             models, _needed(weights), h, levels, n_jobs,
                                             dask_scheduler)
    return combine(final, weights, levels, how), weights, again_failures


def _needed(weights: pd.DataFrame) -> dict[str, set[str]]:
    """Per model, the series whose forecast it is part of (those it is refitted on)."""
    return {alias: set(weights.loc[weights["model"] == alias, "unique_id"])
            for alias in weights["model"].unique()}


def _final_forecasts(panel: Panel, models: Sequence[Forecaster], needed: dict[str, set[str]],
                     h: int, levels: tuple[int, ...], n_jobs: int,
                     dask_scheduler: str | None, say: Progress | None = None
                     ) -> tuple[pd.DataFrame, dict]:
    """Refit on all data only the models a series uses (global models on every series)."""
    def run(part: Panel, model: Forecaster) -> tuple[pd.DataFrame, dict]:
        return forecast(part, [model], h, levels, n_jobs, dask_scheduler)

    return _each_chosen_model(panel, models, needed, ["unique_id", "ds"], "final fit", run, say)


def _metrics(evaluation: pd.DataFrame, project_cv: pd.DataFrame, scales: pd.DataFrame,
             levels: tuple[int, ...]) -> dict[str, float]:
    """Aggregate backtest metrics of the project's forecast and of each model (mean over
    series of the per-series metric)."""
    out: dict[str, float] = {}
    if len(evaluation):
        for metric, row in summarize(evaluation).iterrows():
            for alias, value in row.items():
                out[f"{metric}.{alias}"] = float(value)
    if len(project_cv):
        project_cv = project_cv.rename(columns={"forecast": "project"}).rename(
            columns=lambda c: f"project-{c}" if c.startswith(("lo-", "hi-")) else c)
        project = summarize(evaluate(project_cv, scales, ["project"], levels))["project"]
        out.update({str(k): float(v) for k, v in project.items()})
    return out


def _class_figures(project_cv: pd.DataFrame, scales: pd.DataFrame, levels: tuple[int, ...],
                   classes: pd.DataFrame, weights: pd.Series
                   ) -> tuple[dict[str, dict[str, float]], dict[str, list[dict[str, Any]]]]:
    """The project's backtest figures per series class and overall (``class.<name>.<metric>``
    keys: MASE, MSIS, coverage, ``n_series``, volume-weighted ``wmase.<unit>``), and the series
    that set each volume-weighted MASE."""
    if not len(project_cv):
        return {}, {}
    frame = project_cv.rename(columns={"forecast": "project"}).rename(
        columns=lambda c: f"project-{c}" if c.startswith(("lo-", "hi-")) else c)
    evaluation = evaluate(frame, scales, ["project"], levels)
    summary = summarize_by_class(evaluation, classes, weights)
    return ({("overall" if group == "overall" else f"class.{group}"): figures["project"]
             for group, figures in summary.items()},
            weighted_mase_drivers(evaluation, "project", weights))
