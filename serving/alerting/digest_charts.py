"""Small PNG charts for the alert digest: a series' history with its forecast band.

Charts are drawn with matplotlib's object API on an Agg canvas (no pyplot, so no global figure
state and safe in the delivery scheduler's thread). Data comes from the stored series and
forecasts (ARCHITECTURE.md); when forecasts are absent the history is drawn alone.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from core.home import FORECAST_COLUMNS

HISTORY_PERIODS = 36


def _read_rows(path: Path, unique_ids: list[str], columns: list[str]) -> pd.DataFrame | None:
    if not unique_ids or not path.is_file():
        return None
    import pyarrow.parquet as pq

    present = set(pq.read_schema(path).names)
    if not set(columns) <= present:
        return None
    return pd.read_parquet(path, columns=columns, filters=[("unique_id", "in", unique_ids)])


def load_chart_data(series_path: Path, forecasts_path: Path, unique_ids: Iterable[str]
                    ) -> tuple[pd.DataFrame | None, pd.DataFrame | None]:
    """History (`unique_id, ds, y`) and forecasts of the given series; None for a missing file."""
    ids = sorted(set(unique_ids))
    history = _read_rows(series_path, ids, ["unique_id", "ds", "y"])
    forecasts = _read_rows(forecasts_path, ids, FORECAST_COLUMNS[:7])
    return history, forecasts


def render_chart_png(history: pd.DataFrame, forecast: pd.DataFrame | None = None, *,
                     title: str = "", mark_period: str | None = None) -> bytes:
    """A 480x200 px PNG: the last periods of `ds, y`, the forecast and its 80/95% band.

    `mark_period` (e.g. "2024-05") draws a dashed line at the alert's period. Gaps (NaN, not
    reporting) stay gaps in the line.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    hist = history.sort_values("ds").tail(HISTORY_PERIODS)
    fig = Figure(figsize=(4.8, 2.0), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.plot(hist["ds"], hist["y"], color="#1f4e79", linewidth=1.4, label="history")
    if forecast is not None and not forecast.empty:
        fc = forecast.sort_values("ds").drop_duplicates("ds")
        if {"lo_95", "hi_95"} <= set(fc.columns):
            ax.fill_between(fc["ds"], fc["lo_95"], fc["hi_95"], color="#f4a261", alpha=0.25,
                            linewidth=0, label="95%")
        if {"lo_80", "hi_80"} <= set(fc.columns):
            ax.fill_between(fc["ds"], fc["lo_80"], fc["hi_80"], color="#f4a261", alpha=0.45,
                            linewidth=0, label="80%")
        ax.plot(fc["ds"], fc["forecast"], color="#e76f51", linewidth=1.2, linestyle="--",
                label="forecast")
    if mark_period:
        try:
            ax.axvline(pd.Timestamp(mark_period), color="#c0392b", linewidth=0.8,
                       linestyle=":")
        except (ValueError, TypeError):
            pass
    ax.set_title(title, fontsize=9, loc="left")
    ax.tick_params(labelsize=7)
    ax.grid(alpha=0.3, linewidth=0.5)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    fig.autofmt_xdate()
    fig.tight_layout(pad=0.4)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()
