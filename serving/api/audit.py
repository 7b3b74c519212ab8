"""The audit log: every call under /v1 (who, what, when, status), refused ones included.

An ASGI middleware notes the method, path and final status of each call and the key the auth
dependency verified (it leaves a `Principal` in the request state). Rows are buffered and written
by one thread every `audit_flush_seconds`, in one transaction per batch, so that logging does not
put a database commit on the path of every request; the buffer is flushed on shutdown.
"""

from __future__ import annotations

import logging
import queue
import threading
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from serving.api.hardening import redact_query
from serving.db import AuditEntry, session_scope, utcnow
from serving.periodic import Periodic

log = logging.getLogger(__name__)

AUDITED_PREFIX = "/v1"
MAX_PATH = 512


class AuditLog:
    """A buffered writer of `AuditEntry` rows."""

    def __init__(self, database_url: str, flush_seconds: float = 0.5) -> None:
        self.database_url = database_url
        self.flush_seconds = flush_seconds
        self._queue: queue.SimpleQueue[dict[str, Any]] = queue.SimpleQueue()
        self._writer = Periodic(self.flush, flush_seconds, "audit-writer")
        self._flush_lock = threading.Lock()

    def record(self, **entry: Any) -> None:
        entry.setdefault("at", utcnow())
        self._queue.put(entry)

    def flush(self) -> int:
        """Write every buffered row now; returns how many were written."""
        with self._flush_lock:
            rows: list[dict[str, Any]] = []
            while True:
                try:
                    rows.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            if not rows:
                return 0
            try:
                with session_scope(self.database_url) as session:
                    session.add_all(AuditEntry(**row) for row in rows)
            except Exception:  # noqa: BLE001 - put them back and retry at the next flush
                log.exception("audit flush failed; %d rows kept for the next attempt", len(rows))
                for row in rows:
                    self._queue.put(row)
                return 0
            return len(rows)

    def start(self) -> None:
        self._writer.start()

    def stop(self) -> None:
        """Stop the writer thread and write what is left."""
        self._writer.stop()
        self.flush()


class AuditMiddleware:
    """Records every HTTP call under /v1 in the `AuditLog` kept on the app state."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(AUDITED_PREFIX):
            await self.app(scope, receive, send)
            return
        status = {"code": 500}

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            self._record(scope, status["code"])

    @staticmethod
    def _record(scope: Scope, status: int) -> None:
        audit: AuditLog | None = getattr(scope["app"].state, "audit", None)
        if audit is None:
            return
        principal = scope.get("state", {}).get("principal")
        path = scope["path"]
        query, _ = redact_query(scope.get("query_string", b""))  # no key in the table
        if query:
            path = f"{path}?{query.decode('latin-1')}"
        client = scope.get("client")
        audit.record(key_id=principal.key_id if principal else None,
                     role=principal.role if principal else None,
                     method=scope["method"][:8], path=path[:MAX_PATH], status=status,
                     client=f"{client[0]}:{client[1]}"[:64] if client else None)
