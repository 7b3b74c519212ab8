"""Forecast thresholds: a planner's threshold crossed by the upper forecast interval.

Planners set thresholds per series (`unique_id`, or `geo`/`drug`/`metric`) in a small table,
e.g. "alert when cocaine seizures in ESP may exceed 400 kg a month". A threshold is crossed when
the upper bound of the forecast interval (80% by default) reaches it within the horizon: the
risk is plausible, not certain, which is what a planner needs to prepare.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from core.errors import NarcotrendError

THRESHOLD_COLUMNS = ("unique_id", "threshold")


def read_thresholds(path: Path) -> pd.DataFrame:
    """A thresholds table (CSV): `unique_id, threshold[, level]`, or `geo, drug, metric` instead
    of `unique_id`; `level` is 80 or 95 (default 80)."""
    try:
        table = pd.read_csv(path)
    except (OSError, pd.errors.ParserError) as err:
        raise NarcotrendError(f"cannot read the thresholds file {path}: {err}") from None
    if "unique_id" not in table and {"geo", "drug", "metric"} <= set(table.columns):
        table["unique_id"] = table["geo"] + "/" + table["drug"] + "/" + table["metric"]
    missing = [c for c in THRESHOLD_COLUMNS if c not in table.columns]
    if missing:
        raise NarcotrendError(f"the thresholds file {path} lacks the column(s) "
                              f"{', '.join(missing)}; expected unique_id (or geo, drug, metric) "
                              "and threshold")
    if "level" not in table:
        table["level"] = 80
    bad = ~table["level"].isin([80, 95])
    if bad.any():
        raise NarcotrendError(f"`level` in {path} must be 80 or 95, got "
                              f"{table.loc[bad, 'level'].iloc[0]!r}")
    return table[["unique_id", "threshold", "level"]]


def scan_thresholds(forecasts: pd.DataFrame, thresholds: pd.DataFrame,
                    as_of: pd.Timestamp | None = None) -> pd.DataFrame:
    """One row per threshold crossed by the upper interval of a forecast after `as_of`.

    Returns `unique_id, threshold, level, first_ds` (first period crossing), `upper` (the bound
    there), `forecast` (the point forecast there) and `peak_upper` (highest bound in the horizon).
    """
    columns = ["unique_id", "threshold", "level", "first_ds", "upper", "forecast", "peak_upper"]
    if forecasts is None or forecasts.empty or thresholds.empty:
        return pd.DataFrame(columns=columns)
    fc = forecasts if as_of is None else forecasts[forecasts["ds"] > as_of]
    merged = fc.merge(thresholds, on="unique_id")
    if merged.empty:
        return pd.DataFrame(columns=columns)
    merged["upper"] = merged["hi_80"].where(merged["level"] == 80, merged["hi_95"])
    crossed = merged[merged["upper"] >= merged["threshold"]].sort_values("ds")
    if crossed.empty:
        return pd.DataFrame(columns=columns)
    first = crossed.groupby("unique_id", as_index=False).first()
    peak = crossed.groupby("unique_id")["upper"].max().rename("peak_upper")
    first = first.join(peak, on="unique_id").rename(columns={"ds": "first_ds"})
    return first[columns].reset_index(drop=True)
