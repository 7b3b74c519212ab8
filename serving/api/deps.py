"""Dependencies the routers share: settings, a database session, the calling key, the loaded
state, roles and region scopes (as full-stack-fastapi-template's `api/deps.py`).

Each is an `Annotated` alias, so a route states what it needs in its signature, and tests can
swap any of them with `app.dependency_overrides`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Query, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from core.settings import Settings
from serving.api.auth import Principal, PrincipalCache, hash_key, verify_key
from serving.api.model_store import ModelStore, ServingState
from serving.api.query_cache import QueryCache
from serving.db import session_scope


def app_settings(request: Request) -> Settings:
    """The settings the app was created with (`create_app(settings)`)."""
    return request.app.state.settings


SettingsDep = Annotated[Settings, Depends(app_settings)]

_bearer = HTTPBearer(auto_error=False, description="An API key from `narcotrend keys create`.")

UNAUTHORIZED_DETAIL = "missing, unknown or revoked API key"


def get_session(settings: SettingsDep) -> Iterator[Session]:
    """One session per request: committed when the route returns, rolled back on error."""
    with session_scope(settings.service_database_url) as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]


def get_principal(
    request: Request,
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """The verified key of the call; 401 with `WWW-Authenticate: Bearer` otherwise."""
    principal = None
    if credentials is not None and credentials.scheme.lower() == "bearer":
        cache: PrincipalCache = request.app.state.key_cache
        key_hash = hash_key(credentials.credentials)
        principal = cache.get(key_hash)
        if principal is None:
            principal = verify_key(session, credentials.credentials)
            if principal is not None:
                cache.put(key_hash, principal)
    if principal is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, detail=UNAUTHORIZED_DETAIL,
                            headers={"WWW-Authenticate": "Bearer"})
    request.state.principal = principal
    return principal


PrincipalDep = Annotated[Principal, Depends(get_principal)]


def require_role(role: str) -> Callable[[Principal], Principal]:
    """A dependency that lets through keys of at least `role` and refuses others with 403."""

    def check(principal: PrincipalDep) -> Principal:
        if not principal.allows(role):
            raise HTTPException(status.HTTP_403_FORBIDDEN,
                                detail=f"this action needs the {role} role or higher")
        return principal

    return check


def require_unscoped_role(role: str) -> Callable[[Principal], Principal]:
    """Like `require_role`, for actions that concern every region (retraining, the jobs that
    report on it, managing keys): a region-scoped key is refused with 403 whatever its role."""
    at_least = require_role(role)

    def check(principal: PrincipalDep) -> Principal:
        at_least(principal)
        if principal.regions is not None:
            raise HTTPException(status.HTTP_403_FORBIDDEN,
                                detail=f"this action concerns every region: it needs a {role} "
                                       "key without a region scope")
        return principal

    return check


AnalystDep = Annotated[Principal, Depends(require_role("analyst"))]
AdminDep = Annotated[Principal, Depends(require_role("admin"))]
GlobalAnalystDep = Annotated[Principal, Depends(require_unscoped_role("analyst"))]
GlobalAdminDep = Annotated[Principal, Depends(require_unscoped_role("admin"))]


def get_store(request: Request) -> ModelStore:
    return request.app.state.store


StoreDep = Annotated[ModelStore, Depends(get_store)]


def get_state(store: StoreDep) -> ServingState:
    """The loaded series, routes, forecasts and champion, taken once for the whole request."""
    return store.state


StateDep = Annotated[ServingState, Depends(get_state)]


def get_alerts_cache(request: Request) -> QueryCache:
    return request.app.state.alerts_cache


AlertsCacheDep = Annotated[QueryCache, Depends(get_alerts_cache)]


def scope_regions(principal: Principal, region: str | None = None) -> list[str] | None:
    """The regions a query may return: the key's scope, narrowed by a requested region.

    None means every region; an empty list means nothing (a region outside the key's scope).
    """
    if region is None:
        return sorted(principal.regions) if principal.regions is not None else None
    return [region] if principal.sees(region) else []


#: The drug filter of the routes, trends and chart endpoints.
DrugQuery = Annotated[str | None, Query(max_length=64, examples=["cocaine"],
                                        description="A drug group or substance")]
#: Where the flows of a route chart arrive.
DestinationQuery = Annotated[str | None, Query(max_length=64, examples=["Europe"],
                                               description="UN region or ISO3 country")]

MAX_LIMIT = 500


@dataclass(frozen=True)
class PageParams:
    limit: int
    offset: int


def page_params(
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Items per page")] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000, description="Items to skip")] = 0,
) -> PageParams:
    return PageParams(limit=limit, offset=offset)


PageDep = Annotated[PageParams, Depends(page_params)]
