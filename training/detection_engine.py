"""Detection as of one period: every detector over all series and route flows, with false alarms
controlled across the whole run. Pure: frames in, alert dicts out (the stage, backtests and tests
share it).

False alarms: every statistical test of a run (trend, level shift, route shift, modus operandi
shift) goes into one Benjamini-Hochberg correction at `false_discovery_rate`; on top, a finding
must involve a
minimum volume and a minimum fold change, and it must persist (several periods beyond the
history), so a one-month outlier or a reporting gap (NaN, unknown) cannot raise an alert.

Fewer, better-chosen tests: only series whose seizure counts could ever pass the volume gates are
tested (`testable_rows`, a filter on the total volume, which leaves the tests valid), trends are
tested on seizure counts only (a kilogram sum moves with its few largest seizures, which the
level-shift test, with Student's t tails and a count gate, judges better), and a kilogram alert
needs `min_kg_seizures` a period behind it.

Frequency: the matrix carries the build's frequency; the config's months become its periods
(`DetectionPeriods`), and a yearly build skips the detectors that need sub-year periods.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from features.normalise import country_regions
from models.changepoint import scan_level_shifts
from models.modus_operandi import scan_modus_operandi
from models.novelty import scan_new_drugs
from models.panel import (
    SeriesMatrix,
    exclude_low_reporters,
    low_reporting_cells,
    mask_incomplete_aggregates,
    nan_mean,
    slice_matrix,
    to_matrix,
    to_period_start,
)
from models.route_shift import Windows, scan_route_shifts
from models.trend import scan_trends
from training import detection_alerts as found_to
from training.detection_config import DetectionConfig, DetectionPeriods


def benjamini_hochberg(p_values: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (q-values); NaN stays NaN."""
    p = np.asarray(p_values, dtype=float)
    q = np.full_like(p, np.nan)
    ok = ~np.isnan(p)
    if ok.any():
        q[ok] = stats.false_discovery_control(np.clip(p[ok], 0.0, 1.0), method="bh")
    return q


def subregions_of(countries: pd.Series) -> dict[str, str]:
    """ISO3 -> UN subregion, from the normaliser's table (the one the series were built with)."""
    codes = pd.Series(pd.unique(countries.dropna()))
    table = country_regions(codes)
    return {c: s for c, s in zip(codes, table["subregion"], strict=True) if isinstance(s, str)}


@dataclass(frozen=True)
class FullMatrix:
    """What detection reads, before any cut: the series (a country's low-reporting periods
    unknown), the values those periods held (`hidden`, NaN elsewhere: an aggregate takes such a
    country out), and ISO3 -> subregion."""

    matrix: SeriesMatrix
    hidden: np.ndarray
    subregions: dict[str, str]


def full_matrix(series: pd.DataFrame, config: DetectionConfig, freq: str = "MS",
                low_reporting: pd.DataFrame | None = None) -> FullMatrix:
    """All the series of the configured geo levels as one matrix; a country's series are
    unknown (NaN) in its periods of low reporting (`low_reporting`: `country, ds`, from
    `features.completeness`)."""
    matrix = to_matrix(series[series["geo_level"].isin(config.geo_levels)], freq=freq)
    cells = low_reporting_cells(matrix, low_reporting)
    hidden = np.where(cells, np.nan_to_num(matrix.values), np.nan)
    matrix = matrix.with_values(np.where(cells, np.nan, matrix.values))
    countries = matrix.keys.loc[matrix.keys["geo_level"] == "country", "geo"]
    return FullMatrix(matrix, hidden, subregions_of(countries) if len(countries) else {})


def visible_matrix(full: FullMatrix, as_of: str | pd.Timestamp | None,
                   config: DetectionConfig) -> SeriesMatrix:
    """What a detection at `as_of` sees: periods up to it; aggregates without the countries
    that reported low in the coverage lookback (`exclude_low_reporters`), and masked where
    countries that usually contribute did not report (judged on those periods only)."""
    matrix, hidden = full.matrix, full.hidden
    if as_of is not None:
        matrix = slice_matrix(matrix, as_of)
        hidden = hidden[:, :matrix.n_periods]
    periods = DetectionPeriods.of(config, matrix.freq)
    subregions = full.subregions or None
    matrix, excluded = exclude_low_reporters(matrix, hidden, subregions,
                                             lookback=periods.coverage_lookback)
    return mask_incomplete_aggregates(matrix, subregions, max_missing=config.max_missing_share,
                                      lookback=periods.coverage_lookback, excluded=excluded)


