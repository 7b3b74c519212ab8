"""The alert and incident bodies of the API (DESIGN section 5, docs/alerts.md), with the
examples shown in /docs; re-exported by `serving.api.schemas`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from core.periods import PERIOD_TEXT


class Figure(BaseModel):
    """One named figure of an alert's evidence, as people read it (serving/alerting/evidence.py)."""

    name: str = Field(examples=["chance of a false alarm (q-value)"],
                      description="What the figure is, in plain words (statistic named after)")
    value: str = Field(examples=["below 0.1% (q = 2e-06)"],
                       description="The figure as people read it, with its unit")
    unit: str = Field(examples=[""], description="`seizures`, `kg`, `months`, `%`, `share`, "
                      "`period`, or empty for a pure number")
    raw: Any = Field(default=None, examples=[2e-06],
                     description="The stored number behind it (null when unknown)")


_ALERT_EXAMPLE = {
    "id": "0c1f5e2b9d8a4c3e8f7a6b5c4d3e2f10", "type": "surge", "geo_level": "country",
    "geo": "HKG", "region": "Asia", "drug_level": "group", "drug": "cocaine",
    "metric": "seizures", "period": "2024-04", "detected_at": "2024-11", "severity": "critical",
    "score": 3.889, "route": None,
    "evidence": {"summary": "+176% over 8 months: 844 seizures against 306 expected",
                 "observed": 844.0, "expected": 306.0, "months": 8,
                 "per_period_before": 38.2, "per_period_after": 105.5, "change_at": "2024-04",
                 "z": 7.94, "q_value": 0.0},
    "summary": "Seizures of cocaine in Hong Kong rose +176% from 2024-04: 844 seizures in 8 "
               "months against 306 seizures expected.",
    "figures": [{"name": "observed", "value": "844 seizures", "unit": "seizures", "raw": 844.0},
                {"name": "chance of a false alarm (q-value)",
                 "value": "below 0.1% (q = 0)", "unit": "", "raw": 0.0}],
    "status": "open", "fingerprint": "5b0e4d1c2a3f4e5d6c7b8a9f0e1d2c3b"}


class Alert(BaseModel):
    """An alert in the one JSON shape of DESIGN section 5; every field and every evidence
    figure of every type is described in docs/alerts.md in the repository."""

    model_config = ConfigDict(json_schema_extra={"examples": [_ALERT_EXAMPLE]})

    id: str = Field(description="The alert's id (stable while its condition lasts)")
    type: str = Field(examples=["surge"], description="`emerging_trend`, `surge`, `decline`, "
                      "`new_drug`, `route_shift`, `forecast_threshold` (more to come: "
                      "`linked_cases`, `modus_operandi_shift`)")
    geo_level: str = Field(examples=["country"],
                           description="`world`, `region`, `subregion` or `country`")
    geo: str = Field(examples=["HKG"], description="ISO3 for a country, else the UN name")
    region: str = Field(examples=["Asia"], description="UN region of `geo` (for route shifts "
                        "the destination region); the key of region-scoped access")
    drug_level: str = Field(examples=["group"], description="`group` or `substance`")
    drug: str = Field(examples=["cocaine"], description="The drug group or substance")
    metric: str = Field(examples=["seizures"], description="`seizures` (count) or `kg`")
    period: str = Field(examples=["2024-04"], description="When the condition began. "
                        + PERIOD_TEXT)
    detected_at: str = Field(examples=["2024-11"],
                             description="The last period of data the detection saw")
    severity: str = Field(examples=["critical"], description="`low`, `medium`, `high`, "
                          "`critical`, from the size of the change and the volume at stake")
    score: float = Field(examples=[3.889], description="Rank inside a type: the severity's "
                         "rank (0 low to 3 critical) plus s/(1+s) for the strength of evidence "
                         "s, so it always follows severity; see docs/alerts.md")
    route: dict[str, Any] | None = Field(
        default=None, examples=[{"attribute": "departure_country", "gaining": ["ECU"],
                                 "losing": ["BRA"], "destination": "Europe"}],
        description="Route shifts only: the attribute, the destination, and the values "
        "gaining and losing share")
    evidence: dict[str, Any] = Field(default_factory=dict, description="The detector's numbers "
                                     "as stored (per type, docs/alerts.md)")
    summary: str = Field(default="", description="One sentence saying what happened")
    figures: list[Figure] = Field(default_factory=list,
                                  description="The evidence as named figures with units")
    status: str = Field(examples=["open"], description="`open`, `acknowledged`, `silenced` or "
                        "`resolved`; active means open or acknowledged")
    fingerprint: str = Field(description="Hash of what names the condition (not when)")
    first_detected_at: str | None = Field(default=None, examples=["2013-02"],
                                          description="The period of data the first episode was "
                                          "detected on")
    episodes: list[dict[str, Any]] = Field(
        default_factory=list, description="Every episode, oldest first: `opened`, `resolved`, "
        "`period`, `detected_at`, `severity`, `evidence`, `route` (an earlier episode is never "
        "overwritten; docs/alerts.md)")


class Incident(BaseModel):
    """The alerts that are one event (same type, period and metric at geo and drug levels
    that contain each other; linked cases by case group), under their broadest alert."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "id": "9f3a1c0d2e4b5a6978f0e1d2", "type": "surge", "period": "2024-04",
        "status": "open", "severity": "critical", "score": 3.889,
        "headline": "Surge: cocaine (seizures) in Asia",
        "summary": "Seizures of cocaine in Asia rose +150% from 2024-04: 900 seizures in 8 "
                   "months against 360 seizures expected.",
        "regions": ["Asia"], "members": ["0c1f…", "7d2e…"], "geos": ["Asia", "HKG"],
        "drugs": ["cocaine"], "lead": _ALERT_EXAMPLE, "alerts": [_ALERT_EXAMPLE]}]})

    id: str = Field(description="Stable while the event lasts (lead fingerprint and period)")
    type: str = Field(examples=["surge"], description="The alerts' type")
    period: str = Field(examples=["2024-04"], description="When the event began. " + PERIOD_TEXT)
    status: str = Field(examples=["open"], description="Its most active member's status")
    severity: str = Field(examples=["critical"], description="Its most severe member's")
    score: float = Field(examples=[3.889], description="Its lead alert's score")
    headline: str = Field(examples=["Surge: cocaine (seizures) in Asia"],
                          description="Type, drug, measure and place of the lead alert")
    summary: str = Field(description="The lead alert's one sentence")
    regions: list[str] = Field(examples=[["Asia"]], description="UN regions of its members")
    members: list[str] = Field(description="Ids of its member alerts, the lead first")
    geos: list[str] = Field(examples=[["Asia", "HKG"]], description="Places of its members")
    drugs: list[str] = Field(examples=[["cocaine"]], description="Drugs of its members")
    lead: Alert = Field(description="The broadest member alert")
    alerts: list[Alert] = Field(description="Every member alert, the lead first")


class IncidentSilenceIn(BaseModel):
    """Mute an incident (its lead's type, place and drug, which cover every member)."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "expires_at": "2030-01-01T00:00:00Z", "comment": "known port operation"}]})

    expires_at: datetime = Field(description="Until when (RFC 3339; UTC when no offset)")
    comment: str = Field(default="", max_length=1000, description="Why, for the others")
