"""The linked-cases section: case groups (DESIGN section 5a) that involve the place's countries
and at least one other country, with need-to-know.

Interface for the case-linkage branch: `linked_cases(groups, links, records, place, window,
regions)` takes `groups.parquet` (`group_id, drug, countries, first_date, last_date,
n_seizures, kg, signature, strength`; `countries` a list or a ";"-joined string) and
`links.parquet` (`seizure_id, group_id, strength`) as they are specified; when that branch
brings a scoping function of its own, the lead can call it here instead of `_visible`. A reader
sees a group when one of its seizures lies in the reader's regions; of the place's own
seizures the records (id, date, kg); of countries outside the reader's regions only their
names and the group's counts, never their records.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pandas as pd

from core.geography import country_region, geo_name
from serving.reports.inputs import Period, Place
from serving.reports.sections import MAX_ROWS

MAX_SEIZURES_LISTED = 5


def group_countries(value: Any) -> list[str]:
    if isinstance(value, str):
        return [c for c in value.split(";") if c]
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return []
    return [str(c) for c in value]


def _visible(countries: list[str], regions: set[str] | None) -> bool:
    return regions is None or any(country_region(c) in regions for c in countries)


def linked_cases(groups: pd.DataFrame, links: pd.DataFrame, records: pd.DataFrame,
                 place: Place, window: Period, regions: Iterable[str] | None,
                 alerts: list[dict[str, Any]] = ()) -> dict[str, Any]:
    """Rows of the section, or (no groups file) the linked_cases alerts' own evidence."""
    allowed = None if regions is None else set(regions)
    if groups.empty:
        rows = [{"group_id": (a.get("evidence") or {}).get("group_id", a["id"]),
                 "drug": a["drug"], "countries": [geo_name(c) for c in
                                                  (a.get("evidence") or {}).get("countries", [])],
                 "n_seizures": (a.get("evidence") or {}).get("n_seizures"), "kg": None,
                 "signature": (a.get("evidence") or {}).get("signature", ""),
                 "own": [], "outside_scope": [], "alert_id": a["id"]}
                for a in alerts if a.get("type") == "linked_cases"]
        return {"rows": rows[:MAX_ROWS], "source": "alerts" if rows else "none"}
    end = window.end + pd.offsets.MonthBegin(1)
    rows = []
    for group in groups.to_dict("records"):
        countries = group_countries(group.get("countries"))
        if len(countries) < 2 or not any(place.holds(c) for c in countries):
            continue
        first, last = pd.Timestamp(group["first_date"]), pd.Timestamp(group["last_date"])
        if last < window.start or first >= end or not _visible(countries, allowed):
            continue
        members = links[links["group_id"] == group["group_id"]] if not links.empty else links
        own = records[records["seizure_id"].isin(members["seizure_id"])] \
            if not members.empty and not records.empty else records.iloc[0:0]
        outside = [c for c in countries if allowed is not None
                   and country_region(c) not in allowed]
        rows.append({
            "group_id": str(group["group_id"]), "drug": str(group.get("drug", "")),
            "countries": [geo_name(c) + (" (outside your scope)" if c in outside else "")
                          for c in countries],
            "n_seizures": int(group.get("n_seizures") or 0),
            "kg": float(group["kg"]) if allowed is None and pd.notna(group.get("kg"))
            else float(own["kg"].sum()) if len(own) else None,
            "signature": _signature_text(group.get("signature")),
            "strength": float(group.get("strength") or 0.0),
            "own": [{"seizure_id": r["seizure_id"], "date": f"{r['date']:%Y-%m-%d}",
                     "country": r["country"], "kg": float(r["kg"])}
                    for r in own.sort_values("date").head(MAX_SEIZURES_LISTED)
                    .to_dict("records")],
            "outside_scope": [geo_name(c) for c in outside],
            # months only: a day of the group's first or last seizure may be one seized outside
            # the reader's regions, and others' records are need-to-know (as in /v1/links)
            "first": f"{first:%Y-%m}", "last": f"{last:%Y-%m}"})
    rows.sort(key=lambda r: (-r["n_seizures"], r["group_id"]))
    return {"rows": rows[:MAX_ROWS], "source": "groups"}


def _signature_text(signature: Any) -> str:
    """What the group's seizures share, as text ("logo: scorpion; purity: 0.82")."""
    if isinstance(signature, dict):
        return "; ".join(f"{k}: {v}" for k, v in signature.items() if v not in (None, ""))
    if signature is None or (isinstance(signature, float) and pd.isna(signature)):
        return ""
    return str(signature)
