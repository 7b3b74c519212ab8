"""A report of a home, start to finish: read the alerts and frames, build, render HTML or PDF.

The one entry point of the API route, the `narcotrend report` command and the e-mail
dissemination, so the three give the same document for the same place, period, kind and scope.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from sqlalchemy import select

from core.errors import NarcotrendError
from core.home import write_atomic
from core.settings import Settings
from serving.db import Alert, session_scope
from serving.reports.inputs import load_inputs, resolve_place
from serving.reports.render import Report, build_report, render_html, render_pdf

FORMATS = ("pdf", "html")


def stored_alerts(settings: Settings) -> list[dict[str, Any]]:
    """Every stored alert in its JSON shape (any status: a report looks back too)."""
    with session_scope(settings.service_database_url) as session:
        return [row.to_dict() for row in session.scalars(select(Alert))]


def dashboard_alert_url(settings: Settings) -> str:
    return settings.dashboard_url or f"http://{settings.host}:{settings.port}/"


def make_report(settings: Settings, geo: str, period: str, kind: str = "strategic",
                regions: Iterable[str] | None = None,
                alerts: list[dict[str, Any]] | None = None) -> Report:
    """The report of `geo` for `period` and `kind` as a reader of `regions` sees it."""
    place = resolve_place(geo)
    inputs = load_inputs(settings.paths, place,
                         stored_alerts(settings) if alerts is None else alerts)
    if inputs.series.empty:
        raise NarcotrendError(f"no series for {place.geo}: run `narcotrend build` first")
    return build_report(place.geo, period, kind, inputs, regions=regions,
                        alert_url=dashboard_alert_url(settings))


def document(report: Report, fmt: str) -> bytes:
    """The report as PDF (WeasyPrint in a subprocess) or HTML bytes."""
    if fmt not in FORMATS:
        raise NarcotrendError(f"format {fmt!r} is unknown; use pdf or html")
    html = render_html(report)
    return render_pdf(html) if fmt == "pdf" else html.encode("utf-8")


def write_report(settings: Settings, geo: str, period: str, kind: str, out: Path) -> Path:
    """`narcotrend report`: PDF, or HTML when `out` ends in .html/.htm; written atomically."""
    fmt = "html" if out.suffix.lower() in (".html", ".htm") else "pdf"
    data = document(make_report(settings, geo, period, kind), fmt)
    return write_atomic(out, lambda tmp: tmp.write_bytes(data))
