"""HTTP hardening of the service (issue 18): security headers on every response, a request-body
limit enforced before any routing or authentication, validation errors that never echo the
body, and API keys refused (and redacted) when sent in the query string.

`HardeningMiddleware` is a pure ASGI middleware. It redacts `api_key`-like query parameters in
the request scope itself, so uvicorn's access log and the audit table (which read the same
scope) never see the key, and answers such requests 400. The content-security policy allows
scripts and styles from the service only ('self', no 'unsafe-eval'): the dashboard's scripts
and the vendored Swagger UI and chart libraries under /static; the one inline script of /docs
is allowed by its hash (`docs_csp`).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from typing import Any
from urllib.parse import parse_qsl, urlencode

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# query parameters that would carry a credential (case-insensitive, '-' or '_')
SECRET_PARAMETERS = frozenset({"api_key", "apikey", "key", "token", "access_token",
                               "authorization", "bearer"})
REDACTED = "REDACTED"
QUERY_KEY_DETAIL = ("an API key in the URL is refused (URLs are logged and cached): send it as "
                    "`Authorization: Bearer <key>`, and revoke this one (`narcotrend keys revoke`)")
CSP = ("default-src 'self'; script-src 'self'{scripts}; style-src 'self' 'unsafe-inline'; "
       "img-src 'self' data:; font-src 'self'; connect-src 'self'; object-src 'none'; "
       "base-uri 'self'; form-action 'self'; frame-ancestors 'none'")
HEADERS = {
    b"x-content-type-options": b"nosniff",
    b"x-frame-options": b"DENY",
    b"referrer-policy": b"no-referrer",
    b"cross-origin-opener-policy": b"same-origin",
    b"content-security-policy": CSP.format(scripts="").encode(),
}
NO_STORE_PREFIX = "/v1"
MAX_ERROR_INPUT = 200  # characters of an invalid value a 422 may quote


def _is_secret(name: str) -> bool:
    return name.strip().lower().replace("-", "_") in SECRET_PARAMETERS


def redact_query(query: bytes) -> tuple[bytes, bool]:
    """The query string with credential-like parameters' values replaced; whether any was."""
    if not query:
        return query, False
    pairs = parse_qsl(query.decode("latin-1"), keep_blank_values=True)
    if not any(_is_secret(name) for name, _ in pairs):
        return query, False
    cleaned = [(name, REDACTED if _is_secret(name) else value) for name, value in pairs]
    return urlencode(cleaned).encode("latin-1"), True


def docs_csp(html: str) -> str:
    """The policy of a Swagger UI page: 'self' scripts plus its inline scripts by hash."""
    hashes = [base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
              for body in re.findall(r"<script>(.*?)</script>", html, flags=re.S)]
    return CSP.format(scripts="".join(f" 'sha256-{h}'" for h in hashes))


class _TooLarge(HTTPException):
    """Raised from `receive` once a body without Content-Length outgrows the limit; FastAPI's
    body parsing lets HTTPExceptions through, so the route answers 413."""

    def __init__(self, detail: str) -> None:
        super().__init__(status_code=413, detail=detail)


class HardeningMiddleware:
    """Headers, a body limit of `max_body_bytes` (413) and query-string keys refused (400)."""

    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        scope["query_string"], had_key = redact_query(scope.get("query_string", b""))
        no_store = scope["path"].startswith(NO_STORE_PREFIX)
        started = {"response": False}

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                if started["response"]:
                    return
                started["response"] = True
                present = {name.lower() for name, _ in message.get("headers", [])}
                extra = [(k, v) for k, v in HEADERS.items() if k not in present]
                if no_store:
                    extra = [(k, v) for k, v in extra if k != b"cache-control"]
                    message["headers"] = [(k, v) for k, v in message.get("headers", [])
                                          if k.lower() != b"cache-control"]
                    extra.append((b"cache-control", b"no-store"))
                message["headers"] = [*message.get("headers", []), *extra]
            elif started.get("answered"):
                return  # the app's own reply after we answered 413
            await send(message)

        if had_key:
            await _json(send_with_headers, 400, QUERY_KEY_DETAIL)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_body_bytes:
            await _json(send_with_headers, 413, self._too_large())
            return
        received = {"bytes": 0}

        async def counted_receive() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                received["bytes"] += len(message.get("body", b""))
                if received["bytes"] > self.max_body_bytes:
                    raise _TooLarge(self._too_large())
            return message

        try:
            await self.app(scope, counted_receive, send_with_headers)
        except _TooLarge:
            if not started["response"]:
                await _json(send_with_headers, 413, self._too_large())
            started["answered"] = True

    def _too_large(self) -> str:
        return (f"request body over {self.max_body_bytes:,} bytes "
                "(NARCOTREND_MAX_BODY_BYTES)")


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name.lower() == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _json(send: Send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def _short(value: Any) -> Any:
    """An invalid value fit to quote back: short scalars as they are, anything else cut."""
    if isinstance(value, bool | int | float) or value is None:
        return value
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= MAX_ERROR_INPUT else text[:MAX_ERROR_INPUT] + "..."


async def validation_error_handler(request: Request, exc: RequestValidationError
                                   ) -> JSONResponse:
    """422 with where and why, never the whole (possibly huge) body echoed back."""
    errors = [{"loc": list(error.get("loc", ())), "msg": str(error.get("msg", ""))[:500],
               "type": error.get("type", "")} | (
                  {"input": _short(error["input"])} if "input" in error else {})
              for error in exc.errors()[:50]]
    return JSONResponse(status_code=422, content={"detail": errors})
