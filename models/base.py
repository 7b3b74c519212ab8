"""The forecaster interface every model family follows, and the helpers they share.

A forecaster is configured in ``__init__`` (arguments stored as given), learns from a long frame
(``unique_id, ds, y``) in ``fit`` and returns ``unique_id, ds, <alias>, <alias>-lo-80, ...`` from
``predict(h, level)`` (Nixtla's column convention). Missing targets (NaN) mean "not reporting":
they are unknown, never zero, so local models fit on the observed stretch of each series with
interior gaps interpolated and forecast on from the last period of the frame.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import numpy as np
import pandas as pd
from scipy.stats import norm
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from core.errors import NarcotrendError
from models.params import COMMON, Rule, check_params

DEFAULT_LEVELS: tuple[int, ...] = (80, 95)
SEASON_LENGTHS = {"MS": 12, "M": 12, "ME": 12, "W": 52, "W-MON": 52, "W-SUN": 52, "YS": 1,
                  "Y": 1, "YE": 1, "QS": 4, "Q": 4, "D": 7}

Bands = dict[int, tuple[np.ndarray, np.ndarray]]


def season_length_for(freq: str) -> int:
    """The seasonal period of a pandas frequency (12 for monthly, 52 weekly, 1 yearly)."""
    key = freq.upper().split("-")[0] if freq.upper() not in SEASON_LENGTHS else freq.upper()
    return SEASON_LENGTHS.get(key, 1)


def interval_columns(alias: str, levels: Sequence[int]) -> list[str]:
    """``<alias>-lo-80, <alias>-hi-80, ...`` in level order."""
    return [f"{alias}-{side}-{lvl}" for lvl in levels for side in ("lo", "hi")]


def check_levels(level: Sequence[int]) -> tuple[int, ...]:
    """Interval levels as sorted ints in (0, 100); a user error names the bad value."""
    levels = tuple(sorted({int(v) for v in level}))
    if not levels or any(not 0 < v < 100 for v in levels):
        raise NarcotrendError(f"`level` must hold percentages between 0 and 100, got {list(level)}")
    return levels


def check_horizon(h: Any) -> int:
    if isinstance(h, bool) or not isinstance(h, int | np.integer) or h < 1:
        raise NarcotrendError(f"`h` (the horizon) must be a positive integer, got {h!r}")
    return int(h)


def z_value(level: int) -> float:
    """Two-sided normal quantile of an interval level (1.2816 for 80)."""
    return float(norm.ppf(0.5 + level / 200.0))


def infer_freq(ds: pd.Series) -> str:
    """The frequency of a regular date column: pandas' guess on the distinct dates."""
    dates = pd.DatetimeIndex(np.sort(pd.unique(ds)))
    if len(dates) < 3:
        raise NarcotrendError(f"cannot infer the frequency from {len(dates)} distinct dates; "
                              "pass `freq` (e.g. 'MS')")
    freq = pd.infer_freq(dates[-min(len(dates), 60):])
    if freq is None:
        raise NarcotrendError(f"the dates in the `ds` column are irregular (first "
                              f"{dates[0].date()}, last {dates[-1].date()}); pass `freq` "
                              "(e.g. 'MS')")
    return freq


def future_dates(last: np.datetime64, h: int, freq: str) -> np.ndarray:
    """The ``h`` period starts after ``last``."""
    return pd.date_range(pd.Timestamp(last), periods=h + 1, freq=freq)[1:].to_numpy()


def future_grid(last: np.ndarray, h: int, freq: str) -> np.ndarray:
    """``(n, h)`` future period starts for series ending at ``last`` (one date range per
    distinct end, since most series of a panel end together)."""
    if len(last) == 0:
        return np.empty((0, h), "datetime64[ns]")
    ends, inverse = np.unique(last, return_inverse=True)
    grids = np.stack([future_dates(end, h, freq) for end in ends])
    return grids[inverse.reshape(-1)]


def observed_history(y: np.ndarray) -> tuple[np.ndarray, int]:
    """The stretch from first to last observation, interior gaps interpolated, and the number of
    unknown periods after it (which the forecast must step over)."""
    observed = np.flatnonzero(~np.isnan(y))
    if observed.size == 0:
        return np.empty(0), len(y)
    first, last = observed[0], observed[-1]
    hist = y[first:last + 1].astype(float, copy=True)
    gaps = np.isnan(hist)
    if gaps.any():
        idx = np.arange(hist.size)
        hist[gaps] = np.interp(idx[gaps], idx[~gaps], hist[~gaps])
    return hist, len(y) - 1 - last


def normal_bands(mean: np.ndarray, sigma: np.ndarray, levels: Sequence[int]) -> Bands:
    """Symmetric normal intervals ``mean +- z * sigma`` for each level."""
    return {lvl: (mean - z_value(lvl) * sigma, mean + z_value(lvl) * sigma) for lvl in levels}


