"""Data commands: `narcotrend ingest` and `narcotrend export`.

Thin shells over `features.ingest.ingest_files` and the stored stage outputs; heavy modules are
imported inside the commands so `narcotrend --help` stays fast.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from core.errors import NarcotrendError
from serving.cli.app import app, console, print_json, progress_status, settings, styled

if TYPE_CHECKING:
    import pandas as pd

    from core.settings import Settings
    from features.ingest import IngestReport


class InputFormat(StrEnum):
    canonical = "canonical"
    unodc_ids = "unodc-ids"
    cbp = "cbp"
    unodc_annual = "unodc-annual"
    pnc_colombia = "pnc-colombia"


class ExportWhat(StrEnum):
    series = "series"
    routes = "routes"
    forecasts = "forecasts"
    quarantine = "quarantine"
    links = "links"  # seizure_id, group_id, strength (`narcotrend link`)


@app.command("ingest")
def ingest(
    files: Annotated[list[Path], typer.Argument(help="Seizure files (CSV or Parquet).")],
    fmt: Annotated[InputFormat, typer.Option(
        "--format", help="Input format (pnc-colombia: the Colombian police's seizure export).")] =
        InputFormat.canonical,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as one JSON object.")]
        = False,
) -> None:
    """Validate, normalise and store seizure files; bad rows go to quarantine with a reason."""
    from features.ingest import ingest_files

    cfg = settings()
    if as_json:
        report = ingest_files(files, fmt.value, cfg)
        print_json(report.to_dict())
        return
    with progress_status("ingesting") as say:
        report = ingest_files(files, fmt.value, cfg, progress=say)
    _print_report(report)


def _print_report(report: IngestReport) -> None:
    from rich.table import Table

    for warning in report.warnings:
        console.print(styled("warning:", "yellow", warning), highlight=False)
    table = Table(title=f"ingest ({report.format}): {len(report.files)} file(s)")
    table.add_column("rows")
    table.add_column("count", justify="right")
    table.add_row("read", f"{report.rows_read:,}")
    table.add_row("accepted", f"{report.accepted:,}")
    table.add_row("duplicates", f"{report.duplicates:,}")
    for reason, count in sorted(report.quarantined.items(), key=lambda kv: -kv[1]):
        table.add_row(f"quarantined: {reason}", f"{count:,}")
    console.print(table)
    if report.unclassified_drugs:
        names = ", ".join(f"{name} ({count:,})"
                          for name, count in list(report.unclassified_drugs.items())[:10])
        console.print(f"unclassified drug names (add them to data/reference/drug_taxonomy.csv): "
                      f"{names}", highlight=False)


def export_source(cfg: Settings, what: str) -> Path:
    """The stored file an export reads; NarcotrendError saying which stage makes it if absent."""
    sources = {
        "series": (cfg.series_dir / "series.parquet", "narcotrend build"),
        "routes": (cfg.series_dir / "routes.parquet", "narcotrend build"),
        "forecasts": (cfg.forecasts_dir / "forecasts.parquet", "narcotrend train"),
        "quarantine": (cfg.warehouse_dir / "quarantine.parquet", "narcotrend ingest"),
        "links": (cfg.paths.links, "narcotrend link"),
    }
    path, stage = sources[what]
    if not path.exists():
        raise NarcotrendError(f"no {what} yet in {cfg.home} ({path} is missing): run `{stage}` "
                              "first")
    return path


@app.command("export")
def export(
    what: Annotated[ExportWhat, typer.Argument(help="What to export.")],
    out: Annotated[Path, typer.Option("--out", help="Output file: .csv or .parquet.")],
) -> None:
    """Write series, route flows, forecasts or the quarantine to CSV or Parquet (by suffix).
    CSV text cells that would start a spreadsheet formula get a leading `'` (README)."""
    import pandas as pd

    suffix = out.suffix.lower()
    if suffix not in (".csv", ".parquet"):
        raise NarcotrendError(f"--out {out}: the suffix must be .csv or .parquet, got "
                              f"{out.suffix or 'none'}")
    frame = pd.read_parquet(export_source(settings(), what.value))
    out.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".csv":
        formula_safe(frame).to_csv(out, index=False)
    else:
        frame.to_parquet(out, index=False)
    console.print(f"wrote {len(frame):,} rows of {what.value} to {out}")


# A spreadsheet runs a cell that starts like a formula (OWASP "CSV injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = r"^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$"


def formula_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """`frame` with every text cell that would start a formula prefixed by `'`, so a
    spreadsheet shows it as text; numbers, and text that is just a number ('-0.5'), untouched.
    For CSV only: Parquet keeps its typed values as they are."""
    import pandas as pd

    safe = frame.copy()
    for column in safe.columns:
        values = safe[column]
        text_kinds = pd.CategoricalDtype | pd.StringDtype
        if not (values.dtype == object or isinstance(values.dtype, text_kinds)):
            continue
        text = values.astype(object)
        is_text = text.map(lambda v: isinstance(v, str))
        risky = is_text & text.where(is_text, "").str.startswith(FORMULA_STARTS)
        risky &= ~text.where(is_text, "").str.match(_NUMBER)
        if risky.any():
            safe[column] = text.where(~risky, "'" + text.where(risky, "").astype(str))
    return safe
