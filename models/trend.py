"""Emerging trends: a sustained rise in the recent periods, judged against the series' own history.

Two conditions, both robust to a one-month outlier:
- a Mann-Kendall test over the last `window` periods (at least `min_valid` reported) finds a
  rising monotone trend, on values whose isolated spikes are first clipped to their neighbours;
  the Theil-Sen slope gives its size;
- the recent observations sit above the expected interval: at least `min_above` of the last
  `recent` reported periods exceed the history's upper bound (median + `k` spreads of the
  `baseline` periods before the window, the spread being the larger of the standard deviation and
  the robust spread), or the forecast's upper 95% bound where a forecast
  made earlier covers that period.
NaN (not reporting) is unknown: it is skipped, never read as a zero.
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
    forecast_upper: np.ndarray | None = None,
) -> pd.DataFrame:
    """Rising trends at the panel's last period.

    `forecast_upper`, optional, has the panel's shape: the upper 95% bound of a forecast made
    before each period (NaN where none); it replaces the history's bound where present.
    Returns one row per testable series: `row`, `z`, `p_value` (one-sided Mann-Kendall), `slope`
    (Theil-Sen, original units per period), `n_above` (of the last `recent` reported periods),
    `expected` (baseline mean, original units), `recent_mean`, `window_start` (column).
    """
    columns = ["row", "z", "p_value", "slope", "n_above", "expected", "recent_mean",
               "window_start"]
    values = panel.values
    n_series, n_periods = values.shape
    start = n_periods - window
    if n_series == 0 or start - min_baseline_valid < 0:
        return pd.DataFrame(columns=columns)
    metric = panel.keys["metric"].to_numpy()
    z_all = stabilise(values, metric)
    hist = z_all[:, max(0, start - baseline):start]
    n_hist = np.sum(~np.isnan(hist), axis=1)
    centre = nan_median(hist, axis=1)
    spread = np.fmax(np.fmax(robust_scale(hist, axis=1), nan_std(hist, axis=1)),
                     scale_floor(metric))
    win = z_all[:, start:]
    n_win = np.sum(~np.isnan(win), axis=1)
    testable = (n_hist >= min_baseline_valid) & (n_win >= min_valid)
    rows = np.flatnonzero(testable)
    if rows.size == 0:
        return pd.DataFrame(columns=columns)

    win = clip_spikes(win[rows], spread[rows])
    s, var, _ = mann_kendall(win)
    with np.errstate(invalid="ignore", divide="ignore"):
        z = np.where(s > 0, (s - 1) / np.sqrt(var), np.where(s < 0, (s + 1) / np.sqrt(var), 0.0))
    z = np.nan_to_num(z)
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
    expected = nan_mean(values[rows, max(0, start - baseline):start], axis=1)
    return pd.DataFrame({
        "row": rows, "z": z, "p_value": stats.norm.sf(z), "slope": slope, "n_above": n_above,
        "expected": expected, "recent_mean": recent_sum / np.maximum(recent_n, 1),
        "window_start": start,
    })[columns]
