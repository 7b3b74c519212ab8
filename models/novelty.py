"""New drugs: a substance or group appearing in a country or region where it had been absent.

A series qualifies when its geography was reporting (other seizures, y = 0) for at least
`min_history` periods without a single seizure of the drug, and then the drug appeared within
the last `window` periods with at least `min_seizures` seizures over at least `min_periods`
reported periods. Only the seizure-count series are read, so each appearance gives one finding;
NaN (not reporting) counts neither as absence nor as presence, and the drug's absence must have
been reported in the `seen_absent` periods just before it appeared: a first sighting right after
a reporting gap or a low-reporting spell (cells read as NaN) is the reports coming back, not
necessarily the drug.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from models.panel import SeriesMatrix


def scan_new_drugs(
    panel: SeriesMatrix,
    *,
    window: int = 6,
    min_history: int = 12,
    min_seizures: float = 5.0,
    min_periods: int = 2,
    seen_absent: int = 0,
) -> pd.DataFrame:
    """Drugs newly present at the panel's last period.

    Returns one row per finding: `row`, `first_seen` (column of the first period with a seizure),
    `total` (seizures since then), `n_present` (periods with a seizure), `history` (reported
    periods of absence before).
    """
    columns = ["row", "first_seen", "total", "n_present", "history"]
    values = panel.values
    n_series, n_periods = values.shape
    if n_series == 0 or n_periods <= min_history:
        return pd.DataFrame(columns=columns)
    counts = panel.keys["metric"].to_numpy() == "seizures"
    present = np.nan_to_num(values) > 0
    any_present = present.any(axis=1)
    first = np.where(any_present, present.argmax(axis=1), n_periods)
    recent_start = n_periods - window
    candidate = counts & any_present & (first >= recent_start)
    rows = np.flatnonzero(candidate)
    if rows.size == 0:
        return pd.DataFrame(columns=columns)
    cols = np.arange(n_periods)
    before = cols[None, :] < first[rows, None]
    after = ~before
    sub = values[rows]
    history = np.sum(before & (sub == 0), axis=1)
    total = np.nansum(np.where(after, sub, 0.0), axis=1)
    n_present = np.sum(after & (np.nan_to_num(sub) > 0), axis=1)
    just_before = before & (cols[None, :] >= first[rows, None] - seen_absent)
    absent_seen = np.sum(just_before & (sub == 0), axis=1) >= np.minimum(
        seen_absent, first[rows])
    keep = ((history >= min_history) & (total >= min_seizures) & (n_present >= min_periods)
            & absent_seen)
    return pd.DataFrame({
        "row": rows[keep], "first_seen": first[rows][keep], "total": total[keep],
        "n_present": n_present[keep], "history": history[keep],
    })[columns]
