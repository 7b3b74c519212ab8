"""What the service holds in memory: series, route flows, forecasts and the champion model.

Everything a request reads is one immutable `ServingState`. A poller thread checks, every
`model_poll_seconds`, whether the champion alias moved or a Parquet file changed on disk; it
builds a complete new state beside the old one and then swaps one reference. A request that
already took the old state finishes on it; nothing is ever half loaded, and when a load fails the
old state stays in service and the load is retried at the next poll.

Forecasts come from the champion itself when its pyfunc answers `predict` with the forecast
table (`unique_id, ds, forecast, lo_80, hi_80, lo_95, hi_95, model`), so moving the alias changes
what is served; otherwise from `data/forecasts/forecasts.parquet`.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from core.home import FORECAST_COLUMNS, FORECAST_VALUES
from core.settings import Settings
from core.taxonomy import series_group, substance_groups
from serving.periodic import Periodic
from training.registry import champion_version, load_version

log = logging.getLogger(__name__)

SERIES_KEYS = ["geo_level", "geo", "region", "drug_level", "drug", "metric"]
ROUTE_ATTRIBUTES = ("departure_country", "origin_country", "transit_countries",
                    "destination_country", "transport_mode")


@dataclass(frozen=True)
class SeriesData:
    """The series catalogue (one row per series) and each series' history as arrays."""

    catalogue: pd.DataFrame
    info: dict[str, dict[str, Any]]
    history: dict[str, tuple[np.ndarray, np.ndarray]]
    geo_region: dict[str, str]
    # the country series of each (drug_level, drug, metric): what an aggregate sums
    countries: dict[tuple[str, str, str], list[dict[str, Any]]] = field(default_factory=dict)
    # per place (geo_level, geo, group, metric): the group's series and its substances'
    drug_parts: dict[tuple[str, str, str, str], dict[str, list[str]]] = field(
        default_factory=dict)


@dataclass(frozen=True)
class Champion:
    """The loaded champion: registry version, run and the pyfunc model object."""

    name: str
    version: str
    run_id: str | None
    model: Any
    loaded_at: datetime


@dataclass(frozen=True)
class ServingState:
    """One consistent view for a request; replaced whole, never mutated."""

    series: SeriesData | None = None
    routes: pd.DataFrame | None = None
    forecasts: dict[str, dict[str, Any]] | None = None
    forecasts_source: str | None = None
    champion: Champion | None = None
    stamps: dict[str, tuple[int, int] | None] = field(default_factory=dict)


def file_stamp(path: Path) -> tuple[int, int] | None:
    """(mtime_ns, size) of a file, None when it does not exist."""
    try:
        stat = path.stat()
    except FileNotFoundError:
        return None
    return stat.st_mtime_ns, stat.st_size


def build_series_data(frame: pd.DataFrame) -> SeriesData:
    """Index a long series frame for requests: a catalogue and per-series arrays."""
    frame = frame.sort_values(["unique_id", "ds"], kind="stable")
    frame = frame.assign(ds=pd.to_datetime(frame["ds"]))
    grouped = frame.groupby("unique_id", sort=True)
    catalogue = grouped[SERIES_KEYS].first()
    catalogue["first_ds"] = grouped["ds"].min()
    catalogue["last_ds"] = grouped["ds"].max()
    catalogue["n_obs"] = grouped["y"].count().astype(int)
    reported = frame[frame["y"].notna()].groupby("unique_id")["ds"].max()
    catalogue["last_reported"] = reported.reindex(catalogue.index)
    # periods from the last reported one to the data's last (how long the reporter has been
    # silent; the series' own periods when it never reported)
    dates = np.sort(frame["ds"].unique())
    since = np.searchsorted(dates, catalogue["last_reported"].to_numpy())
    catalogue["silent_periods"] = np.where(catalogue["last_reported"].notna(),
                                           len(dates) - 1 - since, grouped.size()).astype(int)
    catalogue = catalogue.reset_index()
    for col in ("first_ds", "last_ds", "last_reported"):
        catalogue[col] = catalogue[col].dt.strftime("%Y-%m-%d")
    catalogue["last_reported"] = catalogue["last_reported"].astype(object).where(
        catalogue["last_reported"].notna(), None)
    info = {row["unique_id"]: row for row in catalogue.to_dict(orient="records")}
    ids = frame["unique_id"].to_numpy()
    bounds = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1], True])
    ds = frame["ds"].dt.strftime("%Y-%m-%d").to_numpy()
    y = frame["y"].to_numpy(dtype=float)
    history = {ids[start]: (ds[start:stop], y[start:stop])
               for start, stop in zip(bounds[:-1], bounds[1:], strict=True)}
    geo_region = dict(zip(catalogue["geo"], catalogue["region"], strict=True))
    countries: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    drug_parts: dict[tuple[str, str, str, str], dict[str, list[str]]] = {}
    groups = substance_groups()
    for row in info.values():
        if row["geo_level"] == "country":
            countries.setdefault((row["drug_level"], row["drug"], row["metric"]), []).append(row)
        group = series_group(row["drug_level"], row["drug"], groups)
        drug_parts.setdefault((row["geo_level"], row["geo"], group, row["metric"]), {}
                              ).setdefault(row["drug_level"], []).append(row["unique_id"])
    return SeriesData(catalogue=catalogue, info=info, history=history, geo_region=geo_region,
                      countries=countries, drug_parts=drug_parts)


