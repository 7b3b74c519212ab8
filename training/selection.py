"""From backtests to one forecast per series: model choice or combination, then calibration.

Per series, models are ranked by backtest MASE; ``method="best"`` keeps the winner (an
``idxmin``), ``method="ensemble"`` averages the ``top_k`` best with weights proportional to
1 / MASE (intervals averaged bound by bound, i.e. quantile averaging). Models' own intervals are
often too narrow (they ignore model uncertainty) or too wide, so the combined intervals are then
set from split-conformal quantiles of the backtest errors in units of each series' scale, per
series class and lead time (:func:`error_quantiles`); the seasonal-naive fallback's bands are
rescaled by one conformal factor on their half-width (:func:`conformal_factors`). Either way the
coverage on the backtests matches the nominal level without assuming normal errors.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Literal

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.isotonic import IsotonicRegression

from models.base import DEFAULT_LEVELS, tidy_bands
from training.band_strata import class_part, label_classes, quantile_table
from training.classes import metric_unit
from training.metrics import interval_score

WIDTH_FLOOR = 1e-9


def choose(evaluation: pd.DataFrame, metric: str = "mase", top_k: int = 3,
           method: Literal["best", "ensemble", "median"] = "ensemble") -> pd.DataFrame:
    """``unique_id, model, weight`` (weights of a series sum to 1); series where every model
    failed are absent (the caller falls back for them). ``"median"`` keeps the ``top_k`` best
    with equal weights, for :func:`combine`'s ``how="median"``."""
    scores = evaluation[evaluation["metric"] == metric].set_index("unique_id").drop(
        columns="metric").astype(float)
    k = 1 if method == "best" else top_k
    long = scores.stack(future_stack=True).dropna().rename("score").reset_index()
    long.columns = ["unique_id", "model", "score"]
    long = long.sort_values(["unique_id", "score", "model"], kind="stable")
    long = long.groupby("unique_id", sort=False).head(k).copy()
    long["weight"] = 1.0 if method == "median" else 1.0 / (long["score"] + 1e-6)
    long["weight"] /= long.groupby("unique_id")["weight"].transform("sum")
    return long[["unique_id", "model", "weight"]].reset_index(drop=True)


def model_labels(weights: pd.DataFrame) -> pd.Series:
    """A readable name of each series' forecast: the model, or ``ensemble:a+b+c`` by weight."""
    ordered = weights.sort_values(["unique_id", "weight"], ascending=[True, False])
    return ordered.groupby("unique_id")["model"].agg(
        lambda m: m.iloc[0] if len(m) == 1 else "ensemble:" + "+".join(m))


