"""The build stage: records store -> series and route flows (`narcotrend build`).

Reads ``data/warehouse/records.parquet`` and ``aggregates.parquet`` (the already-aggregated
imports), whichever exist, builds the series (:mod:`features.series`) and the route flows
(:mod:`features.routes`), and writes ``data/series/series.parquet``, ``routes.parquet`` and a
small ``build.json`` manifest. The logic lives in the pure functions; this module is the I/O edge.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from core.errors import NarcotrendError
from core.locking import home_lock
from core.publish import parquet_writer, publish_files
from core.settings import Settings
from features.completeness import reporting_completeness
from features.routes import ROUTE_RECORD_COLUMNS, build_route_flows
from features.schema import RECORD_SCHEMA
from features.series import (
    OPTIONAL_SERIES_RECORD_COLUMNS,
    SERIES_RECORD_COLUMNS,
    build_series,
    merge_aggregates,
)

Progress = Callable[[str], None]


def build_all(settings: Settings, progress: Progress | None = None, *,
              freq: str | None = None) -> dict[str, Any]:
    """Build and store series and route flows from the home's warehouse; return a summary.

    The summary has ``series`` (distinct ``unique_id``), ``rows``, ``routes`` (flow rows),
    ``records``, ``aggregate_series``, ``freq``, ``start``, ``end`` and ``seconds``.
    """
    say = progress or (lambda message: None)
    with home_lock(settings.paths, "build", settings.lock_timeout_seconds, say):
        return _build(settings, say, freq or settings.frequency)


def _build(settings: Settings, say: Progress, freq: str) -> dict[str, Any]:
    records_path = settings.paths.records
    aggregates_path = settings.paths.aggregates
    if not records_path.exists() and not aggregates_path.exists():
        raise NarcotrendError(f"no records store at {records_path}: run `narcotrend ingest FILE…` "
                              "first")
    started = time.perf_counter()
    if records_path.exists():
        say(f"reading {records_path}")
        records = _read_records(records_path)
    else:  # only already-aggregated imports (cbp, unodc-annual) were ingested
        records = RECORD_SCHEMA.empty_table().to_pandas()

    say(f"building series ({freq}) from {len(records):,} records")
    series = build_series(records, freq)
    merged = {"added": 0}
    if aggregates_path.exists():
        say(f"merging already-aggregated series from {aggregates_path}")
        series, merged = merge_aggregates(series, pd.read_parquet(aggregates_path), freq)
        if merged["skipped_coarser"]:
            say(f"left out {merged['skipped_coarser']} aggregated series coarser than {freq} "
                "(build with NARCOTREND_FREQUENCY=YS to include yearly tables)")
        if merged["skipped_duplicate"]:
            say(f"left out {merged['skipped_duplicate']} aggregated series whose unique_id the "
                "records already give")
        if merged["skipped_conflict"]:
            say(f"left out {merged['skipped_conflict']} aggregated series with two values for "
                "one period (two sources under one unique_id)")

    say("building route flows")
    routes = build_route_flows(records, freq)

    say(f"writing {settings.series_dir}")
    paths = settings.paths
    # every file of the build, published as one unit under build.json (core.publish): a file
    # another part of the build adds joins it as one more entry here
    outputs = {paths.series: parquet_writer(series), paths.routes: parquet_writer(routes)}
    outputs[paths.completeness] = parquet_writer(reporting_completeness(records, freq))
    summary = {
        "series": int(series["unique_id"].nunique()),
        "rows": len(series),
        "routes": len(routes),
        "records": len(records),
        "aggregate_series": merged["added"],
        "freq": freq,
        "start": _period_label(series["ds"].min()),
        "end": _period_label(series["ds"].max()),
        "seconds": round(time.perf_counter() - started, 2),
    }
    manifest = {**summary, "built_at": datetime.now(UTC).isoformat(timespec="seconds")}
    publish_files(paths.build_manifest, outputs, manifest)
    return summary


# record columns added after stores already existed: read as null when a store lacks them
ADDED_LATER = ("concealment_method",)


def _read_records(path: Path) -> pd.DataFrame:
    """The columns the build needs; a clear error for a store that lacks them."""
    import pyarrow.parquet as pq

    wanted = list(dict.fromkeys([*SERIES_RECORD_COLUMNS, *ROUTE_RECORD_COLUMNS]))
    try:
        present = set(pq.read_schema(path).names)
    except Exception as err:  # noqa: BLE001 - any unreadable file is the same user error
        raise NarcotrendError(f"cannot read the records store {path}: {err}; re-run "
                              "`narcotrend ingest`") from err
    missing = [col for col in wanted if col not in present and col not in ADDED_LATER]
    if missing:
        raise NarcotrendError(f"the records store {path} lacks the column(s) "
                              f"{', '.join(missing)}; re-run `narcotrend ingest`")
    wanted += [col for col in OPTIONAL_SERIES_RECORD_COLUMNS if col in present]
    frame = pd.read_parquet(path, columns=[col for col in wanted if col in present])
    for col in ADDED_LATER:  # a store ingested before the column existed: unknown, not an error
        if col not in frame.columns:
            frame[col] = None
    return frame


def _period_label(value: Any) -> str | None:
    return None if pd.isna(value) else pd.Timestamp(value).strftime("%Y-%m-%d")
