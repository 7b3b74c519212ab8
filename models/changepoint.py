"""Surges and declines: sustained level shifts found by a two-segment change-point scan.

For every series and every candidate change point in the last `max_lag` periods, the periods
after the change (at least `min_after`, mostly reported) are compared with the `baseline`
periods before it, on variance-stabilised values (square root of counts, log of kilograms): the
shift is the difference of means after isolated one-month spikes and dips are clipped to their
neighbours and the single most extreme period after the change is replaced by the next one (a
spike in the last period has no neighbour to clip it), scaled by the baseline's spread (the
larger of its standard deviation and its robust spread, never below a Poisson-like floor). The
periods after the change must also mostly sit beyond the baseline (`persistence`), so a one-
month outlier cannot pass for a level shift. NaN (not reporting) is unknown, never a fall. The
best change point per series gets a two-sided p-value (normal for counts, Student's t for
kilograms, whose spread is only estimated), Bonferroni-corrected for the number of candidates,
so the caller can correct across series with Benjamini-Hochberg.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from models.panel import (
    SeriesMatrix,
    clip_spikes,
    nan_mean,
    nan_std,
    robust_scale,
    scale_floor,
    stabilise,
)


def _trimmed_means(after: np.ndarray, n_after: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row means with the largest value replaced by the second largest (for a rise), and with
    the smallest replaced by the second smallest (for a fall): one extreme period, even the
    last one, cannot make a shift on its own. NaN is skipped."""
    total = np.nansum(after, axis=1)
    ordered = np.sort(np.where(np.isnan(after), -np.inf, after), axis=1)  # NaN first, as -inf
    top, second = ordered[:, -1], ordered[:, -2] if after.shape[1] > 1 else ordered[:, -1]
    low_sorted = np.sort(np.where(np.isnan(after), np.inf, after), axis=1)
    bottom = low_sorted[:, 0]
    next_low = low_sorted[:, 1] if after.shape[1] > 1 else bottom
    n = np.maximum(n_after, 1)
    with np.errstate(invalid="ignore"):
        up = np.where(n_after > 1, (total - top + second) / n, np.nan)
        down = np.where(n_after > 1, (total - bottom + next_low) / n, np.nan)
    return up, down


COLUMNS = ["row", "direction", "z", "p_value", "change_at", "n_after", "before", "after",
           "persistence"]


def scan_level_shifts(
    panel: SeriesMatrix,
    *,
    baseline: int = 24,
    max_lag: int = 9,
    min_after: int = 3,
    min_baseline_valid: int = 12,
    min_after_share: float = 0.75,
) -> pd.DataFrame:
    """The strongest level shift per series at the panel's last period.

    Returns one row per testable series: `row` (index into `panel.keys`), `direction` (+1 up,
    -1 down), `z`, `p_value` (two-sided, Bonferroni over candidates), `change_at` (column of the
    first period after the change), `n_after`, `before` and `after` (mean level in original
    units, over reported periods), `persistence` (share of reported periods after the change
    more than one spread beyond the baseline mean, in the shift's direction).
    """
    values = panel.values
    n_series, n_periods = values.shape
    last = n_periods - 1
    candidates = [tau for tau in range(last - max_lag + 1, last - min_after + 2)
                  if tau - min_baseline_valid >= 0]
    if n_series == 0 or not candidates:
        return pd.DataFrame(columns=COLUMNS)
    metric = panel.keys["metric"].to_numpy()
    raw_z = stabilise(values, metric)
    floor = scale_floor(metric)
    recent = raw_z[:, -baseline - max_lag:]
    z_vals = clip_spikes(raw_z, np.fmax(robust_scale(recent, axis=1), floor))

    best = {name: np.zeros(n_series) for name in ("z", "persistence", "n_after", "n_before")}
    best["tau"] = np.full(n_series, -1)
    for tau in candidates:
        before = z_vals[:, max(0, tau - baseline):tau]
        after = z_vals[:, tau:]
        n_b = np.sum(~np.isnan(before), axis=1)
        n_a = np.sum(~np.isnan(after), axis=1)
        ok = (n_b >= min_baseline_valid) & (n_a >= min_after) & (
            n_a >= min_after_share * after.shape[1])
        if not ok.any():
            continue
        m_b = nan_mean(before, axis=1)
        spread = np.fmax(np.fmax(robust_scale(before, axis=1), nan_std(before, axis=1)), floor)
        up_mean, down_mean = _trimmed_means(after, n_a)
        with np.errstate(all="ignore"):
            se = spread * np.sqrt(1.0 / n_a + 1.0 / n_b)
            z_up, z_down = (up_mean - m_b) / se, (down_mean - m_b) / se
        z = np.where(z_up >= -z_down, np.fmax(z_up, 0.0), np.fmin(z_down, 0.0))
        z = np.where(ok, np.nan_to_num(z), 0.0)
        # persistence on the raw values, leaving out the single most extreme period: neither a
        # clipped spike nor a spike in the last period (which has no neighbour to clip it) counts
        sign = np.sign(z)
        raw_after = raw_z[:, tau:]
        with np.errstate(invalid="ignore"):
            beyond = sign[:, None] * (raw_after - (m_b + sign * spread)[:, None]) > 0
        extreme_beyond = np.any(beyond, axis=1)
        persistence = (np.sum(beyond, axis=1) - extreme_beyond) / np.maximum(n_a - 1, 1)
        better = np.abs(z) > np.abs(best["z"])
        for name, value in (("z", z), ("persistence", persistence), ("n_after", n_a),
                            ("n_before", n_b), ("tau", tau)):
            best[name] = np.where(better, value, best[name])

    rows = np.flatnonzero(best["tau"] >= 0)
    if rows.size == 0:
        return pd.DataFrame(columns=COLUMNS)
    tau = best["tau"][rows].astype(int)
    cols = np.arange(n_periods)[None, :]
    before_mask = (cols < tau[:, None]) & (cols >= (tau - baseline)[:, None])
    after_mask = cols >= tau[:, None]
    sub = values[rows]
    z = best["z"][rows]
    # Counts have a known (Poisson) noise floor: normal tail. Kilograms have only the spread
    # estimated from the baseline's few periods: Student's t, heavier-tailed.
    counts = metric[rows] == "seizures"
    tail = np.where(counts, stats.norm.sf(np.abs(z)),
                    stats.t.sf(np.abs(z), np.maximum(best["n_before"][rows] - 1, 1)))
    return pd.DataFrame({
        "row": rows, "direction": np.where(z > 0, 1, -1), "z": z,
        "p_value": np.minimum(1.0, 2 * tail * len(candidates)),
        "change_at": tau, "n_after": best["n_after"][rows].astype(int),
        "before": nan_mean(np.where(before_mask, sub, np.nan), axis=1),
        "after": nan_mean(np.where(after_mask, sub, np.nan), axis=1),
        "persistence": best["persistence"][rows],
    })[COLUMNS]
