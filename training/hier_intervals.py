"""Intervals of reconciled aggregates, built from their countries (or areas, or substances).

A region's own interval says nothing about the sum of its countries' reconciled forecasts: shifted
to the bottom-up point it covered 41% at 80% on IDS (the world 22%). So an aggregate's interval
is the spread of the sum of its bottoms, by sampling:

- each bottom's predictive distribution at a period is its own calibrated band read as quantiles
  (``lo_95, lo_80, point, hi_80, hi_95`` at 2.5, 10, 50, 90, 97.5%; linear in normal scores in
  between, the tails continued with the outer segment's slope, never below zero);
- their dependence is the backtest's: the error vectors of one backtest period across all bottoms
  of the tree are resampled whole (as ranks: an empirical copula, the idea of PERMBU, Taieb et al.
  2017), so countries that miss together in the backtest miss together in the samples. Ranks are
  jittered within their step so 30 backtest periods do not give 30 distinct sums only. A bottom
  with no backtest error in the drawn period (a gap, or a month masked for low reporting) is
  drawn independently, never read as a zero error;
- a sample sums only the bottoms that reported in its drawn backtest period (an aggregate is the
  sum of the countries that report), up the tree (``S``); the aggregate's band is the sample
  quantiles, kept around the reconciled point (lo <= point <= hi), nested, >= 0;
- then each tree level's bands are widened or narrowed by one split-conformal factor per
  interval level, from the same construction on the backtest windows (:func:`calibrate_levels`).
  The factor is measured like for like, on the newest windows with the bottoms' bands
  calibrated on those windows; the served bottoms' bands are also widened by the older windows
  (training.selection.wider_quantiles), and that widening reaches the aggregates through the
  sampled sums. Measured on CBP: calibrating the factor on the served (widened) bottoms
  instead took the nationwide and CBP-region 80% coverage from 0.84 / 0.85 to 0.75 / 0.78,
  the newest windows' calm without the older windows' drug-wide moves.

hierarchicalforecast's own ``PERMBU`` (version installed here) is the same idea with normal
marginals (from ``sigmah``, a standard deviation per node and period) and its copula from
in-sample fitted values of every node; ``Bootstrap`` and ``Normality`` also start from in-sample
residuals of the base models. The project has backtest forecasts, not in-sample fits, and its
countries' bands are per-class conformal, often asymmetric and clipped at zero (lumpy series),
so the marginals here are those bands themselves and the copula the backtest's.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy.special import ndtri

from models.base import tidy_bands
from training.selection import conformal_factor, half_width_scores

N_SAMPLES = 500


def moved_bands(point: np.ndarray, base: np.ndarray,
                bands: dict[int, tuple[np.ndarray, np.ndarray]]
                ) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """A bottom's bands once reconciliation moved its forecast from ``base`` to ``point``: its
    own calibrated band and that band moved with the point, together (the move comes from what
    other series said, which is not certain either: a band moved down alone lost the bottoms'
    calibrated coverage, 0.81 -> 0.71 on CBP's intermittent areas); a missing (NaN) band gets
    the next inner one; clipped at zero and nested."""
    delta = point - base
    raw = {}
    for lvl, (own_lo, own_hi) in bands.items():
        lo, hi = np.minimum(own_lo, own_lo + delta), np.maximum(own_hi, own_hi + delta)
        raw[lvl] = (np.where(np.isnan(lo), np.inf, lo), np.where(np.isnan(hi), -np.inf, hi))
    return tidy_bands(point, raw, True)[1]


def quantile_knots(point: np.ndarray, bands: dict[int, tuple[np.ndarray, np.ndarray]]
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Probabilities (k,) and values (..., k) of each forecast's quantile function from its point
    and nested bands; values made non-decreasing (NaN bands collapse onto the point)."""
    probs, cols = [0.5], [point]
    for lvl in sorted(bands):
        lo, hi = bands[lvl]
        tail = (1 - lvl / 100) / 2
        probs = [tail, *probs, 1 - tail]
        cols = [np.where(np.isnan(lo), point, lo), *cols, np.where(np.isnan(hi), point, hi)]
    values = np.maximum.accumulate(np.stack(cols, axis=-1), axis=-1)
    return np.array(probs), values


def _ranks(residuals: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Per row, the rank of each residual among the row's known ones as a probability in (0, 1),
    jittered within its step (ties broken at random); NaN stays NaN."""
    out = np.full(residuals.shape, np.nan)
    for i, row in enumerate(residuals):
        known = np.flatnonzero(~np.isnan(row))
        if known.size == 0:
            continue
        noise = rng.random(known.size)
        order = np.lexsort((noise, row[known]))
        rank = np.empty(known.size)
        rank[order] = np.arange(known.size)
        out[i, known] = rank
    return out


def sample_uniforms(residuals: np.ndarray | None, reported: np.ndarray | None, n_bottom: int,
                    n_samples: int, rng: np.random.Generator, ranks: np.ndarray | None = None
                    ) -> tuple[np.ndarray, np.ndarray]:
    """(n_bottom, n_samples) probabilities with the backtest's dependence: whole columns of
    ``residuals`` (bottoms x backtest points) drawn with replacement, as jittered ranks; bottoms
    without an error in a drawn column, or no residuals at all, independent uniforms. And which
    bottoms report in each sample: those that reported in the drawn column (``reported``,
    bottoms x backtest points; all of them without it)."""
    fresh = rng.random((n_bottom, n_samples))
    if residuals is None or residuals.size == 0:
        return fresh, np.ones((n_bottom, n_samples), dtype=bool)
    ranks = _ranks(residuals, rng) if ranks is None else ranks
    counts = np.sum(~np.isnan(residuals), axis=1, keepdims=True).astype(float)
    columns = rng.integers(0, residuals.shape[1], n_samples)
    drawn = ranks[:, columns]
    u = (drawn + rng.random(drawn.shape)) / np.where(counts > 0, counts, 1.0)
    included = (np.ones((n_bottom, n_samples), dtype=bool) if reported is None
                else reported[:, columns])
    return np.where(np.isnan(drawn), fresh, u), included


def inverse_quantile(u: np.ndarray, probs: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Values at probabilities ``u`` (n, s) of n quantile functions (values (n, k) at
    ``probs``), interpolated linearly in normal scores (exact for a normal forecast, whose bands
    are what most models give; linear in probability would widen every bottom by ~10%), the
    outer segments continued beyond the outer knots; never below zero."""
    n, k = values.shape
    z_knots = ndtri(probs)
    z = ndtri(np.clip(u, 1e-6, 1 - 1e-6))
    idx = np.clip(np.searchsorted(z_knots, z, side="right") - 1, 0, k - 2)
    z0, z1 = z_knots[idx], z_knots[idx + 1]
    rows = np.arange(n)[:, None]
    v0, v1 = values[rows, idx], values[rows, idx + 1]
    out = v0 + (v1 - v0) * (z - z0) / (z1 - z0)
    return np.maximum(out, 0.0)


def aggregate_bands(S_agg: np.ndarray, point_agg: np.ndarray, point_bottom: np.ndarray,
                    bands_bottom: dict[int, tuple[np.ndarray, np.ndarray]],
                    residuals: np.ndarray | None, levels: Sequence[int],
                    reported: np.ndarray | None = None,
                    n_samples: int = N_SAMPLES, seed: int = 0
                    ) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """Bands (per level: lo, hi of shape aggregates x periods) of the aggregates ``S_agg @
    bottoms`` from samples of the bottoms (their bands, the backtest's dependence); with
    ``reported`` (bottoms x backtest points) a sample sums only the bottoms that reported in
    its backtest period, as an aggregate is the sum of the countries that report."""
    rng = np.random.default_rng(seed)
    n_agg, periods = point_agg.shape
    probs, values = quantile_knots(point_bottom, bands_bottom)  # (n_b, T, k)
    tails = sorted({(1 - lvl / 100) / 2 for lvl in levels})
    qs = np.array(tails + [1 - t for t in tails])
    low = {lvl: np.empty((n_agg, periods)) for lvl in levels}
    high = {lvl: np.empty((n_agg, periods)) for lvl in levels}
    ranks = None if residuals is None or residuals.size == 0 else _ranks(residuals, rng)
    for t in range(periods):
        u, included = sample_uniforms(residuals, reported, S_agg.shape[1], n_samples, rng,
                                      ranks)
        sums = S_agg @ (inverse_quantile(u, probs, values[:, t, :]) * included)
        quant = np.quantile(sums, qs, axis=1)  # (len(qs), n_agg)
        for lvl in levels:
            tail = (1 - lvl / 100) / 2
            low[lvl][:, t] = quant[tails.index(tail)]
            high[lvl][:, t] = quant[len(tails) + tails.index(tail)]
    return tidy_bands(point_agg, {lvl: (low[lvl], high[lvl]) for lvl in levels}, True)[1]


def stacked(parts: list[pd.DataFrame]) -> pd.DataFrame:
    """The non-empty ``parts`` one under the other (an empty frame when none is)."""
    full = [p for p in parts if len(p)]
    return pd.concat(full, ignore_index=True) if full else pd.DataFrame()


def calibrate_levels(pieces: list[pd.DataFrame], calibration: pd.DataFrame,
                     level_of: dict[str, str], scale: pd.Series, levels: Sequence[int]
                     ) -> tuple[list[pd.DataFrame], dict[str, dict[int, float]]]:
    """The reconciled forecasts (``pieces``, ``lo_80`` ... columns) with each aggregate's band
    rescaled around its point by its tree level's split-conformal factor on the backtest
    (``calibration``: the aggregates' backtest points with their sampled bands, :func:`stacked`
    from the trees'); bottoms keep
    their own calibrated bands. A half-width is floored at ``WIDTH_FLOOR`` x the series' MASE
    scale (``scale``) before both: a near-zero band (every bottom forecast 0 with a band of
    ~0) that misses would otherwise make the factor of every band absurd (10^8 on the built-in
    world), and stays too narrow whatever factor it gets. The factors per level."""
    frame = calibration.assign(scale=calibration["unique_id"].map(scale).fillna(1.0).to_numpy(
        float)) if len(calibration) else calibration
    factors = {str(name): _level_factors(part, levels)
               for name, part in frame.groupby("level")} if len(frame) else {}
    out = []
    for piece in pieces:
        piece = piece.copy()
        level = piece["unique_id"].map(level_of)
        floor = WIDTH_FLOOR * piece["unique_id"].map(scale).fillna(1.0).to_numpy(float)
        f = piece["forecast"].to_numpy(float)
        for name, per_level in factors.items():
            rows = (level == name).to_numpy()
            raw = {}
            for lvl in levels:
                below, above = _half_widths(piece.loc[rows], f"_{lvl}", floor[rows])
                raw[lvl] = (f[rows] - per_level[lvl] * below, f[rows] + per_level[lvl] * above)
            for lvl, (lo, hi) in tidy_bands(f[rows], raw, True)[1].items():
                piece.loc[rows, f"lo_{lvl}"], piece.loc[rows, f"hi_{lvl}"] = lo, hi
        out.append(piece)
    return out, {k: {lvl: round(float(f), 4) for lvl, f in v.items()}
                 for k, v in factors.items()}


WIDTH_FLOOR = 0.1  # of the series' MASE scale: the narrowest half-width calibrated on


def _half_widths(frame: pd.DataFrame, suffix: str, floor: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray]:
    f = frame["forecast"].to_numpy(float)
    below = np.maximum(f - frame[f"lo{suffix}"].to_numpy(float), floor)
    above = np.maximum(frame[f"hi{suffix}"].to_numpy(float) - f, floor)
    return below, above


def _level_factors(frame: pd.DataFrame, levels: Sequence[int]) -> dict[int, float]:
    """Per interval level, the split-conformal factor (training.selection.conformal_factor) of
    the error in units of the half-width on its side, floored at ``WIDTH_FLOOR`` x the scale."""
    floor = WIDTH_FLOOR * frame["scale"].to_numpy(float)
    return {lvl: conformal_factor(half_width_scores(frame, lvl, floor), lvl) for lvl in levels}


def coverage_by_level(calibration: pd.DataFrame, levels: Sequence[int]
                      ) -> dict[str, dict[str, float]]:
    """Backtest coverage of the aggregates' sampled bands per tree level, before the level's
    calibration (what the sampling alone achieves), and the number of points."""
    out: dict[str, dict[str, float]] = {}
    if calibration.empty:
        return out
    frame = calibration[calibration["y"].notna()]
    for name, part in frame.groupby("level"):
        row = {f"coverage_{lvl}": round(float(((part["y"] >= part[f"lo-{lvl}"])
                                               & (part["y"] <= part[f"hi-{lvl}"])).mean()), 4)
               for lvl in levels}
        out[str(name)] = {**row, "n_points": len(part)}
    return out
