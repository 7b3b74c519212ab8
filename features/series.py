"""Series in long format from canonical records (DESIGN section 3, ARCHITECTURE "Series").

One row per (series, period): ``unique_id, ds, y, geo_level, geo, region, drug_level, drug,
metric``. Geographies are the world, UN regions, UN subregions, countries and, where records name
one, admin-1 divisions (``geo_level = "admin1"``, ``geo = ISO3:NAME``, the country's region; a
country stays the sum of all its records, with or without a division); drugs are taxonomy
groups and substances; metrics are ``seizures`` (count of records) and ``kg`` (sum of
kilogram-equivalents).

Zero and missing differ, and the difference is the point of this module. A geography that has no
record at all in a period is *not reporting*: ``y`` is NaN in every one of its series for that
period, so models and detectors see a gap, not a fall. A geography that reported other seizures
but none of this drug has ``y = 0``. An aggregate (region, subregion, world) is the sum over its
countries that reported in the period and is NaN only when none of them did, so a region total
always equals the sum of its countries' values, NaN counting as nothing.

A series exists only for a (geography, drug) that had at least one seizure, and spans from the
geography's first reporting period (or the requested start) to the data end, gaps kept as NaN
rows. A drug first seized late in a country therefore gets zeros from the country's first
reporting period: absence before its appearance reads as 0, which is what "new drug" detection
needs.

Everything is computed on integer codes with ``numpy.bincount`` over dense (pair x period)
arrays, so a million records and tens of thousands of series take seconds.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from core.divisions import SEPARATOR
from core.errors import NarcotrendError
from features.schema import METRICS, SERIES_COLUMNS

#: Supported output frequencies -> the pandas period frequency whose periods start on them.
FREQUENCIES: dict[str, str] = {"MS": "M", "W-MON": "W-SUN", "YS": "Y"}
#: The geo levels built from records (aggregated imports add their own, such as CBP's "area").
GEO_LEVELS: tuple[str, ...] = ("world", "region", "subregion", "country", "admin1")
#: Drug level -> the record column that names the drug at that level.
DRUG_LEVELS: dict[str, str] = {"group": "drug_group", "substance": "substance"}
WORLD = "World"
SERIES_RECORD_COLUMNS: list[str] = ["date", "country", "region", "subregion", "drug_group",
                                    "substance", "kg"]
#: Read when the records have it (stores written before issue 19 do not): the admin-1 name.
OPTIONAL_SERIES_RECORD_COLUMNS: list[str] = ["admin1"]


def check_frequency(freq: str) -> str:
    """The pandas period frequency for ``freq``; a clear error for anything unsupported."""
    try:
        return FREQUENCIES[freq]
    except KeyError:
        raise NarcotrendError(
            f"`freq` must be one of {', '.join(FREQUENCIES)} (monthly, weekly from Monday, "
            f"yearly), got {freq!r}") from None


def check_columns(frame: pd.DataFrame, columns: Iterable[str], what: str) -> None:
    """Raise a NarcotrendError naming the columns ``frame`` lacks."""
    missing = [col for col in columns if col not in frame.columns]
    if missing:
        raise NarcotrendError(f"{what} lacks the column(s) {', '.join(missing)}; expected the "
                              "canonical record schema (ARCHITECTURE.md)")


def period_ordinals(dates: pd.Series, freq: str) -> np.ndarray:
    """Integer period numbers (pandas period ordinals) of ``dates`` at ``freq``."""
    pfreq = check_frequency(freq)
    dates = pd.to_datetime(dates)
    if dates.isna().any():
        raise NarcotrendError(f"records have {int(dates.isna().sum())} row(s) without a date; "
                              "every accepted record must have one (re-run `narcotrend ingest`)")
    return dates.dt.to_period(pfreq).array.asi8


def period_starts(first_ordinal: int, n_periods: int, freq: str) -> pd.DatetimeIndex:
    """Start timestamps of ``n_periods`` consecutive periods from ``first_ordinal``."""
    pfreq = check_frequency(freq)
    first = pd.Period(ordinal=first_ordinal, freq=pfreq)
    return pd.period_range(first, periods=n_periods, freq=pfreq).to_timestamp(how="start")


def period_start(dates: pd.Series, freq: str) -> pd.Series:
    """Each date's period start at ``freq`` (the ``ds`` of the period it falls in)."""
    pfreq = check_frequency(freq)
    return pd.to_datetime(dates).dt.to_period(pfreq).dt.start_time


def _ordinal_of(value: object, freq: str) -> int:
    return pd.Period(pd.Timestamp(value), freq=check_frequency(freq)).ordinal


