"""The HTTP service: `create_app()` builds the FastAPI application (DESIGN section 7).

The lifespan opens the service database, loads the series, route flows, forecasts and champion
model into a `ModelStore` (which then polls for changes) and starts the audit writer; the routers
get all of it through the dependencies in `serving.api.deps`. The dashboard's static page is served
from `/` by the same process.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.staticfiles import StaticFiles

from core.settings import Settings, get_settings
from serving.api.audit import AuditLog, AuditMiddleware
from serving.api.auth import PrincipalCache
from serving.api.hardening import HardeningMiddleware, docs_csp, validation_error_handler
from serving.api.model_store import ModelStore
from serving.api.query_cache import QueryCache
from serving.api.routers import (
    alerts,
    charts,
    forecasts,
    health,
    incidents,
    jobs,
    keys,
    links,
    models,
    notices,
    reports,
    routes,
    series,
    subscriptions,
    trends,
)
from serving.api.schemas import describe_validation_errors
from serving.db import get_engine

log = logging.getLogger(__name__)
DASHBOARD_DIR = Path(__file__).resolve().parents[1] / "dashboard"
SWAGGER_UI = "/static/vendor/swagger-ui"

DESCRIPTION = """
Forecasts, emerging trends, route shifts and alerts from drug-seizure reports.

Every route under `/v1` needs an API key (`narcotrend keys create`), sent as
`Authorization: Bearer <key>`. Viewers read; analysts also retrain, acknowledge and silence;
admins also manage keys and everyone's subscriptions. A key scoped to regions sees the data of
those regions only, in every endpoint.
"""


def create_app(settings: Settings | None = None) -> FastAPI:
    """The application for `settings` (the cached environment settings when None)."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        settings.ensure_dirs()
        get_engine(settings.service_database_url)
        jobs.fail_interrupted_jobs(settings)
        store = ModelStore(settings)
        await anyio.to_thread.run_sync(store.refresh)
        store.start()
        audit = AuditLog(settings.service_database_url, settings.audit_flush_seconds)
        audit.start()
        app.state.store, app.state.audit = store, audit
        app.state.key_cache = PrincipalCache(settings.key_cache_seconds)
        app.state.alerts_cache = QueryCache()
        try:
            yield
        finally:
            stopped = jobs.stop_running_jobs()
            if stopped:
                log.warning("stopped %d running retrain job(s) at shutdown", stopped)
            store.stop()
            audit.stop()

    app = FastAPI(title="Narcotrend", version="0.1.0", description=DESCRIPTION,
                  lifespan=lifespan, docs_url=None, redoc_url=None)
    # Settings travel on the app state, not through `dependency_overrides`: FastAPI rebuilds
    # every dependency graph per request while any override is set.
    app.state.settings = settings
    # hardening inside the audit: the audit row and the access log see the redacted query
    app.add_middleware(HardeningMiddleware, max_body_bytes=settings.max_body_bytes)
    app.add_middleware(AuditMiddleware)
    app.add_exception_handler(RequestValidationError, validation_error_handler)
    for module in (health, series, forecasts, trends, routes, alerts, subscriptions, models,
                   jobs, keys, links, reports, notices):
        app.include_router(module.router)
    for module in (incidents, charts):  # one alert picture (issue 17)
        app.include_router(module.router)

    def openapi() -> dict:
        """FastAPI's schema, its own validation-error schemas described too."""
        if app.openapi_schema is None:
            app.openapi_schema = describe_validation_errors(FastAPI.openapi(app))
        return app.openapi_schema

    app.openapi = openapi
    app.mount("/static", StaticFiles(directory=DASHBOARD_DIR), name="static")

    @app.get("/", include_in_schema=False)
    def dashboard() -> FileResponse:
        return FileResponse(DASHBOARD_DIR / "index.html")

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        """Swagger UI from the vendored copy: the API's users may have no internet."""
        page = get_swagger_ui_html(
            openapi_url=app.openapi_url, title="Narcotrend API",
            swagger_js_url=f"{SWAGGER_UI}/swagger-ui-bundle.js",
            swagger_css_url=f"{SWAGGER_UI}/swagger-ui.css", swagger_favicon_url="data:,")
        page.headers["content-security-policy"] = docs_csp(page.body.decode())
        return page

    return app
