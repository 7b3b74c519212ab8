"""Key judgements: the 3-6 most important findings of a report, in sentences, each with its
confidence and a link to its evidence (what rose, what is new, what moved, what to expect).

Findings come from the incidents of the place's alerts in the window, the linked cases, the
change of seizures by drug group and the forecast. Interface for the alert-picture branch:
`incidents_of(alerts)` groups alerts into incidents (here the digest's grouping, one entry per
event seen at several levels); the lead can point it at `serving.alerting.incidents` at merge.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from core.geography import geo_name
from serving.alerting.incidents import group_incidents
from serving.alerting.subscriptions import severity_rank

MIN_JUDGEMENTS, MAX_JUDGEMENTS, MAX_FROM_ALERTS = 3, 6, 4
MIN_SEIZURES = 20  # a change of fewer seizures than this in the period is not a judgement
CONFIDENCE = {"critical": "high", "high": "high", "medium": "medium", "low": "low"}
VERBS = {"surge": "surged", "decline": "fell sharply", "emerging_trend": "rose steadily",
         "forecast_threshold": "are forecast above the planners' threshold"}

# tactical reports: what to check next for an open incident of each type
NEXT_STEPS = {
    "surge": "one consignment or many? compare seizure sizes, departure countries, concealment",
    "emerging_trend": "which routes and groups feed the rise? follow the departure countries",
    "decline": "confirm reporting was complete before reading a fall as less trafficking",
    "new_drug": "confirm the laboratory identification; tell forensic and health partners",
    "route_shift": "brief ports and airports on the gaining route; check the losing one",
    "modus_operandi_shift": "update the profiling of the new concealment method",
    "linked_cases": "exchange case files with the linked countries' investigators",
    "forecast_threshold": "plan capacity for the forecast level",
}


@dataclass(frozen=True)
class Judgement:
    text: str
    confidence: str  # high | medium | low
    evidence: str  # a URL or a section anchor
    weight: float
    source: str  # alert | series | forecast | linked_cases | no_alert


def incidents_of(alerts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Incidents (DESIGN section 5): `lead`, `members`, `severity`, `score` per event, and
    the tactical `next_step`."""
    return [{"lead": e.lead, "members": e.alerts, "severity": e.severity, "score": e.score,
             "next_step": NEXT_STEPS.get(e.lead["type"], "review the evidence")}
            for e in group_incidents(alerts)]


def _metric_word(alert: Mapping[str, Any]) -> str:
    return "seizure counts" if alert.get("metric") == "seizures" else "quantities seized (kg)"


def alert_sentence(alert: Mapping[str, Any], members: list[Mapping[str, Any]]) -> str:
    """One sentence for an incident's lead alert, naming the drug, place, event and period."""
    drug, place, period = str(alert["drug"]), geo_name(str(alert["geo"])), alert["period"]
    kind = alert["type"]
    others = sorted({geo_name(str(m["geo"])) for m in members if m["geo"] != alert["geo"]})
    also = f" (also seen in {', '.join(others[:4])})" if others else ""
    summary = str((alert.get("evidence") or {}).get("summary") or "").strip()
    tail = f" {summary.rstrip('.')}." if summary else ""
    if kind == "new_drug":
        return f"New drug: {drug} was seized in {place} for the first time in {period}{also}.{tail}"
    if kind == "route_shift":
        route = alert.get("route") or {}
        gaining = ", ".join(geo_name(g) for g in route.get("gaining") or []) or "other values"
        losing = ", ".join(geo_name(g) for g in route.get("losing") or []) or "others"
        what = str(route.get("attribute", "route")).replace("_", " ")
        return (f"Route shift: {drug} bound for {route.get('destination') or place} moved "
                f"({what}) towards {gaining}, away from {losing}, by {period}.{tail}")
    if kind == "modus_operandi_shift":
        route = alert.get("route") or {}
        return (f"Modus operandi: {drug} concealment in {place} shifted towards "
                f"{', '.join(route.get('gaining') or []) or 'new methods'} by {period}.{tail}")
    if kind == "linked_cases":
        countries = (alert.get("evidence") or {}).get("countries") or []
        names = ", ".join(geo_name(str(c)) for c in countries if c != alert["geo"])
        return (f"Linked cases: {drug} seizures in {place} share a source with seizures in "
                f"{names or 'other countries'} ({period}).{tail}")
    verb = VERBS.get(kind, "changed")
    label = kind.replace("_", " ")
    return (f"{label.capitalize()}: {drug} {_metric_word(alert)} in {place} {verb} in "
            f"{period}{also}.{tail}")


