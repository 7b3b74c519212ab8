"""Route flows and their shares over time, and route-shift alerts (DESIGN sections 3 and 5).

A region-scoped key sees the flows whose destination region is in its scope, and only those;
for `attribute=concealment` (how the drug was hidden, a fact of the seizure, not of the route)
the flows whose seizing country's region is, and `destination` then names the seizing place.
"""

from __future__ import annotations

from typing import Annotated, Literal

import pandas as pd
from fastapi import APIRouter, HTTPException, Query, Response, status

from serving.alerting.incidents import ACTIVE_STATUSES
from serving.api.deps import (
    AlertsCacheDep,
    DrugQuery,
    PageDep,
    PrincipalDep,
    SessionDep,
    StateDep,
    scope_regions,
)
from serving.api.routers.alerts import alert_page
from serving.api.schemas import (
    Alert,
    AlertStatus,
    Metric,
    Page,
    RouteFlows,
    RouteShare,
    error_responses,
)

router = APIRouter(prefix="/v1/routes", tags=["routes"], responses=error_responses(401, 403, 503))

NO_ROUTES = "route flows not built yet; run `narcotrend build`"
UNKNOWN = "unknown"
OTHER = "other"
RouteAttribute = Literal["departure_country", "origin_country", "transit_countries",
                         "transport_mode", "destination_country", "country", "concealment"]
#: Attributes read from another flow column, and scoped by the seizing place (not the
#: destination): a concealment method is seen where the drug was seized.
FLOW_COLUMNS: dict[str, str] = {"concealment": "concealment_method"}
SEIZING_ATTRIBUTES = frozenset({"concealment"})


def select_flows(flows: pd.DataFrame, regions: frozenset[str] | None, drug: str | None,
                 destination: str | None, *, seizing: bool = False) -> pd.DataFrame:
    """Flows in scope (by destination region), of a drug (group or substance), to a destination
    (a UN region or an ISO3 country). With `seizing`, scope and place are the seizing country
    and its region instead."""
    region, country = (("region", "country") if seizing
                       else ("destination_region", "destination_country"))
    mask = pd.Series(True, index=flows.index)
    if regions is not None:
        mask &= flows[region].isin(regions)
    if drug is not None:
        mask &= (flows["drug_group"] == drug) | (flows["substance"] == drug)
    if destination is not None:
        mask &= (flows[region] == destination) | (flows[country] == destination)
    return flows[mask]


def route_shares(flows: pd.DataFrame, attribute: str, metric: str,
                 top: int) -> tuple[list[str], pd.DataFrame]:
    """Per period, each attribute value's share of the metric; values past the `top` largest
    are summed as "other", unknown ones stay "unknown". A consignment with several transit
    countries counts for each."""
    values = flows[attribute].astype(object).where(flows[attribute].notna(), UNKNOWN)
    frame = pd.DataFrame({"ds": flows["ds"], "key": values, "value": flows[metric]})
    if attribute == "transit_countries":
        frame["key"] = frame["key"].str.split(";")
        frame = frame.explode("key")
    totals = frame.groupby("key")["value"].sum().sort_values(ascending=False, kind="stable")
    keep = [k for k in totals.index if k != UNKNOWN][:top]
    frame["key"] = frame["key"].where(frame["key"].isin(keep) | (frame["key"] == UNKNOWN), OTHER)
    table = frame.groupby(["ds", "key"], as_index=False)["value"].sum()
    per_period = table.groupby("ds")["value"].transform("sum")
    table["share"] = (table["value"] / per_period.where(per_period > 0)).fillna(0.0).clip(0, 1)
    keys = keep + [k for k in (OTHER, UNKNOWN) if (table["key"] == k).any()]
    order = {k: i for i, k in enumerate(keys)}
    table = table.sort_values(["ds", "key"], key=lambda c: c.map(order) if c.name == "key" else c)
    return keys, table


@router.get("", response_model=RouteFlows, summary="Route shares over time")
def get_routes(
    state: StateDep, principal: PrincipalDep,
    drug: DrugQuery = None,
    destination: Annotated[str | None, Query(
        max_length=64, description="UN region or ISO3 country (for `concealment`: where seized)",
        examples=["Europe"])] = None,
    attribute: Annotated[RouteAttribute, Query(
        description="The route attribute whose values share the flows")] = "departure_country",
    metric: Annotated[Metric, Query(description="`seizures` or `kg`")] = "kg",
    top: Annotated[int, Query(ge=1, le=50, description="Values shown before 'other'")] = 8,
) -> RouteFlows:
    """Shares of departure (or origin, transit, mode...) for a drug and destination, by period."""
    if state.routes is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, detail=NO_ROUTES)
    flows = select_flows(state.routes, principal.regions, drug, destination,
                         seizing=attribute in SEIZING_ATTRIBUTES)
    column = FLOW_COLUMNS.get(attribute, attribute)
    if column not in flows.columns:  # flows built before the column existed
        flows = flows.assign(**{column: None})
    keys, table = route_shares(flows, column, metric, top)
    shares = [RouteShare(ds=row.ds, key=str(row.key), value=float(row.value),
                         share=float(row.share)) for row in table.itertuples(index=False)]
    return RouteFlows(drug=drug, destination=destination, attribute=attribute, metric=metric,
                      keys=keys, shares=shares)


@router.get("/shifts", response_model=Page[Alert], summary="Route-shift alerts")
def list_route_shifts(
    session: SessionDep, principal: PrincipalDep, page: PageDep, cache: AlertsCacheDep,
    drug: Annotated[str | None, Query(max_length=64, description="A drug group or substance")]
        = None,
    destination: Annotated[str | None, Query(max_length=32, description="UN region",
                                             examples=["Europe"])] = None,
    status_: Annotated[AlertStatus | None, Query(
        alias="status", description="Only this status; default: the active ones (open and "
        "acknowledged)")] = None,
) -> Response:
    """Route-shift alerts (what gained and lost share), most severe first, in the key's
    regions."""
    return alert_page(session, cache, page, type="route_shift", drug=drug,
                      status=status_ or list(ACTIVE_STATUSES),
                      regions=scope_regions(principal, destination))

