"""A report assembled from its sections and rendered: HTML (Jinja2, autoescaped, charts as
inline SVG) and PDF (WeasyPrint, in a subprocess: out of the request path, bounded in time).

`build_report` gathers every section for a place, period and kind as the reader may see them;
`render_html` and `render_pdf` turn it into a document. Table sizes are capped in the sections
(`MAX_ROWS`), so a report stays a few pages whatever the data.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader
from markupsafe import Markup

from core.errors import NarcotrendError
from serving.reports import charts
from serving.reports.inputs import ReportInputs, parse_period, resolve_place, window
from serving.reports.judgements import Judgement, incidents_of, key_judgements
from serving.reports.linked import linked_cases
from serving.reports.routes import routes_section
from serving.reports.sections import (
    check_scope,
    coverage,
    first_sightings,
    header,
    place_alerts,
    scoped_alerts,
    seizures_by_drug,
    series_for_chart,
)

TEMPLATES_DIR = Path(__file__).with_name("templates")
PDF_TIMEOUT_SECONDS = 120
SECTIONS = ("Key judgements", "Seizures by drug group", "Routes", "First sightings",
            "Linked cases", "Data coverage and caveats")


@dataclass
class Chart:
    title: str
    spec: dict[str, Any]
    kind: str = "series"  # series | mix | map
    svg: str = ""


@dataclass
class Report:
    header: dict[str, Any]
    judgements: list[Judgement]
    seizures: dict[str, Any]
    routes: dict[str, Any]
    sightings: list[dict[str, Any]]
    linked: dict[str, Any]
    coverage: dict[str, Any]
    incidents: list[dict[str, Any]]
    charts: list[Chart] = field(default_factory=list)

    @property
    def filename(self) -> str:
        h = self.header
        return f"narcotrend-{h['kind']}-{h['geo']}-{h['period']}".replace(" ", "_")


def build_report(geo: str, period_text: str, kind: str, inputs: ReportInputs, *,
                 regions: Iterable[str] | None = None, alert_url: str = "#") -> Report:
    """Every section of the report of `geo` for `period_text` and `kind`, seen with the
    reader's `regions` (None: all). Raises `OutOfScope` for a place outside them."""
    regions = None if regions is None else sorted(regions)
    place, period = resolve_place(geo), parse_period(period_text)
    check_scope(place, regions)
    span = window(period, kind)
    alerts = place_alerts(scoped_alerts(inputs.alerts, regions), place, span)
    if kind == "tactical":  # the open picture: what to check next
        alerts = [a for a in alerts if a.get("status") in ("open", "acknowledged")] or alerts
    incidents = incidents_of([a for a in alerts if a["type"] != "linked_cases"])
    seizures = seizures_by_drug(place, span, inputs)
    linked = linked_cases(inputs.groups, inputs.links, inputs.records, place, span, regions,
                          alerts)
    report = Report(
        header=header(place, period, span, kind, inputs, regions),
        judgements=key_judgements(incidents=incidents, seizures=seizures, linked=linked,
                                  place=place.name, period=period.label,
                                  link=lambda alert_id: f"{alert_url}?alert={alert_id}"),
        seizures=seizures, routes=routes_section(place, span, inputs),
        sightings=first_sightings(place, span, inputs, alerts), linked=linked,
        coverage=coverage(place, span, inputs), incidents=incidents)
    report.charts = report_charts(report, inputs, place.geo, place.countries, span)
    return report


def report_charts(report: Report, inputs: ReportInputs, geo: str,
                  countries: tuple[str, ...], span) -> list[Chart]:  # noqa: ANN001
    """The series of the top drug groups, the transport and concealment mixes, the map."""
    out = []
    for drug in report.seizures["top"]:
        uid = f"{geo}/{drug}/seizures"
        history, forecast = series_for_chart(inputs, uid, span)
        if history["y"].notna().any():
            out.append(Chart(f"{drug} seizures a month, {geo}",
                             charts.series_chart(history, forecast, f"{geo}: {drug} seizures",
                                                 mark_period=f"{span.start:%Y-%m}"), "series"))
    routes = report.routes
    if not routes["mode_mix"].empty:
        out.append(Chart("Transport mode of seizures (share of seizures)",
                         charts.mix_chart(routes["mode_mix"], "Transport mode"), "mix"))
    if not routes["concealment_mix"].empty:
        out.append(Chart("Concealment methods (share of seizures)",
                         charts.mix_chart(routes["concealment_mix"], "Concealment"), "mix"))
    out.append(Chart("Route flows to and from the place (kg)",
                     charts.flow_map(routes["lines"], countries, "Route flows (kg)"), "map"))
    return out


@cache
def _environment() -> Environment:
    env = Environment(loader=FileSystemLoader(TEMPLATES_DIR), autoescape=True,
                      trim_blocks=True, lstrip_blocks=True)
    env.filters["pct"] = lambda v: "" if v is None else f"{v:+.0%}"
    env.filters["share"] = lambda v: "" if v is None else f"{v:.0%}"
    env.filters["num"] = lambda v: "" if v is None else f"{v:,.0f}"
    return env


def render_html(report: Report, *, generated_at: datetime | None = None) -> str:
    """The report as one HTML page, charts inline as SVG drawn by vl-convert."""
    for chart in report.charts:
        if not chart.svg:
            chart.svg = charts.to_svg(chart.spec)
    generated = (generated_at or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M UTC")
    css = (TEMPLATES_DIR / "report.css").read_text(encoding="utf-8")
    return _environment().get_template("report.html.j2").render(
        r=report, h=report.header, generated_at=generated, css=Markup(css),
        svg=lambda chart: Markup(chart.svg), sections=SECTIONS)


def render_pdf(html: str, timeout: float = PDF_TIMEOUT_SECONDS) -> bytes:
    """The PDF of an HTML report, made by WeasyPrint in a child process (`python -m
    serving.reports.pdf`): a slow or crashing layout never holds the caller's process."""
    try:
        done = subprocess.run([sys.executable, "-m", "serving.reports.pdf"],
                              input=html.encode("utf-8"), capture_output=True,
                              timeout=timeout, cwd=Path(__file__).resolve().parents[2])
    except subprocess.TimeoutExpired as err:
        raise NarcotrendError(f"the PDF took over {timeout:.0f} s to lay out; try a shorter "
                              "period") from err
    if done.returncode != 0 or not done.stdout.startswith(b"%PDF"):
        last = (done.stderr.decode("utf-8", "replace").strip().splitlines() or ["no output"])
        raise NarcotrendError(f"the PDF could not be made: {last[-1][:300]}")
    return done.stdout
