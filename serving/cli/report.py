"""`narcotrend report`: a strategic or tactical report of a place and period as PDF or HTML."""

from __future__ import annotations

import time
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from serving.cli.app import app, console, settings


class Kind(StrEnum):
    strategic = "strategic"
    tactical = "tactical"


@app.command("report")
def report(
    geo: Annotated[str, typer.Option("--geo", help="ISO3, country name, UN region or subregion.")],
    period: Annotated[str, typer.Option("--period", help="2024-12, 2024-Q4 or 2024.")],
    out: Annotated[Path, typer.Option("--out", help="report.pdf, or .html for HTML.")],
    kind: Annotated[Kind, typer.Option("--kind", help="strategic (all drugs over the period) "
                                       "or tactical (the last months, open incidents).")]
    = Kind.strategic,
) -> None:
    """Write the report of a place and period (unscoped: the command line sees every region)."""
    from serving.reports.documents import write_report

    began = time.perf_counter()
    path = write_report(settings(), geo, period, kind.value, out)
    console.print(f"wrote the {kind.value} report of {geo} for {period} to {path} "
                  f"({path.stat().st_size / 1024:,.0f} KiB) in {time.perf_counter() - began:.1f} s",
                  highlight=False, soft_wrap=True)
