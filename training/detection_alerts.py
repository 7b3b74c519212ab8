"""From detector findings to alerts: the gates a finding must pass (volume, fold change,
persistence), its evidence, and the severity rules, all stated in this module.

Severity rules (points -> `models.alerts.severity_from_points`: low 0-1, medium 2, high 3-4,
critical 5), volumes always per month whatever the build's frequency:

- surge, decline, emerging trend: fold-change points (1.5x, 2x, 4x) + volume points of the
  level at stake (`level_severity`);
- new drug: 2 + volume points of its seizures a month since first seen (`new_drug_severity`);
- route shift: effect points of Cramér's V (0.1, 0.2, 0.3) + volume points of the recent
  window's seizures a month (`route_severity`);
- modus operandi shift: as a route shift (Cramér's V points + volume points of the recent
  window's known-method seizures a month);
- forecast threshold: 1 + 1 when the point forecast itself reaches the threshold + fold-change
  points of the peak upper bound over the threshold (`threshold_severity`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from models import alerts as alert_shape
from models.panel import SeriesMatrix, period_label
from models.route_shift import Windows
from models.threshold import scan_thresholds
from training.detection_config import DetectionConfig, DetectionPeriods


# --- severity rules ----------------------------------------------------------------------------
def level_severity(ratio: float, per_month: float, metric: str) -> str:
    return alert_shape.level_severity(ratio, per_month, metric)


def new_drug_severity(seizures_per_month: float) -> str:
    return alert_shape.severity_from_points(
        2 + alert_shape.volume_points(seizures_per_month, "seizures"))


def route_severity(cramers_v: float, seizures_per_month: float) -> str:
    effect = int(cramers_v >= 0.1) + int(cramers_v >= 0.2) + int(cramers_v >= 0.3)
    return alert_shape.severity_from_points(
        effect + alert_shape.volume_points(seizures_per_month, "seizures"))


def threshold_severity(peak_ratio: float, forecast_reaches: bool) -> str:
    return alert_shape.severity_from_points(
        1 + int(forecast_reaches) + alert_shape.effect_points(peak_ratio))


# --- gates and evidence ------------------------------------------------------------------------
def _min_volume(metric: str, periods: DetectionPeriods) -> float:
    return periods.min_seizures if metric == "seizures" else periods.min_kg


def _keys(matrix: SeriesMatrix, row: int) -> dict[str, Any]:
    return matrix.keys.iloc[int(row)].to_dict()


def _without(evidence: dict[str, Any], keys: dict[str, Any]) -> dict[str, Any]:
    """A level alert's evidence naming the countries its aggregate was read without (they
    reported low in its lookback: `models.panel.exclude_low_reporters`)."""
    taken = [c for c in str(keys.get("without") or "").split(";") if c]
    if not taken:
        return evidence
    return {**evidence, "without": taken,
            "summary": f"{evidence['summary']} (read without {', '.join(taken)}: a change in "
                       "who reports there)"}


def _seizures_per_period(matrix: SeriesMatrix, row: int, start: int, stop: int) -> float:
    """Mean seizures a period over columns [start, stop) of a series' count twin.

    A kilogram series moves with the sizes of a few seizures (a monthly sum of n lognormal sizes
    has a coefficient of variation near 3 / sqrt(n)); a kg alert on fewer than `min_kg_seizures`
    a period would report the luck of a few big seizures, not a change.
    """
    uid = matrix.keys.at[int(row), "unique_id"]
    twin = uid.rsplit("/", 1)[0] + "/seizures"
    pos = pd.Index(matrix.keys["unique_id"]).get_indexer([twin])[0]
    if pos < 0:
        return 0.0
    window = matrix.values[pos, max(0, start):stop]
    return float(np.nanmean(window)) if np.isfinite(window).any() else 0.0


def shift_alerts(matrix: SeriesMatrix, shifts: pd.DataFrame, config: DetectionConfig,
                 periods: DetectionPeriods, detected_at: str) -> list[dict[str, Any]]:
    """Surges and declines from level shifts that pass the gates."""
    alerts = []
    for rec in shifts[shifts["q_value"] <= config.false_discovery_rate].itertuples():
        keys = _keys(matrix, rec.row)
        metric = keys["metric"]
        up = rec.direction > 0
        ratio = rec.after / rec.before if rec.before > 0 else np.inf
        stake = rec.after if up else rec.before
        if (rec.persistence < config.shift_min_persistence
                or stake < _min_volume(metric, periods)
                or (up and ratio < config.min_ratio)
                or (not up and ratio > 1.0 / config.min_ratio)):
            continue
        if metric != "seizures":
            tau = int(rec.change_at)
            start, stop = (tau, matrix.n_periods) if up else (tau - periods.baseline, tau)
            if _seizures_per_period(matrix, rec.row, start, stop) < periods.min_kg_seizures:
                continue
        evidence = alert_shape.level_evidence(
            rec.after * rec.n_after, rec.before * rec.n_after, int(rec.n_after), metric,
            unit=periods.unit, per_period_before=float(rec.before),
            per_period_after=float(rec.after), change_at=matrix.period_label(int(rec.change_at)),
            z=float(rec.z), q_value=float(rec.q_value))
        evidence = _without(evidence, keys)
        alerts.append(alert_shape.make_alert(
            type_="surge" if up else "decline", keys=keys,
            period=matrix.period_label(int(rec.change_at)), detected_at=detected_at,
            severity=level_severity(ratio, periods.monthly(stake), metric),
            score=score(rec.q_value), evidence=evidence))
    return alerts


def trend_alerts(matrix: SeriesMatrix, trends: pd.DataFrame, config: DetectionConfig,
                 periods: DetectionPeriods, detected_at: str) -> list[dict[str, Any]]:
    """Emerging trends that pass the gates (and rise against the same periods a year before)."""
    alerts = []
    sig = trends[(trends["q_value"] <= config.false_discovery_rate) & (trends["z"] > 0)
                 & (trends["n_above"] >= periods.trend_min_above) & (trends["slope"] > 0)]
    for rec in sig.itertuples():
        keys = _keys(matrix, rec.row)
        metric = keys["metric"]
        ratio = rec.recent_mean / rec.expected if rec.expected > 0 else np.inf
        yearly = rec.recent_mean / rec.last_year if rec.last_year > 0 else np.inf
        # the rise must hold against the history and against the same months a year before, so
        # that a seasonal peak is not a trend
        if (rec.recent_mean < _min_volume(metric, periods) or ratio < config.min_ratio
                or yearly < config.min_ratio):
            continue
        if metric != "seizures" and _seizures_per_period(
                matrix, rec.row, matrix.n_periods - periods.trend_recent,
                matrix.n_periods) < periods.min_kg_seizures:
            continue
        n = periods.trend_recent
        evidence = alert_shape.level_evidence(
            rec.recent_mean * n, rec.expected * n, n, metric, unit=periods.unit,
            slope_per_period=float(rec.slope), window=periods.trend_window,
            periods_above_expected=int(rec.n_above), z=float(rec.z), q_value=float(rec.q_value),
            same_months_last_year=float(rec.last_year * n))
        evidence = _without(evidence, keys)
        alerts.append(alert_shape.make_alert(
            type_="emerging_trend", keys=keys,
            period=matrix.period_label(int(rec.window_start)), detected_at=detected_at,
            severity=level_severity(ratio, periods.monthly(rec.recent_mean), metric),
            score=score(rec.q_value), evidence=evidence))
    return alerts


def new_drug_alerts(matrix: SeriesMatrix, found: pd.DataFrame, periods: DetectionPeriods,
                    detected_at: str) -> list[dict[str, Any]]:
    """New drugs (`models.novelty.scan_new_drugs` findings)."""
    alerts = []
    unit = periods.unit
    for rec in found.itertuples():
        keys = _keys(matrix, rec.row)
        first = matrix.period_label(int(rec.first_seen))
        evidence = {
            "summary": (f"first seen {first}: {rec.total:,.0f} seizures in {rec.n_present} "
                        f"{unit} after {rec.history} reporting {unit} without any"),
            "first_seen": first, "seizures": float(rec.total),
            f"{unit}_present": int(rec.n_present), f"{unit}_absent_before": int(rec.history),
        }
        per_period = rec.total / max(matrix.n_periods - int(rec.first_seen), 1)
        alerts.append(alert_shape.make_alert(
            type_="new_drug", keys=keys, period=first, detected_at=detected_at,
            severity=new_drug_severity(periods.monthly(per_period)),
            score=float(np.log1p(rec.total)), evidence=evidence))
    return alerts


def route_alerts(tests: pd.DataFrame, windows: Windows, config: DetectionConfig,
                 periods: DetectionPeriods, detected_at: str) -> list[dict[str, Any]]:
    """Route shifts that pass the gates (a significant test with a large enough effect)."""
    alerts = []
    sig = tests[(tests["q_value"] <= config.false_discovery_rate)
                & (tests["cramers_v"] >= config.route_min_effect)]
    period = period_label(windows.recent_start, periods.freq)
    unit = periods.unit
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
                        f"{rec.destination_region}, last {periods.route_recent} {unit} against "
                        f"the {periods.route_baseline} before: " + "; ".join(parts)),
            **_share_numbers(rec),
        }
        alerts.append(_share_alert("route_shift", rec, keys, route, evidence, period, periods,
                                   detected_at))
    return alerts


def _share_numbers(rec: Any) -> dict[str, Any]:
    """The evidence numbers of a share test (route or concealment shift)."""
    return {"shares": {e: {"baseline": round(b, 4), "recent": round(r, 4)}
                       for e, (b, r) in rec.shares.items()},
            "baseline_seizures": rec.baseline_total, "recent_seizures": rec.recent_total,
            "cramers_v": round(rec.cramers_v, 4), "g": round(rec.g, 2),
            "q_value": float(rec.q_value)}


def _share_alert(type_: str, rec: Any, keys: dict[str, Any], route: dict[str, Any],
                 evidence: dict[str, Any], period: str, periods: DetectionPeriods,
                 detected_at: str) -> dict[str, Any]:
    """A route or concealment shift alert, graded by `route_severity`."""
    per_period = rec.recent_total / periods.route_recent
    return alert_shape.make_alert(
        type_=type_, keys=keys, period=period, detected_at=detected_at,
        severity=route_severity(rec.cramers_v, periods.monthly(per_period)),
        score=score(rec.q_value), evidence=evidence, route=route)


def modus_operandi_alerts(tests: pd.DataFrame, windows: Windows, config: DetectionConfig,
                          periods: DetectionPeriods, detected_at: str) -> list[dict[str, Any]]:
    """Concealment shifts (`models.modus_operandi`) that pass the gates: significant, a large
    enough effect, and a method named as gaining or losing."""
    alerts = []
    sig = tests[(tests["q_value"] <= config.false_discovery_rate)
                & (tests["cramers_v"] >= config.mo_min_effect)]
    period = period_label(windows.recent_start, periods.freq)
    unit = periods.unit
    for rec in sig.itertuples():
        if not rec.gaining and not rec.losing:
            continue
        route = {"attribute": "concealment", "gaining": list(rec.gaining),
                 "losing": list(rec.losing), "destination": None}
        keys = {"geo_level": rec.geo_level, "geo": rec.geo, "region": rec.region,
                "drug_level": rec.drug_level, "drug": rec.drug, "metric": "seizures"}
        parts = [f"{m} {rec.shares[m][0]:.0%} -> {rec.shares[m][1]:.0%}"
                 for m in [*rec.gaining, *rec.losing]]
        known = rec.known_method_share
        recorded_more = _completeness_moved(known["baseline"], known["recent"])
        evidence = {
            "summary": (f"concealment methods of {rec.drug} seizures in {rec.geo}, last "
                        f"{periods.route_recent} {unit} against the {periods.route_baseline} "
                        "before (seizures with a known method, within each reporting country): "
                        + "; ".join(parts) + f" (method known for {known['baseline']:.0%} "
                        f"then, {known['recent']:.0%} now"
                        + ("; how often it is recorded changed too: read with care)"
                           if recorded_more else ")")),
            "known_method_share": dict(known),
            "known_share_changed": recorded_more,
            "reporting_countries": int(rec.reporters),
            **_share_numbers(rec),
        }
        alerts.append(_share_alert("modus_operandi_shift", rec, keys, route, evidence, period,
                                   periods, detected_at))
    return alerts


def _completeness_moved(then: float, now: float) -> bool:
    """Whether the share of records with a known method halved or doubled: the shift is then
    also a change in who fills the field in, which the test within reporters cannot separate
    from a change of method when the newly recorded seizures are hidden differently."""
    return bool(min(then, now) <= 0 or max(then, now) / min(then, now) >= 2.0)


def threshold_alerts(matrix: SeriesMatrix, forecasts: pd.DataFrame, thresholds: pd.DataFrame,
                     as_of: pd.Timestamp, detected_at: str) -> list[dict[str, Any]]:
    """Planner thresholds the upper forecast reaches after `as_of`."""
    crossed = scan_thresholds(forecasts, thresholds, as_of)
    index = pd.Index(matrix.keys["unique_id"])
    alerts = []
    for rec in crossed.itertuples():
        row = index.get_indexer([rec.unique_id])[0]
        if row < 0:
            continue
        keys = _keys(matrix, row)
        metric = keys["metric"]
        first = period_label(pd.Timestamp(rec.first_ds), matrix.freq)
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
        alerts.append(alert_shape.make_alert(
            type_="forecast_threshold", keys=keys, period=first, detected_at=detected_at,
            severity=threshold_severity(ratio, rec.forecast >= rec.threshold),
            score=float(ratio), evidence=evidence))
    return alerts


def series_key(alert: dict[str, Any]) -> str:
    return f"{alert['geo']}/{alert['drug']}/{alert['metric']}"


def score(q_value: float) -> float:
    """Strength of evidence: -log10 of the q-value, capped at 20."""
    return float(min(20.0, -np.log10(max(q_value, 1e-20))))
