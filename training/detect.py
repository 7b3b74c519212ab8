"""The detect stage: every detector over all series and route flows as of one period, with false
alarms controlled across the whole run, then alerts stored (`narcotrend detect`).

`detect_frame` is pure (frames in, alert dicts out) so that backtests, tests and the stage share
it; `detect` adds the I/O: read the built series, routes and forecasts, store the alerts, log the
run to MLflow.

False alarms: every statistical test of a run (trend, level shift, route shift) goes into one
Benjamini-Hochberg correction at `false_discovery_rate`; on top, a finding must involve a
minimum volume and a minimum fold change, and it must persist (several periods beyond the
history), so a one-month outlier or a reporting gap (NaN, unknown) cannot raise an alert.

Fewer, better-chosen tests: only series whose seizure counts could ever pass the volume gates are
tested (`testable_rows`, a filter on the total volume, which leaves the tests valid), trends are
tested on seizure counts only (a kilogram sum moves with its few largest seizures, which the
level-shift test, with Student's t tails and a count gate, judges better), and a kilogram alert
needs `min_kg_seizures` a period behind it.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy import stats

from core.errors import NarcotrendError
from core.locking import writes_home
from models import alerts as alert_shape
from models.changepoint import scan_level_shifts
from models.novelty import scan_new_drugs
from models.panel import (
    Panel,
    mask_incomplete_aggregates,
    nan_mean,
    slice_panel,
    to_panel,
    to_period_start,
)
from models.route_shift import Windows, scan_route_shifts
from models.threshold import read_thresholds, scan_thresholds
from models.trend import scan_trends

if TYPE_CHECKING:
    from core.settings import Settings


@dataclass(frozen=True)
class DetectionConfig:
    """Every detector setting of a run (logged with each evaluation)."""

    false_discovery_rate: float = 0.05
    geo_levels: tuple[str, ...] = ("world", "region", "subregion", "country")
    min_seizures: float = 10.0  # mean seizures per period at stake in a count series (a change of a
    # few seizures from a handful is Poisson noise)
    min_kg: float = 5.0  # mean kg per period at stake in a kg series
    min_kg_seizures: float = 20.0  # mean seizures a period behind a kg alert (heavy-tailed sizes)
    min_ratio: float = 1.5  # fold change a level alert needs (1 / it for a decline)
    baseline: int = 24  # periods of history a level is compared with
    trend_window: int = 8
    trend_min_valid: int = 6
    trend_recent: int = 3
    trend_min_above: int = 2
    trend_k: float = 2.0
    trend_metrics: tuple[str, ...] = ("seizures",)  # kg sums move with a few big seizures
    shift_max_lag: int = 9
    shift_min_after: int = 3
    shift_min_persistence: float = 0.75
    new_drug_window: int = 6
    new_drug_min_history: int = 12
    new_drug_min_seizures: float = 5.0
    new_drug_min_periods: int = 2
    route_recent: int = 6
    route_baseline: int = 24
    route_min_total: float = 30.0
    route_min_effect: float = 0.1  # Cramér's V
    route_min_share_change: float = 0.05
    max_missing_share: float = 0.1  # aggregates with more of their usual volume unreported: unknown
    min_test_seizures: float = 2.0  # mean seizures a period (scan span) to be tested at all

    @classmethod
    def from_settings(cls, settings: Settings) -> DetectionConfig:
        """The config with every field the settings define (`false_discovery_rate`, ...)."""
        values = {f.name: getattr(settings, f.name) for f in fields(cls)
                  if hasattr(settings, f.name)}
        if "geo_levels" in values:
            values["geo_levels"] = tuple(values["geo_levels"])
        return cls(**values)

    def as_params(self) -> dict[str, Any]:
        """Flat parameters for MLflow."""
        return {k: (",".join(v) if isinstance(v, tuple) else v) for k, v in asdict(self).items()}


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
    from features.normalise import country_regions

    codes = pd.Series(pd.unique(countries.dropna()))
    table = country_regions(codes)
    return {c: s for c, s in zip(codes, table["subregion"], strict=True) if isinstance(s, str)}


def full_panel(series: pd.DataFrame, config: DetectionConfig) -> tuple[Panel, dict[str, str]]:
    """All the series of the configured geo levels as one panel, and ISO3 -> subregion."""
    panel = to_panel(series[series["geo_level"].isin(config.geo_levels)])
    countries = panel.keys.loc[panel.keys["geo_level"] == "country", "geo"]
    return panel, (subregions_of(countries) if len(countries) else {})


def visible_panel(panel: Panel, as_of: str | pd.Timestamp | None, subregions: dict[str, str],
                  config: DetectionConfig) -> Panel:
    """What a detection at `as_of` sees: periods up to it, aggregates masked where countries
    that usually contribute did not report (judged on those periods only)."""
    if as_of is not None:
        panel = slice_panel(panel, as_of)
    return mask_incomplete_aggregates(panel, subregions or None,
                                      max_missing=config.max_missing_share)


def detect_frame(
    series: pd.DataFrame,
    routes: pd.DataFrame | None,
    as_of: str | pd.Timestamp | None,
    forecasts: pd.DataFrame | None = None,
    config: DetectionConfig | None = None,
    thresholds: pd.DataFrame | None = None,
) -> list[dict[str, Any]]:
    """All alerts as of `as_of` (the last period of `series` when None), seeing nothing later.

    `forecasts` (`unique_id, ds, forecast, lo_80, hi_80, lo_95, hi_95`) serve two purposes:
    periods up to `as_of` that a forecast covers use its upper 95% bound as the expected
    interval of the trend test; periods after `as_of` are checked against `thresholds`.
    """
    config = config or DetectionConfig()
    if as_of is not None:
        series = series[series["ds"] <= to_period_start(as_of)]
    panel, subregions = full_panel(series, config)
    return detect_panel(visible_panel(panel, None, subregions, config), routes, config,
                        forecasts=forecasts, thresholds=thresholds)


def detect_panel(
    panel: Panel,
    routes: pd.DataFrame | None,
    config: DetectionConfig,
    *,
    forecasts: pd.DataFrame | None = None,
    thresholds: pd.DataFrame | None = None,
) -> list[dict[str, Any]]:
    """All alerts at the panel's last period (routes after it are ignored)."""
    if panel.n_periods == 0:
        return []
    as_of = panel.periods[-1]
    detected_at = panel.period_label(panel.n_periods - 1)
    forecast_upper = _forecast_upper(panel, forecasts)

    tested = testable_rows(panel, config)
    trended = tested[np.isin(panel.keys["metric"].to_numpy()[tested], config.trend_metrics)]
    trends = scan_trends(
        sub_panel(panel, trended), window=config.trend_window, min_valid=config.trend_min_valid,
        baseline=config.baseline, recent=config.trend_recent, min_above=config.trend_min_above,
        k=config.trend_k,
        forecast_upper=None if forecast_upper is None else forecast_upper[trended])
    shifts = scan_level_shifts(
        sub_panel(panel, tested), baseline=config.baseline, max_lag=config.shift_max_lag,
        min_after=config.shift_min_after)
    trends["row"] = trended[trends["row"].to_numpy(int)]
    shifts["row"] = tested[shifts["row"].to_numpy(int)]
    route_tests = pd.DataFrame()
    if routes is not None and len(routes):
        windows = Windows.ending(as_of, config.route_recent, config.route_baseline)
        route_tests = scan_route_shifts(
            routes[routes["ds"] <= as_of], windows, min_total=config.route_min_total,
            min_share_change=config.route_min_share_change)

    # one Benjamini-Hochberg correction over every test of the run
    p_all = np.concatenate([trends["p_value"].to_numpy(float), shifts["p_value"].to_numpy(float),
                            route_tests["p_value"].to_numpy(float) if len(route_tests) else []])
    q_all = benjamini_hochberg(p_all)
    n_t, n_s = len(trends), len(shifts)
    trends = trends.assign(q_value=q_all[:n_t])
    shifts = shifts.assign(q_value=q_all[n_t:n_t + n_s])
    if len(route_tests):
        route_tests = route_tests.assign(q_value=q_all[n_t + n_s:])

    out: list[dict[str, Any]] = []
    level_alerts = _shift_alerts(panel, shifts, config, detected_at)
    surged = {_series_key(a) for a in level_alerts if a["type"] == "surge"}
    out += level_alerts
    out += [a for a in _trend_alerts(panel, trends, config, detected_at)
            if _series_key(a) not in surged]
    out += _new_drug_alerts(panel, config, detected_at)
    if len(route_tests):
        out += _route_alerts(route_tests, config, detected_at)
    if forecasts is not None and thresholds is not None and len(thresholds):
        out += _threshold_alerts(panel, forecasts, thresholds, as_of, detected_at)
    return out


