"""Reporting completeness: per reporting country and period, how much of its usual reporting the
data hold, computed from the records themselves (`completeness.parquet`, beside the series).

A change in who reports is not a change in trafficking: a country that sends a fraction of its
usual reports for some months reads, in its series and in every aggregate it is part of, as a
collapse, and its recovery as a surge. Whole months without any record are already gaps (NaN);
this catches the partial ones.

The estimate, for country `c` and period `t`, over drug groups `d`:
- `records[c, d, t]`: records of `d` reported by `c` in `t`;
- `expected[c, d, t]`: the median of `records[c, d, .]` over the periods among the `lookback`
  before `t` that were themselves complete (so a long partial spell does not become the norm;
  with fewer than `min_history` complete periods there, over all of them: a lasting change of
  reporting is taken as the new norm after `lookback` periods);
- `completeness[c, t]`: the median over `c`'s drug groups usually reported (`expected` at least
  `min_expected` records) of `records / expected`. A reporting change moves every drug
  together; a real fall in one drug while the others hold leaves the median (and so that fall
  is still read as a decline). 0 for a period without any record (a gap); NaN before the
  country has a history.

`low` marks completeness below `LOW_COMPLETENESS` when the country usually reports at least
`MIN_DRUGS` drug groups (with fewer, a reporting change and a real fall cannot be told apart),
at least half of them are each significantly below their own expectation, and its records of
all drugs are also that far below their expected total, too few for Poisson noise (`_is_low`):
detection does not read those periods of the country (its series, and aggregates it matters
to, are unknown there), nor does training.
Nothing later than `t` is used for `t`, so a replay sees what a monthly run would have seen.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from scipy import stats

from core.home import HomePaths
from features.series import period_start

LOW_COMPLETENESS = 0.5
MIN_DRUGS = 3  # drug groups a country must usually report for its completeness to be judged
COMPLETENESS_COLUMNS = ["country", "ds", "records", "expected", "completeness", "low"]


def reporting_completeness(records: pd.DataFrame, freq: str = "MS", *, lookback: int = 24,
                           min_history: int = 6, min_expected: float = 3.0,
                           max_p: float = 1e-3) -> pd.DataFrame:
    """One row per (reporting country, period) from its first record to the data's end:
    `country, ds, records, expected, completeness, low` (see the module doc)."""
    frame = records[records["country"].notna()]
    if frame.empty:
        return pd.DataFrame({c: pd.Series(dtype=t) for c, t in zip(
            COMPLETENESS_COLUMNS, ["object", "datetime64[ns]", "float", "float", "float",
                                   "bool"], strict=True)})
    ds = period_start(frame["date"], freq)
    periods = pd.date_range(ds.min(), ds.max(), freq=freq)
    countries, c_idx = np.unique(frame["country"].astype(str).to_numpy(), return_inverse=True)
    drugs, d_idx = np.unique(frame["drug_group"].astype(str).to_numpy(), return_inverse=True)
    t_idx = periods.get_indexer(ds)
    counts = np.zeros((len(countries), len(drugs), len(periods)))
    np.add.at(counts, (c_idx, d_idx, t_idx), 1.0)
    total = counts.sum(axis=1)
    first = np.argmax(total > 0, axis=1)

    completeness = np.full(total.shape, np.nan)
    expected_total = np.full(total.shape, np.nan)
    complete = np.zeros(total.shape, dtype=bool)
    low = np.zeros(total.shape, dtype=bool)
    for t in range(len(periods)):
        lo = max(0, t - lookback)
        history = counts[:, :, lo:t]
        ok = complete[:, lo:t]
        use = np.where((ok.sum(axis=1) >= min_history)[:, None], ok, total[:, lo:t] > 0)
        masked = np.where(use[:, None, :], history, np.nan)
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows: NaN, as meant
            expected = np.nanmedian(masked, axis=2) if t > lo else np.full(counts.shape[:2], np.nan)
            usual = expected >= min_expected
            ratios = np.where(usual, counts[:, :, t] / expected, np.nan)
            value = np.nanmedian(ratios, axis=1)
        has_usual = usual.any(axis=1)
        value = np.where(has_usual, value, np.nan)
        value = np.where(has_usual & (total[:, t] == 0), 0.0, value)
        completeness[:, t] = value
        expected_total[:, t] = np.where(has_usual, np.nansum(np.where(usual, expected, 0), 1),
                                        np.nan)
        with np.errstate(invalid="ignore"):
            down = usual & (stats.poisson.cdf(counts[:, :, t], np.nan_to_num(expected)) < 0.05)
        n_usual = usual.sum(axis=1)
        low[:, t] = (_is_low(value, total[:, t], expected_total[:, t], max_p)
                     & (n_usual >= MIN_DRUGS) & (down.sum(axis=1) * 2 >= n_usual))
        complete[:, t] = (total[:, t] > 0) & ~low[:, t]
    c_grid, t_grid = np.meshgrid(np.arange(len(countries)), np.arange(len(periods)),
                                 indexing="ij")
    keep = (t_grid >= first[:, None]).ravel()
    out = pd.DataFrame({
        "country": countries[c_grid.ravel()], "ds": periods[t_grid.ravel()],
        "records": total.ravel(), "expected": expected_total.ravel(),
        "completeness": completeness.ravel(), "low": low.ravel(),
    })[keep].reset_index(drop=True)
    return out[COMPLETENESS_COLUMNS]


def _is_low(completeness: np.ndarray, records: np.ndarray, expected: np.ndarray,
            max_p: float) -> np.ndarray:
    """Low reporting: the drugs' median share below `LOW_COMPLETENESS`, and the records of all
    drugs together at most that share of the expected total, too few for Poisson noise (one-sided
    p below `max_p`): a small reporter's quiet month is not a reporting change."""
    with np.errstate(invalid="ignore"):
        few = stats.poisson.cdf(records, np.nan_to_num(expected)) < max_p
        return ((completeness < LOW_COMPLETENESS) & (records <= LOW_COMPLETENESS * expected)
                & few & (expected > 0))


def low_reporting_periods(completeness: pd.DataFrame | None) -> pd.DataFrame:
    """The (country, ds) pairs of low completeness (empty for None)."""
    if completeness is None or completeness.empty:
        return pd.DataFrame({"country": pd.Series(dtype=object),
                             "ds": pd.Series(dtype="datetime64[ns]")})
    return completeness.loc[completeness["low"], ["country", "ds"]].reset_index(drop=True)


def read_completeness(paths: HomePaths) -> pd.DataFrame | None:
    """The home's completeness table (None for a home built before `build` wrote it)."""
    return pd.read_parquet(paths.completeness) if paths.completeness.exists() else None


def mask_low_reporting_rows(series: pd.DataFrame,
                            completeness: pd.DataFrame | None) -> pd.DataFrame:
    """Long series (`geo_level, geo, ds, y`) with `y` NaN where a country's (or its admin-1
    divisions') reporting was low: a month at a quarter of the usual reporting is not a level to
    forecast from."""
    low = low_reporting_periods(completeness)
    if low.empty:
        return series
    country = series["geo"].astype(str).str.split(":").str[0]
    own = series["geo_level"].isin(["country", "admin1"]).to_numpy()
    hit = own & pd.MultiIndex.from_arrays([country, series["ds"]]).isin(
        pd.MultiIndex.from_frame(low[["country", "ds"]]))
    return series.assign(y=series["y"].where(~hit))
