"""What a stored API key may see of the things it left behind (silences, subscriptions): its
regions and whether it was revoked. The API's own checks of a request's key are in
`serving/api/auth.py`."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from serving.db import ApiKey


@dataclass(frozen=True)
class KeyScope:
    """What a stored key may see, for things it left behind (silences, subscriptions)."""

    regions: frozenset[str] | None
    revoked: bool

    def covers(self, region: str | None) -> bool:
        return self.regions is None or (region is not None and region in self.regions)


def key_scopes(session: Session, key_ids: Iterable[str | None]) -> dict[str, KeyScope]:
    """Scope and revocation of each key id given that exists (unknown ids are absent)."""
    wanted = {key_id for key_id in key_ids if key_id}
    if not wanted:
        return {}
    rows = session.scalars(select(ApiKey).where(ApiKey.id.in_(wanted)))
    return {row.id: KeyScope(frozenset(row.regions) if row.regions else None,
                             row.revoked_at is not None) for row in rows}
