"""A home's files: every folder and file name of a home in one place, one atomic writer, and the
readers of stored frames (ARCHITECTURE.md "Files in a home").

Stages name files as `HomePaths` attributes (`paths.series`, `paths.records`), never as string
literals, so a newcomer finds every file of a home here and two modules cannot disagree on a name.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from core.errors import NarcotrendError


@dataclass(frozen=True)
class HomePaths:
    """The folders and files of one home (`NARCOTREND_HOME`)."""

    root: Path

    # --- folders ---------------------------------------------------------------------------
    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def demo_dir(self) -> Path:
        """Where `narcotrend run` writes the built-in synthetic world."""
        return self.data_dir / "demo"

    @property
    def warehouse_dir(self) -> Path:
        """Accepted records, quarantine and pre-aggregated imports."""
        return self.data_dir / "warehouse"

    @property
    def series_dir(self) -> Path:
        """Built series and route flows."""
        return self.data_dir / "series"

    @property
    def forecasts_dir(self) -> Path:
        return self.data_dir / "forecasts"

    @property
    def outbox_dir(self) -> Path:
        """Where e-mails are written as .eml files when no SMTP server is configured."""
        return self.data_dir / "outbox"

    @property
    def reference_dir(self) -> Path:
        """The home's own reference files (planner thresholds)."""
        return self.data_dir / "reference"

    @property
    def mlruns_dir(self) -> Path:
        return self.root / "mlruns"

    # --- the synthetic world (`demo-data`, `run`) -------------------------------------------
    @property
    def demo_seizures(self) -> Path:
        return self.demo_dir / DEMO_SEIZURES

    @property
    def demo_events(self) -> Path:
        return self.demo_dir / DEMO_EVENTS

    # --- warehouse (`ingest`) --------------------------------------------------------------
    @property
    def records(self) -> Path:
        return self.warehouse_dir / "records.parquet"

    @property
    def quarantine(self) -> Path:
        return self.warehouse_dir / "quarantine.parquet"

    @property
    def aggregates(self) -> Path:
        return self.warehouse_dir / "aggregates.parquet"

    @property
    def aggregate_rows(self) -> Path:
        return self.warehouse_dir / "aggregate_rows.parquet"

    # --- series (`build`) ------------------------------------------------------------------
    @property
    def series(self) -> Path:
        return self.series_dir / "series.parquet"

    @property
    def routes(self) -> Path:
        return self.series_dir / "routes.parquet"

    @property
    def build_manifest(self) -> Path:
        return self.series_dir / "build.json"

    @property
    def completeness(self) -> Path:
        """Reporting completeness per reporting country and period (`features/completeness.py`)."""
        return self.series_dir / "completeness.parquet"

    # --- forecasts (`train`, `models promote`) ---------------------------------------------
    @property
    def forecasts(self) -> Path:
        """The champion's forecasts."""
        return self.forecasts_dir / "forecasts.parquet"

    def candidate_forecasts(self, version: str | int) -> Path:
        """A registered version's forecasts that did not become champion."""
        return self.forecasts_dir / f"candidate-v{version}.parquet"

    # --- linked cases (`link`) ---------------------------------------------------------------
    @property
    def links_dir(self) -> Path:
        return self.data_dir / "links"

    @property
    def links(self) -> Path:
        """Seizure -> case group: `seizure_id, group_id, strength`."""
        return self.links_dir / "links.parquet"

    @property
    def groups(self) -> Path:
        """One row per case group (drug, countries, dates, size, shared signature)."""
        return self.links_dir / "groups.parquet"

    @property
    def spark_checkpoints(self) -> Path:
        """Where splink's Spark backend writes its intermediate tables (link_backend=spark)."""
        return self.links_dir / "spark"

    # --- detection inputs and the service --------------------------------------------------
    @property
    def thresholds(self) -> Path:
        """Planner thresholds read by `detect` when no other file is set."""
        return self.reference_dir / "thresholds.csv"

    # --- one writer at a time (core.locking) ------------------------------------------------
    @property
    def writer_lock(self) -> Path:
        return self.data_dir / ".writer.lock"

    @property
    def writer_holder(self) -> Path:
        """Who holds the writer lock and since when (JSON, written by the holder)."""
        return self.data_dir / ".writer.json"

    @property
    def train_workers(self) -> Path:
        """The worker processes of a running train (pid, start time), for the next one to end
        if it was killed."""
        return self.data_dir / ".train-workers.json"

    @property
    def warehouse_manifest(self) -> Path:
        """Written last by each ingest: the warehouse files it published as one unit."""
        return self.warehouse_dir / "ingest.json"

    @property
    def service_db(self) -> Path:
        return self.data_dir / "narcotrend.db"

    @property
    def mlflow_db(self) -> Path:
        return self.mlruns_dir / "mlflow.db"

    @property
    def mlflow_artifacts(self) -> Path:
        return self.mlruns_dir / "artifacts"

    def ensure_dirs(self) -> None:
        for path in (self.data_dir, self.warehouse_dir, self.series_dir, self.forecasts_dir,
                     self.mlruns_dir):
            path.mkdir(parents=True, exist_ok=True)


# the stored forecasts' columns (`forecasts.parquet`, `export forecasts`, DESIGN section 6)
FORECAST_COLUMNS = ["unique_id", "ds", "forecast", "lo_80", "hi_80", "lo_95", "hi_95", "model"]
FORECAST_VALUES = FORECAST_COLUMNS[2:7]  # the point forecast and its bands
DEMO_SEIZURES = "seizures.csv"
DEMO_EVENTS = "events.json"


# --- one atomic writer ---------------------------------------------------------------------------
def write_atomic(path: Path, write: Callable[[Path], Any]) -> Path:
    """Write a file so that readers see the old one or the new one, never half of either.

    `write(tmp)` writes the content to a temporary file in the same folder (same file system),
    which then replaces `path` in one `os.replace`; on failure the temporary file is removed.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def write_parquet_atomic(frame: Any, path: Path) -> Path:
    """A DataFrame or a pyarrow Table as Parquet, atomically."""
    if isinstance(frame, pd.DataFrame):
        return write_atomic(path, lambda tmp: frame.to_parquet(tmp, index=False))
    import pyarrow.parquet as pq

    return write_atomic(path, lambda tmp: pq.write_table(frame, tmp))


def write_text_atomic(text: str, path: Path) -> Path:
    return write_atomic(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


# --- readers of stored frames ------------------------------------------------------------------
def read_stored(path: Path, made_by: str, what: str | None = None,
                columns: list[str] | None = None) -> pd.DataFrame:
    """A stored Parquet frame, or one line saying which command makes it."""
    path = Path(path)
    if not path.exists():
        raise NarcotrendError(f"no {what or path.stem} at {path}: run `{made_by}` first")
    return pd.read_parquet(path, columns=columns)


def read_series(paths: HomePaths, columns: list[str] | None = None) -> pd.DataFrame:
    return read_stored(paths.series, "narcotrend build", "built series", columns)


def read_routes(paths: HomePaths, columns: list[str] | None = None) -> pd.DataFrame:
    return read_stored(paths.routes, "narcotrend build", "route flows", columns)


def read_forecasts(paths: HomePaths, columns: list[str] | None = None) -> pd.DataFrame:
    return read_stored(paths.forecasts, "narcotrend train", "forecasts", columns)
