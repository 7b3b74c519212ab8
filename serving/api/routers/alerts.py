"""Alerts: list and filter, one alert, acknowledge; silences (DESIGN section 5).

Region-scoped keys see only alerts whose `region` is in their scope; an alert outside it is
"unknown" (404), exactly like one that does not exist.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query, Response, status
from pydantic import BaseModel
from sqlalchemy.orm import Session

from core.errors import NarcotrendError
from core.geography import normalise_geo
from serving.alerting import alerts_store, silences
from serving.alerting.evidence import describe
from serving.alerting.incidents import ACTIVE_STATUSES
from serving.api.auth import Principal
from serving.api.deps import (
    AlertsCacheDep,
    AnalystDep,
    PageDep,
    PageParams,
    PrincipalDep,
    SessionDep,
    StateDep,
    scope_regions,
)
from serving.api.model_store import ServingState
from serving.api.query_cache import QueryCache, alerts_version
from serving.api.schemas import (
    Alert,
    AlertStatus,
    AlertType,
    Page,
    Severity,
    SilenceIn,
    SilenceOut,
    error_responses,
)
from serving.db import Alert as AlertRow

router = APIRouter(prefix="/v1", tags=["alerts"], responses=error_responses(401, 403))

UNKNOWN_ALERT = "unknown alert"
GEO_TEXT = ("A place: ISO3 or country name, or a region or subregion name; matches the alert's "
            "own place")
DRUG_TEXT = "A drug group (also finds its substances' alerts) or a substance, any case"
REGION_TEXT = "Only this UN region (within the key's regions)"
AlertId = Annotated[str, Path(description="The alert's id")]
GEO_OUT_OF_SCOPE = "geo is not a geography this key may see"


def json_safe(value: Any) -> Any:
    """The value with non-finite floats as None, so evidence always serialises as JSON."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return value


def alert_out(row: AlertRow | dict[str, Any]) -> Alert:
    """The API shape of a stored alert, with its sentence and figures (evidence.py)."""
    data = json_safe(row if isinstance(row, dict) else row.to_dict())
    data["score"] = data["score"] if data["score"] is not None else 0.0
    data.update(json_safe(describe(data)))
    return Alert.model_validate(data)


def cached_json(session: Session, cache: QueryCache, key: Hashable,
                build: Callable[[], BaseModel]) -> Response:
    """The JSON of `build()`, reused while the alerts table is unchanged."""
    version = alerts_version(session)
    body = cache.get(key, version)
    if body is None:
        body = build().model_dump_json().encode()
        cache.put(key, version, body)
    return Response(body, media_type="application/json")


def alert_page(session: Session, cache: QueryCache, page: PageParams, *,
               regions: list[str] | None, **filters: str | list[str] | None) -> Response:
    """One page of alerts from the store (cached per query and data version); an empty scope
    returns nothing without a query."""
    if regions == []:
        return Response(Page[Alert](total=0, limit=page.limit, offset=page.offset,
                                    items=[]).model_dump_json(), media_type="application/json")

    def build() -> Page[Alert]:
        rows, total = alerts_store.list_alerts(session, regions=regions, limit=page.limit,
                                               offset=page.offset, **filters)
        return Page[Alert](total=total, limit=page.limit, offset=page.offset,
                           items=[alert_out(row) for row in rows])

    hashable = {k: tuple(v) if isinstance(v, list) else v for k, v in filters.items()}
    key = ("alerts", tuple(sorted(hashable.items())), tuple(regions) if regions else None,
           page.limit, page.offset)
    return cached_json(session, cache, key, build)


def visible_alert(session: Session, principal: Principal, alert_id: str) -> AlertRow:
    row = alerts_store.get_alert(session, alert_id)
    if row is None or not principal.sees(row.region):
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=UNKNOWN_ALERT)
    return row


