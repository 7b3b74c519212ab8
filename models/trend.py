"""Emerging trends: a sustained rise in the recent periods, judged against the series' own history.

Two conditions, both robust to a one-month outlier:
- a ramp test finds a rise that started at some period (the hinge) in the last `window` periods:
  on variance-stabilised values (square root of counts, log of kilograms), the Theil-Sen-like
  question "do the periods after the hinge climb away from the `baseline` periods before it?" is
  asked with the linear contrast that is most powerful for a steady rise (each period weighted by
  its distance from the hinge), against the baseline's spread (the larger of its standard
  deviation and its robust spread, never below a Poisson-like floor). The most extreme period
  after the hinge is replaced by the next one, so one spike, even in the last period, cannot make
  a trend; isolated spikes are first clipped to their neighbours. The best hinge gets a one-sided
  p-value, Bonferroni-corrected for the number of hinges tried. Compared with a Mann-Kendall test
  inside the recent window alone, the baseline anchors the level, which is what makes a trend of
  a few months visible;
- the recent observations sit above the expected interval: at least `min_above` of the last
  `recent` reported periods exceed the history's upper bound (median + `k` spreads of the
  `baseline` periods before the window), or the forecast's upper 95% bound where a forecast
  made earlier covers that period.
NaN (not reporting) is unknown: it is skipped, never read as a zero. The Mann-Kendall statistic
and the Theil-Sen slope of the window are reported as evidence.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from models.panel import (
    Panel,
    clip_spikes,
    nan_mean,
    nan_median,
    nan_std,
    robust_scale,
    scale_floor,
    stabilise,
)


def mann_kendall(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Row-wise Mann-Kendall S, its tie-corrected variance and the number of reported values."""
    valid = ~np.isnan(values)
    n = valid.sum(axis=1)
    diff = values[:, None, :] - values[:, :, None]  # diff[r, i, j] = x_j - x_i
    n_t = values.shape[1]
    upper = np.triu(np.ones((n_t, n_t), dtype=bool), k=1)
    pair = valid[:, :, None] & valid[:, None, :] & upper
    s = np.where(pair, np.sign(np.nan_to_num(diff)), 0.0).sum(axis=(1, 2))
    with np.errstate(invalid="ignore"):
        same = (values[:, :, None] == values[:, None, :]) & valid[:, :, None] & valid[:, None, :]
    ties = same.sum(axis=2).astype(float)  # per value: how many share it (itself included)
    tie_term = np.where(valid, (ties - 1) * (2 * ties + 5), 0.0).sum(axis=1)
    var = (n * (n - 1) * (2 * n + 5) - tie_term) / 18.0
    return s, var, n


