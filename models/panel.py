"""A wide view of many long-format series, so detectors test thousands of series at once.

Detectors work on a `SeriesMatrix` (one row per series, one column per period, NaN where the
geography did not report) instead of looping over groups; the keys stay alongside in a small
frame. The matrix is cut at the detection period, so nothing after it is ever visible. It knows
its build frequency (`MS`, `W-MON`, `YS`): its period labels are `YYYY-MM`, `YYYY-Www` (ISO
week) or `YYYY`. (Not to be confused with `models.base.Panel`, the ragged per-series arrays the
forecasters fit on.)
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd

from features.series import check_frequency

KEY_COLUMNS = ["unique_id", "geo_level", "geo", "region", "drug_level", "drug", "metric"]


#: Build frequency -> periods in a year, and the `strftime` of its period labels.
PERIODS_PER_YEAR: dict[str, int] = {"MS": 12, "W-MON": 52, "YS": 1}
LABEL_FORMATS: dict[str, str] = {"MS": "%Y-%m", "W-MON": "%G-W%V", "YS": "%Y"}


@dataclass(frozen=True)
class SeriesMatrix:
    """Series as a matrix: `values[i, t]` is series `keys.iloc[i]` in period `periods[t]`, at
    the build frequency `freq`."""

    keys: pd.DataFrame
    values: np.ndarray
    periods: pd.DatetimeIndex
    freq: str = "MS"

    @property
    def n_periods(self) -> int:
        return int(self.values.shape[1])

    def period_label(self, t: int) -> str:
        """The period at column `t` as `YYYY-MM`, `YYYY-Www` or `YYYY`."""
        return period_label(self.periods[t], self.freq)

    def with_values(self, values: np.ndarray) -> SeriesMatrix:
        return SeriesMatrix(self.keys, values, self.periods, self.freq)


def period_label(value: pd.Timestamp, freq: str = "MS") -> str:
    """A period start as its label at `freq`: `2024-05`, `2024-W19`, `2024`."""
    check_frequency(freq)
    return pd.Timestamp(value).strftime(LABEL_FORMATS[freq])


def label_frequency(label: str) -> str:
    """The build frequency a period label is written at: `MS`, `W-MON` or `YS`."""
    if "-W" in label:
        return "W-MON"
    return "YS" if len(label) == 4 else "MS"


def label_period(label: str) -> pd.Period:
    """A period label (`2024-05`, `2024-W19`, `2024`) as a pandas Period of its frequency."""
    freq = label_frequency(label)
    return pd.Period(to_period_start(label, freq), check_frequency(freq))


def to_period_start(value: str | pd.Timestamp, freq: str = "MS") -> pd.Timestamp:
    """A label (`YYYY-MM`, `YYYY-Www`, `YYYY`), a date or a timestamp as the first day of its
    period at `freq`."""
    pfreq = check_frequency(freq)
    if isinstance(value, str) and "-W" in value:
        value = pd.Timestamp.fromisocalendar(int(value[:4]), int(value.split("-W")[1]), 1)
    return pd.Timestamp(value).to_period(pfreq).start_time


def to_matrix(series: pd.DataFrame, as_of: str | pd.Timestamp | None = None,
              freq: str = "MS") -> SeriesMatrix:
    """Pivot a long series frame built at `freq` to a matrix, keeping only periods up to `as_of`
    (inclusive).

    Periods missing from the frame become NaN (unknown), like a reporting gap.
    """
    frame = series
    if as_of is not None:
        frame = frame[frame["ds"] <= to_period_start(as_of, freq)]
    if frame.empty:
        return SeriesMatrix(pd.DataFrame(columns=KEY_COLUMNS), np.empty((0, 0)),
                            pd.DatetimeIndex([]), freq)
    key_cols = [c for c in KEY_COLUMNS if c in frame.columns]
    keys = frame.drop_duplicates("unique_id")[key_cols].sort_values("unique_id")
    keys = keys.reset_index(drop=True)
    start, end = frame["ds"].min(), frame["ds"].max()
    periods = pd.date_range(start, end, freq=freq)
    row = pd.Index(keys["unique_id"]).get_indexer(frame["unique_id"])
    col = periods.get_indexer(frame["ds"])
    values = np.full((len(keys), len(periods)), np.nan)
    ok = col >= 0
    values[row[ok], col[ok]] = frame["y"].to_numpy(dtype=float)[ok]
    return SeriesMatrix(keys, values, periods, freq)


def slice_matrix(matrix: SeriesMatrix, as_of: str | pd.Timestamp) -> SeriesMatrix:
    """The matrix cut after `as_of`: what a detection at `as_of` may see."""
    end = int(np.searchsorted(matrix.periods, to_period_start(as_of, matrix.freq), side="right"))
    return SeriesMatrix(matrix.keys, matrix.values[:, :end], matrix.periods[:end], matrix.freq)


def stabilise(values: np.ndarray, metric: np.ndarray) -> np.ndarray:
    """Variance-stabilised values: square root for counts, log for kilograms (NaN kept)."""
    out = np.where(metric[:, None] == "seizures", np.sqrt(np.clip(values, 0, None)),
                   np.log1p(np.clip(values, 0, None)))
    return out


def scale_floor(metric: np.ndarray) -> np.ndarray:
    """The smallest noise scale believed on the stabilised values (Poisson on the sqrt scale)."""
    return np.where(metric == "seizures", 0.5, 0.35)


def nan_median(values: np.ndarray, axis: int = -1) -> np.ndarray:
    """Median ignoring NaN, NaN where a row has no value (no warning).

    Sorting once (NaN sorts last) and picking the middle of the reported values is several
    times faster than `np.nanmedian` on many short rows.
    """
    data = np.moveaxis(np.asarray(values, dtype=float), axis, -1)
    if data.shape[-1] == 0:
        return np.full(data.shape[:-1], np.nan)
    ordered = np.sort(data, axis=-1)
    n = np.sum(~np.isnan(ordered), axis=-1)
    lo = np.clip((n - 1) // 2, 0, None)[..., None]
    hi = np.clip(n // 2, 0, data.shape[-1] - 1)[..., None]
    mid = 0.5 * (np.take_along_axis(ordered, lo, -1) + np.take_along_axis(ordered, hi, -1))
    return np.where(n > 0, mid[..., 0], np.nan)


def nan_mean(values: np.ndarray, axis: int = -1) -> np.ndarray:
    """Mean ignoring NaN, NaN where a row has no value (no warning)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(values, axis=axis)


