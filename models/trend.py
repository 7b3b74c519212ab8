"""Emerging trends: a sustained rise in the recent periods, judged against the series' own history.

Two conditions, both robust to a one-month outlier:
- a ramp test finds the last `window` periods climbing away from the `baseline` periods before
  them: on variance-stabilised values (square root of counts, log of kilograms), each period of
  the window is compared with the baseline mean, weighted by its distance from the window's start
  (the linear contrast most powerful for a steady rise), against the baseline's spread (its
  standard deviation after spikes are clipped, never below a Poisson-like floor). The most extreme
  period of the window is replaced by the next one, so one spike, even in the last period, cannot
  make a trend. The contrast combines the evidence of every recent period in one one-sided test;
  a rise that began anywhere in the second half of the window keeps most of its power (90% or
  more of the best hinge's), without paying for a scan over hinges. Compared with a Mann-Kendall
  test inside the window alone (at most z = 3.3 on 8 periods), the baseline anchors the level,
  which is what makes a trend of a few months visible;
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
    SeriesMatrix,
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


def _past_variance(clipped: np.ndarray, start: int, window: int, baseline: int,
                   min_baseline_valid: int, floor: np.ndarray, n_past: int) -> np.ndarray:
    """The variance of the ramp statistic over each series' own past windows (up to `n_past`
    of them, ending before the current window starts; NaN with fewer than 12)."""
    past = []
    for s in range(max(min_baseline_valid, start - window - n_past + 1), start - window + 1):
        before = clipped[:, max(0, s - baseline):s]
        n_b = np.sum(~np.isnan(before), axis=1)
        post = clipped[:, s:s + window]
        sd = np.fmax(nan_std(before, axis=1), floor)
        z = _ramp_z(post, nan_mean(before, axis=1), sd, np.maximum(n_b, 1))
        ok = (n_b >= min_baseline_valid) & (np.sum(~np.isnan(post), axis=1) >= window - 2)
        past.append(np.where(ok, z, np.nan))
    if len(past) < 12:
        return np.full(clipped.shape[0], np.nan)
    stack = np.column_stack(past)
    return np.where(np.sum(~np.isnan(stack), axis=1) >= 12, nan_std(stack, axis=1) ** 2, np.nan)


def null_scale(past_var: np.ndarray, level: np.ndarray) -> np.ndarray:
    """How much wider than independent noise each series' ramp statistic swings (never below 1).

    Seasonality, slow waves and drift move neighbouring periods together, which a ramp over
    several periods does not average away; high-volume series, whose Poisson noise is small,
    show it most: on the square-root scale the extra variance grows with the level. Each series'
    own past variance (`past_var`, from overlapping windows, so noisy) is averaged with the
    variance the panel predicts for its `level` (1 + c x level, c fitted by least squares over
    all series), so that neither a lucky quiet history nor a lucky busy one decides alone."""
    ok = np.isfinite(past_var) & np.isfinite(level) & (level > 0)
    c = (max(0.0, float(np.sum(level[ok] * (past_var[ok] - 1.0)) / np.sum(level[ok] ** 2)))
         if ok.sum() >= 10 else 0.0)
    predicted = 1.0 + c * np.nan_to_num(level)
    blended = np.where(np.isfinite(past_var), 0.5 * (past_var + predicted), predicted)
    return np.sqrt(np.fmax(blended, 1.0))


def scan_trends(
    panel: SeriesMatrix,
    *,
    window: int = 8,
    min_valid: int = 6,
    baseline: int = 24,
    min_baseline_valid: int = 12,
    recent: int = 3,
    min_above: int = 2,
    k: float = 2.0,
    n_past: int = 36,
    forecast_upper: np.ndarray | None = None,
    season: int = 12,
) -> pd.DataFrame:
    """Rising trends at the panel's last period.

    `forecast_upper`, optional, has the panel's shape: the upper 95% bound of a forecast made
    before each period (NaN where none); it replaces the history's bound where present.
    Returns one row per testable series: `row`, `z` (of the ramp contrast), `p_value`
    (one-sided), `slope` (Theil-Sen over the window, original units per period), `n_above` (of the
    last `recent` reported periods), `expected` (baseline mean, original units), `recent_mean`,
    `window_start` (column), `mk_z` (Mann-Kendall z of the window, as evidence), `last_year`
    (mean of the same periods a year before the last `recent` ones, `season` periods back: a
    seasonal peak is as high as last year's, a trend is not).
    """
    columns = ["row", "z", "p_value", "slope", "n_above", "expected", "recent_mean",
               "window_start", "mk_z", "last_year"]
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
    before = clipped[:, max(0, start - baseline):start]
    sd = np.fmax(nan_std(before, axis=1), floor[rows])
    z = _ramp_z(clipped[:, start:], nan_mean(before, axis=1), sd, n_hist[rows])
    past_var = _past_variance(clipped, start, window, baseline, min_baseline_valid, floor[rows],
                              n_past)
    level = nan_mean(values[rows, max(0, start - baseline):start], axis=1)
    z = z / null_scale(past_var, np.where(metric[rows] == "seizures", level, np.nan))

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
    expected = nan_mean(values[rows, max(0, start - baseline):start], axis=1)
    year_ago = values[rows, max(0, n_periods - recent - season):max(0, n_periods - season)]
    last_year = nan_mean(year_ago, axis=1) if year_ago.shape[1] else np.full(rows.size, np.nan)
    return pd.DataFrame({
        "row": rows, "z": z, "p_value": stats.norm.sf(z), "slope": slope, "n_above": n_above,
        "expected": expected, "recent_mean": recent_sum / np.maximum(recent_n, 1),
        "window_start": start,
        "mk_z": np.nan_to_num(mk_z), "last_year": last_year,
    })[columns]
