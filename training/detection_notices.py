"""Data-quality notices from reporting completeness: a `reporting_change` notice per spell of a
country's low-reporting periods (`features.completeness`), so a planner sees why its series,
and the aggregates it matters to, were not alerted on.

A spell is a run of low periods with at most `max_break` complete periods inside it; its
fingerprint names the country and the spell's first period, so a month-by-month replay updates
one notice instead of adding one a month. Nothing later than the detection's period is read.
"""

from __future__ import annotations

import hashlib
from typing import Any

import pandas as pd

from core.geography import country_region
from models.panel import period_label

NOTICE_TYPE = "reporting_change"


def reporting_notices(completeness: pd.DataFrame | None, series: pd.DataFrame,
                      as_of: pd.Timestamp, freq: str = "MS", *, max_break: int = 2,
                      resolve_after: int = 3) -> list[dict[str, Any]]:
    """One notice per spell of low reporting up to `as_of`; `status` resolved once the spell
    ended `resolve_after` periods or more before `as_of`."""
    if completeness is None or completeness.empty:
        return []
    seen = completeness[completeness["ds"] <= as_of]
    periods = pd.DatetimeIndex(sorted(seen["ds"].unique()))
    drugs = _drugs_by_country(series)
    out = []
    for country, rows in seen[seen["low"]].groupby("country", sort=True):
        cols = periods.get_indexer(rows["ds"])
        spells: list[list[int]] = []
        for k, col in enumerate(cols):
            if spells and col - cols[k - 1] <= max_break + 1:
                spells[-1].append(k)
            else:
                spells.append([k])
        for spell in spells:
            part = rows.iloc[spell]
            out.append(_notice(str(country), part, drugs.get(str(country), []), as_of, freq,
                               resolve_after, len(periods) - 1 - int(cols[spell[-1]])))
    return out


def _notice(country: str, part: pd.DataFrame, drugs: list[str], as_of: pd.Timestamp,
            freq: str, resolve_after: int, since_last: int) -> dict[str, Any]:
    labels = [period_label(ds, freq) for ds in part["ds"]]
    shares = [round(float(c), 3) for c in part["completeness"]]
    first, last = labels[0], labels[-1]
    fp = hashlib.sha256(f"{NOTICE_TYPE}|{country}|{first}".encode()).hexdigest()[:32]
    span = first if first == last else f"{first}..{last}"
    stopped = _stopped_sources(part)
    who = f" ({', '.join(stopped)} stopped sending)" if stopped else ""
    summary = (f"{country} sent {min(shares):.0%}-{max(shares):.0%} of its usual reports in "
               f"{span}{who}: a change in who reports, not in trafficking; its series and the "
               "aggregates it matters to were not read as declines or surges there")
    return {
        "type": NOTICE_TYPE, "geo": country, "region": country_region(country) or "",
        "periods": [{"period": p, "reporting_completeness": c}
                    for p, c in zip(labels, shares, strict=True)],
        "drugs": drugs, "first_detected_at": first,
        "detected_at": period_label(as_of, freq), "fingerprint": fp,
        "status": "resolved" if since_last >= resolve_after else "open",
        "evidence": {"summary": summary, "records": [float(r) for r in part["records"]],
                     "expected": [round(float(e), 1) for e in part["expected"]],
                     "stopped_sources": stopped},
    }


def _stopped_sources(part: pd.DataFrame) -> list[str]:
    """The reporting sources (agencies) that stopped sending in any period of the spell, when
    the data name who reported (`features.completeness`)."""
    if "stopped_sources" not in part.columns:  # a home built before the source mix was read
        return []
    named = part["stopped_sources"].fillna("").astype(str).str.split(";").explode()
    return sorted({s for s in named if s})


def _drugs_by_country(series: pd.DataFrame) -> dict[str, list[str]]:
    """ISO3 -> the drug groups of its series."""
    rows = series.loc[(series["geo_level"] == "country") & (series["drug_level"] == "group"),
                      ["geo", "drug"]].drop_duplicates()
    return {geo: sorted(group["drug"]) for geo, group in rows.groupby("geo")}
