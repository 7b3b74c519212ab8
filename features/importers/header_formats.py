"""Which real format a file's header belongs to: the hint for a file ingested without its
`--format` (DESIGN section 2, importers)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from core.errors import NarcotrendError
from features.importers import cbp, pnc_colombia, unodc_annual, unodc_ids


def format_of_header(columns: pd.Index) -> str | None:
    """The real format whose own columns a header has (case aside), or None: the hint for a
    file ingested without its `--format`."""
    have = {str(name).strip().upper() for name in columns}
    headers = [("unodc-ids", unodc_ids.REQUIRED), ("pnc-colombia", pnc_colombia.REQUIRED),
               ("cbp", cbp.COLUMNS)]
    headers += [("unodc-annual", layout) for layout in unodc_annual.LAYOUTS.values()]
    for fmt, required in headers:
        if all(name.upper() in have for name in required):
            return fmt
    return None


def refuse_real_format(path: Path, columns: pd.Index) -> None:
    """NarcotrendError with the command that reads the file, when a header that is not canonical
    is a real format's."""
    guess = format_of_header(columns)
    if guess is not None:
        raise NarcotrendError(
            f"{path}: not the canonical columns, but the header of --format {guess}; "
            f"run `narcotrend ingest --format {guess} {path.name}`")