@router.get("/alerts", response_model=Page[Alert], summary="Alerts, filtered and paginated")
def list_alerts(
    session: SessionDep, principal: PrincipalDep, page: PageDep, cache: AlertsCacheDep,
    type: Annotated[AlertType | None, Query(description="Only this alert type")] = None,
    geo: Annotated[str | None, Query(max_length=64, examples=["ESP"], description=GEO_TEXT)]
        = None,
    drug: Annotated[str | None, Query(max_length=64, examples=["cocaine"], description=DRUG_TEXT)]
        = None,
    severity: Annotated[Severity | None, Query(description="Only this severity")] = None,
    status_: Annotated[AlertStatus | None, Query(
        alias="status", description="Only this status; default: the active alerts (open and "
        "acknowledged)")] = None,
    region: Annotated[str | None, Query(max_length=32, examples=["Europe"],
                                        description=REGION_TEXT)] = None,
) -> Response:
    """Alerts in the key's regions matching every filter given; by default the active ones
    (open and acknowledged), as the CLI and the dashboard show them."""
    return alert_page(session, cache, page, type=type, geo=geo, drug=drug, severity=severity,
                      status=status_ or list(ACTIVE_STATUSES),
                      regions=scope_regions(principal, region))


@router.get("/alerts/{alert_id}", response_model=Alert, responses=error_responses(404),
            summary="One alert")
def get_alert(alert_id: AlertId, session: SessionDep, principal: PrincipalDep) -> Alert:
    return alert_out(visible_alert(session, principal, alert_id))


@router.post("/alerts/{alert_id}/ack", response_model=Alert, responses=error_responses(404),
             summary="Acknowledge an alert (analyst)")
def acknowledge(alert_id: AlertId, session: SessionDep, principal: AnalystDep) -> Alert:
    """Mark the alert acknowledged by this key; it stays listed but is no longer e-mailed."""
    visible_alert(session, principal, alert_id)
    row = alerts_store.acknowledge_alert(session, alert_id, by=principal.key_id)
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=UNKNOWN_ALERT)
    return alert_out(row)


def check_geo_scope(state: ServingState, principal: Principal, geo: str | None) -> None:
    """A scoped key may only name (and must name) geographies inside its regions."""
    if principal.regions is None:
        return
    region = None
    if geo and state.series is not None:
        try:
            region = state.series.geo_region.get(normalise_geo(geo))
        except NarcotrendError:
            region = None
    if not principal.sees(region):
        raise HTTPException(status.HTTP_400_BAD_REQUEST, detail=GEO_OUT_OF_SCOPE)


@router.post("/silences", response_model=SilenceOut, status_code=status.HTTP_201_CREATED,
             responses=error_responses(400),
             summary="Silence matching alerts until a time (analyst)")
def create_silence(body: SilenceIn, session: SessionDep, principal: AnalystDep,
                   state: StateDep) -> SilenceOut:
    """Mute alerts matching every matcher given; a region-scoped key must name a geo in scope."""
    check_geo_scope(state, principal, body.geo)
    try:
        row = silences.create_silence(session, geo=body.geo, drug=body.drug, type=body.type,
                                      expires_at=body.expires_at, comment=body.comment,
                                      created_by=principal.key_id)
    except NarcotrendError as err:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, detail=str(err)) from err
    return SilenceOut.model_validate(silences.silence_to_dict(row))


@router.get("/silences", response_model=list[SilenceOut], summary="Active silences")
def list_silences(session: SessionDep, principal: PrincipalDep,
                  state: StateDep) -> list[SilenceOut]:
    """Unexpired silences; a scoped key sees those on geographies in its regions."""
    rows = silences.list_silences(session)
    if principal.regions is not None:
        geo_region = state.series.geo_region if state.series is not None else {}
        rows = [r for r in rows if r.geo is not None and principal.sees(geo_region.get(r.geo))]
    return [SilenceOut.model_validate(silences.silence_to_dict(r)) for r in rows]
