"""Alert backtests: detection replayed month by month, each month seeing only the data up to it.

This is how detectors are tuned: the alerts a backtest writes, each with its `detected_at`, are
what an analyst would have received had the system run every month. The series are pivoted once
and cut at each month (`models.panel.slice_matrix`); route flows are cut the same way inside the
detection; nothing computed for a month (aggregate coverage, baselines, tests) reads a later
period. `run_backtest` is the stage behind `narcotrend alerts backtest` and `bench/detect.py`:
the home's series backtested, and scored when an events file is known.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from core.errors import NarcotrendError
from core.settings import Settings
from features.completeness import low_reporting_periods
from training.detection_config import DetectionConfig
from training.detection_engine import detect_matrix, full_matrix, visible_matrix
from training.detection_eval import (
    Geography,
    evaluation_metrics,
    groups_of,
    load_events,
    log_detection_run,
    score_alerts,
)
from training.detection_inputs import build_frequency, check_month, load_completeness, load_inputs


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
    low_reporting: pd.DataFrame | None = None,
) -> list[dict[str, Any]]:
    """Every alert of a monthly detection from `start` to `end` (a monthly build), each with its
    `detected_at`.

    A month after the data's end is not replayed (it would see nothing new).
    """
    return [a for _, found in backtest_batches(series, routes, start, end, config, progress,
                                               low_reporting) for a in found]


def backtest_batches(
    series: pd.DataFrame,
    routes: pd.DataFrame | None,
    start: str,
    end: str,
    config: DetectionConfig | None = None,
    progress: Callable[[str], None] | None = None,
    low_reporting: pd.DataFrame | None = None,
) -> list[tuple[str, list[dict[str, Any]]]]:
    """The same detections as `backtest_alerts`, one `(month, alerts)` batch per month replayed
    (a month without any alert included), in order. `low_reporting`: see `full_matrix`."""
    config = config or DetectionConfig()
    months = backtest_months(start, end)
    full = full_matrix(series, config, low_reporting=low_reporting)
    if full.matrix.n_periods == 0:
        return []
    months = [m for m in months if m <= full.matrix.periods[-1]]
    out: list[tuple[str, list[dict[str, Any]]]] = []
    for k, month in enumerate(months, start=1):
        visible = visible_matrix(full, month, config)
        found = detect_matrix(visible, routes, config)
        out.append((f"{month:%Y-%m}", found))
        if progress is not None:
            progress(f"{month:%Y-%m}: {len(found)} alerts ({k}/{len(months)})")
    return out


def run_backtest(settings: Settings, start: str, end: str, *, events: Path | None = None,
                 progress: Callable[[str], None] | None = None,
                 log_mlflow: bool = True) -> dict[str, Any]:
    """Backtest on the home's built series and routes; scored when an events file is known."""
    start, end = check_month(start, "--start"), check_month(end, "--end")
    if build_frequency(settings) != "MS":
        raise NarcotrendError("`alerts backtest` replays month by month: it needs a monthly "
                              f"build, this home is built {build_frequency(settings)}")
    series, routes = load_inputs(settings)
    config = DetectionConfig.from_settings(settings)
    began = time.perf_counter()
    alerts = backtest_alerts(series, routes, start, end, config, progress=progress,
                             low_reporting=low_reporting_periods(load_completeness(settings)))
    result: dict[str, Any] = {"start": start, "end": end, "config": config.as_params(),
                              "seconds": round(time.perf_counter() - began, 2),
                              "alerts": alerts, "evaluation": None}
    events_file = events or settings.paths.demo_events
    if events is not None and not events.exists():
        raise NarcotrendError(f"the events file {events} does not exist")
    if events_file.exists():
        result["evaluation"] = evaluate_file(settings, alerts, events_file, series, routes,
                                             config, (start, end), log_mlflow=log_mlflow)
    return result


def evaluate_file(settings: Settings, alerts: list[dict], events_file: Path,
                  series: pd.DataFrame, routes: pd.DataFrame | None, config: DetectionConfig,
                  span: tuple[str, str], *, log_mlflow: bool) -> dict[str, Any]:
    """Score alerts against an events file; log scores and detector settings to MLflow."""
    events, distractors = load_events(events_file)
    countries = series.loc[series["geo_level"] == "country", "geo"].unique()
    scores = score_alerts(alerts, events, distractors, Geography.from_countries(countries),
                          groups_of(routes))
    scores["events_file"] = str(events_file)
    if log_mlflow:
        params = {**config.as_params(), "start": span[0], "end": span[1],
                  "events_file": str(events_file)}
        scores["mlflow_run_id"] = log_detection_run(
            settings, f"backtest {span[0]}..{span[1]}", params, evaluation_metrics(scores),
            {"evaluation.json": scores})
    return scores