def detect_frame(
    series: pd.DataFrame,
    routes: pd.DataFrame | None,
    as_of: str | pd.Timestamp | None,
    forecasts: pd.DataFrame | None = None,
    config: DetectionConfig | None = None,
    thresholds: pd.DataFrame | None = None,
    freq: str = "MS",
    low_reporting: pd.DataFrame | None = None,
) -> list[dict[str, Any]]:
    """All alerts as of `as_of` (the last period of `series` when None), seeing nothing later.

    `forecasts` (`unique_id, ds, forecast, lo_80, hi_80, lo_95, hi_95`) serve two purposes:
    periods up to `as_of` that a forecast covers use its upper 95% bound as the expected
    interval of the trend test; periods after `as_of` are checked against `thresholds`.
    `low_reporting` (`country, ds`): periods a country is not read in (see `full_matrix`).
    """
    config = config or DetectionConfig()
    if as_of is not None:
        series = series[series["ds"] <= to_period_start(as_of, freq)]
    full = full_matrix(series, config, freq, low_reporting)
    return detect_matrix(visible_matrix(full, None, config), routes, config,
                         forecasts=forecasts, thresholds=thresholds)


def detect_matrix(
    matrix: SeriesMatrix,
    routes: pd.DataFrame | None,
    config: DetectionConfig,
    *,
    forecasts: pd.DataFrame | None = None,
    thresholds: pd.DataFrame | None = None,
) -> list[dict[str, Any]]:
    """All alerts at the matrix's last period (routes after it are ignored)."""
    if matrix.n_periods == 0:
        return []
    periods = DetectionPeriods.of(config, matrix.freq)
    as_of = matrix.periods[-1]
    detected_at = matrix.period_label(matrix.n_periods - 1)
    levels = "surge" not in periods.skipped

    tested = testable_rows(matrix, periods)
    trended = tested[np.isin(matrix.keys["metric"].to_numpy()[tested], config.trend_metrics)]
    trends = shifts = pd.DataFrame({"row": [], "p_value": []})
    if levels:
        forecast_upper = _forecast_upper(matrix, forecasts)
        trends = scan_trends(
            sub_matrix(matrix, trended), window=periods.trend_window,
            min_valid=periods.trend_min_valid, baseline=periods.baseline,
            min_baseline_valid=periods.min_baseline_valid, recent=periods.trend_recent,
            min_above=periods.trend_min_above, k=config.trend_k, season=periods.season,
            forecast_upper=None if forecast_upper is None else forecast_upper[trended])
        shifts = scan_level_shifts(
            sub_matrix(matrix, tested), baseline=periods.baseline,
            max_lag=periods.shift_max_lag, min_after=periods.shift_min_after,
            min_baseline_valid=periods.min_baseline_valid)
        trends["row"] = trended[trends["row"].to_numpy(int)]
        shifts["row"] = tested[shifts["row"].to_numpy(int)]
    route_tests = mo_tests = pd.DataFrame()
    windows = Windows.ending(as_of, periods.route_recent, periods.route_baseline, matrix.freq)
    if routes is not None and len(routes):
        route_tests = scan_route_shifts(
            routes[routes["ds"] <= as_of], windows, min_total=config.route_min_total,
            min_share_change=config.route_min_share_change)
        mo_tests = scan_modus_operandi(
            routes[routes["ds"] <= as_of], windows, min_total=config.mo_min_total,
            min_share_change=config.mo_min_share_change)

    # one Benjamini-Hochberg correction over every test of the run
    p_all = np.concatenate([trends["p_value"].to_numpy(float), shifts["p_value"].to_numpy(float),
                            route_tests["p_value"].to_numpy(float) if len(route_tests) else [],
                            mo_tests["p_value"].to_numpy(float) if len(mo_tests) else []])
    q_all = benjamini_hochberg(p_all)
    n_t, n_s, n_r = len(trends), len(shifts), len(route_tests)
    trends = trends.assign(q_value=q_all[:n_t])
    shifts = shifts.assign(q_value=q_all[n_t:n_t + n_s])
    if len(route_tests):
        route_tests = route_tests.assign(q_value=q_all[n_t + n_s:n_t + n_s + n_r])
    if len(mo_tests):
        mo_tests = mo_tests.assign(q_value=q_all[n_t + n_s + n_r:])

    out: list[dict[str, Any]] = []
    if levels:
        level_alerts = found_to.shift_alerts(matrix, shifts, config, periods, detected_at)
        surged = {found_to.series_key(a) for a in level_alerts if a["type"] == "surge"}
        out += level_alerts
        out += [a for a in found_to.trend_alerts(matrix, trends, config, periods, detected_at)
                if found_to.series_key(a) not in surged]
    new_drugs = scan_new_drugs(
        matrix, window=periods.new_drug_window, min_history=periods.new_drug_min_history,
        min_seizures=config.new_drug_min_seizures, min_periods=periods.new_drug_min_periods,
        seen_absent=periods.new_drug_seen_absent)
    out += found_to.new_drug_alerts(matrix, new_drugs, periods, detected_at)
    if len(route_tests):
        out += found_to.route_alerts(route_tests, windows, config, periods, detected_at)
    if len(mo_tests):
        out += found_to.modus_operandi_alerts(mo_tests, windows, config, periods, detected_at)
    if forecasts is not None and thresholds is not None and len(thresholds):
        out += found_to.threshold_alerts(matrix, forecasts, thresholds, as_of, detected_at)
    return out


