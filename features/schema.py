"""The declared schemas of the warehouse: canonical input, stored records, quarantine, series.

A declarative table of column specs plus vectorised row checks stands in for pandera: the checks
run once per column over whole arrays (300k rows in milliseconds), and the first failing check
of a row gives its quarantine reason. ARCHITECTURE.md ("Canonical record") is the contract the
series stage reads; `RECORD_SCHEMA` is that contract in code.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa

from core.geography import UN_REGIONS  # noqa: F401 - part of the schema's vocabulary
from core.taxonomy import DRUG_GROUPS, UNCLASSIFIED  # noqa: F401 - likewise

# --- canonical input (DESIGN section 2) ------------------------------------------------------
REQUIRED_COLUMNS: tuple[str, ...] = ("date", "country", "drug", "quantity", "unit")
OPTIONAL_COLUMNS: tuple[str, ...] = (
    "seizure_id", "transport_mode", "origin_country", "departure_country", "transit_countries",
    "destination_country", "concealment", "source",
)
# Below the country (issue 19): the reported admin-1 division (department, province, state) and
# municipality, kept as reported; the division is normalised into the record's `admin1`.
DIVISION_COLUMNS: tuple[str, ...] = ("admin1", "municipality")
OPTIONAL_COLUMNS += DIVISION_COLUMNS
# Physical and chemical signature of a seizure (issue 21, features/signatures.py): all optional.
SIGNATURE_COLUMNS: tuple[str, ...] = (
    "logo", "colour", "shape", "unit_weight_g", "purity_pct", "packaging", "profile",
)
OPTIONAL_COLUMNS += SIGNATURE_COLUMNS
CANONICAL_COLUMNS: tuple[str, ...] = REQUIRED_COLUMNS + OPTIONAL_COLUMNS


# --- quarantine reasons (stable codes: reports, tests and dashboards key on them) -------------
class Reason:
    """Quarantine reason codes, in the order they are checked (the first failing one wins)."""

    CELL_TOO_LONG = "cell_too_long"
    MISSING_REQUIRED_FIELD = "missing_required_field"
    EMPTY_DRUG = "empty_drug"
    UNPARSEABLE_DATE = "unparseable_date"
    FUTURE_DATE = "future_date"
    DATE_BEFORE_FLOOR = "date_before_floor"
    UNPARSEABLE_QUANTITY = "unparseable_quantity"
    NON_FINITE_QUANTITY = "non_finite_quantity"
    NON_POSITIVE_QUANTITY = "non_positive_quantity"
    UNKNOWN_UNIT = "unknown_unit"
    UNKNOWN_COUNTRY = "unknown_country"
    IMPLAUSIBLE_QUANTITY = "implausible_quantity"
    MALFORMED_ROW = "malformed_row"
    # aggregated imports (cbp, unodc-annual)
    UNPARSEABLE_PERIOD = "unparseable_period"
    REPORTED_TOTAL = "reported_total"
    # signature columns (features/signatures.py), checked after the columns above
    MALFORMED_UNIT_WEIGHT = "malformed_unit_weight"
    MALFORMED_PURITY = "malformed_purity"
    MALFORMED_PROFILE = "malformed_profile"


# A record importer may judge rows itself (pnc-colombia's TOTAL row: `reported_total`): it puts
# the reason in this column of its canonical frame, and that reason wins over the row checks.
IMPORTER_REASON_COLUMN = "importer_reason"


# --- stored records (ARCHITECTURE.md "Canonical record") ------------------------------------
RECORD_SCHEMA = pa.schema([
    ("seizure_id", pa.string()),
    ("date", pa.timestamp("ns")),
    ("country", pa.string()),
    ("region", pa.string()),
    ("subregion", pa.string()),
    ("drug_reported", pa.string()),
    ("substance", pa.string()),
    ("drug_group", pa.string()),
    ("quantity", pa.float64()),
    ("unit", pa.string()),
    ("kg", pa.float64()),
    ("transport_mode", pa.string()),
    ("origin_country", pa.string()),
    ("departure_country", pa.string()),
    ("destination_country", pa.string()),
    ("destination_region", pa.string()),
    ("transit_countries", pa.string()),
    ("concealment", pa.string()),
    ("source", pa.string()),
    ("file", pa.string()),
    # the division's normalised name (core/divisions.py; geo ISO3:NAME) and the municipality
    ("admin1", pa.string()),
    ("municipality", pa.string()),
    # signature (optional, null when not reported; features/signatures.py)
    ("logo", pa.string()),
    ("colour", pa.string()),
    ("shape", pa.string()),
    ("unit_weight_g", pa.float64()),
    ("purity_pct", pa.float64()),
    ("packaging", pa.string()),
    ("profile", pa.string()),
])
RECORD_COLUMNS: tuple[str, ...] = tuple(RECORD_SCHEMA.names)

# Quarantine: the original fields as text, then where and why.
QUARANTINE_META_COLUMNS: tuple[str, ...] = ("reason", "file", "line")

# --- series, long format (DESIGN section 3, ARCHITECTURE.md "Series") ------------------------
SERIES_COLUMNS: tuple[str, ...] = (
    "unique_id", "ds", "y", "geo_level", "geo", "region", "drug_level", "drug", "metric",
)
GEO_LEVELS: tuple[str, ...] = ("world", "region", "subregion", "country", "admin1", "area")
DRUG_LEVELS: tuple[str, ...] = ("group", "substance")
METRICS: tuple[str, ...] = ("seizures", "kg")
TRANSPORT_MODES: tuple[str, ...] = ("air", "land", "sea", "mail", "rail", "unknown")

# One seizure above this many kg-equivalents is a typo or a unit mix-up (the largest seizures on
# record are tens of tonnes; precursor chemicals reach hundreds), never a real single seizure.
MAX_PLAUSIBLE_KG = 1e6


# --- row checks ---------------------------------------------------------------------------
@dataclass(frozen=True)
class RowCheck:
    """One vectorised rule: `fails(frame, today)` is a boolean mask of the rows that break it."""

    reason: str
    fails: Callable[[Mapping[str, pd.Series], pd.Timestamp], np.ndarray]
    doc: str


def _missing(frame: Mapping[str, pd.Series], column: str) -> np.ndarray:
    return frame[column].isna().to_numpy()


def _missing_required(frame: Mapping[str, pd.Series], today: pd.Timestamp) -> np.ndarray:
    mask = np.zeros(len(frame["date_text"]), dtype=bool)
    for column in ("date_text", "country_text", "quantity_text", "unit_text"):
        mask |= _missing(frame, column)
    return mask


# The checks run on the columns `features.ingest.normalise_records` builds: the cleaned input text
# (`*_text`, NaN when empty or 'Unknown') and the parsed values (`date`, `quantity`,
# `quantity_unparseable`, `unit`, `country`, `kg`). Order matters: the first failing check names
# the reason.
def _flagged(frame: Mapping[str, pd.Series], name: str) -> np.ndarray:
    """A boolean column the caller computed with its own bounds (False when absent)."""
    if name not in frame:
        return np.zeros(len(next(iter(frame.values()))), dtype=bool)
    return frame[name].to_numpy(dtype=bool)


ROW_CHECKS: tuple[RowCheck, ...] = (
    RowCheck(Reason.CELL_TOO_LONG, lambda f, today: _flagged(f, "cell_too_long"),
             "no text cell may exceed NARCOTREND_MAX_CELL_CHARS characters (default 1000)"),
    RowCheck(Reason.MISSING_REQUIRED_FIELD, _missing_required,
             "date, country, quantity and unit must be present"),
    RowCheck(Reason.EMPTY_DRUG, lambda f, today: _missing(f, "drug_text"),
             "the drug name must be present"),
    RowCheck(Reason.UNPARSEABLE_DATE, lambda f, today: _missing(f, "date"),
             "the date must parse (ISO YYYY-MM-DD, or the importer's format)"),
    RowCheck(Reason.FUTURE_DATE, lambda f, today: (f["date"] > today).to_numpy(),
             "the date may not lie after today"),
    RowCheck(Reason.DATE_BEFORE_FLOOR, lambda f, today: _flagged(f, "before_floor"),
             "the date may not lie before NARCOTREND_DATE_FLOOR (default 1950-01-01)"),
    RowCheck(Reason.UNPARSEABLE_QUANTITY, lambda f, today: f["quantity_unparseable"].to_numpy(),
             "the quantity must be a number written with a decimal point ('1.5', not '1,5')"),
    RowCheck(Reason.NON_FINITE_QUANTITY,
             lambda f, today: ~np.isfinite(f["quantity"].to_numpy(dtype=float, na_value=np.nan)),
             "the quantity must be a finite number (not NaN, inf or 1e400)"),
    RowCheck(Reason.NON_POSITIVE_QUANTITY,
             lambda f, today: (f["quantity"].to_numpy(dtype=float, na_value=np.nan) <= 0),
             "the quantity must be positive"),
    RowCheck(Reason.UNKNOWN_UNIT, lambda f, today: _missing(f, "unit"),
             "the unit must be one of data/reference/unit_factors.csv"),
    RowCheck(Reason.UNKNOWN_COUNTRY, lambda f, today: _missing(f, "country"),
             "the seizing country must be known to country_converter"),
    RowCheck(Reason.IMPLAUSIBLE_QUANTITY,
             lambda f, today: ~(f["kg"].to_numpy(dtype=float) <= MAX_PLAUSIBLE_KG),
             f"one seizure may not exceed {MAX_PLAUSIBLE_KG:g} kg-equivalents (1,000 t)"),
)


def as_record_schema(stored: pa.Table) -> pa.Table:
    """Stored records in `RECORD_SCHEMA`; a store written before a column was added (admin1,
    municipality) gets it as nulls."""
    for name in RECORD_SCHEMA.names:
        if name not in stored.column_names:
            stored = stored.append_column(
                name, pa.nulls(len(stored), RECORD_SCHEMA.field(name).type))
    return stored.select(RECORD_SCHEMA.names).cast(RECORD_SCHEMA)


def first_failing_reason(frame: Mapping[str, pd.Series], today: pd.Timestamp,
                         checks: tuple[RowCheck, ...] = ROW_CHECKS) -> pd.Series:
    """The reason code of the first check each row fails, or None for a valid row."""
    index = next(iter(frame.values())).index
    reasons = np.full(len(index), None, dtype=object)
    undecided = np.ones(len(index), dtype=bool)
    for check in checks:
        with np.errstate(invalid="ignore"):
            failed = np.asarray(check.fails(frame, today), dtype=bool) & undecided
        reasons[failed] = check.reason
        undecided &= ~failed
    return pd.Series(reasons, index=index, dtype=object)
