"""Exponential smoothing, ARIMA and Theta, one model per series.

statsforecast is the engine: its compiled ETS/ARIMA/Theta fit a monthly series in milliseconds,
where statsmodels takes tens of milliseconds, and a training run fits every series several times
(one per backtest window plus the final fit). statsmodels stays the reference the tests compare
against. A series shorter than two seasonal cycles is fit without season, since a season cannot
be estimated from less.

``transform="log1p"`` fits on ``log(1 + y)``: seizure counts and weights are skewed and their
variance grows with their level, which the log evens out; back-transformed, the point forecast is
the median (what MASE rewards) and the intervals are skewed like the data.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np

from models.base import Bands, LocalForecaster
from models.params import COMMON, Rule, integer, one_of

Transform = Literal["log1p"] | None


class _StatsforecastModel(LocalForecaster):
    """Shared fit/forecast around a statsforecast model class."""

    season_length: int

    def _engine(self, season_length: int) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def _fit_one(self, y: np.ndarray) -> Any:
        if np.ptp(y) == 0:  # a constant series: every method agrees, and the search is slow
            return float(y[0])
        m = self.season_length if y.size >= 2 * self.season_length else 1
        return self._engine(m).fit(y)

    def _forecast_one(self, state: Any, h: int,
                      levels: tuple[int, ...]) -> tuple[np.ndarray, Bands]:
        if isinstance(state, float):
            flat = np.full(h, state)
            return flat, {lvl: (flat, flat) for lvl in levels}
        out = state.predict(h=h, level=list(levels))
        return out["mean"], {lvl: (out[f"lo-{lvl}"], out[f"hi-{lvl}"]) for lvl in levels}


class ETS(_StatsforecastModel):
    """Exponential smoothing state-space model (Hyndman's ETS), chosen by AICc among the
    components ``model`` allows ("ZZZ": error, trend and season each picked; "ZZA": additive
    season only, cheaper)."""

    min_length = 4
    parameter_rules = {
        **COMMON,
        "model": Rule(lambda v: isinstance(v, str) and len(v) == 3 and v[0] in "ZAM"
                      and v[1] in "ZANM" and v[2] in "ZANM",
                      "three letters: error Z/A/M, trend Z/A/N/M, season Z/A/N/M (e.g. 'ZZZ')"),
        "damped": one_of(None, True, False),
    }

    def __init__(self, season_length: int = 12, model: str = "ZZZ", damped: bool | None = None,
                 transform: Transform = None, alias: str = "ets", nonnegative: bool = True,
                 on_error: Literal["nan", "raise"] = "nan") -> None:
        self.season_length = season_length
        self.model = model
        self.damped = damped
        self.transform = transform
        self.alias = alias
        self.nonnegative = nonnegative
        self.on_error = on_error

    def _engine(self, season_length: int) -> Any:
        from statsforecast.models import AutoETS

        model = self.model if season_length > 1 else self.model[:2] + "N"
        return AutoETS(season_length=season_length, model=model, damped=self.damped)


class ARIMA(_StatsforecastModel):
    """Seasonal ARIMA chosen by stepwise AICc search (Hyndman-Khandakar). The search is bounded
    by ``max_p``/``max_q``/``max_P``/``max_Q`` because an unbounded one costs ten times more for
    no gain on short monthly series."""

    min_length = 6
    parameter_rules = {**COMMON, "max_p": integer(0), "max_q": integer(0), "max_P": integer(0),
                       "max_Q": integer(0)}

    def __init__(self, season_length: int = 12, max_p: int = 2, max_q: int = 2, max_P: int = 1,
                 max_Q: int = 1, transform: Transform = None, alias: str = "arima",
                 nonnegative: bool = True, on_error: Literal["nan", "raise"] = "nan") -> None:
        self.season_length = season_length
        self.transform = transform
        self.max_p = max_p
        self.max_q = max_q
        self.max_P = max_P
        self.max_Q = max_Q
        self.alias = alias
        self.nonnegative = nonnegative
        self.on_error = on_error

    def _engine(self, season_length: int) -> Any:
        from statsforecast.models import AutoARIMA

        return AutoARIMA(season_length=season_length, max_p=self.max_p, max_q=self.max_q,
                         max_P=self.max_P, max_Q=self.max_Q,
                         max_order=self.max_p + self.max_q + self.max_P + self.max_Q)


class Theta(_StatsforecastModel):
    """The Theta method (the M3 winner): a damped-trend line plus simple exponential smoothing on
    the seasonally adjusted series; ``model=None`` picks among the standard, optimised and
    dynamic variants by in-sample fit."""

    min_length = 4
    parameter_rules = {**COMMON, "model": one_of(None, "STM", "OTM", "DSTM", "DOTM"),
                       "decomposition_type": one_of("multiplicative", "additive")}

    def __init__(self, season_length: int = 12, model: str | None = None,
                 decomposition_type: str = "multiplicative", transform: Transform = None,
                 alias: str = "theta", nonnegative: bool = True,
                 on_error: Literal["nan", "raise"] = "nan") -> None:
        self.season_length = season_length
        self.transform = transform
        self.model = model
        self.decomposition_type = decomposition_type
        self.alias = alias
        self.nonnegative = nonnegative
        self.on_error = on_error

    def _engine(self, season_length: int) -> Any:
        from statsforecast.models import AutoTheta

        return AutoTheta(season_length=season_length, model=self.model,
                         decomposition_type=self.decomposition_type)
