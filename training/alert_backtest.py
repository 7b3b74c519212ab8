"""Alert backtests: detection replayed month by month, each month seeing only the data up to it.

This is how detectors are tuned: the alerts a backtest writes, each with its `detected_at`, are
what an analyst would have received had the system run every month. The series are pivoted once
and cut at each month (`models.panel.slice_panel`); route flows are cut the same way inside the
detection; nothing computed for a month (aggregate coverage, baselines, tests) reads a later
period.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd

from core.errors import NarcotrendError
from training.detect import DetectionConfig, detect_panel, full_panel, visible_panel


def backtest_months(start: str, end: str) -> list[pd.Timestamp]:
    """Month starts from `start` to `end` inclusive (`YYYY-MM`), checked."""
    try:
        first, last = pd.Period(start, "M"), pd.Period(end, "M")
    except (ValueError, TypeError):
        raise NarcotrendError(f"`--start`/`--end` must be months like 2024-05, got {start!r} and "
                              f"{end!r}") from None
    if last < first:
        raise NarcotrendError(f"`--end` ({end}) is before `--start` ({start})")
    return list(pd.period_range(first, last, freq="M").to_timestamp())


def backtest_alerts(
    series: pd.DataFrame,
    routes: pd.DataFrame | None,
    start: str,
    end: str,
    config: DetectionConfig | None = None,
    progress: Callable[[str], None] | None = None,
) -> list[dict[str, Any]]:
    """Every alert of a monthly detection from `start` to `end`, each with its `detected_at`.

    A month after the data's end is not replayed (it would see nothing new).
    """
    config = config or DetectionConfig()
    months = backtest_months(start, end)
    panel, subregions = full_panel(series, config)
    if panel.n_periods == 0:
        return []
    months = [m for m in months if m <= panel.periods[-1]]
    out: list[dict[str, Any]] = []
    for k, month in enumerate(months, start=1):
        visible = visible_panel(panel, month, subregions, config)
        found = detect_panel(visible, routes, config)
        out.extend(found)
        if progress is not None:
            progress(f"{month:%Y-%m}: {len(found)} alerts ({k}/{len(months)})")
    return out
