"""Alerts in the shape detection makes them, for the tests of incidents, evidence and the
dashboard (one builder, shared)."""

from __future__ import annotations

from models.alerts import level_evidence, make_alert

LEVELS = {"world": ("World", "World"), "region": ("Asia", "Asia"),
          "subregion": ("Eastern Asia", "Asia"), "country": ("HKG", "Asia")}


def surge(geo_level: str, drug: str = "cocaine", drug_level: str = "group", *,
          severity: str = "high", period: str = "2024-04", strength: float = 5.0,
          geo: str | None = None, region: str | None = None, **extra) -> dict:
    place, in_region = LEVELS[geo_level]
    alert = make_alert(
        type_="surge", keys={"geo_level": geo_level, "geo": geo or place,
                             "region": region or in_region, "drug_level": drug_level,
                             "drug": drug, "metric": "seizures"},
        period=period, detected_at="2024-11", severity=severity, score=strength,
        evidence=level_evidence(844, 306, 9, "seizures", per_period_before=34.0,
                                per_period_after=93.8, change_at=period, z=7.94, q_value=1e-6))
    return {**alert, **extra}


def hkg_event() -> list[dict]:
    """One surge seen at three geo levels and two drug levels (the HKG case of issue 17)."""
    return [surge(level, drug, drug_level, severity=severity)
            for level in ("region", "subregion", "country")
            for drug, drug_level, severity in (("cocaine", "group", "high"),
                                               ("cocaine hydrochloride", "substance", "critical"))]