def theil_sen_slope(values: np.ndarray) -> np.ndarray:
    """Row-wise Theil-Sen slope (median of pairwise slopes per period), NaN-aware."""
    n_t = values.shape[1]
    idx = np.arange(n_t)
    dt = (idx[None, :] - idx[:, None]).astype(float)
    upper = np.triu(np.ones((n_t, n_t), dtype=bool), k=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        slopes = (values[:, None, :] - values[:, :, None]) / dt
    return nan_median(np.where(upper[None], slopes, np.nan).reshape(len(values), -1), axis=1)


def _ramp_z(post: np.ndarray, mean: np.ndarray, spread: np.ndarray,
            n_base: np.ndarray) -> np.ndarray:
    """Row-wise z of a linear rise of `post` (periods after a hinge, NaN skipped) away from a
    baseline `mean` estimated on `n_base` periods with noise `spread`; the largest residual is
    replaced by the second largest first."""
    x = np.arange(1, post.shape[1] + 1, dtype=float)[None, :]
    resid = post - mean[:, None]
    valid = ~np.isnan(resid)
    if post.shape[1] > 1:
        ordered = np.sort(np.where(valid, resid, -np.inf), axis=1)
        top, second = ordered[:, -1:], ordered[:, -2:-1]
        is_top = valid & (resid == top) & np.isfinite(second)
        first_top = is_top & (np.cumsum(is_top, axis=1) == 1)
        resid = np.where(first_top, second, resid)
    xv = np.where(valid, x, 0.0)
    sxx, sx = np.sum(xv ** 2, axis=1), np.sum(xv, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        beta = np.nansum(np.where(valid, x * resid, 0.0), axis=1) / sxx
        var = spread ** 2 * (1.0 / sxx + (sx / sxx) ** 2 / n_base)
        return np.nan_to_num(beta / np.sqrt(var))


def scan_trends(
    panel: Panel,
    *,
    window: int = 8,
    min_valid: int = 6,
    baseline: int = 24,
    min_baseline_valid: int = 12,
    recent: int = 3,
    min_above: int = 2,
    k: float = 2.0,
    min_after: int = 3,
    forecast_upper: np.ndarray | None = None,
) -> pd.DataFrame:
    """Rising trends at the panel's last period.

    Hinges are tried from `window` periods back to `min_after` periods back (a hinge needs at
    least three quarters of its later periods reported and `min_baseline_valid` baseline periods).
    `forecast_upper`, optional, has the panel's shape: the upper 95% bound of a forecast made
    before each period (NaN where none); it replaces the history's bound where present.
    Returns one row per testable series: `row`, `z` (of the best hinge), `p_value` (one-sided,
    Bonferroni over hinges), `slope` (Theil-Sen over the window, original units per period),
    `n_above` (of the last `recent` reported periods), `expected` (baseline mean before the
    hinge, original units), `recent_mean`, `window_start` (column of the hinge), `mk_z`
    (Mann-Kendall z of the window).
    """
    columns = ["row", "z", "p_value", "slope", "n_above", "expected", "recent_mean",
               "window_start", "mk_z"]
    values = panel.values
    n_series, n_periods = values.shape
    start = n_periods - window
    if n_series == 0 or start - min_baseline_valid < 0:
        return pd.DataFrame(columns=columns)
    metric = panel.keys["metric"].to_numpy()
    z_all = stabilise(values, metric)
    floor = scale_floor(metric)
    hist = z_all[:, max(0, start - baseline):start]
    n_hist = np.sum(~np.isnan(hist), axis=1)
    centre = nan_median(hist, axis=1)
    spread = np.fmax(np.fmax(robust_scale(hist, axis=1), nan_std(hist, axis=1)), floor)
    win = z_all[:, start:]
    n_win = np.sum(~np.isnan(win), axis=1)
    testable = (n_hist >= min_baseline_valid) & (n_win >= min_valid)
    rows = np.flatnonzero(testable)
    if rows.size == 0:
        return pd.DataFrame(columns=columns)

    clipped = clip_spikes(z_all[rows], spread[rows])
    hinges = [h for h in range(start, n_periods - min_after + 1) if h - min_baseline_valid >= 0]
    best_z = np.zeros(rows.size)
    best_h = np.full(rows.size, start)
    for h in hinges:
        before = clipped[:, max(0, h - baseline):h]
        post = clipped[:, h:]
        n_b = np.sum(~np.isnan(before), axis=1)
        n_a = np.sum(~np.isnan(post), axis=1)
        ok = (n_b >= min_baseline_valid) & (n_a >= max(min_after, 0.75 * post.shape[1]))
        sd = np.fmax(np.fmax(robust_scale(before, axis=1), nan_std(before, axis=1)), floor[rows])
        z = np.where(ok, _ramp_z(post, nan_mean(before, axis=1), sd, np.maximum(n_b, 1)), 0.0)
        better = z > best_z
        best_z = np.where(better, z, best_z)
        best_h = np.where(better, h, best_h)

    s, var, _ = mann_kendall(clip_spikes(win[rows], spread[rows]))
    with np.errstate(invalid="ignore", divide="ignore"):
        mk_z = np.where(s > 0, (s - 1) / np.sqrt(var), np.where(s < 0, (s + 1) / np.sqrt(var), 0.0))
    upper = (centre + k * spread)[rows, None] * np.ones((1, window))
    if forecast_upper is not None:
        fc = stabilise(forecast_upper[rows, start:], metric[rows])
        upper = np.where(np.isnan(fc), upper, fc)
    raw_win = z_all[rows, start:]
    n_above = np.zeros(rows.size, dtype=int)
    recent_sum = np.zeros(rows.size)
    recent_n = np.zeros(rows.size, dtype=int)
    # walk back over the last reported periods of each row, at most `recent` of them
    for j in range(window - 1, -1, -1):
        col = raw_win[:, j]
        take = ~np.isnan(col) & (recent_n < recent)
        n_above += (take & (col > upper[:, j])).astype(int)
        recent_sum += np.where(take, values[rows, start + j], 0.0)
        recent_n += take.astype(int)
    slope = theil_sen_slope(values[rows, start:])
    cols = np.arange(n_periods)[None, :]
    before_mask = (cols < best_h[:, None]) & (cols >= (best_h - baseline)[:, None])
    expected = nan_mean(np.where(before_mask, values[rows], np.nan), axis=1)
    return pd.DataFrame({
        "row": rows, "z": best_z,
        "p_value": np.minimum(1.0, max(len(hinges), 1) * stats.norm.sf(best_z)),
        "slope": slope, "n_above": n_above, "expected": expected,
        "recent_mean": recent_sum / np.maximum(recent_n, 1), "window_start": best_h,
        "mk_z": np.nan_to_num(mk_z),
    })[columns]
