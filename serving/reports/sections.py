"""The data of a report's sections (DESIGN section 5b): pure functions of a `Place`, a
`Period` and `ReportInputs`, returning plain dicts and frames the templates show.

Scope (need to know): the place itself is checked by the caller (`check_scope`); inside a
report, alerts outside the reader's regions are dropped (`scoped_alerts`), route flows are
those seized in the place's countries (always in scope), and linked cases follow section 5a
(`serving/reports/linked.py`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

from core.errors import NarcotrendError
from core.geography import geo_covers, geo_name
from serving.reports.inputs import Period, Place, ReportInputs

MAX_ROWS = 12  # every table of a report is capped (PDF pages stay few)
WATCHED_GROUPS = ("NPS", "precursors")
WATCHED_SUBSTANCES = ("captagon",)
HANDLING_NOTE = ("RESTRICTED: law-enforcement use only; disseminate to the countries concerned "
                 "and no further. Seizures measure enforcement activity as well as trafficking: "
                 "a rise may be more policing, a fall less reporting.")


class OutOfScope(NarcotrendError):
    """The reader may not see the place (the API answers 404, as for an unknown place)."""


def check_scope(place: Place, regions: Iterable[str] | None) -> None:
    if regions is not None and place.region not in set(regions):
        raise OutOfScope(f"no report for {place.geo}")


def scoped_alerts(alerts: Iterable[Mapping[str, Any]],
                  regions: Iterable[str] | None) -> list[dict[str, Any]]:
    allowed = None if regions is None else set(regions)
    return [dict(a) for a in alerts if allowed is None or a.get("region") in allowed]


def place_alerts(alerts: Iterable[Mapping[str, Any]], place: Place,
                 window: Period) -> list[dict[str, Any]]:
    """Alerts about the place or its countries (route shifts naming them too) whose period
    lies in the window, any status: a report tells what happened, open or not."""
    out = []
    for alert in alerts:
        try:
            when = pd.Period(str(alert.get("period"))[:7], "M").to_timestamp()
        except ValueError:
            continue
        if not window.start <= when <= window.end:
            continue
        if geo_covers(place.geo, alert) or alert.get("geo") in place.countries or (
                place.level != "country" and alert.get("geo") == place.geo):
            out.append(dict(alert))
    return out


def header(place: Place, period: Period, window: Period, kind: str, inputs: ReportInputs,
           regions: Iterable[str] | None) -> dict[str, Any]:
    """Place, period, data as of, the countries concerned (those with seizures in the window),
    the reader's scope and the handling note."""
    records = inputs.records
    concerned = []
    if not records.empty:
        seen = records[window.contains(records["date"])]["country"].dropna().unique()
        concerned = sorted(set(seen) & set(place.countries))
    return {
        "place": place.name, "geo": place.geo, "level": place.level, "region": place.region,
        "period": period.label, "kind": kind,
        "window": f"{window.start:%Y-%m} to {window.end:%Y-%m}",
        "data_as_of": f"{inputs.data_end:%Y-%m}" if inputs.data_end is not None else "unknown",
        "built_at": inputs.built_at or "unknown",
        "countries": [f"{geo_name(c)} ({c})" for c in concerned] or [place.name],
        "scope": "all regions" if regions is None else ", ".join(sorted(regions)),
        "handling": HANDLING_NOTE,
    }


def _sum(frame: pd.DataFrame, window: Period) -> float | None:
    part = frame[window.contains(frame["ds"])]["y"]
    return float(part.sum()) if part.notna().any() else None


def _change(now: float | None, before: float | None) -> float | None:
    if now is None or before is None or before <= 0:
        return None
    return now / before - 1.0


def incomplete_months(inputs: ReportInputs, place: Place, window: Period) -> list[str]:
    """Months of the window in which a country of the place did not report (NaN series)."""
    series = inputs.series
    if series.empty:
        return []
    own = series[(series["geo_level"] == "country") & series["geo"].isin(place.countries)
                 & window.contains(series["ds"])]
    reported = own.groupby(["ds", "geo"])["y"].apply(lambda y: y.notna().any()).unstack()
    if reported.empty:
        return []
    partial = reported.index[~reported.fillna(False).all(axis=1)]
    return [f"{ds:%Y-%m}" for ds in partial]


