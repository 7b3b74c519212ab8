"""Forecast accuracy per series and model: MASE, RMSSE, interval coverage, MSIS, scaled pinball
loss, and their summaries per series class with volume weights.

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
from training.classes import metric_unit

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


def interval_score(y: np.ndarray, lo: np.ndarray, hi: np.ndarray, level: int) -> np.ndarray:
    """Gneiting & Raftery's interval score of a central ``level``% interval, point by point:
    its width plus 2 / alpha times the distance by which ``y`` falls outside. Divided by the
    series' seasonal scale and averaged, it is M4's MSIS: a proper score, so neither a too
    narrow interval (missed points) nor an absurdly wide one (width) can win."""
    alpha = 1 - level / 100
    return (hi - lo) + (2 / alpha) * (np.maximum(lo - y, 0) + np.maximum(y - hi, 0))


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
            values[f"msis_{lvl}"] = interval_score(y, lo, hi, lvl) / scale
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


def summarize_by_class(evaluation: pd.DataFrame, classes: pd.DataFrame,
                       weights: pd.Series | None = None) -> dict[str, dict[str, dict[str, float]]]:
    """Figures per series class and overall: ``{group: {model: {metric: value}}}``.

    Each metric is the mean over the group's series (``n_series`` counts them); with
    ``weights`` (:func:`training.classes.volume_weights`), ``wmase.<unit>`` is the
    volume-weighted MASE of the series of each unit (kg, seizures...), so a spiky series with
    little volume cannot set a headline and units are never mixed."""
    from_class = classes.set_index("unique_id")["series_class"]
    data = evaluation.assign(series_class=evaluation["unique_id"].map(from_class).fillna(
        "unclassified"))
    models = [c for c in evaluation.columns if c not in ("unique_id", "metric")]
    out: dict[str, dict[str, dict[str, float]]] = {}
    groups = [("overall", data), *((str(name), part) for name, part in
                                   data.groupby("series_class", sort=True))]
    for name, part in groups:
        means = part.drop(columns=["unique_id", "series_class"]).groupby("metric").mean(
            numeric_only=True)
        block: dict[str, dict[str, float]] = {}
        for model in models:
            figures = {str(m): float(v) for m, v in means[model].items() if pd.notna(v)}
            figures["n_series"] = float(part.loc[part["metric"] == "mase", model].notna().sum())
            if weights is not None:
                figures.update(_weighted_mase(part, model, weights))
            block[model] = figures
        out[name] = block
    return out


def _weighted_mase(part: pd.DataFrame, model: str, weights: pd.Series) -> dict[str, float]:
    return {f"wmase.{unit}": float(terms.sum()) for unit, terms in
            _weighted_terms(part, model, weights).items()}


def weighted_mase_drivers(evaluation: pd.DataFrame, model: str, weights: pd.Series,
                          top: int = 3) -> dict[str, list[dict[str, float | str]]]:
    """Per unit, the ``top`` series that make the largest shares of ``wmase.<unit>``
    (``unique_id``, ``share`` of the figure, its own ``mase`` and volume ``weight``): a record
    haul against a near-zero scale can set a volume-weighted figure from a 0.1 % weight, and a
    reader must be told which series did."""
    out: dict[str, list[dict[str, float | str]]] = {}
    mase = evaluation.loc[evaluation["metric"] == "mase"].set_index("unique_id")[model]
    for unit, terms in _weighted_terms(evaluation, model, weights).items():
        total = float(terms.sum())
        if total <= 0:
            continue
        out[unit] = [{"unique_id": str(uid), "share": float(term / total),
                      "mase": float(mase[uid]), "weight": float(weights.get(uid, 0.0))}
                     for uid, term in terms.nlargest(top).items()]
    return out


def _weighted_terms(part: pd.DataFrame, model: str, weights: pd.Series) -> dict[str, pd.Series]:
    """Per unit, each series' term of the volume-weighted MASE (weight x MASE / unit total)."""
    mase = part.loc[part["metric"] == "mase", ["unique_id", model]].dropna()
    if mase.empty:
        return {}
    w = mase["unique_id"].map(weights).fillna(0.0).to_numpy(float)
    units = mase["unique_id"].map(metric_unit).to_numpy()
    out = {}
    for unit in np.unique(units):
        here = units == unit
        total = w[here].sum()
        if total > 0:
            out[str(unit)] = pd.Series(w[here] * mase[model].to_numpy(float)[here] / total,
                                       index=mase["unique_id"].to_numpy()[here])
    return out
