"""From backtests to one forecast per series: model choice or combination, then calibration.

Per series, models are ranked by backtest MASE; ``method="best"`` keeps the winner (an
``idxmin``), ``method="ensemble"`` averages the ``top_k`` best with weights proportional to
1 / MASE (intervals averaged bound by bound, i.e. quantile averaging). Models' own intervals are
often too narrow (they ignore model uncertainty) or too wide, so the combined intervals are then
rescaled by a conformal factor: the quantile, over all backtest points, of the error measured in
units of the interval's half-width. That makes coverage on the backtests match the nominal level
without assuming normal errors.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
import pandas as pd

from models.base import DEFAULT_LEVELS

WIDTH_FLOOR = 1e-9


def choose(evaluation: pd.DataFrame, metric: str = "mase", top_k: int = 3,
           method: Literal["best", "ensemble"] = "ensemble") -> pd.DataFrame:
    """``unique_id, model, weight`` (weights of a series sum to 1); series where every model
    failed are absent (the caller falls back for them)."""
    scores = evaluation[evaluation["metric"] == metric].set_index("unique_id").drop(
        columns="metric").astype(float)
    k = 1 if method == "best" else top_k
    long = scores.stack(future_stack=True).dropna().rename("score").reset_index()
    long.columns = ["unique_id", "model", "score"]
    long = long.sort_values(["unique_id", "score", "model"], kind="stable")
    long = long.groupby("unique_id", sort=False).head(k).copy()
    long["weight"] = 1.0 / (long["score"] + 1e-6)
    long["weight"] /= long.groupby("unique_id")["weight"].transform("sum")
    return long[["unique_id", "model", "weight"]].reset_index(drop=True)


def model_labels(weights: pd.DataFrame) -> pd.Series:
    """A readable name of each series' forecast: the model, or ``ensemble:a+b+c`` by weight."""
    ordered = weights.sort_values(["unique_id", "weight"], ascending=[True, False])
    return ordered.groupby("unique_id")["model"].agg(
        lambda m: m.iloc[0] if len(m) == 1 else "ensemble:" + "+".join(m))


def combine(frame: pd.DataFrame, weights: pd.DataFrame,
            level: Sequence[int] = DEFAULT_LEVELS) -> pd.DataFrame:
    """Weighted forecasts of ``frame`` (one column per model): the keys of ``frame`` plus
    ``forecast, lo-80, hi-80, ...`` and ``model``. A member with a NaN forecast is dropped and
    the remaining weights renormalised."""
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
        combined = (values * w_eff).sum(axis=1)
        combined[total[:, 0] == 0] = np.nan
        result[name] = combined
    result["model"] = frame["unique_id"].map(model_labels(weights)).to_numpy()
    return result


def _scores(frame: pd.DataFrame, lvl: int) -> np.ndarray:
    """Error in units of the interval half-width on its side (1 = exactly on the bound)."""
    data = frame[frame["y"].notna() & frame["forecast"].notna()]
    y, f = data["y"].to_numpy(float), data["forecast"].to_numpy(float)
    below = np.maximum(f - data[f"lo-{lvl}"].to_numpy(float), WIDTH_FLOOR)
    above = np.maximum(data[f"hi-{lvl}"].to_numpy(float) - f, WIDTH_FLOOR)
    return np.where(y < f, (f - y) / below, (y - f) / above)


def conformal_factors(backtest: pd.DataFrame,
                      level: Sequence[int] = DEFAULT_LEVELS) -> dict[int, float]:
    """Per level, the factor by which to scale interval half-widths so that ``level``% of the
    backtest points fall inside (the split-conformal quantile, with its finite-sample
    correction). A factor above 1 means the models' own intervals were too narrow."""
    factors: dict[int, float] = {}
    for lvl in level:
        scores = _scores(backtest, lvl)
        if scores.size < 10:
            factors[lvl] = 1.0
            continue
        rank = min(1.0, np.ceil((scores.size + 1) * lvl / 100) / scores.size)
        factors[lvl] = float(np.quantile(scores, rank, method="higher"))
    return {lvl: max(value, WIDTH_FLOOR) for lvl, value in factors.items()}


def calibrate(frame: pd.DataFrame, factors: dict[int, float] | dict[int, np.ndarray],
              nonnegative: bool = True) -> pd.DataFrame:
    """Intervals of ``frame`` rescaled around the forecast by ``factors`` (one per level, or one
    per row); clipped at zero and kept nested (lo-95 <= lo-80 <= forecast <= hi-80 <= hi-95)."""
    out = frame.copy()
    f = out["forecast"].to_numpy(float)
    inner_lo, inner_hi = f, f
    for lvl in sorted(factors):
        lo = f - factors[lvl] * (f - out[f"lo-{lvl}"].to_numpy(float))
        hi = f + factors[lvl] * (out[f"hi-{lvl}"].to_numpy(float) - f)
        lo, hi = np.minimum(lo, inner_lo), np.maximum(hi, inner_hi)
        if nonnegative:
            lo = np.maximum(lo, 0.0)
        out[f"lo-{lvl}"], out[f"hi-{lvl}"] = lo, hi
        inner_lo, inner_hi = lo, hi
    return out


MIN_CLASS_POINTS = 100  # backtest points a class needs for its own conformal factors


def conformal_factors_by_class(backtest: pd.DataFrame, classes: pd.Series,
                               level: Sequence[int] = DEFAULT_LEVELS,
                               min_points: int = MIN_CLASS_POINTS) -> dict[str, dict[int, float]]:
    """Conformal factors per series class (``classes``: class by ``unique_id``), and the pooled
    ones under ``"pooled"``. One pooled factor stretches the bands of smooth series to cover lumpy
    ones (too wide there, too narrow on the lumpy ones); per class each kind gets its own. A
    class with fewer than ``min_points`` scored backtest points takes the pooled factors."""
    out = {"pooled": conformal_factors(backtest, level)}
    label = backtest["unique_id"].map(classes)
    for name, part in backtest.groupby(label, sort=True):
        scored = int((part["y"].notna() & part["forecast"].notna()).sum())
        out[str(name)] = conformal_factors(part, level) if scored >= min_points else out["pooled"]
    return out


def calibrate_by_class(frame: pd.DataFrame, factors: dict[str, dict[int, float]],
                       classes: pd.Series, nonnegative: bool = True) -> pd.DataFrame:
    """:func:`calibrate` with each row's factors taken from its series' class (the pooled ones
    for a class without its own)."""
    label = frame["unique_id"].map(classes).fillna("pooled").to_numpy()
    per_row = {lvl: np.array([factors.get(c, factors["pooled"])[lvl] for c in label], float)
               for lvl in factors["pooled"]}
    return calibrate(frame, per_row, nonnegative)
