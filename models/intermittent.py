"""Forecasters for sparse count series (mostly zeros, occasional seizures).

Croston (with the Syntetos-Boylan bias correction) and TSB (Teunter-Syntetos-Babai) forecast the
expected value per period from demand size and demand frequency, which smoothing methods built
for continuous series get wrong on zeros. Intervals are empirical quantiles of the one-step
in-sample errors around the flat forecast, clipped at zero.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from models.base import Bands, LocalForecaster
from models.params import COMMON, fraction

IntermittentState = tuple[float, np.ndarray]


def _residual_bands(level_forecast: float, residuals: np.ndarray, h: int,
                    levels: tuple[int, ...]) -> tuple[np.ndarray, Bands]:
    mean = np.full(h, level_forecast)
    if residuals.size < 2:
        return mean, {lvl: (mean.copy(), mean.copy()) for lvl in levels}
    bands: Bands = {}
    for lvl in levels:
        lo, hi = np.quantile(residuals, [0.5 - lvl / 200, 0.5 + lvl / 200])
        bands[lvl] = (mean + lo, mean + hi)
    return mean, bands


def croston_sba(y: np.ndarray, alpha: float) -> tuple[float, np.ndarray]:
    """The SBA forecast after ``y`` and the one-step in-sample fitted values (NaN before the
    first demand). The bias correction only applies to intermittent series: with a demand every
    period Croston is simple exponential smoothing, which is unbiased."""
    alpha_c = alpha if np.any(y <= 0) else 0.0
    fitted = np.full(y.size, np.nan)
    size = interval = None
    gap = 1
    for t, value in enumerate(y):
        if size is not None:
            fitted[t] = (1 - alpha_c / 2) * size / interval
        if value > 0:
            if size is None:
                size, interval = float(value), float(t + 1)
            else:
                size += alpha * (value - size)
                interval += alpha * (gap - interval)
            gap = 1
        else:
            gap += 1
    forecast = 0.0 if size is None else (1 - alpha_c / 2) * size / interval
    return forecast, fitted


def tsb(y: np.ndarray, alpha_d: float, alpha_p: float) -> tuple[float, np.ndarray]:
    """The TSB forecast after ``y`` and the one-step fitted values: the demand probability is
    updated every period, so a series that stops seizing decays towards zero (Croston does not)."""
    fitted = np.full(y.size, np.nan)
    demand = np.flatnonzero(y > 0)
    if demand.size == 0:
        return 0.0, np.zeros(y.size)
    size, prob = float(y[demand[0]]), demand.size / y.size
    for t, value in enumerate(y):
        fitted[t] = prob * size
        occurred = value > 0
        prob += alpha_p * (float(occurred) - prob)
        if occurred:
            size += alpha_d * (value - size)
    return prob * size, fitted


class Croston(LocalForecaster):
    """Croston's method with the Syntetos-Boylan bias correction (SBA)."""

    parameter_rules = {**COMMON, "alpha": fraction()}

    def __init__(self, alpha: float = 0.1, alias: str = "croston", nonnegative: bool = True,
                 on_error: Literal["nan", "raise"] = "nan") -> None:
        self.alpha = alpha
        self.alias = alias
        self.nonnegative = nonnegative
        self.on_error = on_error

    def _fit_one(self, y: np.ndarray) -> IntermittentState:
        forecast, fitted = croston_sba(y, self.alpha)
        residuals = (y - fitted)[~np.isnan(fitted)]
        return forecast, residuals

    def _forecast_one(self, state: IntermittentState, h: int,
                      levels: tuple[int, ...]) -> tuple[np.ndarray, Bands]:
        return _residual_bands(state[0], state[1], h, levels)


class TSB(LocalForecaster):
    """Teunter-Syntetos-Babai: demand size and demand probability smoothed separately."""

    parameter_rules = {**COMMON, "alpha_d": fraction(), "alpha_p": fraction()}

    def __init__(self, alpha_d: float = 0.1, alpha_p: float = 0.1, alias: str = "tsb",
                 nonnegative: bool = True, on_error: Literal["nan", "raise"] = "nan") -> None:
        self.alpha_d = alpha_d
        self.alpha_p = alpha_p
        self.alias = alias
        self.nonnegative = nonnegative
        self.on_error = on_error

    def _fit_one(self, y: np.ndarray) -> IntermittentState:
        forecast, fitted = tsb(y, self.alpha_d, self.alpha_p)
        return forecast, y - fitted

    def _forecast_one(self, state: IntermittentState, h: int,
                      levels: tuple[int, ...]) -> tuple[np.ndarray, Bands]:
        return _residual_bands(state[0], state[1], h, levels)
