"""Incidents: the alerts that are one event, grouped once for the API, the CLI, the dashboard
and the e-mail digest (`group_incidents` is the one grouping function).

One event is often seen many times: a surge of cocaine in Hong Kong is also a surge in Eastern
Asia and in Asia, for the drug group and for a substance. Alerts of the same type, metric and
period whose places and drugs contain each other (a region covers its countries, a group its
substances) make ONE incident led by the broadest alert. Alerts that carry a `group_id` (the
linked-case alerts of one case group) make one incident per `group_id` instead. Route shifts
are never merged (their routes differ).

"Active" has one definition (`ACTIVE_STATUSES`): open and acknowledged alerts; silenced ones
are shown apart, resolved ones are history. An incident's status is its most active member's,
its severity its most severe member's, its score its lead's; incidents rank by severity, then
score.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from core.geography import geo_covers, geo_name
from core.taxonomy import substance_groups
from models.alerts import SEVERITIES
from serving.charts import series_title

ACTIVE_STATUSES: tuple[str, ...] = ("open", "acknowledged")
SILENCED_STATUSES: tuple[str, ...] = ("silenced",)
# most active first: an incident with one open member is open
_STATUS_ORDER: dict[str, int] = {"open": 0, "acknowledged": 1, "silenced": 2, "resolved": 3}
_LEVEL_ORDER: dict[str, int] = {"world": 0, "region": 1, "subregion": 2, "country": 3,
                               "admin1": 4}
TYPE_LABELS: dict[str, str] = {
    "emerging_trend": "Emerging trend", "surge": "Surge", "decline": "Decline",
    "new_drug": "New drug", "route_shift": "Route shift",
    "forecast_threshold": "Forecast above threshold", "linked_cases": "Linked cases"}


def severity_rank(severity: str) -> int:
    """0 for low ... 3 for critical (-1 for an unknown word)."""
    return SEVERITIES.index(severity) if severity in SEVERITIES else -1


@dataclass
class Incident:
    """One event: its lead alert (the broadest) and the narrower alerts it stands for."""

    lead: dict[str, Any]
    members: list[dict[str, Any]] = field(default_factory=list)
    chart_cid: str | None = None
    whole_id: str | None = None  # set on a scoped view: the id of the whole incident

    @property
    def alerts(self) -> list[dict[str, Any]]:
        """The lead, then the other members."""
        return [self.lead, *self.members]

    @property
    def id(self) -> str:
        """Stable while the event lasts: the lead's fingerprint (or group) and period."""
        if self.whole_id:
            return self.whole_id
        anchor = self.lead.get("group_id") or self.lead["fingerprint"]
        return hashlib.sha256(f"{anchor}|{self.lead['period']}".encode()).hexdigest()[:24]

    @property
    def severity(self) -> str:
        return max((a["severity"] for a in self.alerts), key=severity_rank)

    @property
    def score(self) -> float:
        return float(self.lead.get("score") or 0.0)

    @property
    def status(self) -> str:
        return min((a.get("status", "open") for a in self.alerts),
                   key=lambda s: _STATUS_ORDER.get(s, 9))

    @property
    def regions(self) -> list[str]:
        return sorted({str(a["region"]) for a in self.alerts if a.get("region")})

    @property
    def countries(self) -> list[str]:
        """The places (and substances) listed under the lead alert, each with its severity:
        "Spain (ESP, high)", "Eastern Asia (medium)", "Hong Kong (HKG, high): crack cocaine"."""
        out = []
        for alert in self.members:
            name = geo_name(alert["geo"])
            place = (f"{name} ({alert['severity']})" if name == alert["geo"]
                     else f"{name} ({alert['geo']}, {alert['severity']})")
            if alert["drug"] != self.lead["drug"]:
                place += f": {alert['drug']}"
            out.append(place)
        return out

    @property
    def title(self) -> str:
        lead = self.lead
        label = TYPE_LABELS.get(lead["type"], lead["type"])
        return f"{label}: {lead['drug']} ({lead.get('metric', '')}) in {geo_name(lead['geo'])}"

    @property
    def chart_title(self) -> str:
        lead = self.lead
        return series_title(lead["geo"], lead["drug"], lead.get("metric", ""))

    @property
    def unique_id(self) -> str:
        """The series the lead alert is about, `{geo}/{drug}/{metric}` (ARCHITECTURE.md)."""
        return f"{self.lead['geo']}/{self.lead['drug']}/{self.lead.get('metric', '')}"

    def scoped(self, regions: Iterable[str] | None) -> Incident | None:
        """The incident as a key confined to `regions` sees it: its in-scope members only, led
        by the broadest of them; None when none is in scope (None regions: everything)."""
        if regions is None:
            return self
        allowed = set(regions)
        visible = [a for a in self.alerts if a.get("region") in allowed]
        if not visible:
            return None
        if len(visible) == len(self.alerts):
            return self
        visible.sort(key=_lead_order)
        return Incident(lead=visible[0], members=visible[1:], whole_id=self.id)


