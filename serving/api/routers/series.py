"""Series catalogue and history (DESIGN section 3), limited to the key's regions."""

from __future__ import annotations

import math
from typing import Annotated, Any

import pandas as pd
from fastapi import APIRouter, HTTPException, Path, Query, status

from serving.api.auth import Principal
from serving.api.deps import PageDep, PrincipalDep, StateDep
from serving.api.model_store import SeriesData, ServingState
from serving.api.schemas import (
    DrugLevel,
    GeoLevel,
    Metric,
    Page,
    Point,
    SeriesHistory,
    SeriesInfo,
    error_responses,
)

router = APIRouter(prefix="/v1/series", tags=["series"],
                   responses=error_responses(401, 403, 503))

NO_SERIES = "series not built yet; run `narcotrend build`"
UNKNOWN_SERIES = "unknown series"
SeriesId = Annotated[str, Path(description="`{geo}/{drug}/{metric}`", examples=["ESP/cocaine/kg"])]


def loaded_series(state: ServingState) -> SeriesData:
    """The series, or 503 when none are loaded."""
    if state.series is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, detail=NO_SERIES)
    return state.series


def visible_series(state: ServingState, principal: Principal, unique_id: str) -> dict[str, Any]:
    """The catalogue row of a series the key may see; 404 alike for unknown and out of scope."""
    row = loaded_series(state).info.get(unique_id)
    if row is None or not principal.sees(row["region"]):
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=UNKNOWN_SERIES)
    return row


def filter_catalogue(catalogue: pd.DataFrame, regions: frozenset[str] | None,
                     filters: dict[str, str | None]) -> pd.DataFrame:
    """Catalogue rows in `regions` (None = all) matching every given key filter exactly."""
    mask = pd.Series(True, index=catalogue.index)
    if regions is not None:
        mask &= catalogue["region"].isin(regions)
    for column, value in filters.items():
        if value is not None:
            mask &= catalogue[column] == value
    return catalogue[mask]


@router.get("", response_model=Page[SeriesInfo], summary="Series catalogue")
def list_series(
    state: StateDep, principal: PrincipalDep, page: PageDep,
    geo: Annotated[str | None, Query(max_length=64, examples=["ESP"],
                                     description="Exactly this place (ISO3 or UN name)")] = None,
    drug: Annotated[str | None, Query(max_length=64, examples=["cocaine"],
                                      description="Exactly this drug group or substance")] = None,
    metric: Annotated[Metric | None, Query(description="`seizures` or `kg`")] = None,
    geo_level: Annotated[GeoLevel | None, Query(description="Only this geographic level")] = None,
    drug_level: Annotated[DrugLevel | None, Query(description="`group` or `substance`")] = None,
    region: Annotated[str | None, Query(max_length=32, examples=["Europe"],
                                        description="Only this UN region")] = None,
) -> Page[SeriesInfo]:
    """Series the key may see, filtered by geography, drug, metric, level and region."""
    rows = filter_catalogue(loaded_series(state).catalogue, principal.regions, {
        "geo": geo, "drug": drug, "metric": metric, "geo_level": geo_level,
        "drug_level": drug_level, "region": region})
    chunk = rows.iloc[page.offset:page.offset + page.limit]
    return Page[SeriesInfo](total=len(rows), limit=page.limit, offset=page.offset,
                            items=chunk.to_dict(orient="records"))


@router.get("/{unique_id:path}", response_model=SeriesHistory,
            responses=error_responses(404), summary="History of one series")
def get_series(unique_id: SeriesId, state: StateDep, principal: PrincipalDep) -> SeriesHistory:
    """Every period of the series; `y` is null where the geography reported nothing."""
    info = visible_series(state, principal, unique_id)
    ds, y = state.series.history[unique_id]
    points = [Point(ds=d, y=None if math.isnan(v) else float(v))
              for d, v in zip(ds.tolist(), y.tolist(), strict=True)]
    return SeriesHistory(series=SeriesInfo(**info), points=points)