def count_twins(keys: pd.DataFrame) -> np.ndarray:
    """For each series, the row of its seizure-count twin (itself for a count series; -1 when
    the twin is absent)."""
    twin = keys["unique_id"].str.rsplit("/", n=1).str[0] + "/seizures"
    return pd.Index(keys["unique_id"]).get_indexer(twin)


def sub_matrix(matrix: SeriesMatrix, rows: np.ndarray) -> SeriesMatrix:
    """The matrix's series at `rows` (renumbered from 0)."""
    return SeriesMatrix(matrix.keys.iloc[rows].reset_index(drop=True), matrix.values[rows],
                        matrix.periods, matrix.freq)


def testable_rows(matrix: SeriesMatrix, periods: DetectionPeriods) -> np.ndarray:
    """Rows worth a trend or level-shift test: series whose seizure counts (their own, or their
    count twin's for kilograms) average at least `min_test_seizures` a period over the span the
    scans read (baseline and recent periods together); for kilograms at least half of
    `min_kg_seizures`, below which no kg alert could pass its count gate.

    Filtering on the total volume leaves the tests valid (for Poisson counts the total is
    independent of how it splits between baseline and recent periods under no change) and spares
    Benjamini-Hochberg thousands of series too small to ever pass the volume gates.
    """
    twin = count_twins(matrix.keys)
    span = matrix.values[:, -(periods.baseline + periods.shift_max_lag):]
    volume = np.nan_to_num(nan_mean(span, axis=1))
    own = np.where(twin >= 0, volume[np.maximum(twin, 0)], 0.0)
    need = np.where(matrix.keys["metric"].to_numpy() == "seizures", periods.min_test_seizures,
                    max(periods.min_test_seizures, periods.min_kg_seizures / 2))
    return np.flatnonzero(own >= need)


def _forecast_upper(matrix: SeriesMatrix, forecasts: pd.DataFrame | None) -> np.ndarray | None:
    """The forecasts' upper 95% bounds on the matrix's grid (NaN where none), periods <= as_of."""
    if forecasts is None or forecasts.empty:
        return None
    fc = forecasts[forecasts["ds"] <= matrix.periods[-1]]
    if fc.empty:
        return None
    rows = pd.Index(matrix.keys["unique_id"]).get_indexer(fc["unique_id"])
    cols = matrix.periods.get_indexer(fc["ds"])
    ok = (rows >= 0) & (cols >= 0)
    upper = np.full(matrix.values.shape, np.nan)
    upper[rows[ok], cols[ok]] = fc["hi_95"].to_numpy(float)[ok]
    return upper