def seizures_by_drug(place: Place, window: Period, inputs: ReportInputs) -> dict[str, Any]:
    """Per drug group: seizures and kg in the window and before, the change, the forecast of
    the next months with its 80% band; months with incomplete reporting are named."""
    series = inputs.series
    if series.empty:
        return {"rows": [], "incomplete": [], "top": []}
    groups = series[(series["geo"] == place.geo) & (series["drug_level"] == "group")]
    before = window.previous()
    rows = []
    for drug, part in groups.groupby("drug"):
        row: dict[str, Any] = {"drug": drug}
        for metric in ("seizures", "kg"):
            frame = part[part["metric"] == metric]
            now = _sum(frame, window)
            row[metric] = now
            row[f"{metric}_change"] = _change(now, _sum(frame, before))
        fc = inputs.forecasts
        fc = fc[fc["unique_id"] == f"{place.geo}/{drug}/seizures"] if not fc.empty else fc
        if not fc.empty and inputs.data_end is not None and window.end >= inputs.data_end:
            row["forecast"] = {"months": len(fc), "mean": float(fc["forecast"].mean()),
                               "lo_80": float(fc["lo_80"].mean()),
                               "hi_80": float(fc["hi_80"].mean()),
                               "until": f"{fc['ds'].max():%Y-%m}"}
        if row["seizures"]:
            rows.append(row)
    rows.sort(key=lambda r: -(r["seizures"] or 0))
    return {"rows": rows[:MAX_ROWS], "incomplete": incomplete_months(inputs, place, window),
            "top": [r["drug"] for r in rows[:3]]}


def series_for_chart(inputs: ReportInputs, unique_id: str, window: Period
                     ) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """History up to the window's end and, when the window reaches the data end, the
    forecast after it (a past period's report shows no forecast made later)."""
    series = inputs.series
    history = series[(series["unique_id"] == unique_id) & (series["ds"] <= window.end)]
    forecast = None
    if (not inputs.forecasts.empty and inputs.data_end is not None
            and window.end >= inputs.data_end):
        forecast = inputs.forecasts[inputs.forecasts["unique_id"] == unique_id]
    return history[["ds", "y"]], forecast


def first_sightings(place: Place, window: Period, inputs: ReportInputs,
                    alerts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Substances first seized in the place's countries during the window (new drugs, NPS,
    captagon, precursors), each with where and how many; new-drug alerts add their ids."""
    records = inputs.records
    if records.empty:
        return []
    first = records.groupby(["country", "substance"])["date"].min()
    new = first[(first >= window.start) & (first < window.end + pd.offsets.MonthBegin(1))]
    in_window = records[window.contains(records["date"].dt.to_period("M").dt.to_timestamp())]
    alert_ids = {(a["geo"], a["drug"]): a["id"] for a in alerts if a["type"] == "new_drug"}
    rows = []
    for (country, substance), when in new.items():
        seized = in_window[(in_window["country"] == country)
                           & (in_window["substance"] == substance)]
        group = seized["drug_group"].iloc[0] if len(seized) else ""
        rows.append({"substance": substance, "group": group, "country": geo_name(country),
                     "iso3": country, "first": f"{when:%Y-%m-%d}", "seizures": len(seized),
                     "kg": float(seized["kg"].sum()),
                     "watched": group in WATCHED_GROUPS or substance in WATCHED_SUBSTANCES,
                     "alert_id": alert_ids.get((country, substance))
                     or alert_ids.get((place.geo, substance))})
    rows.sort(key=lambda r: (-r["watched"], -r["seizures"], r["substance"]))
    return rows[:MAX_ROWS]


def _filled(series: pd.Series) -> float:
    """Share of rows with a known value (route parts: null or "unknown" is missing)."""
    if series.empty:
        return 1.0
    known = series.notna() & (series.astype(str).str.lower() != "unknown")
    return float(known.mean())


def coverage(place: Place, window: Period, inputs: ReportInputs) -> dict[str, Any]:
    """Reporting completeness per country, rows quarantined at ingest, route fields missing."""
    series, months = inputs.series, window.months
    completeness = []
    if not series.empty:
        own = series[(series["geo_level"] == "country") & series["geo"].isin(place.countries)
                     & window.contains(series["ds"])]
        reported = own.groupby(["geo", "ds"])["y"].apply(lambda y: y.notna().any())
        for country, flags in reported.groupby(level=0):
            completeness.append({"country": geo_name(country), "iso3": country,
                                 "months_reported": int(flags.sum()), "months": months})
    completeness.sort(key=lambda r: (r["months_reported"] / r["months"], r["country"]))
    quarantine = inputs.quarantine
    reasons: dict[str, int] = {}
    if not quarantine.empty:
        mine = quarantine[quarantine["country"].astype(str).str.upper().isin(place.countries)]
        reasons = {str(k): int(v) for k, v in mine["reason"].value_counts().items()}
    records = inputs.records
    in_window = records[window.contains(records["date"].dt.to_period("M").dt.to_timestamp())] \
        if not records.empty else records
    fields = {name: round(1.0 - _filled(in_window[name]), 3) for name in
              ("transport_mode", "departure_country", "destination_country", "concealment")
              if name in in_window.columns}
    return {"completeness": completeness[:MAX_ROWS], "countries": len(completeness),
            "quarantined": reasons, "quarantined_total": sum(reasons.values()),
            "missing_share": fields, "records": int(len(in_window)),
            "caveat": "Seizure counts reflect where and how hard agencies look; months a "
                      "country did not report are gaps, not zeros. Quarantined rows are "
                      "counted by the country as written, so misspelt countries are not."}
