"""The train stage (`narcotrend train`): fit forecasts for every built series
(:mod:`training.fit`), record the run and register the bundle in MLflow
(:mod:`training.registry`), and write the champion's forecasts to the home."""

from __future__ import annotations

import time
from typing import Any

import pandas as pd

from core.errors import NarcotrendError
from core.home import read_series, write_parquet_atomic
from features.completeness import mask_low_reporting_rows, read_completeness
from training.cleanup import cleaned_up
from training.fit import Progress, fit_forecasts
from training.registry import log_training_run


def load_series(settings: Any) -> pd.DataFrame:
    """The built series of a home, a country's low-reporting periods masked (NaN); a one-line
    error names the missing file and the fix."""
    series = read_series(settings.paths, columns=["unique_id", "ds", "y", "geo_level", "geo"])
    series = mask_low_reporting_rows(series, read_completeness(settings.paths))
    return series[["unique_id", "ds", "y"]]


@cleaned_up("train")
def train(settings: Any, horizon: int | None = None,
          progress: Progress | None = None) -> dict[str, Any]:
    """`narcotrend train`: forecasts for every built series, stored and tracked; the summary
    (run id, registered version, whether it became champion, backtest MASE and coverage,
    number of series and fallbacks)."""
    say = progress or (lambda message: None)
    h = settings.horizon if horizon is None else horizon
    if isinstance(h, bool) or not isinstance(h, int) or h < 1:
        raise NarcotrendError(f"--horizon must be a positive integer, got {h!r}")
    started = time.perf_counter()
    series = load_series(settings)
    say(f"training on {series['unique_id'].nunique():,} series from {settings.series_dir}")
    result = fit_forecasts(series, h, settings.backtest_windows, settings.backtest_step,
                           settings.frequency, n_jobs=settings.n_jobs,
                           dask_scheduler=settings.dask_scheduler, progress=say)
    registered = log_training_run(settings, result, say, series)
    # data/forecasts/forecasts.parquet holds the champion's forecasts (e-mail charts, thresholds
    # and `export forecasts` read it): a candidate that is not promoted is kept beside it
    settings.forecasts_dir.mkdir(parents=True, exist_ok=True)
    champion_path = settings.paths.forecasts
    out_path = champion_path if registered["promoted"] else (
        settings.paths.candidate_forecasts(registered["version"]))
    write_parquet_atomic(result.forecasts, out_path)
    say(f"wrote {len(result.forecasts):,} forecast rows to {out_path}"
        + ("" if registered["promoted"] else f" ({champion_path.name} keeps the champion's)"))
    summary = {
        **registered,
        "mase": result.metrics.get("mase"),
        "coverage_80": result.metrics.get("coverage_80"),
        "coverage_95": result.metrics.get("coverage_95"),
        "n_series": int(result.forecasts["unique_id"].nunique()),
        "n_backtested": int(result.params["n_series_backtested"]),
        "fallbacks": len(result.fallbacks),
        "fallback_ids": sorted(result.fallbacks)[:50],
        "skipped_no_data": len(result.skipped),
        "model_failures": {k: v for k, v in result.model_failures.items() if v},
        "horizon": h,
        "forecasts_path": str(out_path),
        "fit_seconds": round(result.timings["fit_seconds"], 2),
        "seconds": round(time.perf_counter() - started, 2),
    }
    return summary
