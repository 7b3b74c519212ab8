"""What detection reads from a home: the built series and route flows, the build's frequency
(from its manifest), the planners' thresholds, and periods given on the command line."""

from __future__ import annotations

import json

import pandas as pd

from core.errors import NarcotrendError
from core.home import read_series
from core.settings import Settings
from features.series import FREQUENCIES
from models.panel import label_period, period_label, to_period_start
from models.threshold import read_thresholds

#: How a period is written at each build frequency (for error messages).
PERIOD_EXAMPLES: dict[str, str] = {"MS": "a month like 2024-05",
                                   "W-MON": "a week like 2024-W19 (or a month or a date)",
                                   "YS": "a year like 2024"}


def check_month(value: str | None, name: str = "--as-of") -> str | None:
    """`YYYY-MM` checked (None passes)."""
    if value is None:
        return None
    try:
        return pd.Period(value, "M").strftime("%Y-%m")
    except (ValueError, TypeError):
        raise NarcotrendError(f"`{name}` must be a month like 2024-05, got {value!r}") from None


def check_period(value: str | None, freq: str, name: str = "--as-of") -> str | None:
    """A period at the build's frequency, as its label (`2024-05`, `2024-W19`, `2024`): a label,
    or a month or date inside the period (None passes)."""
    if value is None:
        return None
    try:
        return period_label(to_period_start(value, freq), freq)
    except (ValueError, TypeError):
        raise NarcotrendError(f"`{name}` must be {PERIOD_EXAMPLES[freq]}, got {value!r}") from None


def periods_between(start: str, end: str) -> int:
    """Periods from label `start` to label `end` (same frequency), negative when `end` is
    earlier."""
    return int(label_period(end).ordinal - label_period(start).ordinal)


def build_frequency(settings: Settings) -> str:
    """The frequency the home's series were built at (`build.json`), else the configured one."""
    path = settings.paths.build_manifest
    if path.exists():
        try:
            freq = json.loads(path.read_text()).get("freq")
        except (OSError, json.JSONDecodeError):
            freq = None
        if freq in FREQUENCIES:
            return str(freq)
    return settings.frequency


def load_inputs(settings: Settings) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """The built series and route flows of the home."""
    series = read_series(settings.paths)
    routes = (pd.read_parquet(settings.paths.routes) if settings.paths.routes.exists()
              else None)
    return series, routes


def load_completeness(settings: Settings) -> pd.DataFrame | None:
    """Reporting completeness per country and period (`build` writes it; None for a home built
    before it did)."""
    path = settings.paths.completeness
    return pd.read_parquet(path) if path.exists() else None


def load_forecasts(settings: Settings) -> pd.DataFrame | None:
    """The champion's forecasts, when training wrote them."""
    path = settings.paths.forecasts
    return pd.read_parquet(path) if path.exists() else None


def load_thresholds(settings: Settings) -> pd.DataFrame | None:
    """The planners' thresholds: the configured file, else the home's
    `data/reference/thresholds.csv` if present."""
    configured = settings.alert_thresholds_file
    path = configured or settings.paths.thresholds
    if not path.exists():
        if configured:
            raise NarcotrendError(f"the thresholds file {path} (NARCOTREND_ALERT_THRESHOLDS_FILE)"
                                  " does not exist")
        return None
    return read_thresholds(path)