def _lead_order(alert: Mapping[str, Any]) -> tuple[Any, ...]:
    return (*_breadth(alert), -severity_rank(alert["severity"]), alert["geo"],
            alert["fingerprint"])


def _group_key(alert: Mapping[str, Any], groups: Mapping[str, str]) -> tuple[Any, ...]:
    """Alerts that may be one event: same type, metric, period and drug group."""
    drug = str(alert["drug"])
    family = groups.get(drug.lower(), drug) if alert.get("drug_level") == "substance" else drug
    return (alert["type"], family.lower(), alert.get("metric"), alert["period"])


def _breadth(alert: Mapping[str, Any]) -> tuple[int, int]:
    """Broader first: by geographic level, then group before substance."""
    return (_LEVEL_ORDER.get(alert.get("geo_level", ""), 9),
            0 if alert.get("drug_level") == "group" else 1)


def _covers(lead: Mapping[str, Any], alert: Mapping[str, Any]) -> bool:
    """True when `lead` stands for `alert`: its place covers the alert's place (or is it) and
    its drug is the alert's or the alert's group."""
    same_drug = lead["drug"] == alert["drug"] or lead.get("drug_level") == "group"
    return same_drug and (lead["geo"] == alert["geo"] or geo_covers(lead["geo"], alert))


def group_incidents(alerts: Sequence[Mapping[str, Any]]) -> list[Incident]:
    """Incidents of these alerts, most severe first, then by score.

    Broader alerts are placed first; a narrower alert of the same type, metric and period
    joins the incident of a broader one that covers it (place and drug), so one event seen in
    HKG, Eastern Asia and Asia, as cocaine and as cocaine hydrochloride, is one incident. An
    alert with a `group_id` joins the incident of that group whatever its place.
    """
    groups = substance_groups()
    ordered = sorted(alerts, key=_lead_order)
    incidents: list[Incident] = []
    by_key: dict[tuple[Any, ...], list[Incident]] = {}
    by_group: dict[str, Incident] = {}
    for alert in ordered:
        group_id = alert.get("group_id")
        if group_id:
            if group_id in by_group:
                by_group[group_id].members.append(dict(alert))
            else:
                by_group[group_id] = Incident(lead=dict(alert))
                incidents.append(by_group[group_id])
            continue
        key = _group_key(alert, groups)
        candidates = [] if alert["type"] == "route_shift" else by_key.get(key, [])
        parent = next((i for i in candidates
                       if _breadth(i.lead) < _breadth(alert) and _covers(i.lead, alert)), None)
        if parent is not None:
            parent.members.append(dict(alert))
            continue
        incident = Incident(lead=dict(alert))
        incidents.append(incident)
        by_key.setdefault(key, []).append(incident)
    return ranked(incidents)


def ranked(incidents: Iterable[Incident]) -> list[Incident]:
    """Most severe first, then by score, broader before narrower."""
    return sorted(incidents, key=lambda i: (-severity_rank(i.severity), -i.score,
                                            _LEVEL_ORDER.get(i.lead.get("geo_level", ""), 9),
                                            i.lead["geo"], i.id))


def scoped_incidents(incidents: Iterable[Incident],
                     regions: Iterable[str] | None) -> list[Incident]:
    """The incidents a key confined to `regions` sees, each with its in-scope members only."""
    regions = None if regions is None else list(regions)
    return ranked(s for s in (i.scoped(regions) for i in incidents) if s is not None)