def count_twins(keys: pd.DataFrame) -> np.ndarray:
    """For each series, the row of its seizure-count twin (itself for a count series; -1 when
    the twin is absent)."""
    twin = keys["unique_id"].str.rsplit("/", n=1).str[0] + "/seizures"
    return pd.Index(keys["unique_id"]).get_indexer(twin)


def sub_panel(panel: Panel, rows: np.ndarray) -> Panel:
    """The panel's series at `rows` (renumbered from 0)."""
    return Panel(panel.keys.iloc[rows].reset_index(drop=True), panel.values[rows], panel.periods)


def testable_rows(panel: Panel, config: DetectionConfig) -> np.ndarray:
    """Rows worth a trend or level-shift test: series whose seizure counts (their own, or their
    count twin's for kilograms) average at least `min_test_seizures` a period over the span the
    scans read (baseline and recent periods together); for kilograms at least half of
    `min_kg_seizures`, below which no kg alert could pass its count gate.

    Filtering on the total volume leaves the tests valid (for Poisson counts the total is
    independent of how it splits between baseline and recent periods under no change) and spares
    Benjamini-Hochberg thousands of series too small to ever pass the volume gates.
    """
    twin = count_twins(panel.keys)
    span = panel.values[:, -(config.baseline + config.shift_max_lag):]
    volume = np.nan_to_num(nan_mean(span, axis=1))
    own = np.where(twin >= 0, volume[np.maximum(twin, 0)], 0.0)
    need = np.where(panel.keys["metric"].to_numpy() == "seizures", config.min_test_seizures,
                    max(config.min_test_seizures, config.min_kg_seizures / 2))
    return np.flatnonzero(own >= need)


