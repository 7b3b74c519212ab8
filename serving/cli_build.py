"""`narcotrend build` (series and route flows from the store) and `narcotrend export`."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from features.errors import NarcotrendError
from serving.cli_app import app, console, settings
from serving.settings import Settings


class Frequency(StrEnum):
    monthly = "MS"
    weekly = "W-MON"
    yearly = "YS"


class ExportKind(StrEnum):
    series = "series"
    routes = "routes"
    forecasts = "forecasts"
    quarantine = "quarantine"


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


def export_source(cfg: Settings, kind: ExportKind) -> tuple[Path, str]:
    """The stored file behind an export kind, and the command that writes it."""
    from features.build import ROUTES_FILE, SERIES_FILE

    return {
        ExportKind.series: (cfg.series_dir / SERIES_FILE, "narcotrend build"),
        ExportKind.routes: (cfg.series_dir / ROUTES_FILE, "narcotrend build"),
        ExportKind.forecasts: (cfg.forecasts_dir / "forecasts.parquet", "narcotrend train"),
        ExportKind.quarantine: (cfg.warehouse_dir / "quarantine.parquet", "narcotrend ingest"),
    }[kind]


@app.command("export")
def export(
    kind: Annotated[ExportKind, typer.Argument(help="What to export.")],
    out: Annotated[Path, typer.Option("--out", help="Target file: .csv or .parquet.")],
) -> None:
    """Write series, route flows, forecasts or the quarantine to CSV or Parquet (by suffix)."""
    import pandas as pd

    suffix = out.suffix.lower()
    if suffix not in (".csv", ".parquet"):
        raise NarcotrendError(f"--out must end in .csv or .parquet, got {out.name!r}")
    source, writer = export_source(settings(), kind)
    if not source.exists():
        raise NarcotrendError(f"no {kind.value} at {source}: run `{writer}` first")
    frame = pd.read_parquet(source)
    out.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".csv":
        frame.to_csv(out, index=False)
    else:
        frame.to_parquet(out, index=False)
    console.print(f"wrote {len(frame):,} {kind.value} rows to {out}")
