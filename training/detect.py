"""The detect stage (`narcotrend detect`): read the home's built series, route flows, forecasts
and thresholds, detect as of one period at the build's frequency, log the run to MLflow, and
return the alerts (and, with `since`, the replay's per-month batches).

Storing the alerts in the service database is serving's work
(`serving.alerting.detection.detect_and_store`): this stage never opens it. The engine is
`training.detection_engine`, its settings `training.detection_config`, findings -> alerts
`training.detection_alerts`.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import pandas as pd

from core.errors import NarcotrendError
from core.settings import Settings
from features.completeness import low_reporting_periods
from models.panel import label_frequency, period_label, to_period_start
from training.alert_backtest import backtest_batches
from training.detection_config import PERIOD_UNITS, DetectionConfig, DetectionPeriods
from training.detection_engine import detect_frame
from training.detection_eval import log_detection_run
from training.detection_inputs import (
    build_frequency,
    check_month,
    check_period,
    load_completeness,
    load_forecasts,
    load_inputs,
    load_thresholds,
    periods_between,
)
from training.detection_notices import reporting_notices

Batch = tuple[str, list[dict[str, Any]]]
FREQUENCY_WORDS = {"MS": "monthly", "W-MON": "weekly", "YS": "yearly"}


def detect(settings: Settings, as_of: str | None = None, *, since: str | None = None,
           stored_up_to: str | None = None, progress: Callable[[str], None] | None = None,
           log_mlflow: bool = True) -> dict[str, Any]:
    """Alerts as of `as_of` (a period of the build: `YYYY-MM`, `YYYY-Www`, `YYYY`; default its
    last period), at the build's frequency.

    With `since` (monthly builds only), detection is first replayed month by month from `since`
    to the month before, each month seeing only data up to it: the result's `batches` are those
    months' alerts, in order, for the store to take as monthly runs would have left it.
    `stored_up_to`, the latest period the alert store holds, refuses a run that would write
    older detections (`alerts backtest`, or a fresh home, is for looking at the past).

    Returns `detected_at`, `freq`, `alerts`, `batches`, `replayed` (months), `skipped` (alert
    types this build cannot detect -> why), `notices` (`reporting_change` data-quality notices),
    `by_type`, `by_severity`, `seconds`, and `mlflow_run_id` when logged.
    """
    say = progress or (lambda message: None)
    started = time.perf_counter()
    freq = build_frequency(settings)
    as_of = check_period(as_of, freq)
    since = check_month(since, "--since")
    series, routes = load_inputs(settings)
    first, last_built = series["ds"].min(), series["ds"].max()
    if as_of is not None and pd.Timestamp(to_period_start(as_of, freq)) < first:
        raise NarcotrendError(f"`--as-of` {as_of} is before the first period of the series "
                              f"({period_label(first, freq)})")
    if since and freq != "MS":
        raise NarcotrendError("`--since` replays month by month: it needs a monthly build "
                              f"(`narcotrend build --freq MS`), this home is built {freq}")
    last = last_built if as_of is None else min(last_built, to_period_start(as_of, freq))
    detected_at = period_label(last, freq)
    _check_not_before(stored_up_to, since or detected_at)
    config = DetectionConfig.from_settings(settings)
    periods = DetectionPeriods.of(config, freq)
    completeness = load_completeness(settings)
    low = low_reporting_periods(completeness)
    batches = _replay(series, routes, since, detected_at, config, say, low) if since else []
    say(f"detecting on {series['unique_id'].nunique():,} series ({PERIOD_UNITS[freq]})"
        + (f" as of {as_of}" if as_of else ""))
    alerts = detect_frame(series, routes, as_of, forecasts=load_forecasts(settings),
                          config=config, thresholds=load_thresholds(settings), freq=freq,
                          low_reporting=low)
    result: dict[str, Any] = {
        "detected_at": detected_at, "freq": freq, "unit": PERIOD_UNITS[freq],
        "alerts": alerts, "batches": batches, "replayed": len(batches),
        "skipped": periods.skipped,
        "notices": reporting_notices(completeness, series, last, freq,
                                     resolve_after=settings.alert_resolve_after_periods),
        "by_type": dict(Counter(a["type"] for a in alerts)),
        "by_severity": dict(Counter(a["severity"] for a in alerts)),
        "seconds": round(time.perf_counter() - started, 2),
    }
    if log_mlflow:
        result["mlflow_run_id"] = log_detection_run(
            settings, f"detect {detected_at}", {**config.as_params(), "freq": freq},
            {"alerts": len(alerts), "replayed": len(batches),
             **{f"alerts_{k}": v for k, v in result["by_type"].items()}},
            {"alerts.json": {"alerts": alerts}})
    return result


def skipped_summary(skipped: dict[str, str]) -> str:
    """`skipped on a yearly build: emerging_trend (needs ...), ...`, or empty."""
    if not skipped:
        return ""
    return "skipped on a yearly build: " + ", ".join(f"{t} ({why})" for t, why in skipped.items())


def _check_not_before(stored_up_to: str | None, first_period: str) -> None:
    """Refuse to write detections older than those already stored: the store is the present
    state of periodic runs, and an older run would leave alerts of two dates side by side."""
    if stored_up_to is None:
        return
    stored, run = label_frequency(stored_up_to), label_frequency(first_period)
    if stored != run:
        raise NarcotrendError(
            f"the alert store holds {FREQUENCY_WORDS[stored]} detections (up to {stored_up_to}) "
            f"and this home is now built {FREQUENCY_WORDS[run]}: alerts of two frequencies "
            "cannot share one store. Rebuild at the earlier frequency, or use another "
            "NARCOTREND_HOME")
    if periods_between(stored_up_to, first_period) < 0:
        raise NarcotrendError(
            f"the alert store already holds detections up to {stored_up_to}; detecting from "
            f"{first_period} would mix two dates. Use `narcotrend alerts backtest` to look at the "
            "past, or another NARCOTREND_HOME")


def _replay(series: pd.DataFrame, routes: pd.DataFrame | None, since: str, detected_at: str,
            config: DetectionConfig, say: Callable[[str], None],
            low: pd.DataFrame | None = None) -> list[Batch]:
    """Monthly detections from `since` up to the month before `detected_at`, one batch a month
    (empty months included: absence counts towards resolving)."""
    end = pd.Period(detected_at, "M") - 1
    start = pd.Period(since, "M")
    if start > end:
        raise NarcotrendError(f"`--since` {since} must be before the detection month "
                              f"({detected_at})")
    say(f"replaying monthly detection from {start} to {end}")
    found = dict(backtest_batches(series, routes, str(start), str(end), config,
                                  low_reporting=low))
    return [(str(m), found.get(str(m), [])) for m in pd.period_range(start, end)]