# --- from detector findings to alerts ----------------------------------------------------------
def _min_volume(metric: str, config: DetectionConfig) -> float:
    return config.min_seizures if metric == "seizures" else config.min_kg


def _keys(panel: Panel, row: int) -> dict[str, Any]:
    return panel.keys.iloc[int(row)].to_dict()


def _seizures_per_period(panel: Panel, row: int, start: int, stop: int) -> float:
    """Mean seizures a period over columns [start, stop) of a series' count twin.

    A kilogram series moves with the sizes of a few seizures (a monthly sum of n lognormal sizes
    has a coefficient of variation near 3 / sqrt(n)); a kg alert on fewer than `min_kg_seizures`
    a period would report the luck of a few big seizures, not a change.
    """
    uid = panel.keys.at[int(row), "unique_id"]
    twin = uid.rsplit("/", 1)[0] + "/seizures"
    index = pd.Index(panel.keys["unique_id"])
    pos = index.get_indexer([twin])[0]
    if pos < 0:
        return 0.0
    window = panel.values[pos, max(0, start):stop]
    return float(np.nanmean(window)) if np.isfinite(window).any() else 0.0


def _shift_alerts(panel: Panel, shifts: pd.DataFrame, config: DetectionConfig,
                  detected_at: str) -> list[dict[str, Any]]:
    alerts = []
    for rec in shifts[shifts["q_value"] <= config.false_discovery_rate].itertuples():
        keys = _keys(panel, rec.row)
        metric = keys["metric"]
        up = rec.direction > 0
        ratio = rec.after / rec.before if rec.before > 0 else np.inf
        stake = rec.after if up else rec.before
        if (rec.persistence < config.shift_min_persistence
                or stake < _min_volume(metric, config)
                or (up and ratio < config.min_ratio)
                or (not up and ratio > 1.0 / config.min_ratio)):
            continue
        if metric != "seizures":
            tau = int(rec.change_at)
            start, stop = (tau, panel.n_periods) if up else (tau - config.baseline, tau)
            if _seizures_per_period(panel, rec.row, start, stop) < config.min_kg_seizures:
                continue
        evidence = alert_shape.level_evidence(
            rec.after * rec.n_after, rec.before * rec.n_after, int(rec.n_after), metric,
            per_period_before=float(rec.before), per_period_after=float(rec.after),
            change_at=panel.period_label(int(rec.change_at)), z=float(rec.z),
            q_value=float(rec.q_value))
        alerts.append(alert_shape.make_alert(
            type_="surge" if up else "decline", keys=keys,
            period=panel.period_label(int(rec.change_at)), detected_at=detected_at,
            severity=alert_shape.level_severity(ratio, stake, metric),
            score=_score(rec.q_value), evidence=evidence))
    return alerts


