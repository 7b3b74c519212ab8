"""Reporting completeness: per reporting country and period, how much of its usual reporting the
data hold, computed from the records themselves (`completeness.parquet`, beside the series).

A change in who reports is not a change in trafficking: a country that sends a fraction of its
usual reports for some months reads, in its series and in every aggregate it is part of, as a
collapse, and its recovery as a surge. Whole months without any record are already gaps (NaN);
this catches the partial ones.

The estimate, for country `c` and period `t`, over drug groups `d`:
- `records[c, d, t]`: records of `d` reported by `c` in `t`;
- `expected[c, d, t]`: the mean of `records[c, d, .]` over the periods among the `lookback`
  before `t` that were themselves complete (so a long partial spell does not become the norm;
  with fewer than `min_history` complete periods there, over all of them: a lasting change of
  reporting is taken as the new norm after `lookback` periods). History only: a spell's first
  low period is already judged against the reporting before it;
- `completeness[c, t]`: the median over `c`'s drug groups usually reported (`expected` at least
  `min_expected` records) of `records / expected` (the total's share when no single group is
  usual). A reporting change moves every drug together; a real fall in one drug while the
  others hold leaves the median (and so that fall is still read as a decline). 0 for a period
  without any record (a gap); NaN before the country has a history.

`low` (`_is_low`) marks completeness below `LOW_COMPLETENESS` whose records of all drugs are also
that far below their expected total, too few for Poisson noise, and not one drug's fall: either
the country usually reports at least `MIN_DRUGS` drug groups and half of them are each
significantly down, or the other drugs pooled, without the one that fell most, are as far down
(a reporter of two or three drug groups, each too small to test alone).

Who reported: where records name their reporting source (`source`: an agency, a data set) and
a country usually has two or more of them, a source that stops (at most half its own expected
records, significantly) takes its usual share away from the country's completeness even when
the others send more (`stopped_sources` names it), and the period is low when the sources
still sending hold less than `SOURCE_LOW` of the usual reports: a series that lost a third of
its reporters cannot be read as a decline. (UNODC IDS names one source for every row, so there
the mix says nothing; the built-in world names five agencies.)

Detection does not read a low period of the country (its series are unknown there) and takes
the country out of the aggregates it belongs to while its spell is in their lookback
(`models.panel.exclude_low_reporters`); training masks those periods too.
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
MIN_DRUGS = 3  # drug groups a country must usually report for its drugs to be tested one by one
SOURCE_LOW = 2 / 3  # sources still sending below this share of the usual reports: low
COMPLETENESS_COLUMNS = ["country", "ds", "records", "expected", "completeness", "low",
                        "stopped_sources"]


def reporting_completeness(records: pd.DataFrame, freq: str = "MS", *, lookback: int = 24,
                           min_history: int = 6, min_expected: float = 3.0,
                           max_p: float = 1e-2, rest_p: float = 0.05) -> pd.DataFrame:
    """One row per (reporting country, period) from its first record to the data's end:
    `country, ds, records, expected, completeness, low` (see the module doc)."""
    frame = records[records["country"].notna()]
    if frame.empty:
        return pd.DataFrame({c: pd.Series(dtype=t) for c, t in zip(
            COMPLETENESS_COLUMNS, ["object", "datetime64[ns]", "float", "float", "float",
                                   "bool", "object"], strict=True)})
    ds = period_start(frame["date"], freq)
    periods = pd.date_range(ds.min(), ds.max(), freq=freq)
    countries, c_idx = np.unique(frame["country"].astype(str).to_numpy(), return_inverse=True)
    drugs, d_idx = np.unique(frame["drug_group"].astype(str).to_numpy(), return_inverse=True)
    t_idx = periods.get_indexer(ds)
    counts = np.zeros((len(countries), len(drugs), len(periods)))
    np.add.at(counts, (c_idx, d_idx, t_idx), 1.0)
    total = counts.sum(axis=1)
    first = np.argmax(total > 0, axis=1)
    sources, by_source = _source_counts(frame, c_idx, t_idx, counts.shape)
    stopped_sources = np.full(total.shape, "", dtype=object)

    completeness = np.full(total.shape, np.nan)
    expected_total = np.full(total.shape, np.nan)
    complete = np.zeros(total.shape, dtype=bool)
    low = np.zeros(total.shape, dtype=bool)
    for t in range(len(periods)):
        lo = max(0, t - lookback)
        if t == lo:
            continue  # no history yet: unknown
        ok = complete[:, lo:t]
        use = np.where((ok.sum(axis=1) >= min_history)[:, None], ok, total[:, lo:t] > 0)
        expected = _expected(counts[:, :, lo:t], use)
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows: NaN, as meant
            usual = expected >= min_expected
            ratios = np.where(usual, counts[:, :, t] / expected, np.nan)
            value = np.nanmedian(ratios, axis=1)
        e_all = expected.sum(axis=1)
        known = e_all >= min_expected
        value = np.where(usual.any(axis=1), value, total[:, t] / np.where(known, e_all, 1.0))
        value = np.where(known, value, np.nan)
        value = np.where(known & (total[:, t] == 0), 0.0, value)
        low[:, t] = known & _is_low(value, counts[:, :, t], expected, usual, max_p, rest_p,
                                    min_expected)
        if len(sources) > 1:
            share, stopped = _source_mix(by_source[:, :, t], _expected(by_source[:, :, lo:t], use),
                                         min_expected, max_p)
            low[:, t] |= known & (share < SOURCE_LOW)
            value = np.where(known, np.fmin(value, share), value)
            for c in np.flatnonzero(known & stopped.any(axis=1)):
                stopped_sources[c, t] = ";".join(sources[stopped[c]])
        completeness[:, t] = value
        expected_total[:, t] = np.where(known, e_all, np.nan)
        complete[:, t] = (total[:, t] > 0) & ~low[:, t]
    c_grid, t_grid = np.meshgrid(np.arange(len(countries)), np.arange(len(periods)),
                                 indexing="ij")
    keep = (t_grid >= first[:, None]).ravel()
    out = pd.DataFrame({
        "country": countries[c_grid.ravel()], "ds": periods[t_grid.ravel()],
        "records": total.ravel(), "expected": expected_total.ravel(),
        "completeness": completeness.ravel(), "low": low.ravel(),
        "stopped_sources": stopped_sources.ravel(),
    })[keep].reset_index(drop=True)
    return out[COMPLETENESS_COLUMNS]


def _expected(counts: np.ndarray, use: np.ndarray) -> np.ndarray:
    """Mean records per (country, part) over the history periods `use` marks (country x
    period); 0 without any."""
    masked = np.where(use[:, None, :], counts, np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows: 0, as meant
        return np.nan_to_num(np.nanmean(masked, axis=2))


def _source_counts(frame: pd.DataFrame, c_idx: np.ndarray, t_idx: np.ndarray,
                   shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """The reporting sources named (`source`: agency or data set), and records per (country,
    source, period); rows without a source are left out."""
    if "source" not in frame.columns:
        return np.array([], dtype=object), np.zeros((shape[0], 0, shape[2]))
    named = frame["source"].astype("string").str.strip()
    ok = (named.notna() & (named != "")).to_numpy()
    sources, s_idx = np.unique(named[ok].astype(str).to_numpy(), return_inverse=True)
    out = np.zeros((shape[0], len(sources), shape[2]))
    np.add.at(out, (c_idx[ok], s_idx, t_idx[ok]), 1.0)
    return sources.astype(object), out


def _source_mix(records: np.ndarray, expected: np.ndarray, min_expected: float,
                max_p: float) -> tuple[np.ndarray, np.ndarray]:
    """Per country (`records`, `expected`: country x source of one period): the share of its
    usual reports that the sources still sending hold, and which usual sources stopped (at
    most `LOW_COMPLETENESS` of their own expectation, too few for Poisson noise). NaN share
    where fewer than two sources usually report (the mix says nothing then). What a stopped
    source used to send counts as missing even when the others send more: a reporting agency
    that stops is a change in who reports, whatever the totals do."""
    usual = expected >= min_expected
    with np.errstate(invalid="ignore", divide="ignore"):
        stopped = (usual & (records <= LOW_COMPLETENESS * expected)
                   & (stats.poisson.cdf(records, expected) < max_p))
        lost = np.where(stopped, expected - records, 0.0).sum(axis=1)
        e = expected.sum(axis=1)
        share = np.where((usual.sum(axis=1) >= 2) & (e > 0), 1.0 - lost / e, np.nan)
    return share, stopped


def _is_low(completeness: np.ndarray, records: np.ndarray, expected: np.ndarray,
            usual: np.ndarray, max_p: float, rest_p: float, min_rest: float) -> np.ndarray:
    """Low reporting, per country (`records`, `expected`, `usual`: country x drug group of one
    period):
    - the drugs' median share below `LOW_COMPLETENESS`, and the records of all drugs together
      at most that share of the expected total, too few for Poisson noise (one-sided p below
      `max_p`): a small reporter's quiet month is not a reporting change;
    - and not one drug's fall, seen either way: at least `MIN_DRUGS` drug groups usually
      reported and half of them each significantly down (p below `rest_p`), or, without the
      drug that fell most, the other drugs together (expected at least `min_rest`) also at
      most that share of their expected total, significantly. A real fall in one drug leaves
      the others holding; a change in who reports takes them down (many drugs at once for a
      large reporter, whatever it still sends of one; the pooled others for a reporter of two
      or three drug groups, whose drugs are each too few to test)."""
    n, e = records.sum(axis=1), expected.sum(axis=1)
    fell = np.argmax(expected - records, axis=1)[:, None]
    n_rest = n - np.take_along_axis(records, fell, 1)[:, 0]
    e_rest = e - np.take_along_axis(expected, fell, 1)[:, 0]
    with np.errstate(invalid="ignore"):
        down = usual & (stats.poisson.cdf(records, expected) < rest_p)
        n_usual = usual.sum(axis=1)
        many = (n_usual >= MIN_DRUGS) & (down.sum(axis=1) * 2 >= n_usual)
        rest = ((e_rest >= min_rest) & (n_rest <= LOW_COMPLETENESS * e_rest)
                & (stats.poisson.cdf(n_rest, e_rest) < rest_p))
        return ((completeness < LOW_COMPLETENESS) & (n <= LOW_COMPLETENESS * e)
                & (stats.poisson.cdf(n, e) < max_p) & (many | rest))


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
    """Long series (`unique_id, geo_level, geo, ds, y`) with `y` NaN where a country's (or its
    admin-1 divisions') reporting was low: a month at a quarter of the usual reporting is not a
    level to forecast from.

    Except for a series whose every seizure fell in such months: masked, its history would read
    as never seized, and its band [0, 0], though a partial report is a lower bound and a
    non-zero one proves seizures. On IDS, 584 series (mostly admin-1 divisions) were so; one
    is Afghanistan's one heroin seizure in Bamiyan (0.017 kg, 2015-11), in a month the country
    reported at 37% of its usual volume. All of such a series' low months are kept, not only
    its non-zero ones, which would read its spells as all seizure."""
    low = low_reporting_periods(completeness)
    if low.empty:
        return series
    country = series["geo"].astype(str).str.split(":").str[0]
    own = series["geo_level"].isin(["country", "admin1"]).to_numpy()
    hit = own & pd.MultiIndex.from_arrays([country, series["ds"]]).isin(
        pd.MultiIndex.from_frame(low[["country", "ds"]]))
    seized = series["y"].fillna(0.0) > 0
    by_id = series["unique_id"]
    only_in_low = (seized & hit).groupby(by_id).transform("any") & ~(
        seized & ~hit).groupby(by_id).transform("any")
    return series.assign(y=series["y"].where(~hit | only_in_low))
