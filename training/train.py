"""The train stage (`narcotrend train`): fit forecasts for every built series
(:mod:`training.fit`), record the run and register the bundle in MLflow
(:mod:`training.registry`), and write the champion's forecasts to the home."""

from __future__ import annotations

import time
from typing import Any

import pandas as pd
import pyarrow.parquet as pq

from core.errors import NarcotrendError
from core.home import read_series, write_parquet_atomic
from core.settings import Settings
from features.completeness import mask_low_reporting_rows, read_completeness
from models.base import season_length_for, to_panel
from training.cleanup import cleaned_up
from training.fit import Progress, TrainingResult, fit_forecasts
from training.metrics import series_scales
from training.reconcile import HIERARCHY_COLUMNS, reconcile_forecasts
from training.registry import log_training_run
from training.selection import count_floor


def load_series(settings: Settings) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The built series of a home (with each series' ``geo_level``, which bands are calibrated
    per), a country's low-reporting periods masked (NaN), and the rows so masked with their
    values before masking (reconciliation takes a masked country's partial report out of its
    aggregates); a one-line error names the missing file and the fix."""
    series = read_series(settings.paths, columns=["unique_id", "ds", "y", "geo_level", "geo"])
    masked = mask_low_reporting_rows(series, read_completeness(settings.paths))
    partial = series.loc[masked["y"].isna() & series["y"].notna(), ["unique_id", "ds", "y"]]
    return masked[["unique_id", "ds", "y", "geo_level"]], partial


def load_hierarchy(settings: Settings) -> pd.DataFrame | None:
    """The geography and drug of each built series (one row per id), or None for a series
    file without them (older homes, the bench's plain frames)."""
    if not set(HIERARCHY_COLUMNS) <= set(pq.read_schema(settings.paths.series).names):
        return None
    return read_series(settings.paths, columns=HIERARCHY_COLUMNS).drop_duplicates("unique_id")


def reconcile(result: TrainingResult, series: pd.DataFrame, hierarchy: pd.DataFrame | None,
              say: Progress, masked: pd.DataFrame | None = None) -> dict[str, Any]:
    """Make the forecasts of each geography tree add up (training.reconcile), in place, and
    record what it did in the run's metrics; the report for the summary."""
    if hierarchy is None:
        return {"trees": 0}
    panel = to_panel(series, freq=result.params.get("freq"))
    scale = series_scales(panel, season_length_for(panel.freq)).set_index("unique_id")["scale"]
    levels = tuple(sorted({int(c.rsplit("_", 1)[1]) for c in result.forecasts.columns
                           if c.startswith("lo_")}))
    # each newest window calibrated on the others (training.selection); the older windows'
    # widening of the bottoms' bands reaches the aggregates through their sampled sums, so
    # the aggregates' level factors are measured like for like on the newest windows
    backtest = result.project_backtest
    done = reconcile_forecasts(result.forecasts, hierarchy, backtest, scale, levels,
                               history=series, masked=masked)
    result.forecasts = done.forecasts
    report = done.report
    result.metrics.update({f"reconcile.{method}.{lvl}": value for method, by_level in
                           report["backtest_mase_by_level"].items()
                           for lvl, value in by_level.items()})
    result.metrics.update({f"reconcile.trees.{m}": float(n) for m, n in report["methods"].items()})
    result.metrics.update({f"reconcile.backtest_coverage_{lvl}.{level}": value
                           for level, row in report["backtest_coverage_by_level"].items()
                           for lvl, value in ((k.split("_")[1], v) for k, v in row.items()
                                              if k.startswith("coverage_"))})
    result.metrics.update({f"reconcile.interval_factor_{lvl}.{level}": value
                           for level, row in report["interval_factors_by_level"].items()
                           for lvl, value in row.items()})
    result.timings["reconcile_seconds"] = report["seconds"]
    result.params["reconciliation"] = "per tree by backtest: " + ",".join(report["methods"])
    shared = report.get("substances", {})
    summed = shared.get("trees_summed_from_shared_leaves", 0)
    say(f"reconciled {report['trees']} geography trees in {report['seconds']:.1f}s (by "
        "backtest: " + ", ".join(f"{m}: {n}" for m, n in report["methods"].items() if n)
        + (f"; summed up from shared-out substances: {summed}" if summed else "")
        + f"; {report['fallbacks']} fell back)")
    if shared.get("leaves"):
        result.metrics["reconcile.substances.unallocated"] = float(shared["unallocated"])
        say(f"substances shared out of their group's forecast at {shared['leaves']:,} "
            "places (x metric)"
            + (f"; {shared['unallocated']:,} group forecasts with no substance forecast to "
               "carry them" if shared["unallocated"] else ""))
    if report["backtest_coverage_by_level"]:
        say("aggregate intervals from their bottoms, backtest coverage 80/95 before the level's "
            "calibration: " + ", ".join(
                f"{level} {row['coverage_80']:.2f}/{row['coverage_95']:.2f}"
                for level, row in report["backtest_coverage_by_level"].items()
                if "coverage_80" in row and "coverage_95" in row))
    return report


@cleaned_up("train")
def train(settings: Settings, horizon: int | None = None,
          progress: Progress | None = None) -> dict[str, Any]:
    """`narcotrend train`: forecasts for every built series, stored and tracked; the summary
    (run id, registered version, whether it became champion, backtest MASE and coverage,
    number of series and fallbacks)."""
    say = progress or (lambda message: None)
    h = settings.horizon if horizon is None else horizon
    if isinstance(h, bool) or not isinstance(h, int) or h < 1:
        raise NarcotrendError(f"--horizon must be a positive integer, got {h!r}")
    started = time.perf_counter()
    series, partial = load_series(settings)
    say(f"training on {series['unique_id'].nunique():,} series from {settings.series_dir}")
    result = fit_forecasts(series, h, settings.backtest_windows, settings.backtest_step,
                           settings.calibration_windows or 2 * settings.backtest_windows,
                           settings.frequency, n_jobs=settings.n_jobs,
                           dask_scheduler=settings.dask_scheduler, progress=say)
    result.forecasts = count_floor(result.forecasts)  # no count is certain
    reconciliation = reconcile(result, series, load_hierarchy(settings), say, partial)
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
        "skipped": len(result.skipped),
        "skipped_by_reason": pd.Series(list(result.skipped.values()), dtype=object)
        .value_counts().to_dict() if result.skipped else {},
        "model_failures": {k: v for k, v in result.model_failures.items() if v},
        "horizon": h,
        "backtest_windows": result.params["backtest_windows"],
        "freq": result.params["freq"],
        "wmase": {k.split(".", 1)[1]: v for k, v in result.metrics.items()
                  if k.startswith("wmase.")},
        "by_class": result.by_class,
        "wmase_drivers": result.wmase_drivers,
        "fallbacks_by_class": fallbacks_by_class(result),
        "reconciliation": reconciliation,
        "forecasts_path": str(out_path),
        "fit_seconds": round(result.timings["fit_seconds"], 2),
        "seconds": round(time.perf_counter() - started, 2),
    }
    return summary


def fallbacks_by_class(result: TrainingResult) -> dict[str, dict[str, int]]:
    """How many series of each class fell back to the seasonal naive, by reason."""
    if result.classes.empty or not result.fallbacks:
        return {}
    class_of = result.classes.set_index("unique_id")["series_class"]
    frame = pd.DataFrame({"series_class": [class_of.get(u, "unclassified")
                                           for u in result.fallbacks],
                          "reason": list(result.fallbacks.values())})
    counts = frame.groupby(["series_class", "reason"]).size()
    out: dict[str, dict[str, int]] = {}
    for (cls, reason), n in counts.items():
        out.setdefault(str(cls), {})[str(reason)] = int(n)
    return out