def _trend_alerts(panel: Panel, trends: pd.DataFrame, config: DetectionConfig,
                  detected_at: str) -> list[dict[str, Any]]:
    alerts = []
    sig = trends[(trends["q_value"] <= config.false_discovery_rate) & (trends["z"] > 0)
                 & (trends["n_above"] >= config.trend_min_above) & (trends["slope"] > 0)]
    for rec in sig.itertuples():
        keys = _keys(panel, rec.row)
        metric = keys["metric"]
        ratio = rec.recent_mean / rec.expected if rec.expected > 0 else np.inf
        yearly = rec.recent_mean / rec.last_year if rec.last_year > 0 else np.inf
        # the rise must hold against the history and against the same months a year before, so
        # that a seasonal peak is not a trend
        if (rec.recent_mean < _min_volume(metric, config) or ratio < config.min_ratio
                or yearly < config.min_ratio):
            continue
        if metric != "seizures" and _seizures_per_period(
                panel, rec.row, panel.n_periods - config.trend_recent,
                panel.n_periods) < config.min_kg_seizures:
            continue
        months = config.trend_recent
        evidence = alert_shape.level_evidence(
            rec.recent_mean * months, rec.expected * months, months, metric,
            slope_per_period=float(rec.slope), window=config.trend_window,
            periods_above_expected=int(rec.n_above), z=float(rec.z), q_value=float(rec.q_value),
            same_months_last_year=float(rec.last_year * months))
        alerts.append(alert_shape.make_alert(
            type_="emerging_trend", keys=keys,
            period=panel.period_label(int(rec.window_start)), detected_at=detected_at,
            severity=alert_shape.level_severity(ratio, rec.recent_mean, metric),
            score=_score(rec.q_value), evidence=evidence))
    return alerts


def _new_drug_alerts(panel: Panel, config: DetectionConfig,
                     detected_at: str) -> list[dict[str, Any]]:
    found = scan_new_drugs(
        panel, window=config.new_drug_window, min_history=config.new_drug_min_history,
        min_seizures=config.new_drug_min_seizures, min_periods=config.new_drug_min_periods)
    alerts = []
    for rec in found.itertuples():
        keys = _keys(panel, rec.row)
        first = panel.period_label(int(rec.first_seen))
        evidence = {
            "summary": (f"first seen {first}: {rec.total:,.0f} seizures in {rec.n_present} "
                        f"months after {rec.history} reporting months without any"),
            "first_seen": first, "seizures": float(rec.total), "months_present": int(rec.n_present),
            "months_absent_before": int(rec.history),
        }
        per_period = rec.total / max(panel.n_periods - int(rec.first_seen), 1)
        points = 2 + alert_shape.volume_points(per_period, "seizures")
        alerts.append(alert_shape.make_alert(
            type_="new_drug", keys=keys, period=first, detected_at=detected_at,
            severity=alert_shape.severity_from_points(points), score=float(np.log1p(rec.total)),
            evidence=evidence))
    return alerts