def empty_series_frame() -> pd.DataFrame:
    """A zero-row frame with the series columns and dtypes."""
    frame = pd.DataFrame({col: pd.Series(dtype=object) for col in SERIES_COLUMNS})
    return frame.astype({"ds": "datetime64[ns]", "y": "float64"})


def build_series(records: pd.DataFrame, freq: str = "MS", *, start: object = None,
                 end: object = None) -> pd.DataFrame:
    """Long-format series at every geo level x drug level x metric from canonical records.

    ``records`` needs ``date, country, region, subregion, drug_group, substance, kg``. ``freq``
    is ``"MS"`` (monthly), ``"W-MON"`` (weeks starting Monday) or ``"YS"`` (yearly). ``start``
    and ``end`` (anything ``pd.Timestamp`` reads) bound the periods: records outside are left
    out, and series reach ``end`` even past the last record (as NaN: nobody reported).
    """
    check_columns(records, SERIES_RECORD_COLUMNS, "records")
    ordinals = period_ordinals(records["date"], freq)
    if len(records) == 0 and (start is None or end is None):
        return empty_series_frame()
    first = _ordinal_of(start, freq) if start is not None else int(ordinals.min())
    last = _ordinal_of(end, freq) if end is not None else int(ordinals.max())
    if last < first:
        raise NarcotrendError(f"`end` ({end}) is before `start` ({start})")
    inside = (ordinals >= first) & (ordinals <= last)
    frame = records.loc[inside]
    period = (ordinals[inside] - first).astype(np.int64)
    n_periods = last - first + 1
    ds = period_starts(first, n_periods, freq)
    kg = pd.to_numeric(frame["kg"], errors="coerce").fillna(0.0).to_numpy(dtype=np.float64)

    country = pd.Categorical(frame["country"])
    region = frame["region"].astype(object).to_numpy()
    geo_levels = {
        "world": (np.zeros(len(frame), dtype=np.int64), np.array([WORLD], dtype=object),
                  np.array([WORLD], dtype=object)),
        "region": _geo_codes(frame["region"], region, own_region=True),
        "subregion": _geo_codes(frame["subregion"], region),
        "country": _geo_codes(country, region),
        "admin1": _geo_codes(_admin1_geos(frame), region),
    }
    # a division reports in a period when its country reports divisions then (0, not a gap,
    # for a department without seizures in a month its country reported other departments)
    reporters = {"admin1": _countries_of(geo_levels["admin1"][1])}
    drugs = {level: pd.Categorical(frame[col]) for level, col in DRUG_LEVELS.items()}
    drugs["substance"] = _distinct_from_groups(drugs["substance"], drugs["group"])

    blocks: list[_Block] = []
    for geo_level in GEO_LEVELS:
        geo_code, geo_names, geo_regions = geo_levels[geo_level]
        for drug_level, drug in drugs.items():
            block = _level_block(geo_code, geo_names, geo_regions, drug.codes.astype(np.int64),
                                 np.asarray(drug.categories, dtype=object), period, kg,
                                 n_periods, geo_level=geo_level, drug_level=drug_level,
                                 reporter=reporters.get(geo_level))
            if block is not None:
                blocks.append(block)
    if not blocks:
        return empty_series_frame()
    return _assemble(blocks, ds.to_numpy())


def _distinct_from_groups(substances: pd.Categorical,
                          groups: pd.Categorical) -> pd.Categorical:
    """Substances renamed where they carry a group's name, so ``unique_id`` stays unique.

    The taxonomy never names a substance like a group, but an unclassified name kept as
    reported ("other") could.
    """
    clash = set(substances.categories) & set(groups.categories)
    if not clash:
        return substances
    return substances.rename_categories(
        [f"{name} (substance)" if name in clash else name for name in substances.categories])


@dataclass(frozen=True)
class _Block:
    """The series of one (geo level, drug level) as integer codes, before labels are attached.

    Labels are per pair (geography x drug); rows point at a pair and a period. Keeping blocks
    this compact until the end lets the output columns be allocated once.
    """

    geo_level: str
    drug_level: str
    geo: np.ndarray  # per pair
    region: np.ndarray  # per pair
    drug: np.ndarray  # per pair
    pair: np.ndarray  # per row
    period: np.ndarray  # per row
    y: dict[str, np.ndarray]  # metric -> per row


def _assemble(blocks: list[_Block], ds: np.ndarray) -> pd.DataFrame:
    """The long frame: every block once per metric, each column filled into one allocation."""
    total = sum(len(block.pair) for block in blocks) * len(METRICS)
    out = {col: np.empty(total, dtype=object) for col in SERIES_COLUMNS}
    out["ds"] = np.empty(total, dtype=ds.dtype)
    out["y"] = np.empty(total, dtype=np.float64)
    at = 0
    for block in blocks:
        prefix = block.geo + "/" + block.drug + "/"
        for metric in METRICS:
            rows = slice(at, at + len(block.pair))
            out["unique_id"][rows] = (prefix + metric)[block.pair]
            out["ds"][rows] = ds[block.period]
            out["y"][rows] = block.y[metric]
            out["geo_level"][rows] = block.geo_level
            out["geo"][rows] = block.geo[block.pair]
            out["region"][rows] = block.region[block.pair]
            out["drug_level"][rows] = block.drug_level
            out["drug"][rows] = block.drug[block.pair]
            out["metric"][rows] = metric
            at = rows.stop
    return pd.DataFrame(out, copy=False)


