"""Data-quality notices (`reporting_change`), served beside the alerts: why a series was not
alerted on. Region-scoped keys see only notices whose `region` is in their scope."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from serving.alerting.notices_store import list_notices
from serving.api.deps import PageDep, PrincipalDep, SessionDep, scope_regions
from serving.api.routers.alerts import json_safe
from serving.api.schemas import Page, error_responses


class Notice(BaseModel):
    """A data-quality notice (`reporting_change`): why a series was not alerted on."""

    id: str
    type: str = Field(examples=["reporting_change"])
    geo: str = Field(examples=["RUS"])
    region: str = Field(examples=["Europe"])
    periods: list[dict[str, Any]] = Field(description="{period, completeness} of each period",
                                          examples=[[{"period": "2016-01",
                                                      "completeness": 0.04}]])
    drugs: list[str] = Field(examples=[["cannabis", "opioids"]])
    evidence: dict[str, Any] = Field(default_factory=dict)
    detected_at: str
    first_detected_at: str
    status: str
    fingerprint: str


router = APIRouter(prefix="/v1", tags=["notices"], responses=error_responses(401, 403))


@router.get("/notices", response_model=Page[Notice], summary="Data-quality notices")
def get_notices(
    session: SessionDep, principal: PrincipalDep, page: PageDep,
    status_: Annotated[Literal["open", "resolved"] | None, Query(alias="status")] = None,
    region: Annotated[str | None, Query(max_length=32, examples=["Europe"])] = None,
    geo: Annotated[str | None, Query(max_length=64, examples=["RUS"])] = None,
) -> Page[Notice]:
    """Notices in the key's regions, most recent first."""
    regions = scope_regions(principal, region)
    if regions == []:
        return Page[Notice](total=0, limit=page.limit, offset=page.offset, items=[])
    rows = list_notices(session, regions=regions, status=[status_] if status_ else None,
                        geo=geo, limit=page.limit + page.offset + 10_000)
    items = [Notice.model_validate(json_safe(row.to_dict())) for row in rows]
    return Page[Notice](total=len(items), limit=page.limit, offset=page.offset,
                        items=items[page.offset:page.offset + page.limit])