def _route_alerts(tests: pd.DataFrame, config: DetectionConfig,
                  detected_at: str) -> list[dict[str, Any]]:
    alerts = []
    sig = tests[(tests["q_value"] <= config.false_discovery_rate)
                & (tests["cramers_v"] >= config.route_min_effect)]
    period = window_start_label(detected_at, config.route_recent)
    for rec in sig.itertuples():
        if not rec.gaining and not rec.losing:
            continue
        route = {"attribute": rec.attribute, "gaining": list(rec.gaining),
                 "losing": list(rec.losing), "destination": rec.destination_region}
        if rec.new:
            route["new"] = list(rec.new)
        keys = {"geo_level": "region", "geo": rec.destination_region,
                "region": rec.destination_region, "drug_level": rec.drug_level,
                "drug": rec.drug, "metric": "seizures"}
        moved = [*rec.gaining, *rec.losing]
        parts = [f"{e} {rec.shares[e][0]:.0%} -> {rec.shares[e][1]:.0%}" for e in moved]
        label = rec.attribute.replace("_", " ")
        evidence = {
            "summary": (f"{label} shares of {rec.drug} seizures bound for "
                        f"{rec.destination_region}, last {config.route_recent} months against "
                        f"the {config.route_baseline} before: " + "; ".join(parts)),
            "shares": {e: {"baseline": round(b, 4), "recent": round(r, 4)}
                       for e, (b, r) in rec.shares.items()},
            "baseline_seizures": rec.baseline_total, "recent_seizures": rec.recent_total,
            "cramers_v": round(rec.cramers_v, 4), "g": round(rec.g, 2),
            "q_value": float(rec.q_value),
        }
        v = rec.cramers_v
        effect = int(v >= 0.1) + int(v >= 0.2) + int(v >= 0.3)
        per_period = rec.recent_total / config.route_recent
        severity = alert_shape.severity_from_points(
            effect + alert_shape.volume_points(per_period, "seizures"))
        alerts.append(alert_shape.make_alert(
            type_="route_shift", keys=keys, period=period, detected_at=detected_at,
            severity=severity, score=_score(rec.q_value), evidence=evidence, route=route))
    return alerts


def _threshold_alerts(panel: Panel, forecasts: pd.DataFrame, thresholds: pd.DataFrame,
                      as_of: pd.Timestamp, detected_at: str) -> list[dict[str, Any]]:
    crossed = scan_thresholds(forecasts, thresholds, as_of)
    index = pd.Index(panel.keys["unique_id"])
    alerts = []
    for rec in crossed.itertuples():
        row = index.get_indexer([rec.unique_id])[0]
        if row < 0:
            continue
        keys = _keys(panel, row)
        metric = keys["metric"]
        first = pd.Timestamp(rec.first_ds).strftime("%Y-%m")
        upper = alert_shape.format_amount(rec.upper, metric)
        evidence = {
            "summary": (f"upper {rec.level}% forecast {upper} in {first} reaches the threshold of "
                        f"{alert_shape.format_amount(rec.threshold, metric)} (point forecast "
                        f"{alert_shape.format_amount(rec.forecast, metric)})"),
            "threshold": float(rec.threshold), "level": int(rec.level),
            "upper": float(rec.upper), "forecast": float(rec.forecast),
            "peak_upper": float(rec.peak_upper), "first_period": first,
        }
        ratio = rec.peak_upper / rec.threshold if rec.threshold > 0 else np.inf
        points = 1 + int(rec.forecast >= rec.threshold) + alert_shape.effect_points(ratio)
        alerts.append(alert_shape.make_alert(
            type_="forecast_threshold", keys=keys, period=first, detected_at=detected_at,
            severity=alert_shape.severity_from_points(points), score=float(ratio),
            evidence=evidence))
    return alerts


def window_start_label(detected_at: str, recent: int) -> str:
    """The first period of a recent window of `recent` periods ending at `detected_at`."""
    return (pd.Period(detected_at, "M") - (recent - 1)).strftime("%Y-%m")


def _series_key(alert: dict[str, Any]) -> str:
    return f"{alert['geo']}/{alert['drug']}/{alert['metric']}"


