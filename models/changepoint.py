"""Surges and declines: sustained level shifts found by a robust two-segment change-point scan.

For every series and every candidate change point in the last `max_lag` periods, the periods
after the change (at least `min_after`, mostly reported) are compared with the `baseline`
periods before it, on variance-stabilised values (square root of counts, log of kilograms):
the shift is the difference of means after isolated one-month spikes and dips are clipped to
their neighbours, scaled by the baseline's robust spread (median absolute deviation), and the
periods after the change must mostly sit beyond the baseline (`persistence`), so a one-month
outlier cannot pass for a level shift. NaN (not reporting) is unknown, never a fall. The best
change point per series gets a p-value, Bonferroni-corrected for the number of candidates, so
the caller can correct across series with Benjamini-Hochberg.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from scipy import stats

from models.panel import Panel, clip_spikes, robust_scale, scale_floor, stabilise


def scan_level_shifts(
    panel: Panel,
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
    more than one robust spread beyond the baseline median, in the shift's direction).
    """
    values = panel.values
    n_series, n_periods = values.shape
    columns = ["row", "direction", "z", "p_value", "change_at", "n_after", "before", "after",
               "persistence"]
    last = n_periods - 1
    candidates = [tau for tau in range(last - max_lag + 1, last - min_after + 2)
                  if tau - min_baseline_valid >= 0]
    if n_series == 0 or not candidates:
        return pd.DataFrame(columns=columns)
    metric = panel.keys["metric"].to_numpy()
    raw_z = stabilise(values, metric)
    floor = scale_floor(metric)
    z_vals = clip_spikes(raw_z, np.fmax(robust_scale(raw_z[:, -baseline - max_lag:], axis=1),
                                        floor))

    best_z = np.zeros(n_series)
    best_tau = np.full(n_series, -1)
    for tau in candidates:
        before = z_vals[:, max(0, tau - baseline):tau]
        after = z_vals[:, tau:]
        n_b = np.sum(~np.isnan(before), axis=1)
        n_a = np.sum(~np.isnan(after), axis=1)
        ok = (n_b >= min_baseline_valid) & (n_a >= min_after) & (
            n_a >= min_after_share * after.shape[1])
        if not ok.any():
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            m_b = np.nanmean(before, axis=1)
            m_a = np.nanmean(after, axis=1)
        spread = np.fmax(robust_scale(before, axis=1), floor)
        with np.errstate(all="ignore"):
            se = spread * np.sqrt(1.0 / n_a + 1.0 / n_b)
            z = np.where(ok, (m_a - m_b) / se, 0.0)
        better = np.abs(z) > np.abs(best_z)
        best_z = np.where(better, z, best_z)
        best_tau = np.where(better, tau, best_tau)

    rows = np.flatnonzero(best_tau >= 0)
    if rows.size == 0:
        return pd.DataFrame(columns=columns)
    out = []
    for i in rows:
        tau = int(best_tau[i])
        before = values[i, max(0, tau - baseline):tau]
        after = values[i, tau:]
        base = raw_z[i, max(0, tau - baseline):tau]
        after_z = raw_z[i, tau:]
        direction = 1 if best_z[i] > 0 else -1
        # beyond the baseline's middle by at least one robust spread
        bar = np.nanmedian(base) + direction * max(float(robust_scale(base[None])[0]),
                                                   float(floor[i]))
        reported = after_z[~np.isnan(after_z)]
        persistence = float(np.mean(direction * (reported - bar) > 0))
        out.append((int(i), direction, float(best_z[i]), tau, int(reported.size),
                    float(np.nanmean(before)), float(np.nanmean(after)), persistence))
    frame = pd.DataFrame(out, columns=[c for c in columns if c != "p_value"])
    frame["p_value"] = np.minimum(1.0, 2 * stats.norm.sf(np.abs(frame["z"])) * len(candidates))
    return frame[columns]
