"""Benchmark forecasters: naive, seasonal naive, drift and window mean.

Cheap enough to fit on every series in every backtest window, hard to beat on noisy seizure
counts, and the fallback when richer models fail. Intervals follow the textbook formulas
(Hyndman & Athanasopoulos, FPP3 section 5.5) from the residual spread of each method.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from models.base import Bands, LocalForecaster, normal_bands
from models.params import COMMON, integer, optional_integer


def _sd(values: np.ndarray) -> float:
    """Residual standard deviation, 0 when there are too few residuals to tell."""
    return float(np.std(values, ddof=1)) if values.size > 1 else 0.0


class Naive(LocalForecaster):
    """The last observed value carried forward; the interval widens as a random walk."""

    def __init__(self, alias: str = "naive", nonnegative: bool = True,
                 on_error: Literal["nan", "raise"] = "nan") -> None:
        self.alias = alias
        self.nonnegative = nonnegative
        self.on_error = on_error

    def _fit_one(self, y: np.ndarray) -> tuple[float, float]:
        return float(y[-1]), _sd(np.diff(y))

    def _forecast_one(self, state: tuple[float, float], h: int,
                      levels: tuple[int, ...]) -> tuple[np.ndarray, Bands]:
        last, sigma = state
        mean = np.full(h, last)
        return mean, normal_bands(mean, sigma * np.sqrt(np.arange(1, h + 1)), levels)


class SeasonalNaive(LocalForecaster):
    """The value of the same season one cycle earlier (naive when the series is shorter than a
    cycle); the interval widens with each completed cycle."""

    def __init__(self, season_length: int = 12, alias: str = "snaive", nonnegative: bool = True,
                 on_error: Literal["nan", "raise"] = "nan") -> None:
        self.season_length = season_length
        self.alias = alias
        self.nonnegative = nonnegative
        self.on_error = on_error

    def _fit_one(self, y: np.ndarray) -> tuple[np.ndarray, float]:
        m = self.season_length if y.size >= self.season_length else 1
        diffs = y[m:] - y[:-m]
        sigma = _sd(diffs)
        if diffs.size < self.season_length:
            # under one cycle of seasonal differences (a series seen for 13-23 months) says
            # little of the spread: three zero differences are no evidence of certainty, so the
            # month-to-month differences count too
            sigma = max(sigma, _sd(np.diff(y)))
        return y[-m:].copy(), sigma

    def _forecast_one(self, state: tuple[np.ndarray, float], h: int,
                      levels: tuple[int, ...]) -> tuple[np.ndarray, Bands]:
        cycle, sigma = state
        m = cycle.size
        steps = np.arange(h)
        mean = cycle[steps % m]
        return mean, normal_bands(mean, sigma * np.sqrt(steps // m + 1), levels)


class Drift(LocalForecaster):
    """The line from the first to the last observation, extended."""

    def __init__(self, alias: str = "drift", nonnegative: bool = True,
                 on_error: Literal["nan", "raise"] = "nan") -> None:
        self.alias = alias
        self.nonnegative = nonnegative
        self.on_error = on_error

    min_length = 2

    def _fit_one(self, y: np.ndarray) -> tuple[float, float, float, int]:
        n = y.size
        slope = (y[-1] - y[0]) / (n - 1)
        return float(y[-1]), float(slope), _sd(np.diff(y) - slope), n

    def _forecast_one(self, state: tuple[float, float, float, int], h: int,
                      levels: tuple[int, ...]) -> tuple[np.ndarray, Bands]:
        last, slope, sigma, n = state
        steps = np.arange(1, h + 1)
        mean = last + slope * steps
        return mean, normal_bands(mean, sigma * np.sqrt(steps * (1 + steps / (n - 1))), levels)


class WindowMean(LocalForecaster):
    """The mean of the last ``window`` observations (all of them when ``window`` is None):
    a level forecast that ignores trend and season, robust for erratic series."""

    parameter_rules = {**COMMON, "window": optional_integer(1)}

    def __init__(self, window: int | None = 12, alias: str = "mean", nonnegative: bool = True,
                 on_error: Literal["nan", "raise"] = "nan") -> None:
        self.window = window
        self.alias = alias
        self.nonnegative = nonnegative
        self.on_error = on_error

    def _fit_one(self, y: np.ndarray) -> tuple[float, float, int]:
        recent = y if self.window is None else y[-self.window:]
        return float(recent.mean()), _sd(recent), recent.size

    def _forecast_one(self, state: tuple[float, float, int], h: int,
                      levels: tuple[int, ...]) -> tuple[np.ndarray, Bands]:
        level, sigma, n = state
        mean = np.full(h, level)
        return mean, normal_bands(mean, np.full(h, sigma * np.sqrt(1 + 1 / n)), levels)


class WindowMedian(LocalForecaster):
    """The median of the last ``window`` observations, with the window's empirical quantiles as
    the interval. The median minimises absolute error, and seizure weights are spiky (one large
    haul in a quiet year): a mean or a smoothing model chases the spike, the median does not."""

    parameter_rules = {**COMMON, "window": integer(1)}

    def __init__(self, window: int = 12, alias: str = "median", nonnegative: bool = True,
                 on_error: Literal["nan", "raise"] = "nan") -> None:
        self.window = window
        self.alias = alias
        self.nonnegative = nonnegative
        self.on_error = on_error

    def _fit_one(self, y: np.ndarray) -> np.ndarray:
        return y[-self.window:].copy()

    def _forecast_one(self, state: np.ndarray, h: int,
                      levels: tuple[int, ...]) -> tuple[np.ndarray, Bands]:
        mean = np.full(h, float(np.median(state)))
        bands: Bands = {}
        for lvl in levels:
            lo, hi = np.quantile(state, [0.5 - lvl / 200, 0.5 + lvl / 200])
            bands[lvl] = (np.full(h, lo), np.full(h, hi))
        return mean, bands