def _geo_codes(values: pd.Series | pd.Categorical, record_region: np.ndarray, *,
               own_region: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Codes (-1 where unknown), names and the UN region of each geography at one level."""
    cat = values if isinstance(values, pd.Categorical) else pd.Categorical(values)
    codes = cat.codes.astype(np.int64)
    names = np.asarray(cat.categories, dtype=object)
    if own_region:
        return codes, names, names.copy()
    known = codes >= 0
    first_row = pd.Series(np.arange(len(codes))[known]).groupby(codes[known]).first()
    regions = np.full(len(names), None, dtype=object)
    regions[first_row.index.to_numpy()] = record_region[first_row.to_numpy()]
    regions = np.where(pd.isna(regions), None, regions)
    return codes, names, regions


def _admin1_geos(frame: pd.DataFrame) -> pd.Categorical:
    """``ISO3:NAME`` of each record's division (core/divisions.py), null without one."""
    if "admin1" not in frame.columns:
        return pd.Categorical(np.full(len(frame), None, dtype=object))
    name = frame["admin1"].astype(object)
    known = (name.notna() & frame["country"].notna()).to_numpy()
    geos = np.full(len(frame), None, dtype=object)
    geos[known] = (frame["country"].astype(object).to_numpy()[known] + SEPARATOR
                   + name.to_numpy()[known])
    return pd.Categorical(geos)


def _countries_of(division_geos: np.ndarray) -> np.ndarray:
    """For each ``ISO3:NAME``, a code of its country (divisions of one country share it)."""
    countries = [str(geo).partition(SEPARATOR)[0] for geo in division_geos]
    return pd.factorize(pd.Series(countries, dtype=object))[0].astype(np.int64)


def _level_block(geo: np.ndarray, geo_names: np.ndarray, geo_regions: np.ndarray,
                 drug: np.ndarray, drug_names: np.ndarray, period: np.ndarray, kg: np.ndarray,
                 n_periods: int, *, geo_level: str, drug_level: str,
                 reporter: np.ndarray | None = None) -> _Block | None:
    """Both metrics' series for one (geo level, drug level); None when it has no series.

    A geography reports in a period when it has any record then, whatever the drug; a
    (geography, drug) pair is a series from the geography's first reporting period on, NaN
    where the geography does not report, else the pair's count or kg (0 without records).
    With ``reporter`` (per geography, the code of the unit that reports for it: a division's
    country), a geography reports when any geography of its unit has a record then.
    """
    n_geo = len(geo_names)
    if n_geo == 0:
        return None
    has_geo = geo >= 0
    unit = geo if reporter is None else reporter[np.maximum(geo, 0)]
    n_units = n_geo if reporter is None else int(reporter.max(initial=-1)) + 1
    reporting = np.bincount(unit[has_geo] * n_periods + period[has_geo],
                            minlength=n_units * n_periods).reshape(n_units, n_periods) > 0
    if reporter is not None:
        reporting = reporting[reporter]
    first_period = reporting.argmax(axis=1)

    rows = has_geo & (drug >= 0)
    n_drugs = max(len(drug_names), 1)
    pairs, pair_of_row = np.unique(geo[rows] * n_drugs + drug[rows], return_inverse=True)
    if len(pairs) == 0:
        return None
    cell = pair_of_row * n_periods + period[rows]
    size = len(pairs) * n_periods
    pair_geo, pair_drug = pairs // n_drugs, pairs % n_drugs
    in_span = np.arange(n_periods)[None, :] >= first_period[pair_geo][:, None]
    pair_idx, period_idx = np.nonzero(in_span)
    flat = pair_idx * n_periods + period_idx
    gap = ~reporting[pair_geo[pair_idx], period_idx]
    y = {"seizures": np.bincount(cell, minlength=size)[flat].astype(np.float64),
         "kg": np.bincount(cell, weights=kg[rows], minlength=size)[flat]}
    for values in y.values():
        values[gap] = np.nan
    return _Block(geo_level=geo_level, drug_level=drug_level, geo=geo_names[pair_geo],
                  region=geo_regions[pair_geo], drug=drug_names[pair_drug],
                  pair=pair_idx.astype(np.int32), period=period_idx.astype(np.int32), y=y)


def merge_aggregates(series: pd.DataFrame, aggregates: pd.DataFrame,
                     freq: str = "MS") -> tuple[pd.DataFrame, dict[str, int]]:
    """Add already-aggregated series (CBP, UNODC annual tables) to the built ones, as they are.

    Their own geo levels and values are kept; only ``ds`` moves to the period start at ``freq``
    and rows falling in one period are summed (monthly CBP in a yearly build; NaN only when
    every part is NaN). Series coarser than ``freq`` (a yearly table in a monthly build: every
    ``ds`` on 1 January) are left out rather than read as one month's value, and a
    ``unique_id`` the records already give is left out rather than duplicated. A series with
    two rows for one ``ds`` (two sources under one ``unique_id``) is left out rather than
    summed. With a ``source`` column, coarseness is judged per source first, so a yearly table
    and a monthly source that share an id (UNODC's annual ``USA/fentanyl/kg`` and CBP's) leave
    the monthly series in a monthly build instead of cancelling each other. Returns the merged
    frame and counts ``added``, ``skipped_coarser``, ``skipped_duplicate``, ``skipped_conflict``.
    """
    check_columns(aggregates, SERIES_COLUMNS, "aggregates")
    report = {"added": 0, "skipped_coarser": 0, "skipped_duplicate": 0, "skipped_conflict": 0}
    if aggregates.empty:
        return series, report
    if "source" in aggregates.columns:
        aggregates = aggregates.reset_index(drop=True)
        coarse_ids: set[str] = set()
        coarse_rows = np.zeros(len(aggregates), dtype=bool)
        for _, part in aggregates.groupby("source", sort=False):
            native = _native_frequency_rank(part["unique_id"], part["ds"])
            coarse = set(native.index[native > _FREQUENCY_RANK[freq]])
            coarse_ids |= coarse
            coarse_rows[part.index[part["unique_id"].isin(coarse)].to_numpy()] = True
        kept = aggregates.loc[~coarse_rows]
        report["skipped_coarser"] = len(coarse_ids - set(kept["unique_id"]))
        aggregates = kept
    agg = aggregates[list(SERIES_COLUMNS)].copy()
    agg["y"] = pd.to_numeric(agg["y"], errors="coerce").astype(np.float64)
    agg["ds"] = period_start(agg["ds"], freq)
    conflict = set(aggregates.loc[aggregates.duplicated(["unique_id", "ds"]), "unique_id"])
    if "source" in aggregates.columns:  # two sources in one period (CBP's months in a year)
        n_sources = agg.assign(source=aggregates["source"].to_numpy()).groupby(
            ["unique_id", "ds"], sort=False)["source"].nunique()
        conflict |= set(n_sources[n_sources > 1].index.get_level_values("unique_id"))
    keys = [col for col in SERIES_COLUMNS if col != "y"]
    agg = agg.groupby(keys, dropna=False, sort=False, as_index=False)["y"].sum(min_count=1)

    native = _native_frequency_rank(aggregates["unique_id"], aggregates["ds"])
    coarser = set(native.index[native > _FREQUENCY_RANK[freq]]) - conflict
    duplicate = set(agg["unique_id"]) & set(series["unique_id"]) - coarser - conflict
    report["skipped_coarser"] += len(coarser)
    report["skipped_duplicate"] = len(duplicate)
    report["skipped_conflict"] = len(conflict)
    agg = agg[~agg["unique_id"].isin(coarser | duplicate | conflict)]
    report["added"] = int(agg["unique_id"].nunique())
    if agg.empty:
        return series, report
    for col in keys:
        if col != "ds":
            agg[col] = agg[col].astype(object).where(agg[col].notna(), None)
    merged = pd.concat([series, agg[list(SERIES_COLUMNS)]], ignore_index=True)
    return merged, report


_FREQUENCY_RANK: dict[str, int] = {"W-MON": 1, "MS": 2, "YS": 3}


def _native_frequency_rank(unique_id: pd.Series, ds: pd.Series) -> pd.Series:
    """Per series, the coarsest frequency all its ``ds`` sit on: 3 yearly (every ds on 1
    January), 2 monthly (every ds on a 1st), else 0 (weekly or finer, never coarser)."""
    ds = pd.to_datetime(ds)
    frame = pd.DataFrame({
        "unique_id": unique_id.to_numpy(),
        "month_start": (ds.dt.day == 1).to_numpy(),
        "year_start": ((ds.dt.day == 1) & (ds.dt.month == 1)).to_numpy(),
    })
    on = frame.groupby("unique_id", sort=False)[["month_start", "year_start"]].all()
    return pd.Series(np.where(on["year_start"], 3, np.where(on["month_start"], 2, 0)),
                     index=on.index)
