"""Emerging trends: active `emerging_trend` alerts ranked by score, in the key's regions."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from serving.alerting import alerts_store
from serving.alerting.incidents import ACTIVE_STATUSES
from serving.api.deps import (
    AlertsCacheDep,
    DrugQuery,
    PageDep,
    PrincipalDep,
    SessionDep,
    scope_regions,
)
from serving.api.routers.alerts import alert_out, cached_json
from serving.api.schemas import Alert, AlertStatus, Page, error_responses

router = APIRouter(prefix="/v1/trends", tags=["trends"], responses=error_responses(401, 403))

MAX_TRENDS = 10_000


@router.get("", response_model=Page[Alert], summary="Emerging trends, strongest first")
def list_trends(
    session: SessionDep, principal: PrincipalDep, page: PageDep, cache: AlertsCacheDep,
    region: Annotated[str | None, Query(max_length=32, examples=["Europe"],
                                        description="Only this UN region")] = None,
    drug: DrugQuery = None,
    status_: Annotated[AlertStatus | None, Query(
        alias="status", description="Only this status; default: the active ones (open and "
        "acknowledged)")] = None,
) -> Response:
    """Emerging-trend alerts by region and drug, ranked by score (highest first)."""
    regions = scope_regions(principal, region)

    def build() -> Page[Alert]:
        rows: list = []
        if regions != []:
            rows, _ = alerts_store.list_alerts(session, type="emerging_trend", drug=drug,
                                               status=status_ or list(ACTIVE_STATUSES),
                                               regions=regions,
                                               limit=MAX_TRENDS, offset=0)
        ranked = sorted(rows, key=lambda row: (-(row.score or 0.0), row.id))
        chunk = ranked[page.offset:page.offset + page.limit]
        return Page[Alert](total=len(ranked), limit=page.limit, offset=page.offset,
                           items=[alert_out(row) for row in chunk])

    key = ("trends", tuple(regions) if regions is not None else None, drug, status_,
           page.limit, page.offset)
    return cached_json(session, cache, key, build)
