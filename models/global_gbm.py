"""One gradient-boosting model across all series (a "global" model).

Each series is divided by its own scale, so one scikit-learn ``HistGradientBoostingRegressor``
learns shared dynamics (momentum, seasonality, mean reversion) from thousands of short series
that are too short to teach a model alone. Features: recent lags, rolling means and the season
position. Forecasts are recursive; intervals come from quantile-loss models of the next-step
value, widened with the square root of the step (the random-walk rate). Unknown periods stay NaN
in the features, which the trees route as missing instead of reading them as zeros.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingRegressor
from threadpoolctl import threadpool_limits

from models.base import Bands, ForecastArrays, Forecaster, Panel, future_grid, tidy_bands
from models.params import BOOLEAN, COMMON, Rule, integer, optional_integer, positive_real

QUANTILE_PAIRS = {80: (0.1, 0.9), 95: (0.025, 0.975)}


def _right_aligned(panel: Panel) -> np.ndarray:
    """All series in one ``(n, T)`` matrix, each ending in the last column, NaN before its start."""
    width = max(len(y) for y in panel.y)
    out = np.full((len(panel), width), np.nan)
    for i, y in enumerate(panel.y):
        out[i, width - len(y):] = y
    return out


def _season_position(panel: Panel, width: int, season_length: int) -> np.ndarray:
    """Season index (0 .. season_length-1) of every cell of the right-aligned matrix."""
    if season_length <= 1:
        return np.zeros((len(panel), width))
    last = pd.DatetimeIndex([ds[-1] for ds in panel.ds])
    if season_length == 12:
        last_pos = last.month.to_numpy() - 1
    elif season_length == 4:
        last_pos = last.quarter.to_numpy() - 1
    else:
        last_pos = (last.dayofyear.to_numpy() * season_length) // 366
    offsets = np.arange(width) - (width - 1)
    return (last_pos[:, None] + offsets[None, :]) % season_length


class GlobalGBM(Forecaster):
    """Gradient boosting on scaled lags, season position and series scale, across all series."""

    is_global = True
    parameter_rules = {
        **COMMON,
        "lags": Rule(lambda v: isinstance(v, tuple | list) and len(v) > 0 and all(
            isinstance(k, int) and not isinstance(k, bool) and k >= 1 for k in v),
            "a non-empty tuple of positive integers"),
        "max_iter": integer(1), "learning_rate": positive_real(), "max_leaf_nodes": integer(2),
        "max_rows": integer(10), "random_state": optional_integer(0), "nonnegative": BOOLEAN,
        "freq": Rule(lambda v: v is None or (isinstance(v, str) and v != ""),
                     "None or a pandas frequency such as 'MS'"),
    }

    def __init__(self, season_length: int = 12, lags: tuple[int, ...] = (1, 2, 3, 6, 12),
                 max_iter: int = 60, learning_rate: float = 0.1, max_leaf_nodes: int = 15,
                 max_rows: int = 60_000, freq: str | None = None, alias: str = "gbm",
                 nonnegative: bool = True, random_state: int = 0) -> None:
        self.season_length = season_length
        self.lags = lags
        self.max_iter = max_iter
        self.learning_rate = learning_rate
        self.max_leaf_nodes = max_leaf_nodes
        self.max_rows = max_rows
        self.freq = freq
        self.alias = alias
        self.nonnegative = nonnegative
        self.random_state = random_state

    # --- features -----------------------------------------------------------------------
    def _feature_block(self, values: np.ndarray, season: np.ndarray,
                       log_scale: np.ndarray) -> np.ndarray:
        """Features for predicting every column ``t`` of ``values`` from columns before ``t``."""
        n, width = values.shape
        cols = []
        shifted = {}
        for lag in range(1, max(max(self.lags), 3) + 1):
            block = np.full((n, width), np.nan)
            block[:, lag:] = values[:, :-lag]
            shifted[lag] = block
        cols.extend(shifted[lag] for lag in self.lags)
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", category=RuntimeWarning)
            cols.append(np.nanmean(np.stack([shifted[k] for k in (1, 2, 3)]), axis=0))
            if max(self.lags) >= 12:
                cols.append(np.nanmean(np.stack([shifted[k] for k in range(1, 13)]), axis=0))
        cols.append(season)
        cols.append(np.broadcast_to(log_scale[:, None], (n, width)))
        return np.stack(cols, axis=-1)

    def _model(self, loss: str, quantile: float | None = None) -> HistGradientBoostingRegressor:
        kwargs: dict[str, Any] = {"quantile": quantile} if quantile is not None else {}
        return HistGradientBoostingRegressor(
            loss=loss, max_iter=self.max_iter, learning_rate=self.learning_rate,
            max_leaf_nodes=self.max_leaf_nodes, early_stopping=False,
            random_state=self.random_state, **kwargs)

    # --- fit / predict ------------------------------------------------------------------
    def _fit_panel(self, panel: Panel) -> None:
        values = _right_aligned(panel)
        observed = ~np.isnan(values)
        with np.errstate(all="ignore"):
            scale = np.nanmean(np.abs(values), axis=1)
        scale = np.where(np.isfinite(scale) & (scale > 0), scale, 1.0)
        scaled = values / scale[:, None]
        season = _season_position(panel, values.shape[1], self.season_length)
        features = self._feature_block(scaled, season, np.log1p(scale))
        usable = observed & ~np.all(np.isnan(features[..., :len(self.lags)]), axis=-1)
        rows = np.flatnonzero(usable.reshape(-1))
        if rows.size > self.max_rows:  # the most recent rows teach the most about the future
            rng = np.random.default_rng(self.random_state)
            rows = np.sort(rng.choice(rows, self.max_rows, replace=False))
        x = features.reshape(-1, features.shape[-1])[rows]
        target = scaled.reshape(-1)[rows]
        if rows.size < 10:
            raise ValueError(f"GlobalGBM needs at least 10 observed rows, got {rows.size}")
        # One OpenMP thread: on a busy machine more threads spin-wait and run 20x slower, and
        # the training already runs local models in parallel beside this one.
        with threadpool_limits(1, user_api="openmp"):
            self.point_model_ = self._model("squared_error").fit(x, target)
            self.quantile_models_ = {q: self._model("quantile", q).fit(x, target)
                                     for pair in QUANTILE_PAIRS.values() for q in pair}
        self.ids_ = panel.ids
        self.freq_ = panel.freq
        self.last_ds_ = np.array([ds[-1] for ds in panel.ds], dtype="datetime64[ns]")
        self.scale_ = scale
        self.history_ = scaled
        self.season_ = season
        self.has_data_ = observed.any(axis=1)
        self.failures_ = {str(uid): "no observed value" for uid, ok in
                          zip(panel.ids, self.has_data_, strict=True) if not ok}

    def _predict_panel(self, h: int, levels: tuple[int, ...]) -> ForecastArrays:
        unknown = [lvl for lvl in levels if lvl not in QUANTILE_PAIRS]
        if unknown:
            raise ValueError(f"GlobalGBM has intervals at {sorted(QUANTILE_PAIRS)}, got {unknown}")
        with threadpool_limits(1, user_api="openmp"):
            mean, offsets = self._recurse(h)
        return self._bands(mean, offsets, levels)

    def _recurse(self, h: int) -> tuple[np.ndarray, dict[float, np.ndarray]]:
        """Point path and quantile offsets (scaled units), feeding each step's point forecast
        back as the next step's lag."""
        n = self.history_.shape[0]
        log_scale = np.log1p(self.scale_)
        history = self.history_
        season = self.season_
        mean = np.empty((n, h))
        offsets = {q: np.empty((n, h)) for pair in QUANTILE_PAIRS.values() for q in pair}
        for step in range(h):
            next_season = (season[:, -1:] + 1) % max(self.season_length, 1)
            grown = np.concatenate([history, np.full((n, 1), np.nan)], axis=1)
            season = np.concatenate([season, next_season], axis=1)
            tail = max(max(self.lags), 12) + 1
            x = self._feature_block(grown[:, -tail:], season[:, -tail:], log_scale)[:, -1, :]
            point = self.point_model_.predict(x)
            mean[:, step] = point
            for q, model in self.quantile_models_.items():
                offsets[q][:, step] = (model.predict(x) - point) * np.sqrt(step + 1)
            grown[:, -1] = point
            history = grown
        return mean, offsets

    def _bands(self, mean: np.ndarray, offsets: dict[float, np.ndarray],
               levels: tuple[int, ...]) -> ForecastArrays:
        scale = self.scale_[:, None]
        bands: Bands = {}
        for lvl in levels:
            q_lo, q_hi = QUANTILE_PAIRS[lvl]
            bands[lvl] = ((mean + np.minimum(offsets[q_lo], 0)) * scale,
                          (mean + np.maximum(offsets[q_hi], 0)) * scale)
        point, bands = tidy_bands(mean * scale, bands, self.nonnegative)
        point[~self.has_data_] = np.nan
        for lo, hi in bands.values():
            lo[~self.has_data_] = np.nan
            hi[~self.has_data_] = np.nan
        return ForecastArrays(self.ids_, future_grid(self.last_ds_, mean.shape[1], self.freq_),
                              point, bands, dict(self.failures_))

