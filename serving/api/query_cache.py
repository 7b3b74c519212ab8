"""A small cache of query results that stays right without a timer: every entry carries the
version of the data it was computed from (for alerts: row count and latest `updated_at`, one
cheap aggregate query), and a lookup with another version misses."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from serving.db import Alert


def alerts_version(session: Session) -> tuple[Any, ...]:
    """Changes whenever an alert is added, updated (ORM `onupdate`) or deleted."""
    return tuple(session.execute(select(func.count(), func.max(Alert.updated_at))).one())


class QueryCache:
    """Least-recently-used results keyed by query, valid for one data version."""

    def __init__(self, maxsize: int = 256) -> None:
        self.maxsize = maxsize
        self._items: OrderedDict[Hashable, tuple[Hashable, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable, version: Hashable) -> Any | None:
        with self._lock:
            item = self._items.get(key)
            if item is None or item[0] != version:
                return None
            self._items.move_to_end(key)
            return item[1]

    def put(self, key: Hashable, version: Hashable, value: Any) -> None:
        with self._lock:
            self._items[key] = (version, value)
            self._items.move_to_end(key)
            while len(self._items) > self.maxsize:
                self._items.popitem(last=False)
