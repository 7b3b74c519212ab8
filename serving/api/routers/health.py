"""Liveness and readiness probes: no key needed, nothing about the data revealed."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text

from serving.api.deps import SettingsDep, StateDep
from serving.api.schemas import Health, Ready
from serving.db import get_engine

router = APIRouter(tags=["health"])


@router.get("/health", response_model=Health, summary="The process is up")
def health() -> Health:
    return Health()


def database_reachable(url: str) -> bool:
    try:
        with get_engine(url).connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception:  # noqa: BLE001 - any failure means not ready
        return False
    return True


@router.get("/ready", response_model=Ready, summary="Database reachable and champion loaded",
            responses={503: {"model": Ready, "description": "Not ready yet"}})
def ready(settings: SettingsDep, state: StateDep) -> Ready | JSONResponse:
    body = Ready(
        status="ready", database=database_reachable(settings.service_database_url),
        model_loaded=state.champion is not None,
        model_version=state.champion.version if state.champion else None,
        series_loaded=state.series is not None, forecasts_source=state.forecasts_source)
    if body.database and body.model_loaded:
        return body
    body.status = "not ready"
    return JSONResponse(body.model_dump(), status_code=503)
