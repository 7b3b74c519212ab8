"""Data-quality notices (`reporting_change`), served beside the alerts: why a series was not
alerted on. Region-scoped keys see only notices whose `region` is in their scope."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from serving.alerting.notices_store import list_notices
from serving.api.deps import PageDep, PrincipalDep, SessionDep, scope_regions
from serving.api.routers.alerts import REGION_TEXT, json_safe
from serving.api.schemas import Page, error_responses


class Notice(BaseModel):
    """A data-quality notice (`reporting_change`): why a series was not alerted on."""

    id: str = Field(description="The notice's id (stable while its condition lasts)")
    kind: str = Field(examples=["reporting_change"],
                      description="`reporting_change`: the country sent a fraction of its usual "
                      "reports in some periods")
    type: str = Field(examples=["reporting_change"], description="The same as `kind` (the "
                      "field's earlier name, kept for existing clients)")
    geo: str = Field(examples=["RUS"], description="ISO3 of the country concerned")
    region: str = Field(examples=["Europe"], description="UN region of `geo`; the key of "
                        "region-scoped access")
    periods: list[dict[str, Any]] = Field(description="`{period, reporting_completeness}` of "
                                          "each low period: the share of the usual reports "
                                          "sent", examples=[[{"period": "2016-01",
                                                              "reporting_completeness": 0.04}]])
    summary: str = Field(default="", description="One sentence for a planner: who sent how "
                         "much, when, and what was not alerted on because of it")
    drugs: list[str] = Field(examples=[["cannabis", "opioids"]],
                             description="Drug groups of the country's series, which were not "
                             "alerted on in those periods")
    evidence: dict[str, Any] = Field(
        default_factory=dict, description="`summary` (one sentence), and per period the "
        "`records` received and the `expected` number",
        examples=[{"summary": "RUS sent 4%-9% of its usual reports in 2016-01..2016-03: a "
                   "change in who reports, not in trafficking", "records": [12.0, 20.0, 27.0],
                   "expected": [300.0, 296.5, 301.2]}])
    detected_at: str = Field(examples=["2016-06"],
                             description="The last period of data the detection saw")
    first_detected_at: str = Field(examples=["2016-01"],
                                   description="The first low period of the spell")
    status: str = Field(examples=["open"], description="`open`, or `resolved` once the country "
                        "has reported as usual again for a few periods")
    fingerprint: str = Field(description="Hash of what names the condition (country and the "
                             "spell's first period)")

router = APIRouter(prefix="/v1", tags=["notices"], responses=error_responses(401, 403))


@router.get("/notices", response_model=Page[Notice], summary="Data-quality notices")
def get_notices(
    session: SessionDep, principal: PrincipalDep, page: PageDep,
    status_: Annotated[Literal["open", "resolved"] | None, Query(
        alias="status", description="Only this status; default: every notice")] = None,
    region: Annotated[str | None, Query(max_length=32, examples=["Europe"],
                                        description=REGION_TEXT)] = None,
    geo: Annotated[str | None, Query(max_length=64, examples=["RUS"],
                                     description="Only notices of this country (ISO3)")] = None,
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
