"""Champion forecasts with 80 and 95% intervals (DESIGN section 4)."""

from __future__ import annotations

import math

from fastapi import APIRouter, HTTPException, status

from serving.deps import PrincipalDep, StateDep
from serving.routers.series import UNKNOWN_SERIES, visible_series
from serving.schemas import Forecast, ForecastPoint, error_responses

router = APIRouter(prefix="/v1/forecasts", tags=["forecasts"],
                   responses=error_responses(401, 403, 404, 503))

NO_FORECASTS = "no forecasts loaded; run `narcotrend train`"


def _finite(value: object) -> float | None:
    number = float(value) if value is not None else math.nan
    return number if math.isfinite(number) else None


@router.get("/{unique_id:path}", response_model=Forecast, summary="Forecast of one series")
def get_forecast(unique_id: str, state: StateDep, principal: PrincipalDep) -> Forecast:
    """The champion's forecast for the series, the model chosen for it and the version."""
    if state.forecasts is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, detail=NO_FORECASTS)
    visible_series(state, principal, unique_id)
    frame = state.forecasts.get(unique_id)
    if frame is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=UNKNOWN_SERIES)
    points = [ForecastPoint(ds=row["ds"], forecast=_finite(row["forecast"]),
                            lo_80=_finite(row.get("lo_80")), hi_80=_finite(row.get("hi_80")),
                            lo_95=_finite(row.get("lo_95")), hi_95=_finite(row.get("hi_95")))
              for row in frame.to_dict(orient="records")]
    models = frame["model"].dropna()
    from_model = (state.forecasts_source or "").startswith("model version")
    return Forecast(unique_id=unique_id, model=str(models.iloc[0]) if len(models) else None,
                    model_version=(state.champion.version if state.champion and from_model
                                   else None),
                    source=state.forecasts_source or "", points=points)