def _score(q_value: float) -> float:
    """Strength of evidence: -log10 of the q-value, capped at 20."""
    return float(min(20.0, -np.log10(max(q_value, 1e-20))))


def _forecast_upper(panel: Panel, forecasts: pd.DataFrame | None) -> np.ndarray | None:
    """The forecasts' upper 95% bounds on the panel's grid (NaN where none), periods <= as_of."""
    if forecasts is None or forecasts.empty:
        return None
    fc = forecasts[forecasts["ds"] <= panel.periods[-1]]
    if fc.empty:
        return None
    rows = pd.Index(panel.keys["unique_id"]).get_indexer(fc["unique_id"])
    cols = panel.periods.get_indexer(fc["ds"])
    ok = (rows >= 0) & (cols >= 0)
    upper = np.full(panel.values.shape, np.nan)
    upper[rows[ok], cols[ok]] = fc["hi_95"].to_numpy(float)[ok]
    return upper


# --- the stage ---------------------------------------------------------------------------------
SERIES_FILE = "series.parquet"
ROUTES_FILE = "routes.parquet"
FORECASTS_FILE = "forecasts.parquet"
THRESHOLDS_FILE = "thresholds.csv"


def check_month(value: str | None, name: str = "--as-of") -> str | None:
    """`YYYY-MM` checked (None passes)."""
    if value is None:
        return None
    try:
        return pd.Period(value, "M").strftime("%Y-%m")
    except (ValueError, TypeError):
        raise NarcotrendError(f"`{name}` must be a month like 2024-05, got {value!r}") from None


def load_inputs(settings: Settings) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """The built series and route flows of the home."""
    series_path = settings.series_dir / SERIES_FILE
    if not series_path.exists():
        raise NarcotrendError(f"no series at {series_path}: run `narcotrend build` first")
    series = pd.read_parquet(series_path)
    routes_path = settings.series_dir / ROUTES_FILE
    routes = pd.read_parquet(routes_path) if routes_path.exists() else None
    return series, routes


def load_thresholds(settings: Settings) -> pd.DataFrame | None:
    """The planners' thresholds: the configured file, else the home's
    `data/reference/thresholds.csv` if present."""
    configured = settings.alert_thresholds_file
    path = configured or settings.data_dir / "reference" / THRESHOLDS_FILE
    if not path.exists():
        if configured:
            raise NarcotrendError(f"the thresholds file {path} (NARCOTREND_ALERT_THRESHOLDS_FILE)"
                                  " does not exist")
        return None
    return read_thresholds(path)


