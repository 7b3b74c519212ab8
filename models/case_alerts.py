"""`linked_cases` alerts: one per country a cross-border case group concerns (issue 21).

A group whose seizures lie in two or more countries raises one alert in each of them (geo = that
country); the evidence names the other countries and what the seizures share, in words, and the
alerts of one group are one incident (`evidence.incident` = the group id). The fingerprint holds
the group id, so a group that grows into a new country updates its alerts and adds one for the
newcomer. `period` is the month of the group's latest seizure, `metric` is seizures.

Severity rule (points, as `models.alerts.severity_from_points`): countries (3+: 1, 5+: 2),
seizures (5+: 1, 15+: 2), kilograms (50+: 1), strength (mean match probability 0.999+: 1);
low 0-1, medium 2, high 3-4, critical 5+.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from models.alerts import make_alert, severity_from_points

ALERT_TYPE = "linked_cases"


def case_severity(n_countries: int, n_seizures: int, kg: float, strength: float) -> str:
    """The stated severity rule of a linked case (module docstring)."""
    points = (int(n_countries >= 3) + int(n_countries >= 5) + int(n_seizures >= 5)
              + int(n_seizures >= 15) + int(kg >= 50) + int(strength >= 0.999))
    return severity_from_points(points)


def shared_in_words(signature: dict[str, Any]) -> str:
    """`logo 'tesla', pink round tablets of 0.35 g, packaging 'zip bag', the same impurity
    profile` from a group's shared signature."""
    looks = " ".join(str(signature[k]) for k in ("colour", "shape") if signature.get(k))
    parts = []
    if signature.get("logo"):
        parts.append(f"logo '{signature['logo']}'")
    if looks or signature.get("unit_weight_g"):
        weight = signature.get("unit_weight_g")
        parts.append((looks or "units") + (f" of {weight:g} g" if weight else ""))
    if signature.get("purity_pct"):
        parts.append(f"purity about {signature['purity_pct']:.0f}%")
    if signature.get("packaging"):
        parts.append(f"packaging '{signature['packaging']}'")
    if signature.get("profile"):
        parts.append("the same impurity profile")
    return ", ".join(parts) or "their signature"


def linked_case_alerts(groups: pd.DataFrame, members: pd.DataFrame, detected_at: str,
                       ) -> list[dict[str, Any]]:
    """The alerts of every group spanning two or more countries.

    `groups` is the groups table (`group_id`, `drug`, `countries`, `n_seizures`, `total_kg`,
    `strength`, `signature` as a dict); `members` has `group_id`, `country`, `region`, `date`.
    """
    alerts: list[dict[str, Any]] = []
    per_country = (members.assign(month=pd.to_datetime(members["date"]).dt.strftime("%Y-%m"))
                   .groupby(["group_id", "country"])
                   .agg(region=("region", "first"), seizures=("month", "size"),
                        first_month=("month", "min"), last_month=("month", "max")))
    for group in groups.itertuples(index=False):
        countries = str(group.countries).split(";")
        if len(countries) < 2:
            continue
        rows = per_country.loc[group.group_id]
        shared = shared_in_words(group.signature)
        severity = case_severity(len(countries), int(group.n_seizures), float(group.total_kg),
                                 float(group.strength))
        for country in countries:
            others = [c for c in countries if c != country]
            summary = (f"{int(rows.at[country, 'seizures'])} of {int(group.n_seizures)} linked "
                       f"seizures of {group.drug} are here; the others are in "
                       f"{', '.join(others)}; they share {shared}")
            evidence = {
                "summary": summary, "incident": group.group_id, "group_id": group.group_id,
                "shared": shared, "countries": [
                    {"country": c, "seizures": int(rows.at[c, "seizures"]),
                     "first_month": rows.at[c, "first_month"],
                     "last_month": rows.at[c, "last_month"]} for c in countries],
                "strength": round(float(group.strength), 4)}
            alerts.append(make_alert(
                type_=ALERT_TYPE,
                keys={"geo_level": "country", "geo": country,
                      "region": rows.at[country, "region"], "drug_level": "substance",
                      "drug": group.drug, "metric": "seizures"},
                period=pd.Timestamp(group.last_date).strftime("%Y-%m"),
                detected_at=detected_at, severity=severity, score=float(group.strength),
                evidence=evidence, subject=group.group_id))
    return alerts


__all__ = ["ALERT_TYPE", "case_severity", "linked_case_alerts", "shared_in_words"]