def tidy_bands(mean: np.ndarray, bands: Bands, nonnegative: bool) -> tuple[np.ndarray, Bands]:
    """Clip at zero when asked, keep every interval around the point and wider levels outside
    narrower ones, so downstream code can rely on lo_95 <= lo_80 <= forecast <= hi_80 <= hi_95."""
    if nonnegative:
        mean = np.maximum(mean, 0.0)
    out: Bands = {}
    inner_lo, inner_hi = mean, mean
    for lvl in sorted(bands):
        lo, hi = bands[lvl]
        lo = np.minimum(lo, inner_lo)
        hi = np.maximum(hi, inner_hi)
        if nonnegative:
            lo = np.maximum(lo, 0.0)
        out[lvl] = (lo, hi)
        inner_lo, inner_hi = lo, hi
    return mean, out


@dataclass
class Panel:
    """Many series on regular grids: the arrays models work on, cut once from a long frame."""

    ids: np.ndarray
    ds: list[np.ndarray]
    y: list[np.ndarray]
    freq: str

    def __len__(self) -> int:
        return len(self.ids)

    def drop_last(self, n: int) -> Panel:
        """Every series without its last ``n`` periods (a backtest cutoff)."""
        if n == 0:
            return self
        keep = [i for i, y in enumerate(self.y) if len(y) > n]
        return Panel(self.ids[keep], [self.ds[i][:-n] for i in keep],
                     [self.y[i][:-n] for i in keep], self.freq)

    def subset(self, ids: Sequence[str] | np.ndarray) -> Panel:
        wanted = set(ids)
        keep = [i for i, uid in enumerate(self.ids) if uid in wanted]
        return Panel(self.ids[keep], [self.ds[i] for i in keep], [self.y[i] for i in keep],
                     self.freq)

    def split(self, n_chunks: int) -> list[Panel]:
        """Contiguous chunks of about equal size, for parallel work."""
        bounds = np.linspace(0, len(self), max(1, min(n_chunks, len(self))) + 1).astype(int)
        return [Panel(self.ids[a:b], self.ds[a:b], self.y[a:b], self.freq)
                for a, b in zip(bounds[:-1], bounds[1:], strict=True) if b > a]

    def n_observed(self) -> np.ndarray:
        return np.array([int(np.count_nonzero(~np.isnan(y))) for y in self.y])

    def to_frame(self, id_col: str = "unique_id", time_col: str = "ds",
                 target_col: str = "y") -> pd.DataFrame:
        lengths = [len(y) for y in self.y]
        return pd.DataFrame({
            id_col: np.repeat(self.ids, lengths),
            time_col: np.concatenate(self.ds) if lengths else np.array([], "datetime64[ns]"),
            target_col: np.concatenate(self.y) if lengths else np.array([], float),
        })


PERIODS = {"MS": "M", "M": "M", "ME": "M", "QS": "Q", "YS": "Y", "Y": "Y", "YE": "Y",
           "W-MON": "W-SUN", "D": "D"}


def _period_steps(ds: np.ndarray, freq: str) -> np.ndarray | None:
    """Period ordinals of period-start dates (consecutive periods differ by 1), for the common
    frequencies; None for the others, which are checked date by date."""
    period = PERIODS.get(freq.upper())
    if period is None:
        return None
    index = pd.DatetimeIndex(ds)
    ordinals = index.to_period(period)
    if not (ordinals.start_time == index).all():  # not period starts: check date by date
        return None
    return ordinals.asi8


def to_panel(df: pd.DataFrame, id_col: str = "unique_id", time_col: str = "ds",
             target_col: str = "y", freq: str | None = None) -> Panel:
    """Cut a long frame into per-series arrays on a regular grid (missing periods become NaN)."""
    missing = [c for c in (id_col, time_col, target_col) if c not in df.columns]
    if missing:
        raise NarcotrendError(f"the series frame lacks the column(s) {missing}; it needs "
                              f"{[id_col, time_col, target_col]}")
    if df.empty:
        raise NarcotrendError("the series frame is empty: there is nothing to fit")
    frame = df[[id_col, time_col, target_col]].sort_values([id_col, time_col], kind="stable")
    ds_all = pd.to_datetime(frame[time_col]).to_numpy()
    freq = freq or infer_freq(frame[time_col])
    ids, starts = np.unique(frame[id_col].astype(str).to_numpy(), return_index=True)
    y_all = frame[target_col].to_numpy(dtype=float)
    ds_list = np.split(ds_all, starts[1:])
    y_list = np.split(y_all, starts[1:])
    steps = _period_steps(ds_all, freq)
    step_list = np.split(steps, starts[1:]) if steps is not None else None
    for i, ds in enumerate(ds_list):
        if len(ds) > 1 and np.any(ds[1:] == ds[:-1]):
            raise NarcotrendError(f"series {ids[i]!r} has repeated dates in `{time_col}`; "
                                  "each (unique_id, ds) must appear once")
        if step_list is not None and np.all(np.diff(step_list[i]) == 1):
            continue  # already a regular grid: no need to build one
        grid = pd.date_range(ds[0], ds[-1], freq=freq).to_numpy()
        if len(grid) != len(ds) or not np.array_equal(grid, ds):
            full = pd.Series(y_list[i], index=ds).reindex(grid)
            ds_list[i], y_list[i] = grid, full.to_numpy(dtype=float)
    return Panel(ids.astype(object), ds_list, y_list, freq)