def nan_std(values: np.ndarray, axis: int = -1) -> np.ndarray:
    """Sample standard deviation ignoring NaN, NaN with fewer than two values (no warning)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanstd(values, axis=axis, ddof=1)


def robust_scale(values: np.ndarray, axis: int = -1) -> np.ndarray:
    """1.4826 x median absolute deviation, ignoring NaN (a standard deviation robust to spikes)."""
    med = nan_median(values, axis=axis)
    return 1.4826 * nan_median(np.abs(values - np.expand_dims(med, axis)), axis=axis)


def clip_spikes(values: np.ndarray, spread: np.ndarray, k: float = 3.0) -> np.ndarray:
    """Clip interior points that stand more than `k` spreads above (below) both neighbours to
    the nearer neighbour.

    A one-month spike or dip then weighs no more than its neighbours; a rising or falling run is
    untouched because each of its points has a neighbour beyond it. NaN neighbours are skipped.
    """
    out = values.copy()
    if values.shape[1] < 3:
        return out
    left, mid, right = values[:, :-2], values[:, 1:-1], values[:, 2:]
    high = np.fmax(left, right)  # NaN only when both neighbours are NaN
    low = np.fmin(left, right)
    band = k * spread[:, None]
    with np.errstate(invalid="ignore"):
        out[:, 1:-1] = np.where(mid > high + band, high, np.where(mid < low - band, low, mid))
    return out


def mask_incomplete_aggregates(
    panel: SeriesMatrix,
    subregion_of: dict[str, str] | None = None,
    *,
    max_missing: float = 0.1,
    lookback: int = 36,
    excluded: np.ndarray | None = None,
) -> SeriesMatrix:
    """The panel with aggregate cells set to NaN where countries that usually contribute more
    than `max_missing` of the aggregate did not report.

    An aggregate (world, region, subregion) is the sum over the countries that reported, so a
    country's reporting gap would read as a fall of its region: masking makes it unknown, as it
    is for the country. A country's usual contribution is its median over its reported periods
    in the last `lookback` periods of the panel (nothing later is seen). `subregion_of` maps
    ISO3 to UN subregion; without it subregions are left as they are. `excluded` (over the
    country rows, in order): countries already taken out of their aggregates
    (`exclude_low_reporters`), whose missing periods no longer matter to them.
    """
    keys = panel.keys
    values = panel.values
    if values.size == 0:
        return panel
    is_country = (keys["geo_level"] == "country").to_numpy()
    if not is_country.any():
        return panel
    c_values = values[is_country]
    contrib = np.nan_to_num(nan_median(c_values[:, -lookback:], axis=1))
    if excluded is not None:
        contrib = np.where(excluded, 0.0, contrib)
    missing = np.isnan(c_values) * contrib[:, None]
    out = values.copy()
    for codes, n_groups, agg_rows, idx in aggregate_groups(keys, subregion_of):
        missing_sum = np.zeros((n_groups, values.shape[1]))
        np.add.at(missing_sum, codes, missing)
        total = np.bincount(codes, weights=contrib, minlength=n_groups)
        with np.errstate(invalid="ignore", divide="ignore"):
            share = np.where(total[:, None] > 0, missing_sum / total[:, None], 0.0)
        has = idx >= 0
        rows = agg_rows[has]
        out[rows] = np.where(share[idx[has]] > max_missing, np.nan, values[rows])
    return panel.with_values(out)


def exclude_low_reporters(panel: SeriesMatrix, hidden: np.ndarray,
                          subregion_of: dict[str, str] | None = None, *,
                          lookback: int = 36, min_low: int = 2) -> tuple[SeriesMatrix, np.ndarray]:
    """Aggregates with their low-reporting members taken out, and which countries were.

    `hidden` (the panel's shape): the values of `low_reporting_cells`, unknown in the panel
    (NaN elsewhere).
    A country with `min_low` low-reporting periods among the last `lookback` is subtracted, over
    every period, from each aggregate it belongs to: the aggregate then reads as itself without
    that country, so a change that country's reporting explains is no change, whatever its
    share (a masking share only catches large members, and a spell's recovery would read as a
    surge). The aggregates' keys get `without`: the countries taken out, `;`-joined (an alert
names them). One low period alone (a spell's first, or a quiet month) is only unknown in the
    country's own series: a level alert needs several periods. Returns the panel and, over the
    country rows in order, the countries taken out.
    """
    is_country = (panel.keys["geo_level"] == "country").to_numpy()
    excluded = np.zeros(int(is_country.sum()), dtype=bool)
    if panel.values.size == 0 or not is_country.any():
        return panel, excluded
    c_hidden = hidden[is_country]
    excluded = (~np.isnan(c_hidden[:, -lookback:])).sum(axis=1) >= min_low
    if not excluded.any():
        return panel, excluded
    reported = np.where(np.isnan(c_hidden), panel.values[is_country], c_hidden)
    reported = np.where(excluded[:, None], np.nan_to_num(reported), 0.0)
    out = panel.values.copy()
    without = np.full(len(panel.keys), "", dtype=object)
    names = panel.keys.loc[is_country, "geo"].astype(str).to_numpy()
    for codes, n_groups, agg_rows, idx in aggregate_groups(panel.keys, subregion_of):
        removed = np.zeros((n_groups, panel.values.shape[1]))
        np.add.at(removed, codes, reported)
        has = idx >= 0
        rows = agg_rows[has]
        out[rows] = np.clip(panel.values[rows] - removed[idx[has]], 0.0, None)  # NaN stays
        taken = pd.Series(names[excluded]).groupby(codes[excluded]).agg(
            lambda c: ";".join(sorted(c)))
        without[rows] = taken.reindex(idx[has]).fillna("").to_numpy()
    keys = panel.keys.assign(without=without)
    return SeriesMatrix(keys, out, panel.periods, panel.freq), excluded


def aggregate_groups(keys: pd.DataFrame, subregion_of: dict[str, str] | None
                     ) -> Iterator[tuple[np.ndarray, int, np.ndarray, np.ndarray]]:
    """Per aggregate level (world, region, and subregion with `subregion_of`) with rows in
    `keys`: the group of each country row (codes, in order), the number of groups, the
    aggregate rows, and each aggregate row's group (-1: no country of the panel in it)."""
    is_country = (keys["geo_level"] == "country").to_numpy()
    countries = keys[is_country]
    drug_key = (countries["drug_level"] + "|" + countries["drug"] + "|" + countries["metric"])
    members = {
        "world": pd.Series("World", index=countries.index),
        "region": countries["region"].astype(object),
    }
    if subregion_of is not None:
        members["subregion"] = countries["geo"].map(subregion_of)
    for level, geo in members.items():
        agg_rows = np.flatnonzero((keys["geo_level"] == level).to_numpy())
        if agg_rows.size == 0:
            continue
        codes, uniques = pd.factorize((level + "|" + geo.astype(str) + "|" + drug_key)
                                      .to_numpy())
        agg = keys.iloc[agg_rows]
        agg_group = (level + "|" + agg["geo"].astype(str) + "|" + agg["drug_level"] + "|"
                     + agg["drug"] + "|" + agg["metric"]).to_numpy()
        yield codes, len(uniques), agg_rows, pd.Index(uniques).get_indexer(agg_group)


def low_reporting_cells(matrix: SeriesMatrix, low: pd.DataFrame | None) -> np.ndarray:
    """Which cells of the matrix (its shape) are a country's (or its admin-1 divisions') series
    in a period of low reporting (`low`: `country, ds`), where it sent a fraction of its usual
    reports: a change in who reports is unknown, not a fall (detection reads those cells as
    NaN, and aggregates take the country out: `exclude_low_reporters`)."""
    cells = np.zeros(matrix.values.shape, dtype=bool)
    if low is None or low.empty or matrix.values.size == 0:
        return cells
    level = matrix.keys["geo_level"].to_numpy()
    geo = matrix.keys["geo"].astype(str)
    country = np.where(level == "admin1", geo.str.split(":").str[0], geo)
    rows_of = pd.Series(np.arange(len(country)))[np.isin(level, ("country", "admin1"))]
    rows_of.index = country[rows_of.to_numpy()]
    low = low[low["country"].isin(rows_of.index)]
    cols = matrix.periods.get_indexer(low["ds"])
    pairs = pd.DataFrame({"country": low["country"].to_numpy(), "col": cols})
    pairs = pairs[pairs["col"] >= 0]
    if pairs.empty:
        return cells
    joined = pairs.merge(pd.DataFrame({"country": rows_of.index, "row": rows_of.to_numpy()}),
                         on="country")
    cells[joined["row"].to_numpy(), joined["col"].to_numpy()] = True
    return cells
