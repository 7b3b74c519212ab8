"""API keys over HTTP, for admins without a region scope (a scoped admin could otherwise mint
itself an unscoped key): list, create (shown once), revoke."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Request, status

from core.errors import NarcotrendError
from serving.api import auth
from serving.api.deps import GlobalAdminDep, PrincipalDep, SessionDep
from serving.api.schemas import KeyCreated, KeyIn, KeyInfo, Me, error_responses

router = APIRouter(prefix="/v1", tags=["keys"], responses=error_responses(401, 403))

UNKNOWN_KEY = "unknown key"


@router.get("/keys", response_model=list[KeyInfo], summary="Every key (unscoped admin)")
def list_keys(session: SessionDep, principal: GlobalAdminDep) -> list[KeyInfo]:
    return [KeyInfo.model_validate(auth.key_summary(row)) for row in auth.list_keys(session)]


@router.post("/keys", response_model=KeyCreated, status_code=status.HTTP_201_CREATED,
             summary="Create a key (unscoped admin); the key is in this response only")
def create_key(body: KeyIn, session: SessionDep, principal: GlobalAdminDep) -> KeyCreated:
    raw, row = auth.create_key(session, body.role, body.regions, body.name)
    return KeyCreated(key=raw, **auth.key_summary(row))


@router.delete("/keys/{key_id}", response_model=KeyInfo, responses=error_responses(404),
               summary="Revoke a key (unscoped admin)")
def revoke_key(key_id: Annotated[str, Path(description="The key's id")], session: SessionDep,
               principal: GlobalAdminDep, request: Request) -> KeyInfo:
    """Revoke a key; this process refuses it from the next request on."""
    try:
        row = auth.revoke_key(session, key_id)
    except NarcotrendError as err:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=UNKNOWN_KEY) from err
    session.commit()
    request.app.state.key_cache.clear()
    return KeyInfo.model_validate(auth.key_summary(row))


@router.get("/me", response_model=Me, summary="The calling key: role and regions")
def me(principal: PrincipalDep) -> Me:
    return Me(id=principal.key_id, prefix=principal.prefix, role=principal.role,
              regions=sorted(principal.regions) if principal.regions is not None else None,
              name=principal.name)