@dataclass
class ForecastArrays:
    """Forecasts of many series as aligned arrays: ``mean[i, k]`` for series i, step k + 1.

    ``failures`` names each series whose forecast is NaN and why (it failed in fit or in
    predict), so a caller reports them without reading anything back from the model."""

    ids: np.ndarray
    ds: np.ndarray
    mean: np.ndarray
    bands: Bands = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)

    def to_frame(self, alias: str, id_col: str = "unique_id",
                 time_col: str = "ds") -> pd.DataFrame:
        n, h = self.mean.shape
        data: dict[str, Any] = {id_col: np.repeat(self.ids, h), time_col: self.ds.reshape(-1),
                                alias: self.mean.reshape(-1)}
        for lvl in sorted(self.bands):
            lo, hi = self.bands[lvl]
            data[f"{alias}-lo-{lvl}"] = lo.reshape(-1)
            data[f"{alias}-hi-{lvl}"] = hi.reshape(-1)
        frame = pd.DataFrame(data)
        frame[time_col] = frame[time_col].astype("datetime64[ns]")
        return frame


class Forecaster(BaseEstimator):
    """Base of every forecaster: the long-frame ``fit``/``predict`` and the array-level API.

    The array-level API is what other packages call (the training code cuts a frame into a
    :class:`Panel` once and fits many models and backtest windows on it):

    - ``fit_panel(panel)`` checks the parameters (``validate_params``, from ``parameter_rules``),
      learns, returns ``self``;
    - ``predict_panel(h, levels)`` returns :class:`ForecastArrays` and leaves the fitted object
      unchanged (it may be called many times, from several threads); series that could not be
      forecast are NaN there and named, with the reason, in ``ForecastArrays.failures``.

    Subclasses implement the hooks ``_fit_panel(panel)`` and ``_predict_panel(h, levels)`` and
    list the rules of their parameters in ``parameter_rules`` (see :mod:`models.params`).
    """

    alias: str
    nonnegative: bool
    is_global: bool = False
    parameter_rules: ClassVar[dict[str, Rule]] = COMMON

    def fit(self, df: pd.DataFrame, id_col: str = "unique_id", time_col: str = "ds",
            target_col: str = "y") -> Forecaster:
        """Learn from a long frame; NaN targets are unknown periods, not zeros."""
        self.validate_params()
        self.id_col_, self.time_col_ = id_col, time_col
        self._fit_panel(to_panel(df, id_col, time_col, target_col, getattr(self, "freq", None)))
        return self

    def predict(self, h: int, level: Sequence[int] = DEFAULT_LEVELS) -> pd.DataFrame:
        """``h`` periods ahead of each series' last period, with intervals at ``level``; a series
        that could not be forecast has NaN rows (``predict_panel`` says why)."""
        out = self.predict_panel(h, level)
        return out.to_frame(self.alias, getattr(self, "id_col_", "unique_id"),
                            getattr(self, "time_col_", "ds"))

    def fit_panel(self, panel: Panel) -> Forecaster:
        """Learn from the series of ``panel`` (NaN = unknown period); returns ``self``."""
        self.validate_params()
        self._fit_panel(panel)
        return self

    def predict_panel(self, h: int, level: Sequence[int] = DEFAULT_LEVELS) -> ForecastArrays:
        """Forecasts ``h`` periods ahead of each fitted series, intervals at ``level``."""
        check_is_fitted(self)
        return self._predict_panel(check_horizon(h), check_levels(level))

    def validate_params(self) -> None:
        """Raise a NarcotrendError naming the first parameter that breaks its rule (``fit`` and
        ``fit_panel`` call it; so do runners before fanning a model out to workers)."""
        check_params(type(self).__name__, self.get_params(deep=False), self.parameter_rules)

    def _fit_panel(self, panel: Panel) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _predict_panel(self, h: int, levels: tuple[int, ...]) -> ForecastArrays:  # pragma: no cover
        raise NotImplementedError


PAST_RECORD = "a trend extrapolated past its record"  # the reason's end, to count by


