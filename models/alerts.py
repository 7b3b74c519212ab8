"""The alert shape of DESIGN section 5: fingerprint, severity from effect size and volume, and
evidence a planner can read.

Detectors find conditions; this module turns each into the one JSON shape used everywhere (API,
CLI, e-mail, backtests). The fingerprint hashes only what names the condition (type, geography,
drug, metric, and for route shifts the attribute and destination), never the period or the
numbers, so the same condition seen again next month updates its alert instead of adding one.
"""

from __future__ import annotations

import hashlib
import math
from typing import Any

ALERT_TYPES: tuple[str, ...] = ("emerging_trend", "surge", "decline", "new_drug", "route_shift",
                                "forecast_threshold", "linked_cases")
SEVERITIES: tuple[str, ...] = ("low", "medium", "high", "critical")
STATUSES: tuple[str, ...] = ("open", "acknowledged", "resolved", "silenced")

# Volumes per month above which a finding is "large" / "very large" for its metric.
_VOLUME_STEPS: dict[str, tuple[float, float]] = {"seizures": (10.0, 50.0), "kg": (50.0, 500.0)}


def fingerprint(type_: str, geo: str, drug_level: str, drug: str, metric: str,
                route: dict[str, Any] | None = None, *, subject: str | None = None) -> str:
    """A stable hash of what names the condition (not when or how strong it is); `subject`
    names one thing the condition is about beyond its keys (a linked case's group id)."""
    parts = [type_, geo, drug_level, drug, metric]
    if route is not None:
        parts += [str(route.get("attribute", "")), str(route.get("destination", ""))]
    if subject is not None:
        parts.append(f"subject={subject}")
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:32]


def effect_points(ratio: float) -> int:
    """0-3 points for a fold change (either direction): 1.5x, 2x, 4x."""
    if not math.isfinite(ratio) or ratio <= 0:
        return 3
    fold = max(ratio, 1.0 / ratio)
    return int(fold >= 1.5) + int(fold >= 2.0) + int(fold >= 4.0)


def volume_points(per_period: float, metric: str) -> int:
    """0-2 points for the volume per period at stake (seizures or kg)."""
    low, high = _VOLUME_STEPS.get(metric, _VOLUME_STEPS["seizures"])
    return int(per_period >= low) + int(per_period >= high)


def severity_from_points(points: int) -> str:
    """low (0-1), medium (2), high (3-4), critical (5)."""
    if points >= 5:
        return "critical"
    if points >= 3:
        return "high"
    if points >= 2:
        return "medium"
    return "low"


def level_severity(ratio: float, per_period: float, metric: str) -> str:
    """Severity of a change of level: fold change and the volume involved."""
    return severity_from_points(effect_points(ratio) + volume_points(per_period, metric))


def format_amount(value: float, metric: str) -> str:
    """`42 seizures`, `1,250 kg`, `0.8 kg`."""
    if metric == "seizures":
        return f"{value:,.0f} seizures"
    return f"{value:,.0f} kg" if abs(value) >= 10 else f"{value:,.1f} kg"


def format_change(observed: float, expected: float) -> str:
    """`+180%`, `-65%`, or `new` when nothing was expected."""
    if expected <= 0:
        return "new"
    return f"{(observed / expected - 1) * 100:+.0f}%"


def level_evidence(observed: float, expected: float, periods: int, metric: str,
                   unit: str = "months", **numbers: Any) -> dict[str, Any]:
    """`+180% over 6 months: 42 seizures against 15 expected`, plus the numbers behind it
    (`unit` names the build's periods: months, weeks, years)."""
    summary = (f"{format_change(observed, expected)} over {periods} {unit}: "
               f"{format_amount(observed, metric)} against "
               f"{format_amount(expected, metric).split(' ')[0]} expected")
    out: dict[str, Any] = {"summary": summary, "observed": round(observed, 2),
                           "expected": round(expected, 2), unit: periods}
    out.update({k: _rounded(v) for k, v in numbers.items()})
    return out


def ranked_score(severity: str, strength: float) -> float:
    """The alert's `score`: the severity's rank (0 low ... 3 critical) plus s / (1 + s) for the
    detector's strength of evidence s >= 0 (-log10 q, log seizures, forecast ratio), so inside a
    type a more severe alert always scores higher and, among equals, stronger evidence does."""
    s = float(strength) if math.isfinite(float(strength)) else 1e9
    s = max(s, 0.0)
    return SEVERITIES.index(severity) + s / (1.0 + s)


def make_alert(
    *,
    type_: str,
    keys: dict[str, Any],
    period: str,
    detected_at: str,
    severity: str,
    score: float,
    evidence: dict[str, Any],
    route: dict[str, Any] | None = None,
    subject: str | None = None,
) -> dict[str, Any]:
    """One alert in the shape of DESIGN section 5 (status `open`); `score` is the detector's
    strength of evidence, stored as `ranked_score(severity, score)`."""
    if type_ not in ALERT_TYPES:
        raise ValueError(f"`type_` must be one of {ALERT_TYPES}, got {type_!r}")
    fp = fingerprint(type_, keys["geo"], keys["drug_level"], keys["drug"], keys["metric"], route,
                     subject=subject)
    alert: dict[str, Any] = {
        "id": hashlib.sha256(f"{fp}|{detected_at}".encode()).hexdigest()[:32],
        "type": type_,
        "geo_level": keys["geo_level"], "geo": keys["geo"], "region": keys["region"],
        "drug_level": keys["drug_level"], "drug": keys["drug"], "metric": keys["metric"],
        "period": period, "detected_at": detected_at,
        "severity": severity, "score": round(ranked_score(severity, score), 3),
        "evidence": evidence, "status": "open", "fingerprint": fp,
    }
    if route is not None:
        alert["route"] = route
    return alert


def _rounded(value: Any) -> Any:
    """Floats at 3 significant digits below 1 (a q-value of 2e-06 stays 2e-06, not 0), else
    at 2 decimals."""
    if isinstance(value, float):
        return float(f"{value:.3g}") if abs(value) < 1 else round(value, 2)
    return value
