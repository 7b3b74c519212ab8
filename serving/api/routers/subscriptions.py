"""Alert e-mail subscriptions: every key manages its own; admins manage everyone's."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Response, status

from core.errors import NarcotrendError
from serving.alerting import subscriptions
from serving.api.auth import Principal
from serving.api.deps import PrincipalDep, SessionDep, StateDep
from serving.api.routers.alerts import check_geo_scope
from serving.api.schemas import SubscriptionIn, SubscriptionOut, error_responses

router = APIRouter(prefix="/v1/subscriptions", tags=["subscriptions"],
                   responses=error_responses(401, 403))

UNKNOWN_SUBSCRIPTION = "unknown subscription"


def _owner_filter(principal: Principal) -> str | None:
    """Whose subscriptions a key may see and remove: everyone's for an unscoped admin (None),
    else its own (a scoped admin must not read other regions' subscribers' addresses)."""
    return None if principal.allows("admin") and principal.regions is None else principal.key_id


def _out(row: object) -> SubscriptionOut:
    return SubscriptionOut.model_validate(subscriptions.subscription_to_dict(row))


@router.get("", response_model=list[SubscriptionOut], summary="Subscriptions")
def list_subscriptions(session: SessionDep, principal: PrincipalDep) -> list[SubscriptionOut]:
    """This key's subscriptions; every subscription for an admin key without region scope."""
    owner = _owner_filter(principal)
    return [_out(row) for row in subscriptions.list_subscriptions(session, owner_key_id=owner)]


@router.post("", response_model=SubscriptionOut, status_code=status.HTTP_201_CREATED,
             responses=error_responses(400),
             summary="Subscribe an address to alerts")
def add_subscription(body: SubscriptionIn, session: SessionDep, principal: PrincipalDep,
                     state: StateDep) -> SubscriptionOut:
    """A region-scoped key subscribes within its regions (no geo = all of its regions)."""
    geos = list(body.geos)
    if principal.regions is not None:
        geos = geos or sorted(principal.regions)
        for geo in geos:
            check_geo_scope(state, principal, geo)
    try:
        series_drugs = state.series.catalogue["drug"].unique() if state.series else ()
        row = subscriptions.add_subscription(session, str(body.email), geos, body.drugs,
                                             body.min_severity, owner_key_id=principal.key_id,
                                             series_drugs=series_drugs, report=body.report)
    except NarcotrendError as err:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, detail=str(err)) from err
    return _out(row)


@router.delete("/{subscription_id}", status_code=status.HTTP_204_NO_CONTENT,
               responses=error_responses(404), summary="Remove a subscription")
def remove_subscription(
        subscription_id: Annotated[str, Path(description="The subscription's id")],
        session: SessionDep, principal: PrincipalDep) -> Response:
    """Remove one of this key's subscriptions (any, for an admin without region scope)."""
    owner = _owner_filter(principal)
    owned = {row.id for row in subscriptions.list_subscriptions(session, owner_key_id=owner)}
    if subscription_id not in owned or not subscriptions.remove_subscription(
            session, subscription_id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=UNKNOWN_SUBSCRIPTION)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
