"""Incidents: the alerts that are one event, each with its members; acknowledged or silenced as
a whole (DESIGN section 5). A region-scoped key sees an incident with its in-scope members only,
and an incident with none in scope is unknown (404)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, status

from core.errors import NarcotrendError
from core.geography import geo_covers, normalise_geo
from serving.alerting import picture
from serving.alerting.evidence import describe
from serving.alerting.incidents import ACTIVE_STATUSES, Incident
from serving.alerting.silences import silence_to_dict
from serving.api.deps import AnalystDep, PageDep, PrincipalDep, SessionDep, scope_regions
from serving.api.routers.alerts import REGION_TEXT, alert_out
from serving.api.schemas import (
    AckResult,
    AlertStatus,
    IncidentSilenceIn,
    Page,
    SilenceOut,
    error_responses,
)
from serving.api.schemas import Incident as IncidentOut

router = APIRouter(prefix="/v1/incidents", tags=["incidents"],
                   responses=error_responses(401, 403))

UNKNOWN_INCIDENT = "unknown incident"
INCIDENT_ID = Annotated[str, Path(max_length=64, description="The incident's id")]


def incident_out(incident: Incident) -> IncidentOut:
    """The API shape of an incident, its lead first among its alerts."""
    alerts = [alert_out(a) for a in incident.alerts]
    return IncidentOut(
        id=incident.id, type=incident.lead["type"], period=incident.lead["period"],
        status=incident.status, severity=incident.severity, score=incident.score,
        headline=incident.title, summary=describe(incident.lead)["summary"],
        regions=incident.regions, members=[a.id for a in alerts],
        geos=list(dict.fromkeys(a.geo for a in alerts)),
        drugs=list(dict.fromkeys(a.drug for a in alerts)), lead=alerts[0], alerts=alerts)


@router.get("", response_model=Page[IncidentOut], summary="Incidents, most severe first")
def list_incidents(
    session: SessionDep, principal: PrincipalDep, page: PageDep,
    status_: Annotated[list[AlertStatus] | None, Query(
        alias="status", description="Member statuses to include (repeatable); default: the "
        "active ones (open and acknowledged)")] = None,
    region: Annotated[str | None, Query(max_length=32, examples=["Asia"],
                                        description=REGION_TEXT)] = None,
    geo: Annotated[str | None, Query(max_length=80, examples=["COL", "COL:ANTIOQUIA", "Europe"],
                                     description="Only incidents with a member alert in this "
                                     "place: a country (ISO3, ISO2 or name; it covers its "
                                     "divisions), a division `ISO3:NAME`, a UN region or "
                                     "subregion")] = None,
) -> Page[IncidentOut]:
    """Incidents of the key's alerts, ranked by severity then score, each with its members."""
    regions = scope_regions(principal, region)
    found = [] if regions == [] else picture.list_incidents(
        session, statuses=status_ or ACTIVE_STATUSES, regions=regions)
    if geo:
        try:
            place = normalise_geo(geo)
        except NarcotrendError:  # text no table knows is matched as given, as for alerts
            place = geo
        found = [i for i in found if any(geo_covers(place, a) for a in i.alerts)]
    chunk = found[page.offset:page.offset + page.limit]
    return Page[IncidentOut](total=len(found), limit=page.limit, offset=page.offset,
                             items=[incident_out(i) for i in chunk])


def visible_incident(session: SessionDep, principal: PrincipalDep, incident_id: str) -> Incident:
    regions = None if principal.regions is None else sorted(principal.regions)
    incident = picture.find_incident(session, incident_id, regions)
    if incident is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=UNKNOWN_INCIDENT)
    return incident


@router.get("/{incident_id}", response_model=IncidentOut, responses=error_responses(404),
            summary="One incident")
def get_incident(incident_id: INCIDENT_ID, session: SessionDep,
                 principal: PrincipalDep) -> IncidentOut:
    return incident_out(visible_incident(session, principal, incident_id))


@router.post("/{incident_id}/ack", response_model=AckResult, responses=error_responses(404),
             summary="Acknowledge an incident as a whole (analyst)")
def acknowledge_incident(incident_id: INCIDENT_ID, session: SessionDep,
                         principal: AnalystDep) -> AckResult:
    """Acknowledge every member the key sees; they stay active but are no longer e-mailed."""
    incident = visible_incident(session, principal, incident_id)
    picture.acknowledge_incident(session, incident, by=principal.key_id)
    return AckResult(id=incident.id, status="acknowledged", acknowledged_by=principal.key_id)


@router.post("/{incident_id}/silence", response_model=SilenceOut,
             status_code=status.HTTP_201_CREATED, responses=error_responses(400, 404),
             summary="Silence an incident as a whole until a time (analyst)")
def silence_incident(incident_id: INCIDENT_ID, body: IncidentSilenceIn, session: SessionDep,
                     principal: AnalystDep) -> SilenceOut:
    """One silence on the lead's type, place and drug, which cover every member; for a scoped
    key it mutes only alerts in its regions."""
    incident = visible_incident(session, principal, incident_id)
    try:
        row = picture.silence_incident(session, incident, expires_at=body.expires_at,
                                       comment=body.comment, created_by=principal.key_id)
    except NarcotrendError as err:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, detail=str(err)) from err
    return SilenceOut.model_validate(silence_to_dict(row))