def from_incidents(incidents: list[dict[str, Any]], link: Callable[[str], str]
                   ) -> list[Judgement]:
    out = []
    for incident in incidents:
        lead = incident["lead"]
        weight = 10 * (severity_rank(incident["severity"]) + 1) + float(incident["score"] or 0)
        if lead.get("geo_level") == "admin1":  # the national picture first: a division's
            weight -= 15  # incident ranks below national ones of one severity less
        out.append(Judgement(alert_sentence(lead, incident["members"]),
                             CONFIDENCE.get(incident["severity"], "medium"), link(lead["id"]),
                             weight, "alert"))
    out.sort(key=lambda j: -j.weight)
    return out[:MAX_FROM_ALERTS]


def from_series(rows: list[dict[str, Any]], place: str, period: str,
                incomplete: list[str]) -> list[Judgement]:
    """The largest changes of seizures by drug group against the period before."""
    out = []
    confidence = "low" if incomplete else "medium"
    for row in rows:
        change = row.get("seizures_change")
        if change is None or abs(change) < 0.15 or (row["seizures"] or 0) < MIN_SEIZURES:
            continue
        verb = "rose" if change > 0 else "fell"
        out.append(Judgement(
            f"{row['drug'][:1].upper() + row['drug'][1:]} seizures in {place} {verb} "
            f"{abs(change):.0%} in "
            f"{period} against the period before ({row['seizures']:,.0f} seizures"
            + (f", {row['kg']:,.0f} kg" if row.get("kg") else "") + ")"
            + (f"; reporting was incomplete in {', '.join(incomplete[:3])}." if incomplete
               else "."), confidence, "#seizures", min(abs(change), 2.0) * 5, "series"))
    out.sort(key=lambda j: -j.weight)
    return out[:3]


def from_forecast(rows: list[dict[str, Any]], place: str) -> list[Judgement]:
    """What to expect: the forecast of the largest drug group, its 80% band as confidence."""
    for row in rows:
        fc = row.get("forecast")
        if not fc or fc["mean"] <= 0:
            continue
        spread = (fc["hi_80"] - fc["lo_80"]) / (2 * fc["mean"])
        confidence = "high" if spread < 0.3 else "medium" if spread < 0.6 else "low"
        return [Judgement(
            f"Expect about {fc['mean']:,.0f} {row['drug']} seizures a month in {place} through "
            f"{fc['until']} (80% band {fc['lo_80']:,.0f} to {fc['hi_80']:,.0f}).",
            confidence, "#seizures", 1.0, "forecast")]
    return []


def from_linked(rows: list[dict[str, Any]], place: str) -> list[Judgement]:
    if not rows:
        return []
    countries = sorted({c for r in rows for c in r["countries"] if not c.startswith(place)})
    seizures = sum(r["n_seizures"] or 0 for r in rows)
    return [Judgement(
        f"{len(rows)} case group(s) link {place} with {', '.join(countries[:5]) or 'others'} "
        f"({seizures:,} seizures in all): shared sources to follow up across borders.",
        "medium", "#linked", 8.0, "linked_cases")]


def key_judgements(*, incidents: list[dict[str, Any]], seizures: dict[str, Any],
                   linked: dict[str, Any], place: str, period: str,
                   link: Callable[[str], str], span: str | None = None) -> list[Judgement]:
    """3-6 judgements, the alerts' first; the series changes (over `span`, the months the
    report looks at, when not the period itself) and the forecast fill up."""
    alerts = from_incidents(incidents, link)
    series = from_series(seizures["rows"], place, span or period, seizures["incomplete"])
    chosen = alerts + from_linked(linked["rows"], place) + from_forecast(seizures["rows"],
                                                                           place)
    chosen += series[:max(0, MAX_JUDGEMENTS - len(chosen))]
    if not alerts:
        chosen.append(Judgement(f"No alert was raised for {place} in {period}: no surge, "
                                "decline, new drug or route shift passed the detectors' "
                                "tests.", "medium", "#seizures", 0.0, "no_alert"))
    for rank, row in enumerate(seizures["rows"]):
        if len(chosen) >= MIN_JUDGEMENTS:
            break
        change = row.get("seizures_change")
        drug = row["drug"][:1].upper() + row["drug"][1:]
        what = ("remains the most seized drug group in" if rank == 0
                else f"ranks {rank + 1} of the drug groups seized in")
        chosen.append(Judgement(
            f"{drug} {what} {place}: {row['seizures']:,.0f} seizures"
            + (f" ({change:+.0%} against the months before)" if change is not None else "")
            + (f", {row['kg']:,.0f} kg." if row.get("kg") else "."),
            "low" if seizures["incomplete"] else "high", "#seizures", 0.5, "series"))
    return chosen[:MAX_JUDGEMENTS]
