"""Reports (DESIGN section 5b): `/v1/reports/{geo}` as HTML and `/v1/reports/{geo}.pdf`.

Scope-checked like everything else: a place outside the key's regions answers 404, as an
unknown place does (no hint that it exists). Inside a report the key's scope applies too
(alerts, linked cases). The PDF is laid out by WeasyPrint in a child process
(`serving.reports.render.render_pdf`), so the service process only waits for it.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Path, Query, Response, status
from fastapi.responses import HTMLResponse

from core.errors import NarcotrendError
from serving.api.deps import PrincipalDep, SettingsDep
from serving.api.schemas import error_responses
from serving.reports.documents import document, make_report
from serving.reports.inputs import parse_period, resolve_place
from serving.reports.sections import OutOfScope, check_scope

# errors are JSON even though the reports themselves are HTML or PDF
router = APIRouter(prefix="/v1/reports", tags=["reports"],
                   responses={code: {**spec, "content": {"application/json": {}}}
                              for code, spec in error_responses(400, 401, 404).items()})

UNKNOWN_PLACE = "no report for that place"
PeriodQuery = Annotated[str, Query(max_length=7, description="2024-12, 2024-Q4 or 2024",
                                   examples=["2024-Q4"])]
KindQuery = Annotated[Literal["strategic", "tactical"], Query(
    description="strategic: the period, all drugs; tactical: the last months, open incidents "
                "and linked cases with what to check next")]


def _report_bytes(settings, principal, geo: str, period: str, kind: str,  # noqa: ANN001
                  fmt: str) -> tuple[bytes, str]:
    try:
        parse_period(period)
    except NarcotrendError as err:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, detail=str(err)) from err
    try:
        # the scope first: a place outside it must not tell whether it has data
        check_scope(resolve_place(geo), principal.regions)
        report = make_report(settings, geo, period, kind, regions=principal.regions)
    except OutOfScope as err:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=UNKNOWN_PLACE) from err
    except NarcotrendError as err:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=str(err)) from err
    return document(report, fmt), report.filename


ReportGeo = Annotated[str, Path(description="A country (ISO3), UN subregion or region")]

@router.get("/{geo}.pdf", summary="A report as PDF", response_class=Response,
            responses={200: {"content": {"application/pdf": {}}}})
def get_report_pdf(geo: ReportGeo, settings: SettingsDep, principal: PrincipalDep,
                   period: PeriodQuery, kind: KindQuery = "strategic") -> Response:
    """The report of a country, UN subregion or region for a period, as PDF."""
    data, name = _report_bytes(settings, principal, geo, period, kind, "pdf")
    return Response(data, media_type="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="{name}.pdf"'})


@router.get("/{geo}", summary="A report as HTML", response_class=HTMLResponse)
def get_report_html(geo: ReportGeo, settings: SettingsDep, principal: PrincipalDep,
                    period: PeriodQuery, kind: KindQuery = "strategic") -> HTMLResponse:
    """The report of a country, UN subregion or region for a period, as one HTML page."""
    data, _ = _report_bytes(settings, principal, geo, period, kind, "html")
    return HTMLResponse(data.decode("utf-8"))
