"""Forecast accuracy per series and model: MASE, RMSSE, interval coverage, scaled pinball loss.

Errors are divided by each series' in-sample seasonal-naive error (Hyndman & Koehler's scale),
so one mean over thousands of series of very different sizes is meaningful. Unknown actuals
(NaN, "not reporting") are left out of every metric. The output is Nixtla's evaluation shape:
one row per (series, metric), one column per model.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from models.base import DEFAULT_LEVELS, Panel

METRICS = ("mase", "rmsse", "pinball")


def seasonal_scale(y: np.ndarray, season_length: int) -> tuple[float, float]:
    """Mean absolute and mean squared in-sample seasonal difference of ``y`` (NaN pairs skipped).

    Falls back to lag 1 when no seasonal pair is observed, then to the mean level, then to 1, so
    a flat or very short series still gets a finite scale.
    """
    for lag in dict.fromkeys((season_length, 1)):
        if y.size > lag:
            diffs = y[lag:] - y[:-lag]
            diffs = diffs[~np.isnan(diffs)]
            if diffs.size and np.abs(diffs).mean() > 0:
                return float(np.abs(diffs).mean()), float((diffs ** 2).mean())
    level = float(np.nanmean(np.abs(y))) if np.any(~np.isnan(y)) else 0.0
    return (level, level ** 2) if level > 0 else (1.0, 1.0)


def series_scales(panel: Panel, season_length: int,
                  until: pd.Series | None = None) -> pd.DataFrame:
    """``unique_id, scale, sq_scale`` from each series' history up to ``until[unique_id]``
    (inclusive; typically its first backtest cutoff, so the scale never sees test data)."""
    rows = []
    for uid, ds, y in zip(panel.ids, panel.ds, panel.y, strict=True):
        if until is not None and uid in until.index:
            y = y[ds <= np.datetime64(until[uid])]
        scale, sq_scale = seasonal_scale(y, season_length)
        rows.append((uid, scale, sq_scale))
    return pd.DataFrame(rows, columns=["unique_id", "scale", "sq_scale"])


def pinball(y: np.ndarray, quantile_forecast: np.ndarray, q: float) -> np.ndarray:
    """Quantile (pinball) loss of one forecast quantile."""
    diff = y - quantile_forecast
    return np.maximum(q * diff, (q - 1) * diff)


def evaluate(cv: pd.DataFrame, scales: pd.DataFrame, models: Sequence[str],
             level: Sequence[int] = DEFAULT_LEVELS) -> pd.DataFrame:
    """``unique_id, metric, <model>...`` over the observed points of a backtest.

    A model that failed (NaN) on any observed point of a series gets NaN for that series, so no
    model is compared on fewer points than the others.
    """
    data = cv[cv["y"].notna()].merge(scales, on="unique_id", how="left")
    uid = data["unique_id"].to_numpy()
    y = data["y"].to_numpy(float)
    scale = data["scale"].to_numpy(float)
    sq_scale = data["sq_scale"].to_numpy(float)
    per_metric: dict[str, dict[str, pd.Series]] = {}
    for alias in models:
        point = data[alias].to_numpy(float)
        err = point - y
        values: dict[str, np.ndarray] = {
            "mase": np.abs(err) / scale,
            "rmsse": err ** 2 / sq_scale,
        }
        losses = [pinball(y, point, 0.5)]
        for lvl in level:
            lo = data[f"{alias}-lo-{lvl}"].to_numpy(float)
            hi = data[f"{alias}-hi-{lvl}"].to_numpy(float)
            values[f"coverage_{lvl}"] = ((y >= lo) & (y <= hi)).astype(float)
            values[f"coverage_{lvl}"][np.isnan(lo) | np.isnan(hi)] = np.nan
            alpha = (100 - lvl) / 200
            losses += [pinball(y, lo, alpha), pinball(y, hi, 1 - alpha)]
        values["pinball"] = np.mean(losses, axis=0) / scale
        failed = pd.Series(np.isnan(point)).groupby(uid).any()
        for name, arr in values.items():
            means = pd.Series(arr).groupby(uid).mean()
            if name == "rmsse":
                means = np.sqrt(means)
            means[failed.reindex(means.index).to_numpy()] = np.nan
            per_metric.setdefault(name, {})[alias] = means
    frames = []
    for name, by_model in per_metric.items():
        block = pd.DataFrame(by_model)
        block.index.name = "unique_id"
        block = block.reset_index()
        block.insert(1, "metric", name)
        frames.append(block)
    columns = ["unique_id", "metric", *models]
    if not frames:
        return pd.DataFrame(columns=columns)
    return pd.concat(frames, ignore_index=True)[columns]


def summarize(evaluation: pd.DataFrame) -> pd.DataFrame:
    """Mean of each metric over series, one row per metric, one column per model."""
    return evaluation.drop(columns="unique_id").groupby("metric").mean(numeric_only=True)