class LocalForecaster(Forecaster):
    """One model per series. Subclasses give ``_fit_one(y)`` (a state) and
    ``_forecast_one(state, h, levels)`` (mean and bands); ``y`` is the observed stretch.

    A series whose fit raises, or that is shorter than ``min_length``, is kept in ``failures_``
    and forecast as NaN (``on_error="nan"``), so one bad series never stops a run of thousands;
    ``on_error="raise"`` re-raises instead. A forecast that raises in ``predict_panel`` is
    reported the same way, in the returned ``failures``.
    """

    min_length: int = 1
    on_error: Literal["nan", "raise"]

    #: a point forecast above this many times the series' largest observed period is a trend
    #: extrapolated past anything the series has shown (IDS: a log-scale ETS on Colombia's
    #: gappy 2015 cocaine reports grew 30% a month, to 3,037 t in Dec 2016 against a record
    #: of 448 t), not a forecast: the series counts as failed for the model, so the backtest
    #: chooses another one (or the run falls back and says why)
    record_factor: float = 2.0

    def _fit_one(self, y: np.ndarray) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def _forecast_one(self, state: Any, h: int,
                      levels: tuple[int, ...]) -> tuple[np.ndarray, Bands]:  # pragma: no cover
        raise NotImplementedError

    def _forward(self, y: np.ndarray) -> np.ndarray:
        """The scale the model is fit on: ``log1p`` when ``transform="log1p"``."""
        if getattr(self, "transform", None) == "log1p":
            return np.log1p(np.maximum(y, 0.0))
        return y

    def _backward(self, values: np.ndarray) -> np.ndarray:
        """Back to counts/kg. ``expm1`` of a log-scale mean is the median, not the mean, which
        is what an absolute-error metric (MASE) rewards on skewed seizure data; quantiles, hence
        interval bounds, carry over unchanged under a monotone transform."""
        if getattr(self, "transform", None) == "log1p":
            return np.expm1(np.minimum(values, 700.0))
        return values

    def _fit_panel(self, panel: Panel) -> None:
        states: list[Any] = []
        trailing: list[int] = []
        records: list[float] = []
        failures: dict[str, str] = {}
        with warnings.catch_warnings():  # convergence chatter from thousands of fits
            warnings.simplefilter("ignore")
            for uid, y in zip(panel.ids, panel.y, strict=True):
                hist, n_after = observed_history(y)
                trailing.append(n_after)
                records.append(float(np.max(hist)) if hist.size else np.nan)
                try:
                    if hist.size < self.min_length:
                        raise ValueError(f"{hist.size} observed periods, {self.min_length} needed")
                    states.append(self._fit_one(self._forward(hist)))
                except Exception as err:  # noqa: BLE001 - one series must not stop the others
                    if self.on_error == "raise":
                        raise
                    states.append(None)
                    failures[str(uid)] = f"{type(err).__name__}: {err}"
        self.ids_ = panel.ids
        self.last_ds_ = np.array([ds[-1] for ds in panel.ds], dtype="datetime64[ns]")
        self.freq_ = panel.freq
        self.trailing_ = np.array(trailing, dtype=int)
        self.records_ = np.array(records, dtype=float)
        self.states_ = states
        self.failures_ = failures

    def _predict_panel(self, h: int, levels: tuple[int, ...]) -> ForecastArrays:
        n = len(self.ids_)
        mean = np.full((n, h), np.nan)
        bands = {lvl: (np.full((n, h), np.nan), np.full((n, h), np.nan)) for lvl in levels}
        failures = dict(self.failures_)
        for i, state in enumerate(self.states_):
            if state is None:
                continue
            skip = int(self.trailing_[i])
            try:
                m, b = self._forecast_one(state, h + skip, levels)
            except Exception as err:  # noqa: BLE001 - as in fit
                if self.on_error == "raise":
                    raise
                failures[str(self.ids_[i])] = f"{type(err).__name__}: {err}"
                continue
            back = self._backward
            m, b = tidy_bands(back(np.asarray(m, float)[skip:]),
                              {lvl: (back(np.asarray(lo, float)[skip:]),
                                     back(np.asarray(hi, float)[skip:]))
                               for lvl, (lo, hi) in b.items()}, self.nonnegative)
            records = getattr(self, "records_", None)  # absent on a bundle fitted before it
            record = records[i] if records is not None else np.nan
            if record > 0 and np.nanmax(m, initial=0.0) > self.record_factor * record:
                failures[str(self.ids_[i])] = (
                    f"forecast {np.nanmax(m):,.4g} is over {self.record_factor:g} x the series' "
                    f"largest period ({record:,.4g}): {PAST_RECORD}")
                continue
            mean[i] = m
            for lvl in levels:
                bands[lvl][0][i], bands[lvl][1][i] = b[lvl]
        return ForecastArrays(self.ids_, future_grid(self.last_ds_, h, self.freq_), mean, bands,
                              failures)
