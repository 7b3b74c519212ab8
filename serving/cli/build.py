"""`narcotrend build`: series and route flows from the records store (`export` is in cli_data)."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

from serving.cli.app import app, console, settings


class Frequency(StrEnum):
    monthly = "MS"
    weekly = "W-MON"
    yearly = "YS"


@app.command("build")
def build(
    freq: Annotated[Frequency | None, typer.Option(
        "--freq", help="Period of the series: MS (monthly), W-MON (weekly), YS (yearly); "
                       "default NARCOTREND_FREQUENCY.")] = None,
) -> None:
    """Series and route flows from the records store."""
    from features.build import build_all

    summary = build_all(settings(), progress=lambda message: console.print(f"  {message}"),
                        freq=freq.value if freq else None)
    console.print(
        f"built {summary['series']:,} series ({summary['rows']:,} rows, {summary['freq']}, "
        f"{summary['start']} to {summary['end']}) and {summary['routes']:,} route flows from "
        f"{summary['records']:,} records in {summary['seconds']:.1f} s")