def prepare_routes(frame: pd.DataFrame) -> pd.DataFrame:
    """Route flows (`features.routes`) with period starts as ISO date strings."""
    return frame.assign(ds=pd.to_datetime(frame["ds"]).dt.strftime("%Y-%m-%d"))


def index_forecasts(frame: pd.DataFrame) -> dict[str, dict[str, Any]]:
    """Per series: the model that made the forecast and its points (dates as ISO strings,
    non-finite numbers as None), built once at load so a request only looks them up."""
    frame = frame.assign(ds=pd.to_datetime(frame["ds"]).dt.strftime("%Y-%m-%d"))
    if "model" not in frame.columns:
        frame = frame.assign(model=None)
    values = frame[FORECAST_VALUES].astype(float)
    frame[FORECAST_VALUES] = values.where(np.isfinite(values), None).astype(object)
    out: dict[str, dict[str, Any]] = {}
    for uid, part in frame.sort_values(["unique_id", "ds"]).groupby("unique_id", sort=False):
        models = part["model"].dropna()
        out[str(uid)] = {"model": str(models.iloc[0]) if len(models) else None,
                         "points": part[["ds", *FORECAST_VALUES]].to_dict(orient="records")}
    return out


def champion_forecasts(model: Any, unique_ids: list[str]) -> pd.DataFrame | None:
    """The forecast table from the champion pyfunc (`training.pyfunc.ForecastBundle` answers a
    frame of `unique_id` with their forecasts), or None when it does not answer with one."""
    if not unique_ids:
        return None
    try:
        out = model.predict(pd.DataFrame({"unique_id": unique_ids}))
    except Exception as err:  # noqa: BLE001 - a model that cannot answer falls back to the file
        log.warning("champion predict failed, serving forecasts.parquet instead: %s", err)
        return None
    if isinstance(out, pd.DataFrame) and set(FORECAST_COLUMNS[:7]) <= set(out.columns):
        return out
    return None


def load_champion(settings: Settings, version: str, run_id: str | None) -> Champion:
    """Load one registered version as a pyfunc (by number, so a moving alias cannot race it)."""
    model = load_version(settings, version)
    return Champion(name=settings.registered_model_name, version=version, run_id=run_id,
                    model=model, loaded_at=datetime.now(UTC))


class ModelStore:
    """Holds the current `ServingState` and refreshes it from disk and the model registry."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._state = ServingState()
        self._refresh_lock = threading.Lock()
        self._poller = Periodic(self.refresh, settings.model_poll_seconds, "model-store-poller")
        self.last_error: str | None = None

    @property
    def state(self) -> ServingState:
        """The current state; take it once per request and read only from it."""
        return self._state

    @property
    def paths(self) -> dict[str, Path]:
        paths = self.settings.paths
        return {"series": paths.series, "routes": paths.routes, "forecasts": paths.forecasts}

    def refresh(self) -> bool:
        """Reload what changed (files, champion alias); True when the state was swapped."""
        with self._refresh_lock:
            old = self._state
            self.last_error = None
            try:
                new = self._next_state(old)
            except Exception as err:  # noqa: BLE001 - keep serving the old state, retry later
                self.last_error = f"{type(err).__name__}: {err}"
                log.warning("reload failed, still serving the previous state: %s", self.last_error)
                return False
            if new is old:
                return False
            self._state = new
            return True

    def _next_state(self, old: ServingState) -> ServingState:
        stamps = {name: file_stamp(path) for name, path in self.paths.items()}
        changes: dict[str, Any] = {}
        if stamps["series"] != old.stamps.get("series"):
            changes["series"] = (build_series_data(pd.read_parquet(self.paths["series"]))
                                 if stamps["series"] else None)
        if stamps["routes"] != old.stamps.get("routes"):
            changes["routes"] = (prepare_routes(pd.read_parquet(self.paths["routes"]))
                                 if stamps["routes"] else None)
        champion = self._next_champion(old.champion)
        if champion is not old.champion:
            changes["champion"] = champion
        series = changes.get("series", old.series)
        if ("champion" in changes or "series" in changes
                or stamps["forecasts"] != old.stamps.get("forecasts")):
            changes["forecasts"], changes["forecasts_source"] = self._forecasts(
                champion, series, stamps["forecasts"] is not None)
        if not changes and stamps == old.stamps:
            return old
        return replace(old, stamps=stamps, **changes)

    def _next_champion(self, current: Champion | None) -> Champion | None:
        """The champion the alias points at now; the current one when unchanged or unloadable."""
        try:
            pointer = champion_version(self.settings)
            if pointer is None or (current is not None and pointer[0] == current.version):
                return current
            return load_champion(self.settings, *pointer)
        except Exception as err:  # noqa: BLE001 - a broken version must not stop data reloads
            self.last_error = f"champion: {type(err).__name__}: {err}"
            log.warning("champion not reloaded, still serving the previous one: %s", err)
            return current

    def _forecasts(self, champion: Champion | None, series: SeriesData | None,
                   file_exists: bool) -> tuple[dict[str, dict[str, Any]] | None, str | None]:
        """Forecasts indexed by series, and where they came from."""
        if champion is not None:
            ids = list(series.history) if series is not None else []
            table = champion_forecasts(champion.model, ids)
            if table is not None:
                return index_forecasts(table), f"model version {champion.version}"
        if file_exists:
            return (index_forecasts(pd.read_parquet(self.paths["forecasts"])),
                    self.paths["forecasts"].name)
        return None, None

    def start(self) -> None:
        """Poll for changes in a daemon thread (the first load is the caller's `refresh()`)."""
        self._poller.start()

    def stop(self) -> None:
        self._poller.stop()
