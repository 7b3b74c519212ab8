"""Champion forecasts with 80 and 95% intervals (DESIGN section 4)."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, status

from serving.api.deps import PrincipalDep, StateDep
from serving.api.routers.series import UNKNOWN_SERIES, SeriesId, visible_series
from serving.api.schemas import Forecast, error_responses

router = APIRouter(prefix="/v1/forecasts", tags=["forecasts"],
                   responses=error_responses(401, 403, 404, 503))

NO_FORECASTS = "no forecasts loaded; run `narcotrend train`"


@router.get("/{unique_id:path}", response_model=Forecast, summary="Forecast of one series")
def get_forecast(unique_id: SeriesId, state: StateDep, principal: PrincipalDep) -> Forecast:
    """The champion's forecast for the series, the model chosen for it and the version."""
    if state.forecasts is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, detail=NO_FORECASTS)
    visible_series(state, principal, unique_id)
    entry = state.forecasts.get(unique_id)
    if entry is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=UNKNOWN_SERIES)
    from_model = (state.forecasts_source or "").startswith("model version")
    return Forecast(unique_id=unique_id, model=entry["model"],
                    model_version=(state.champion.version if state.champion and from_model
                                   else None),
                    source=state.forecasts_source or "", points=entry["points"])
