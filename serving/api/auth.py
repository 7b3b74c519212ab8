"""API keys: creation, verification, revocation, roles and region scopes.

A key is shown once, when it is created; the database keeps only its SHA-256 hash and a short
prefix that names it in listings and the audit log. Verification looks the prefix up and compares
hashes in constant time, so neither the key nor its hash leaks through timing.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from core.errors import NarcotrendError
from serving.db import ApiKey, utcnow

Role = Literal["viewer", "analyst", "admin"]
ROLES: tuple[str, ...] = ("viewer", "analyst", "admin")
ROLE_RANK: dict[str, int] = {role: rank for rank, role in enumerate(ROLES)}
UN_REGIONS: tuple[str, ...] = ("Africa", "Americas", "Asia", "Europe", "Oceania")
KEY_TAG = "nt_"
PREFIX_LENGTH = 11  # "nt_" + 8 characters of the random part


@dataclass(frozen=True)
class Principal:
    """Who is calling: the verified key's id, role and region scope (None = every region)."""

    key_id: str
    prefix: str
    role: str
    regions: frozenset[str] | None
    name: str = ""

    def allows(self, role: str) -> bool:
        """True when this key's role is at least `role` (viewer < analyst < admin)."""
        return ROLE_RANK[self.role] >= ROLE_RANK[role]

    def sees(self, region: str | None) -> bool:
        """True when data of `region` is inside this key's scope."""
        return self.regions is None or (region is not None and region in self.regions)


def hash_key(raw_key: str) -> str:
    return hashlib.sha256(raw_key.encode("utf-8")).hexdigest()


def check_role(role: str) -> str:
    if role not in ROLE_RANK:
        raise NarcotrendError(f"role must be one of {', '.join(ROLES)}, got {role!r}")
    return role


def check_regions(regions: Iterable[str] | None) -> list[str] | None:
    """The UN regions named (case-insensitive), in canonical spelling; None or empty = all."""
    if not regions:
        return None
    by_lower = {r.lower(): r for r in UN_REGIONS}
    out: list[str] = []
    for region in regions:
        canonical = by_lower.get(region.strip().lower())
        if canonical is None:
            raise NarcotrendError(
                f"region must be one of {', '.join(UN_REGIONS)}, got {region!r}")
        if canonical not in out:
            out.append(canonical)
    return out


def create_key(session: Session, role: str, regions: Iterable[str] | None = None,
               name: str = "") -> tuple[str, ApiKey]:
    """Make a new key; returns the raw key (to show once) and its stored row."""
    raw = KEY_TAG + secrets.token_urlsafe(32)
    row = ApiKey(prefix=raw[:PREFIX_LENGTH], key_hash=hash_key(raw), role=check_role(role),
                 regions=check_regions(regions), name=name)
    session.add(row)
    session.flush()
    return raw, row


def to_principal(row: ApiKey) -> Principal:
    return Principal(key_id=row.id, prefix=row.prefix, role=row.role,
                     regions=frozenset(row.regions) if row.regions else None, name=row.name)


def verify_key(session: Session, raw_key: str) -> Principal | None:
    """The principal of a valid, unrevoked key; None for anything else."""
    if not raw_key.startswith(KEY_TAG) or len(raw_key) > 128:
        return None
    wanted = hash_key(raw_key)
    rows = session.scalars(select(ApiKey).where(ApiKey.prefix == raw_key[:PREFIX_LENGTH])).all()
    match = None
    for row in rows:
        if hmac.compare_digest(row.key_hash, wanted):
            match = row
    if match is None or match.revoked_at is not None:
        return None
    return to_principal(match)


def find_key(session: Session, key_id_or_prefix: str) -> ApiKey:
    """The one key whose id or prefix is given; an error when none or several match."""
    rows = session.scalars(select(ApiKey).where(
        or_(ApiKey.id == key_id_or_prefix, ApiKey.prefix == key_id_or_prefix))).all()
    if not rows:
        raise NarcotrendError(f"no API key with id or prefix {key_id_or_prefix!r}; "
                              "`narcotrend keys list` shows them")
    if len(rows) > 1:
        raise NarcotrendError(f"{len(rows)} keys share the prefix {key_id_or_prefix!r}; "
                              "give the key id instead")
    return rows[0]


def revoke_key(session: Session, key_id_or_prefix: str) -> ApiKey:
    """Revoke a key (idempotent); it is refused from the next request on."""
    row = find_key(session, key_id_or_prefix)
    if row.revoked_at is None:
        row.revoked_at = utcnow()
    return row


def list_keys(session: Session) -> list[ApiKey]:
    return list(session.scalars(select(ApiKey).order_by(ApiKey.created_at)).all())


def key_summary(row: ApiKey) -> dict[str, object]:
    """A key as shown to people: never the hash."""
    return {"id": row.id, "prefix": row.prefix, "role": row.role, "regions": row.regions,
            "name": row.name, "created_at": row.created_at, "revoked_at": row.revoked_at}


class PrincipalCache:
    """Verified keys by hash for `ttl` seconds, so a busy client costs no database look-up per
    request. Only successes are kept; `clear()` (on revocation) forgets everything at once."""

    def __init__(self, ttl: float, maxsize: int = 1024) -> None:
        self.ttl = ttl
        self.maxsize = maxsize
        self._items: OrderedDict[str, tuple[float, Principal]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key_hash: str) -> Principal | None:
        if self.ttl <= 0:
            return None
        with self._lock:
            item = self._items.get(key_hash)
            if item is None or item[0] < time.monotonic():
                self._items.pop(key_hash, None)
                return None
            return item[1]

    def put(self, key_hash: str, principal: Principal) -> None:
        if self.ttl <= 0:
            return
        with self._lock:
            self._items[key_hash] = (time.monotonic() + self.ttl, principal)
            self._items.move_to_end(key_hash)
            while len(self._items) > self.maxsize:
                self._items.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