@writes_home("detect")
def detect(settings: Settings, as_of: str | None = None, *, since: str | None = None,
           progress: Callable[[str], None] | None = None,
           log_mlflow: bool = True) -> dict[str, Any]:
    """Raise or update the alerts as of `as_of` (`YYYY-MM`; default: the last period of data),
    store them, log the run to MLflow, and return a summary.

    With `since`, detection is first replayed month by month from `since` to the month before
    `as_of`, each month seeing only data up to it and updating the store as a monthly run would
    have (alerts raised, updated, resolved after their absence): a new home then holds the
    history an analyst would have had with Narcotrend running every month. The summary's
    `replayed` counts the replayed months, and its created/updated/resolved counts include
    the replay's. Monthly builds only.
    """
    from serving.alerting.alerts_store import upsert_alerts
    from serving.db import session_scope

    say = progress or (lambda message: None)
    started = time.perf_counter()
    as_of = check_month(as_of)
    since = check_month(since, "--since")
    series, routes = load_inputs(settings)
    if as_of is not None and pd.Period(as_of, "M").to_timestamp() < series["ds"].min():
        raise NarcotrendError(f"`--as-of` {as_of} is before the first period of the series "
                              f"({series['ds'].min():%Y-%m})")
    if since and settings.frequency != "MS":
        raise NarcotrendError("`--since` replays month by month: it needs a monthly build "
                              f"(NARCOTREND_FREQUENCY=MS), this home is built {settings.frequency}")
    last = series["ds"].max() if as_of is None else min(
        series["ds"].max(), pd.Period(as_of, "M").to_timestamp())
    _check_not_before_the_store(settings, since or pd.Timestamp(last).strftime("%Y-%m"))
    replay_counts = _replay(settings, series, routes, since, last, say) if since else {}
    forecasts_path = settings.forecasts_dir / FORECASTS_FILE
    forecasts = pd.read_parquet(forecasts_path) if forecasts_path.exists() else None
    config = DetectionConfig.from_settings(settings)
    say(f"detecting on {series['unique_id'].nunique():,} series"
        + (f" as of {as_of}" if as_of else ""))
    alerts = detect_frame(series, routes, as_of, forecasts=forecasts, config=config,
                          thresholds=load_thresholds(settings))
    detected_at = pd.Timestamp(last).strftime("%Y-%m")
    with session_scope(settings.service_database_url) as session:
        counts = upsert_alerts(session, alerts, detected_at,
                               settings.alert_resolve_after_periods)
    summary = {
        "detected_at": detected_at, "alerts": len(alerts),
        "replayed": replay_counts.pop("months", 0),
        "by_type": dict(Counter(a["type"] for a in alerts)),
        "by_severity": dict(Counter(a["severity"] for a in alerts)),
        **{k: v + replay_counts.get(k, 0) for k, v in counts.items()},
        "seconds": round(time.perf_counter() - started, 2),
    }
    if log_mlflow:
        from training.detection_eval import log_detection_run

        summary["mlflow_run_id"] = log_detection_run(
            settings, f"detect {detected_at}", config.as_params(),
            {"alerts": len(alerts), **{f"alerts_{k}": v for k, v in summary["by_type"].items()},
             **{k: counts[k] for k in ("created", "updated", "resolved")}},
            {"alerts.json": {"alerts": alerts}})
    return summary


def _check_not_before_the_store(settings: Settings, first_month: str | None) -> None:
    """Refuse to write detections older than those already stored: the store is the present
    state of monthly runs, and an older run would leave alerts of two dates side by side.
    Looking at the past is what `alerts backtest` (or a fresh home) is for."""
    from sqlalchemy import func, select

    from serving.db import Alert, session_scope

    if first_month is None:
        return
    with session_scope(settings.service_database_url) as session:
        latest = session.scalar(select(func.max(Alert.detected_at)))
    if latest is not None and pd.Period(first_month, "M") < pd.Period(latest, "M"):
        raise NarcotrendError(
            f"the alert store already holds detections up to {latest}; detecting from "
            f"{first_month} would mix two dates. Use `narcotrend alerts backtest` to look at the "
            "past, or another NARCOTREND_HOME")


def _replay(settings: Settings, series: pd.DataFrame, routes: pd.DataFrame | None, since: str,
            last: pd.Timestamp, say: Callable[[str], None]) -> dict[str, int]:
    """Monthly detections from `since` up to the month before `last` (the detection's period),
    stored in order; returns the upserts' counts summed, and `months` replayed."""
    from serving.alerting.alerts_store import upsert_alerts
    from serving.db import session_scope
    from training.alert_backtest import backtest_alerts

    end = pd.Period(last, "M") - 1
    start = pd.Period(since, "M")
    if start > end:
        raise NarcotrendError(f"`--since` {since} must be before the detection month "
                              f"({pd.Period(last, 'M')})")
    say(f"replaying monthly detection from {start} to {end}")
    found = backtest_alerts(series, routes, str(start), str(end),
                            DetectionConfig.from_settings(settings))
    by_month: dict[str, list[dict[str, Any]]] = {str(m): [] for m in pd.period_range(start, end)}
    for alert in found:
        by_month.setdefault(alert["detected_at"], []).append(alert)
    totals: dict[str, int] = {"months": len(by_month)}
    with session_scope(settings.service_database_url) as session:
        for month in sorted(by_month):
            counts = upsert_alerts(session, by_month[month], month,
                                   settings.alert_resolve_after_periods)
            for key, value in counts.items():
                totals[key] = totals.get(key, 0) + value
    return totals
