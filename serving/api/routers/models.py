"""Registered model versions with their backtest metrics, the champion and what is served."""

from __future__ import annotations

from fastapi import APIRouter

from serving.api.deps import PrincipalDep, SettingsDep, StateDep
from serving.api.schemas import Models, ModelVersion, error_responses
from training.registry import CHAMPION, list_model_versions

router = APIRouter(prefix="/v1/models", tags=["models"], responses=error_responses(401, 403))


@router.get("", response_model=Models, summary="Model versions and the champion")
def get_models(settings: SettingsDep, state: StateDep, principal: PrincipalDep) -> Models:
    """Every registered version, newest first; models are global (no region scope)."""
    serving = state.champion.version if state.champion else None
    versions = [ModelVersion(**v, is_champion=CHAMPION in v["aliases"],
                             serving=v["version"] == serving)
                for v in list_model_versions(settings)]
    champion = next((v.version for v in versions if v.is_champion), None)
    return Models(name=settings.registered_model_name, champion=champion, serving=serving,
                  versions=versions)
