"""Rolling-origin backtests and final fits of many models over many series, in parallel.

Output follows Nixtla's cross-validation convention: keys + ``cutoff`` + ``y`` + one column per
model alias (and ``<alias>-lo-80`` ...). Local models run on chunks of series in parallel
(joblib: loky processes by default, a Dask cluster when a scheduler address is set); global
models see every series at once, so they run in the calling process.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable, Sequence
from typing import TypeVar

import numpy as np
import pandas as pd
from joblib import Parallel, delayed, effective_n_jobs, parallel_config
from sklearn.base import clone

from models.base import (
    DEFAULT_LEVELS,
    Forecaster,
    Panel,
    check_horizon,
    check_levels,
    future_grid,
    to_panel,
)

T = TypeVar("T")
R = TypeVar("R")
CHUNKS_PER_WORKER = 4  # several chunks per worker even out series of unequal cost


def backtest_offsets(h: int, windows: int, step: int) -> list[int]:
    """Periods cut from the end of every series for each backtest window, oldest window first."""
    if windows < 1 or step < 1:
        raise ValueError(f"`windows` and `step` must be positive, got {windows} and {step}")
    return [h + step * (windows - 1 - w) for w in range(windows)]


def parallel_map(func: Callable[[T], R], items: Sequence[T], n_jobs: int = -1,
                 dask_scheduler: str | None = None) -> list[R]:
    """``[func(item) for item in items]`` on loky workers, or on the Dask cluster at
    ``dask_scheduler`` (joblib's dask backend) when one is given."""
    if dask_scheduler:
        from distributed import Client

        with Client(dask_scheduler), parallel_config(backend="dask"):
            return Parallel(n_jobs=-1)(delayed(func)(item) for item in items)
    if len(items) <= 1 or effective_n_jobs(n_jobs) == 1:
        return [func(item) for item in items]
    return Parallel(n_jobs=n_jobs, backend="loky")(delayed(func)(item) for item in items)


def n_chunks(n_jobs: int, dask_scheduler: str | None) -> int:
    workers = 8 if dask_scheduler else effective_n_jobs(n_jobs)
    return max(1, workers * CHUNKS_PER_WORKER if workers > 1 else 1)


def fit_predict(models: Iterable[Forecaster], panel: Panel, h: int,
                levels: tuple[int, ...]) -> tuple[pd.DataFrame, dict[str, dict[str, str]]]:
    """Fit fresh copies of ``models`` on ``panel``; their forecasts side by side and, per model
    alias, the series it could not fit (those forecasts are NaN)."""
    frame: pd.DataFrame | None = None
    failures: dict[str, dict[str, str]] = {}
    for model in models:
        fitted = clone(model)
        try:
            arrays = fitted.fit_panel(panel).predict_panel(h, levels)
            out = arrays.to_frame(model.alias)
            failures[model.alias] = arrays.failures
        except Exception as err:  # noqa: BLE001 - a whole model failing leaves NaN, not a crash
            last = np.array([ds[-1] for ds in panel.ds], dtype="datetime64[ns]")
            out = pd.DataFrame({"unique_id": np.repeat(panel.ids, h),
                                "ds": future_grid(last, h, panel.freq).reshape(-1),
                                model.alias: np.nan})
            for lvl in levels:
                out[f"{model.alias}-lo-{lvl}"] = np.nan
                out[f"{model.alias}-hi-{lvl}"] = np.nan
            failures[model.alias] = {str(uid): f"{type(err).__name__}: {err}" for uid in panel.ids}
        frame = out if frame is None else pd.concat(
            [frame, out.drop(columns=["unique_id", "ds"])], axis=1)
    assert frame is not None
    return frame, failures


def _window_forecasts(models: Sequence[Forecaster], panel: Panel, h: int, levels: tuple[int, ...],
                      offsets: Sequence[int], min_train: int) -> tuple[pd.DataFrame, dict]:
    """Forecasts from every cutoff: the panel cut ``offset`` periods short, series with fewer
    than ``min_train`` observations at that cutoff left out."""
    frames, failures = [], {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for offset in offsets:
            train = panel.drop_last(offset)
            enough = train.n_observed() >= min_train
            if not enough.any():
                continue
            train = Panel(train.ids[enough], [d for d, ok in zip(train.ds, enough, strict=True)
                                              if ok],
                          [y for y, ok in zip(train.y, enough, strict=True) if ok], train.freq)
            out, fails = fit_predict(models, train, h, levels)
            cutoffs = dict(zip(train.ids, (ds[-1] for ds in train.ds), strict=True))
            out.insert(2, "cutoff", out["unique_id"].map(cutoffs).astype("datetime64[ns]"))
            frames.append(out)
            for alias, per_series in fails.items():
                failures.setdefault(alias, {}).update(per_series)
    if not frames:
        return pd.DataFrame(), failures
    return pd.concat(frames, ignore_index=True), failures


def _run_split(models: Sequence[Forecaster], panel: Panel, h: int, levels: tuple[int, ...],
               offsets: Sequence[int], min_train: int, n_jobs: int,
               dask_scheduler: str | None) -> tuple[pd.DataFrame, dict]:
    """Local models over chunks of series in parallel, global models on the whole panel."""
    local = [m for m in models if not getattr(m, "is_global", False)]
    global_ = [m for m in models if getattr(m, "is_global", False)]
    parts: list[tuple[pd.DataFrame, dict]] = []
    if local:
        chunks = panel.split(n_chunks(n_jobs, dask_scheduler))

        def work(chunk: Panel) -> tuple[pd.DataFrame, dict]:
            return _window_forecasts(local, chunk, h, levels, offsets, min_train)

        results = parallel_map(work, chunks, n_jobs, dask_scheduler)
        local_frame = pd.concat([r[0] for r in results if not r[0].empty], ignore_index=True) \
            if any(not r[0].empty for r in results) else pd.DataFrame()
        failures: dict[str, dict[str, str]] = {}
        for _, fails in results:
            for alias, per_series in fails.items():
                failures.setdefault(alias, {}).update(per_series)
        parts.append((local_frame, failures))
    if global_:
        parts.append(_window_forecasts(global_, panel, h, levels, offsets, min_train))
    keys = ["unique_id", "ds", "cutoff"]
    frame: pd.DataFrame | None = None
    all_failures: dict[str, dict[str, str]] = {}
    for part, fails in parts:
        all_failures.update(fails)
        if part.empty:
            continue
        frame = part if frame is None else frame.merge(part, on=keys, how="outer")
    return (frame if frame is not None else pd.DataFrame(columns=keys)), all_failures


def cross_validation(df: pd.DataFrame | Panel, models: Sequence[Forecaster], h: int,
                     windows: int = 3, step: int = 1, level: Sequence[int] = DEFAULT_LEVELS,
                     min_train: int = 1, n_jobs: int = 1, dask_scheduler: str | None = None,
                     id_col: str = "unique_id", time_col: str = "ds",
                     target_col: str = "y", skip_newest: int = 0
                     ) -> tuple[pd.DataFrame, dict[str, dict[str, str]]]:
    """Rolling-origin backtest: ``unique_id, ds, cutoff, y, <alias>, <alias>-lo-80, ...`` and,
    per model alias, the series it failed on (forecast NaN there); ``skip_newest`` leaves the
    newest windows out (they were run already)."""
    h, levels = check_horizon(h), check_levels(level)
    _check_models(models)
    panel = df if isinstance(df, Panel) else to_panel(df, id_col, time_col, target_col)
    offsets = backtest_offsets(h, windows, step)[:max(windows - skip_newest, 0)]
    frame, failures = _run_split(models, panel, h, levels, offsets, min_train, n_jobs,
                                 dask_scheduler)
    actuals = panel.to_frame()
    frame = frame.merge(actuals, on=["unique_id", "ds"], how="left")
    cols = ["unique_id", "ds", "cutoff", "y"] + [c for c in frame.columns
                                                 if c not in ("unique_id", "ds", "cutoff", "y")]
    return frame[cols].sort_values(["unique_id", "cutoff", "ds"], ignore_index=True), failures


def forecast(panel: Panel, models: Sequence[Forecaster], h: int,
             level: Sequence[int] = DEFAULT_LEVELS, n_jobs: int = 1,
             dask_scheduler: str | None = None) -> tuple[pd.DataFrame, dict[str, dict[str, str]]]:
    """Final fit on all the data: ``unique_id, ds, <alias>, <alias>-lo-80, ...``."""
    h, levels = check_horizon(h), check_levels(level)
    _check_models(models)
    frame, failures = _run_split(models, panel, h, levels, [0], 1, n_jobs, dask_scheduler)
    return (frame.drop(columns="cutoff").sort_values(["unique_id", "ds"], ignore_index=True),
            failures)


def _check_models(models: Sequence[Forecaster]) -> None:
    """Parameters and aliases checked once, before any work: a bad parameter is the user's error,
    not a model failure to forecast NaN for."""
    for model in models:
        model.validate_params()
    aliases = [m.alias for m in models]
    if len(set(aliases)) != len(aliases):
        raise ValueError(f"model aliases must be unique, got {aliases}")