def combine(frame: pd.DataFrame, weights: pd.DataFrame,
            level: Sequence[int] = DEFAULT_LEVELS,
            how: Literal["mean", "median"] = "mean") -> pd.DataFrame:
    """Weighted forecasts of ``frame`` (one column per model): the keys of ``frame`` plus
    ``forecast, lo-80, hi-80, ...`` and ``model``. A member with a NaN forecast is dropped and
    the remaining weights renormalised. ``how="median"``: the median of a series' members
    (weights only say which), point and bounds alike; one wild member cannot drag it."""
    keys = [c for c in ("unique_id", "ds", "cutoff", "y") if c in frame.columns]
    wide = weights.pivot(index="unique_id", columns="model", values="weight")
    frame = frame[frame["unique_id"].isin(wide.index)].reset_index(drop=True)
    w = wide.reindex(frame["unique_id"]).fillna(0.0).to_numpy()
    members = list(wide.columns)
    outputs = {"forecast": members}
    for lvl in level:
        outputs[f"lo-{lvl}"] = [f"{m}-lo-{lvl}" for m in members]
        outputs[f"hi-{lvl}"] = [f"{m}-hi-{lvl}" for m in members]
    point = frame[members].to_numpy(float)
    usable = (w > 0) & ~np.isnan(point)
    w_eff = np.where(usable, w, 0.0)
    total = w_eff.sum(axis=1, keepdims=True)
    w_eff = np.divide(w_eff, total, out=np.zeros_like(w_eff), where=total > 0)
    result = frame[keys].copy()
    for name, cols in outputs.items():
        values = np.nan_to_num(frame[cols].to_numpy(float))
        if how == "median":
            members_here = np.where(usable, values, np.nan)
            with np.errstate(all="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows: NaN below
                combined = np.nanmedian(members_here, axis=1)
        else:
            combined = (values * w_eff).sum(axis=1)
        combined[total[:, 0] == 0] = np.nan
        result[name] = combined
    result["model"] = frame["unique_id"].map(model_labels(weights)).to_numpy()
    return result


def half_width_scores(frame: pd.DataFrame, lvl: int,
                      floor: float | np.ndarray = WIDTH_FLOOR) -> np.ndarray:
    """Error in units of the interval half-width on its side (1 = exactly on the bound), over
    the rows with an actual and a forecast; each half-width floored at ``floor`` (one value, or
    one per row of ``frame``)."""
    known = (frame["y"].notna() & frame["forecast"].notna()).to_numpy()
    data = frame[known]
    floor = np.broadcast_to(np.asarray(floor, float), known.shape)[known]
    y, f = data["y"].to_numpy(float), data["forecast"].to_numpy(float)
    below = np.maximum(f - data[f"lo-{lvl}"].to_numpy(float), floor)
    above = np.maximum(data[f"hi-{lvl}"].to_numpy(float) - f, floor)
    return np.where(y < f, (f - y) / below, (y - f) / above)


def conformal_factor(scores: np.ndarray, lvl: int) -> float:
    """The split-conformal quantile of ``scores`` (:func:`half_width_scores`) for a ``lvl``%
    band, with its finite-sample correction: the factor by which to scale half-widths so that
    ``lvl``% of the points fall inside; 1.0 under 10 scores."""
    if scores.size < 10:
        return 1.0
    rank = min(1.0, np.ceil((scores.size + 1) * lvl / 100) / scores.size)
    return float(np.quantile(scores, rank, method="higher"))


def conformal_factors(backtest: pd.DataFrame,
                      level: Sequence[int] = DEFAULT_LEVELS) -> dict[int, float]:
    """Per level, the factor by which to scale interval half-widths so that ``level``% of the
    backtest points fall inside (:func:`conformal_factor`). A factor above 1 means the models'
    own intervals were too narrow."""
    return {lvl: max(conformal_factor(half_width_scores(backtest, lvl), lvl), WIDTH_FLOOR)
            for lvl in level}


def calibrate(frame: pd.DataFrame, factors: dict[int, float] | dict[int, np.ndarray],
              nonnegative: bool = True) -> pd.DataFrame:
    """Intervals of ``frame`` rescaled around the forecast by ``factors`` (one per level, or one
    per row); clipped at zero and kept nested (lo-95 <= lo-80 <= forecast <= hi-80 <= hi-95)."""
    out = frame.copy()
    f = out["forecast"].to_numpy(float)
    _, bands = tidy_bands(f, {lvl: (f - factors[lvl] * (f - out[f"lo-{lvl}"].to_numpy(float)),
                                    f + factors[lvl] * (out[f"hi-{lvl}"].to_numpy(float) - f))
                              for lvl in factors}, nonnegative)
    for lvl, (lo, hi) in bands.items():
        out[f"lo-{lvl}"], out[f"hi-{lvl}"] = lo, hi
    return out


MIN_CLASS_POINTS = 100  # backtest points a class (or lead time) needs for its own bands


# --- scaled conformal bands per class and horizon -------------------------------------------
# Rescaling the models' own bands fails on sparse series: a window median of a mostly-zero
# series has the band [0, 0], so every non-zero month is "infinitely" far out in units of the
# band and one factor per class balloons (CBP's intermittent and lumpy series covered 86-87% at
# 80%). Split-conformal quantiles of the signed error in units of the series' own scale do not
# depend on the band, give asymmetric bands (sparse series miss upwards) and, taken per horizon
# step, widen with the lead time as the errors do.
MAX_HORIZON_BAND = 2  # a step short of points pools the steps up to 2 either side


def horizon_steps(frame: pd.DataFrame) -> np.ndarray:
    """Lead time of each row (1 = the first period after the cutoff; a final forecast without
    ``cutoff`` counts from the series' first forecast period)."""
    keys = ["unique_id", "cutoff"] if "cutoff" in frame.columns else ["unique_id"]
    order = frame.sort_values([*keys, "ds"]).index
    steps = frame.loc[order].groupby(keys, sort=False).cumcount() + 1
    return steps.reindex(frame.index).to_numpy(int)


LOWER_TAIL_SHARES = (0.0, 0.25, 0.5)  # of the miss rate, left below the band (0.5: central)


def _signed_quantiles(errors: np.ndarray, lvl: int) -> tuple[float, float]:
    """Split-conformal bounds of ``errors`` for a ``lvl``% band: the order statistics leaving
    a share of the misses below and the rest above (finite-sample ranks), the narrowest of
    central, a quarter below, or none below. Not always central: a sparse series' errors have
    an atom where the actual is zero (the forecast, negated), and a central band spends its
    lower tail below that atom (the zeros are covered anyway), covering ~90% at 80%; leaving no
    miss below takes the atom and only the upper errors it needs. Three fixed shapes, not the
    narrowest of every window, so that the choice cannot fit the calibration sample's noise."""
    errors = np.sort(errors)
    n, alpha = errors.size, 1 - lvl / 100
    best: tuple[float, float] | None = None
    for share in LOWER_TAIL_SHARES:
        lo = int(np.floor((n + 1) * alpha * share)) - 1
        hi = int(np.ceil((n + 1) * (1 - alpha * (1 - share)))) - 1
        bounds = (float(errors[min(max(lo, 0), n - 1)]), float(errors[min(max(hi, 0), n - 1)]))
        if best is None or bounds[1] - bounds[0] < best[1] - best[0]:
            best = bounds
    assert best is not None
    return best


def _near_steps(mask: np.ndarray, step: np.ndarray, k: int,
                min_points: int = MIN_CLASS_POINTS) -> np.ndarray | None:
    """The rows of ``mask`` at lead time ``k``, or within the narrowest band of neighbouring
    steps (up to ``MAX_HORIZON_BAND``) that holds ``min_points``; None when none does."""
    for band in range(MAX_HORIZON_BAND + 1):
        near = mask & (np.abs(step - k) <= band)
        if near.sum() >= min_points:
            return near
    return None


def widening(bounds: np.ndarray) -> np.ndarray:
    """Lower and upper quantiles by lead time (rows) made never to narrow as the lead grows
    (what is unknown three months out is still unknown at six): the least-squares monotone fit
    of each (isotonic regression), so one noisy step is averaged with its neighbours rather
    than carried to every later one. A later step's own quantiles come from fewer, more alike
    points (the backtest's last months, often a quiet or not yet fully reported spell): IDS's
    intermittent countries had an upper 80% quantile of 0 at 10-12 months, the band collapsed
    on the point, and covered 53-66% there."""
    out = bounds.copy()
    if len(out) > 1 and np.isfinite(out).all():
        steps = np.arange(len(out))
        out[:, 0] = IsotonicRegression(increasing=False).fit_transform(steps, out[:, 0])
        out[:, 1] = IsotonicRegression(increasing=True).fit_transform(steps, out[:, 1])
    return out


def error_quantiles(backtest: pd.DataFrame, scale: pd.Series, classes: pd.Series,
                    level: Sequence[int] = DEFAULT_LEVELS,
                    min_points: int = MIN_CLASS_POINTS) -> dict[str, dict[int, np.ndarray]]:
    """``{label: {level: array (max_step, 2)}}``: per band label (``classes``: a series class,
    or a class at a geography level, :mod:`training.band_strata`) and horizon step, the lower
    and upper conformal quantiles of ``(y - forecast) / scale[unique_id]`` on the backtest;
    also each class over all its levels, and ``"pooled"`` over every class. A step pools its
    neighbours within ``MAX_HORIZON_BAND``; a label (or a label's step) with fewer than
    ``min_points`` scored points takes its class's (a class's: the pooled) quantiles, or its
    own all-steps ones."""
    data = backtest[backtest["y"].notna() & backtest["forecast"].notna()]
    # a series forecast exactly in every backtest window (IDS: thousands of silent admin-1
    # series, zero forecast for zero seizures) says nothing about spread; left in, its zeros
    # outnumber the active series' errors and shrink their class's band to the point
    # (IDS's intermittent countries covered 55% at 80%)
    miss = (data["y"] - data["forecast"]).abs().groupby(data["unique_id"]).transform("max")
    s = data["unique_id"].map(scale).to_numpy(float)
    keep = np.isfinite(s) & (s > 0) & (miss.to_numpy(float) > 0)
    data, s = data[keep], s[keep]
    err = (data["y"].to_numpy(float) - data["forecast"].to_numpy(float)) / s
    step = horizon_steps(data) if len(data) else np.empty(0, int)
    label = data["unique_id"].map(classes).fillna("pooled").to_numpy(object)
    max_step = int(step.max()) if step.size else 1

    def table(mask: np.ndarray, fallback: dict[int, np.ndarray] | None) -> dict[int, np.ndarray]:
        out: dict[int, np.ndarray] = {}
        for lvl in level:
            whole = (_signed_quantiles(err[mask], lvl) if mask.sum() >= min_points
                     else (-np.inf, np.inf))
            rows = []
            for k in range(1, max_step + 1):
                near = _near_steps(mask, step, k, min_points)
                if near is not None:
                    rows.append(_signed_quantiles(err[near], lvl))
                elif fallback is not None and not np.isfinite(whole[0]):
                    rows.append(tuple(fallback[lvl][k - 1]))
                else:
                    rows.append(whole)
            out[lvl] = widening(np.array(rows, float))
        return out

    pooled = table(np.ones(err.size, bool), None)
    if err.size < min_points:  # nothing to learn from: the band is the point
        pooled = {lvl: np.zeros((max_step, 2)) for lvl in level}
    result = {"pooled": pooled}
    base = label_classes(pd.Series(label)).to_numpy(object)
    for name in sorted(set(base) - {"pooled"}):  # a class over every stratum of it
        result[str(name)] = table(base == name, pooled)
    for name in sorted(set(label) - set(base)):  # a class at one stratum, else the class's
        result[str(name)] = table(label == name, result[class_part(str(name))])
    return result


def wider_quantiles(recent: dict[str, dict[int, np.ndarray]],
                    spanned: dict[str, dict[int, np.ndarray]]
                    ) -> tuple[dict[str, dict[int, np.ndarray]], list[str]]:
    """Per band label, level and lead time, the union of two :func:`error_quantiles` bands (the
    lower of the lower bounds, the higher of the upper ones), and the labels the ``spanned``
    table widened.

    The newest backtest windows show the regime a series is in now (who reports, what fits);
    a longer span shows more of the drug-wide moves that hit every series of a class at once
    (CBP FY2025: cocaine and heroin up in every area, methamphetamine down). A few overlapping
    windows may hold none of those, and a long span may be diluted by an older, quieter
    reporting regime (IDS's intermittent countries). The union of the two bands covers at least
    as often as either, at the price of some width where both were right."""
    out: dict[str, dict[int, np.ndarray]] = {}
    widened = []
    for name, mine in recent.items():
        other = quantile_table(spanned, name) if spanned else {}
        out[name] = {}
        for lvl, table in mine.items():
            wide = other.get(lvl, table)
            n = max(len(table), len(wide))
            a, b = _padded(table, n), _padded(wide, n)
            out[name][lvl] = np.column_stack([np.minimum(a[:, 0], b[:, 0]),
                                              np.maximum(a[:, 1], b[:, 1])])
        if name != "pooled" and any(not np.allclose(out[name][lvl], _padded(t, len(out[name][lvl])))
                                    for lvl, t in mine.items()):
            widened.append(name)
    return out, widened


def _padded(table: np.ndarray, n: int) -> np.ndarray:
    """``table`` with its last lead time repeated down to ``n`` rows."""
    return table if len(table) >= n else np.vstack(
        [table, np.repeat(table[-1:], n - len(table), axis=0)])


def calibrate_scaled(frame: pd.DataFrame, quantiles: dict[str, dict[int, np.ndarray]],
                     scale: pd.Series, classes: pd.Series,
                     nonnegative: bool = True) -> pd.DataFrame:
    """Bands of ``frame`` (a final forecast) set to ``forecast + q * scale`` with each row's
    class and horizon-step quantiles (:func:`error_quantiles`); never below zero, always around
    the point, wider levels outside narrower ones. Rows whose series has no scale keep theirs."""
    out = frame.copy()
    f = out["forecast"].to_numpy(float)
    s = out["unique_id"].map(scale).to_numpy(float)
    usable = np.isfinite(s) & (s > 0)
    label = out["unique_id"].map(classes).fillna("pooled").to_numpy(object)
    step = horizon_steps(out)
    raw = {}
    for lvl in quantiles["pooled"]:
        q = np.zeros((len(out), 2))
        for name in set(label):
            rows = label == name
            table = quantile_table(quantiles, name)[lvl]
            q[rows] = table[np.minimum(step[rows], len(table)) - 1]
        raw[lvl] = (
            np.where(usable, f + np.minimum(q[:, 0], 0.0) * s, out[f"lo-{lvl}"].to_numpy(float)),
            np.where(usable, f + np.maximum(q[:, 1], 0.0) * s, out[f"hi-{lvl}"].to_numpy(float)))
    _, bands = tidy_bands(f, raw, nonnegative)
    for lvl, (lo, hi) in bands.items():
        out[f"lo-{lvl}"], out[f"hi-{lvl}"] = lo, hi
    return out


def error_scale(backtest: pd.DataFrame, fallback: pd.Series) -> pd.Series:
    """Each series' own backtest mean absolute error, the unit its band is drawn in
    (normalised conformal: a quiet series gets a narrow band, a wild one a wide band, from one
    quantile per class); ``fallback`` (the seasonal scale) where that error is zero or
    unknown. Pooling a class's errors in units of the in-sample seasonal scale instead gave
    CBP's intermittent series a 4x worse MSIS at the same coverage."""
    data = backtest[backtest["y"].notna() & backtest["forecast"].notna()]
    mae = (data["y"] - data["forecast"]).abs().groupby(data["unique_id"]).mean()
    out = fallback.copy().astype(float)
    good = mae[(mae > 0) & np.isfinite(mae)]
    out.loc[out.index.intersection(good.index)] = good
    return out


def mixed_scale(backtest: pd.DataFrame, seasonal: pd.Series, classes: pd.Series,
                error_classes: set[str]) -> pd.Series:
    """Each series' band unit: its backtest error (:func:`error_scale`) where the class of its
    band label (``classes``) is in ``error_classes``, the seasonal in-sample scale elsewhere.
    A unit is a class's, at every level of it: a level with too few points of its own takes
    its class's quantiles, which must be in the same unit."""
    if not error_classes:  # no backtest error to read
        return seasonal.astype(float)
    by_error = error_scale(backtest, seasonal)
    wanted = {class_part(str(c)) for c in error_classes}
    in_error = label_classes(classes.reindex(seasonal.index)).isin(wanted).to_numpy()
    return pd.Series(np.where(in_error, by_error.reindex(seasonal.index), seasonal),
                     index=seasonal.index)


def cross_calibrated(backtest: pd.DataFrame, seasonal: pd.Series, classes: pd.Series,
                     level: Sequence[int] = DEFAULT_LEVELS,
                     error_classes: set[str] | None = None,
                     spanned: pd.DataFrame | None = None) -> pd.DataFrame:
    """The backtest with each window's bands calibrated on the other windows' errors only
    (leave one window out, the band unit too): the coverage and MSIS a training run reports
    for its bands, which calibrating a window on its own errors would make nominal by
    construction. ``error_classes``: the classes drawn in backtest-error units (default all).
    ``spanned``: the same choice backtested over the longer calibration span (these windows
    and older ones); each window's bands are then, as the served ones are, the union of both
    calibrations (:func:`wider_quantiles`), each without that window."""
    chosen = set(classes.unique()) if error_classes is None else error_classes
    window = backtest.groupby("unique_id")["cutoff"].rank(method="dense").to_numpy(int)
    spanned_keys = None if spanned is None else pd.MultiIndex.from_frame(
        spanned[["unique_id", "cutoff"]])
    parts = []
    for w in np.unique(window):
        held = window == w
        scale = mixed_scale(backtest[~held], seasonal, classes, chosen)
        quantiles = error_quantiles(backtest[~held], scale, classes, level)
        if spanned is not None:
            out = spanned_keys.isin(pd.MultiIndex.from_frame(
                backtest.loc[held, ["unique_id", "cutoff"]].drop_duplicates()))
            quantiles, _ = wider_quantiles(quantiles, error_quantiles(
                spanned[~out], scale, classes, level))
        parts.append(calibrate_scaled(backtest[held], quantiles, scale, classes))
    return pd.concat(parts).loc[backtest.index] if parts else backtest.copy()


def band_units_by_class(backtest: pd.DataFrame, seasonal: pd.Series, classes: pd.Series,
                        level: Sequence[int] = DEFAULT_LEVELS
                        ) -> tuple[set[str], pd.DataFrame]:
    """Per class (over every level of it, whatever the band labels ``classes`` split it
    into), the band unit (backtest error or seasonal scale) with the lower cross-calibrated
    MSIS (mean over levels, in seasonal-scale units), and the backtest cross-calibrated with
    that choice. Measured on CBP's holdout: backtest-error units suit intermittent series
    (MSIS(80) 8.8 against 27.3), seasonal ones smooth series (80% coverage 0.77 against
    0.71), so neither serves every class."""
    frames = {kind: cross_calibrated(backtest, seasonal, classes, level,
                                     set(classes.unique()) if kind == "error" else set())
              for kind in ("error", "seasonal")}
    label = label_classes(backtest["unique_id"].map(classes))
    unit = backtest["unique_id"].map(seasonal).to_numpy(float)
    scored = backtest["y"].notna().to_numpy() & np.isfinite(unit) & (unit > 0)
    score = {}
    for kind, frame in frames.items():
        y = frame["y"].to_numpy(float)
        total = sum(interval_score(y, frame[f"lo-{lvl}"].to_numpy(float),
                                   frame[f"hi-{lvl}"].to_numpy(float), lvl) for lvl in level)
        score[kind] = pd.Series(np.where(scored, total / np.where(scored, unit, 1.0), np.nan)
                                ).groupby(label.to_numpy()).mean()
    error_classes = {str(c) for c in score["error"].index
                     if not score["error"][c] > score["seasonal"].get(c, np.inf)}
    in_error = label.isin(list(error_classes)).to_numpy()
    mixed = frames["seasonal"].copy()
    mixed.loc[in_error] = frames["error"].loc[in_error]
    return error_classes, mixed


COUNT_UNITS = ("seizures",)  # series of event counts (the last part of geo/drug/metric)


def count_floor(forecasts: pd.DataFrame, level: Sequence[int] = DEFAULT_LEVELS) -> pd.DataFrame:
    """``forecasts`` (``unique_id, ds, forecast, lo_<lvl>, hi_<lvl>``) with each band of zero
    width around a non-zero count forecast set to the Poisson quantiles of that forecast: a
    count of seizures is never certain, but a seasonal-naive fallback of a series reported as
    1, 1, 1 draws [1, 1] (IDS: 14 series). Other bands are left as calibrated."""
    out = forecasts.copy()
    f = out["forecast"].to_numpy(float)
    unit = out["unique_id"].map(metric_unit)
    widest = max(level)
    flat = (unit.isin(COUNT_UNITS).to_numpy() & (f > 0)
            & (out[f"hi_{widest}"].to_numpy(float) - out[f"lo_{widest}"].to_numpy(float) <= 0))
    if not flat.any():
        return out
    for lvl in level:
        alpha = 1 - lvl / 100
        lo = np.minimum(stats.poisson.ppf(alpha / 2, f[flat]), f[flat])
        hi = np.maximum(stats.poisson.ppf(1 - alpha / 2, f[flat]), f[flat])
        out.loc[flat, f"lo_{lvl}"] = np.minimum(out.loc[flat, f"lo_{lvl}"].to_numpy(float), lo)
        out.loc[flat, f"hi_{lvl}"] = np.maximum(out.loc[flat, f"hi_{lvl}"].to_numpy(float), hi)
    return out
