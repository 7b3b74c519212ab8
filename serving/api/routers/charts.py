"""Chart specifications (Vega-Lite, from serving/charts.py) for the dashboard to draw: the
same specs the e-mail digest renders to PNG. Scoped like the data they show."""

from __future__ import annotations

from collections import Counter
from typing import Annotated, Any

import pandas as pd
from fastapi import APIRouter, HTTPException, Path, Query, status

from serving import charts
from serving.alerting import picture
from serving.alerting.incidents import ACTIVE_STATUSES
from serving.api.deps import (
    DestinationQuery,
    DrugQuery,
    PrincipalDep,
    SessionDep,
    StateDep,
    scope_regions,
)
from serving.api.routers import routes as routes_router
from serving.api.routers.series import visible_series
from serving.api.schemas import Metric, error_responses
from serving.reports import charts as report_charts
from serving.reports.routes import flow_lines

router = APIRouter(prefix="/v1/charts", tags=["charts"], responses=error_responses(401, 403))

#: The vendored TopoJSON as the dashboard's page fetches it (the report inlines it instead).
TOPOLOGY_URL = "/static/vendor/world-atlas/countries-110m.json"
SPEC = "A Vega-Lite v6 specification with its data inline (draw it with vega-embed)"
MONTH = r"^(19|20)\d{2}-(0[1-9]|1[0-2])$"  # a sane month (serving/charts.py checks too)


def series_frames(state: Any, unique_id: str) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """History `ds, y` and forecast points of a loaded series (forecast None when absent)."""
    ds, y = state.series.history[unique_id]
    history = pd.DataFrame({"ds": ds, "y": y})
    entry = (state.forecasts or {}).get(unique_id)
    forecast = pd.DataFrame(entry["points"]) if entry and entry["points"] else None
    return history, forecast


@router.get("/series/{unique_id:path}", response_model=dict[str, Any],
            responses={**error_responses(404, 503), 200: {"description": SPEC}},
            summary="Chart of one series: history, forecast band, the alert's period")
def series_chart(
    unique_id: Annotated[str, Path(description="`{geo}/{drug}/{metric}`",
                                   examples=["ESP/cocaine/kg"])],
    state: StateDep, principal: PrincipalDep,
    mark_period: Annotated[str | None, Query(
        pattern=MONTH, examples=["2024-04"],
        description="A month (`YYYY-MM`) to mark, e.g. an alert's period")] = None,
) -> dict[str, Any]:
    """The series' last periods with the champion's forecast and 80/95% band."""
    info = visible_series(state, principal, unique_id)
    history, forecast = series_frames(state, unique_id)
    return charts.series_spec(history, forecast,
                              title=charts.series_title(info["geo"], info["drug"],
                                                        info["metric"]),
                              metric=info["metric"], mark_period=mark_period)


@router.get("/routes", response_model=dict[str, Any],
            responses={**error_responses(503), 200: {"description": SPEC}},
            summary="Chart of route shares, smoothed over 3 months")
def routes_chart(
    state: StateDep, principal: PrincipalDep,
    drug: DrugQuery = None,
    destination: DestinationQuery = None,
    attribute: Annotated[routes_router.RouteAttribute, Query(
        description="The route attribute whose values share the flows")] = "departure_country",
    metric: Annotated[Metric, Query(description="`seizures` or `kg`")] = "kg",
) -> dict[str, Any]:
    """Stacked shares of the attribute's values, 3-month averages, yearly ticks."""
    flows = routes_router.get_routes(state, principal, drug=drug, destination=destination,
                                     attribute=attribute, metric=metric, top=8)
    shares = pd.DataFrame([s.model_dump() for s in flows.shares],
                          columns=["ds", "key", "value", "share", "period"])
    label = attribute.replace("_", " ")
    return charts.route_shares_spec(shares, flows.keys, title=f"{drug or 'all drugs'} to "
                                    f"{destination or 'everywhere'}: {label} shares of {metric} "
                                    "(3-month average)")


@router.get("/route-map", response_model=dict[str, Any],
            responses={**error_responses(503), 200: {"description": SPEC}},
            summary="Map of the flows from departure to seizing country, last months")
def route_map_chart(
    state: StateDep, principal: PrincipalDep,
    drug: DrugQuery = None,
    destination: DestinationQuery = None,
    months: Annotated[int, Query(ge=1, le=120, description="The last months mapped")] = 12,
) -> dict[str, Any]:
    """One line per departure -> seizing country, thicker for more kg, over the last `months`
    months of the flows the key may see (scoped by destination region, as /v1/routes); the
    destination's countries are shaded. The same map the reports draw."""
    if state.routes is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, detail=routes_router.NO_ROUTES)
    flows = routes_router.select_flows(state.routes, principal.regions, drug, destination)
    ds = pd.to_datetime(flows["ds"])
    if not flows.empty:
        flows = flows[ds >= ds.max() - pd.DateOffset(months=months - 1)]
        ds = ds[flows.index]
    lines = flow_lines(flows)
    span = (f"{ds.min():%Y-%m} to {ds.max():%Y-%m}" if not flows.empty else "no flows")
    return report_charts.flow_map(
        lines, tuple(sorted(set(flows["country"].dropna()))),
        f"{drug or 'all drugs'} to {destination or 'everywhere'}: kg by departure country, "
        f"{span}", topology_url=TOPOLOGY_URL)


@router.get("/severity", response_model=dict[str, Any],
            responses={200: {"description": SPEC}},
            summary="Chart of active alerts by severity")
def severity_chart(session: SessionDep, principal: PrincipalDep) -> dict[str, Any]:
    """Active alerts (open and acknowledged) in the key's regions, per severity."""
    regions = scope_regions(principal)
    alerts = [a for a in picture.stored_alerts(session, ACTIVE_STATUSES)
              if regions is None or a["region"] in regions]
    return charts.severity_counts_spec(Counter(a["severity"] for a in alerts),
                                       title="active alerts by severity")


@router.get("/trends", response_model=dict[str, Any],
            responses={200: {"description": SPEC}},
            summary="Chart of the strongest active emerging trends")
def trends_chart(session: SessionDep, principal: PrincipalDep,
                 limit: Annotated[int, Query(ge=1, le=50, description="Trends shown")] = 10
                 ) -> dict[str, Any]:
    """Active emerging-trend alerts in the key's regions, highest score first."""
    regions = scope_regions(principal)
    trends = sorted((a for a in picture.stored_alerts(session, ACTIVE_STATUSES)
                     if a["type"] == "emerging_trend"
                     and (regions is None or a["region"] in regions)),
                    key=lambda a: (-(a["score"] or 0.0), a["id"]))[:limit]
    rows = [{"label": f"{a['geo']} · {a['drug']} ({a['metric']})", "value": a["score"] or 0.0,
             "severity": a["severity"]} for a in trends]
    return charts.ranked_bars_spec(rows, title="strongest emerging trends")

