"""The ingest stage: read seizure files, validate, normalise, store, quarantine, report.

`ingest_files` is the stage; `normalise_records` is its pure core (text columns in, canonical
records and one reason per row out). Accepted records go to the home's
`data/warehouse/records.parquet`, rejected rows to `quarantine.parquet` with their original
fields as text, and already-aggregated imports (cbp, unodc-annual) to `aggregates.parquet` in the
series format. Re-ingesting a file changes nothing: records are keyed by seizure_id, aggregated
source rows by a hash of their key columns (kept in `aggregate_rows.parquet`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from core.locking import home_lock
from core.publish import parquet_writer, publish_files
from core.settings import Settings
from features.concealment import classify_concealment, unknown_parts
from features.importers import (
    AGGREGATE_FORMATS,
    InputLimits,
    RawTable,
    check_format,
    pnc_colombia,
    read_table,
    require_columns,
    row_hashes,
    unodc_ids,
)
from features.importers.header_formats import refuse_real_format
from features.normalise import (
    classify_drugs,
    clean_text,
    countries_to_iso3,
    country_lists_to_iso3,
    country_regions,
    divisions_of,
    kilogram_equivalents,
    map_unique,
    name_key,
    normalise_transport,
    normalise_units,
)
from features.schema import (
    CANONICAL_COLUMNS,
    IMPORTER_REASON_COLUMN,
    QUARANTINE_META_COLUMNS,
    RECORD_COLUMNS,
    RECORD_SCHEMA,
    REQUIRED_COLUMNS,
    ROW_CHECKS,
    UNCLASSIFIED,
    Reason,
    as_record_schema,
    first_failing_reason,
)
from features.signatures import add_signatures

_RECORD_IMPORTERS = {"unodc-ids": unodc_ids.to_canonical, "pnc-colombia": pnc_colombia.to_canonical}

Progress = Callable[[str], None]


TOP_UNCLASSIFIED = 20

# The columns whose normalised values identify a seizure that arrives without a seizure_id.
_CONTENT_COLUMNS = ("date", "country", "drug_reported", "quantity", "unit", "transport_mode",
                    "origin_country", "departure_country", "transit_countries",
                    "destination_country", "concealment", "source")

@dataclass
class IngestReport:
    """What one ingest did. Invariant: rows_read = accepted + duplicates + sum(quarantined)."""

    format: str
    files: list[str] = field(default_factory=list)
    rows_read: int = 0
    accepted: int = 0
    duplicates: int = 0
    quarantined: dict[str, int] = field(default_factory=dict)
    unclassified_drugs: dict[str, int] = field(default_factory=dict)
    unknown_concealment: dict[str, int] = field(default_factory=dict)  # text parts, row counts
    warnings: list[str] = field(default_factory=list)

    @property
    def quarantined_total(self) -> int:
        return sum(self.quarantined.values())

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# --- the pure core -------------------------------------------------------------------------
def _parse_dates(text: pd.Series) -> pd.Series:
    """ISO dates (time and zone dropped); NaT when unparseable.

    A well-formed date beyond pandas' range (year 2262 on, like '2999-12-31') becomes the last
    representable day, so it is judged a future date rather than an unparseable one.
    """
    def _parse(uniques: pd.Series) -> pd.DataFrame:
        stripped = uniques.astype(str).str.strip()
        parsed = pd.to_datetime(stripped, format="ISO8601", errors="coerce", utc=True)
        values = parsed.dt.tz_localize(None).dt.normalize().to_numpy(copy=True)
        far = parsed.isna() & stripped.str.match(r"^(2[3-9]|[3-9]\d)\d\d-\d\d-\d\d")
        for position in np.flatnonzero(far.to_numpy()):
            try:
                date.fromisoformat(stripped.iloc[position][:10])
            except ValueError:
                continue
            values[position] = pd.Timestamp.max.normalize().to_datetime64()
        return pd.DataFrame({"date": values})

    return map_unique(text, _parse)["date"].astype("datetime64[ns]")


def _parse_numbers(text: pd.Series) -> tuple[pd.Series, pd.Series]:
    """The numbers written in `text`, and a flag for text that is not a number at all.

    'NaN', 'inf' and overflowing literals like '1e400' parse (to NaN or inf): they are numbers
    that are not finite, a different fault from text such as 'abc' or a decimal comma.
    """
    def _parse(uniques: pd.Series) -> pd.DataFrame:
        stripped = uniques.astype(str).str.strip()
        value = pd.to_numeric(stripped, errors="coerce").astype(float).to_numpy(copy=True)
        not_number = np.zeros(len(stripped), dtype=bool)
        for position in np.flatnonzero(np.isnan(value)):  # few: 'NaN', '1e400', 'abc', '1,5'
            try:
                value[position] = float(stripped.iloc[position])
            except ValueError:
                not_number[position] = True
        return pd.DataFrame({"value": value, "not_number": not_number.astype(float)})

    parsed = map_unique(text, _parse)
    return parsed["value"].astype(float), parsed["not_number"].eq(1.0)


def too_long(values: pd.Series, limit: int) -> np.ndarray:
    """Rows whose text is longer than `limit` characters (measured once per distinct value)."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        long = values.cat.categories.astype(str).str.len().to_numpy() > limit
        return np.append(long, False)[values.cat.codes.to_numpy()]
    lengths = values.astype(object).where(values.notna(), "").astype(str).str.len()
    return lengths.to_numpy() > limit


def normalise_records(canonical: pd.DataFrame, file: str, today: pd.Timestamp, *,
                      max_cell_chars: int = 1000, date_floor: pd.Timestamp | None = None,
                      ) -> tuple[pd.DataFrame, pd.Series]:
    """Canonical records for every row, and the quarantine reason of each row (None = valid).

    `canonical` holds the canonical input columns as text (missing ones may be absent). Values
    are normalised over distinct values only, so the cost follows the number of spellings. A
    row with a cell over `max_cell_chars` is quarantined as cell_too_long, its long cells never
    normalised (a 200 kB country name would keep the country patterns busy for minutes); a
    date before `date_floor` (default 1950-01-01) as date_before_floor.
    """
    index = canonical.index
    text: dict[str, pd.Series] = {}
    long_cell = np.zeros(len(index), dtype=bool)
    for column in CANONICAL_COLUMNS:
        if column in canonical.columns:
            values = canonical[column]
            long = too_long(values, max_cell_chars)
            if long.any():
                long_cell |= long
                values = values.astype(object).where(~long, None)
            text[column] = clean_text(values, distinct=column == "seizure_id")
        else:
            text[column] = pd.Series(None, index=index, dtype=object)

    units = normalise_units(text["unit"])
    drugs = classify_drugs(text["drug"])
    frame: dict[str, pd.Series] = {f"{c}_text": text[c] for c in REQUIRED_COLUMNS}
    frame["cell_too_long"] = pd.Series(long_cell, index=index)
    frame["date"] = _parse_dates(text["date"])
    floor = pd.Timestamp("1950-01-01") if date_floor is None else pd.Timestamp(date_floor)
    frame["before_floor"] = frame["date"] < floor
    frame["quantity"], frame["quantity_unparseable"] = _parse_numbers(text["quantity"])
    frame["unit"] = units["unit"]
    frame["country"] = countries_to_iso3(text["country"])
    kg = kilogram_equivalents(frame["quantity"].to_numpy(dtype=float),
                              units["unit_kind"].to_numpy(dtype=object),
                              units["unit_kg"].to_numpy(dtype=float),
                              drugs["kg_per_unit"].to_numpy(dtype=float))
    frame["kg"] = pd.Series(kg, index=index)
    reasons = first_failing_reason(frame, today, ROW_CHECKS)

    regions = country_regions(frame["country"])
    destination = countries_to_iso3(text["destination_country"])
    records = pd.DataFrame({
        "seizure_id": text["seizure_id"],
        "date": frame["date"],
        "country": frame["country"],
        "region": regions["region"],
        "subregion": regions["subregion"],
        "drug_reported": text["drug"],
        "substance": drugs["substance"],
        "drug_group": drugs["drug_group"],
        "quantity": frame["quantity"],
        "unit": frame["unit"],
        "kg": kg,
        "transport_mode": normalise_transport(text["transport_mode"]),
        "origin_country": countries_to_iso3(text["origin_country"]),
        "departure_country": countries_to_iso3(text["departure_country"]),
        "destination_country": destination,
        "destination_region": country_regions(destination)["region"],
        "transit_countries": country_lists_to_iso3(text["transit_countries"]),
        "concealment": text["concealment"],
        "concealment_method": classify_concealment(text["concealment"]),
        "source": text["source"],
        "file": pd.Categorical.from_codes(np.zeros(len(index), dtype=np.int8), [file]),
        "admin1": divisions_of(frame["country"], text["admin1"]),
        "municipality": text["municipality"],
    }, index=index, copy=False)
    records, reasons = add_signatures(records, text, reasons)
    missing_id = records["seizure_id"].isna().to_numpy()
    if missing_id.any():
        content = records.loc[missing_id, list(_CONTENT_COLUMNS)].copy()
        content["drug_reported"] = name_key(content["drug_reported"].astype(object).fillna(""))
        records.loc[missing_id, "seizure_id"] = "h-" + row_hashes(content, _CONTENT_COLUMNS)
    return records[list(RECORD_COLUMNS)], reasons


def quarantine_rows(raw: pd.DataFrame, reasons: pd.Series, file: str) -> pd.DataFrame:
    """The rejected rows: original fields as text, then reason, file and record number."""
    bad = reasons.notna().to_numpy()
    rows = raw.loc[bad].astype(object).astype(str).where(raw.loc[bad].notna(), None)
    rows["reason"] = reasons[bad].to_numpy()
    rows["file"] = file
    rows["line"] = np.flatnonzero(bad) + 2  # header = record 1
    return rows


def _malformed_rows(table: RawTable, file: str) -> pd.DataFrame:
    """Rows the CSV parser could not split into the header's columns, as quarantine rows."""
    return pd.DataFrame({
        "raw_text": [text for _, text in table.malformed],
        "reason": Reason.MALFORMED_ROW,
        "file": file,
        "line": [number if number is not None else -1 for number, _ in table.malformed],
    })


def top_unclassified(records: pd.DataFrame, top: int = TOP_UNCLASSIFIED) -> dict[str, int]:
    """The most frequent reported names the taxonomy does not know, with their row counts."""
    names = records.loc[records["drug_group"] == UNCLASSIFIED, "drug_reported"].astype(object)
    return {str(k): int(v) for k, v in names.value_counts().head(top).items()}


# --- the stage -----------------------------------------------------------------------------
def ingest_files(paths: list[Path], fmt: str, settings: Settings,
                 progress: Progress | None = None, today: pd.Timestamp | None = None,
                 ) -> IngestReport:
    """Ingest seizure files of one format into the home's warehouse and report what happened.

    Every file is read and checked before anything is written, so an unreadable file
    (NarcotrendError) leaves the warehouse untouched.
    """
    check_format(fmt)
    say = progress or (lambda message: None)
    today = pd.Timestamp.now().normalize() if today is None else today
    report = IngestReport(format=fmt, files=[str(Path(p)) for p in paths])
    tables: list[RawTable] = []
    for path in paths:
        say(f"reading {Path(path).name}")
        table = read_table(Path(path), InputLimits(settings.max_decompressed_bytes,
                                                   settings.max_columns))
        report.warnings.extend(table.warnings)
        tables.append(table)
    settings.warehouse_dir.mkdir(parents=True, exist_ok=True)
    if fmt in AGGREGATE_FORMATS:
        return _ingest_aggregates(tables, fmt, settings, report, say)
    return _ingest_records(tables, fmt, settings, report, say, today)


def _to_canonical(table: RawTable, fmt: str) -> pd.DataFrame:
    if fmt in _RECORD_IMPORTERS:  # a real format's own columns -> canonical text columns
        return _RECORD_IMPORTERS[fmt](table.frame, table.path)
    frame = table.frame.rename(columns=canonical_column_names(table.frame.columns))
    if any(name not in frame.columns for name in REQUIRED_COLUMNS):
        refuse_real_format(table.path, table.frame.columns)
    require_columns(table.path, frame, REQUIRED_COLUMNS, fmt)
    return frame


def canonical_column_names(columns: pd.Index) -> dict[str, str]:
    """Header spellings of canonical columns ('Date', 'Transport Mode') -> their fixed names."""
    renames = {}
    for column in columns:
        name = "_".join(str(column).strip().lower().replace("-", " ").split())
        if name in CANONICAL_COLUMNS and name != column and name not in columns:
            renames[column] = name
    return renames


def _settle(report: IngestReport, parsed: list[tuple[RawTable, pd.DataFrame, pd.Series]],
            key: str, known: pd.Series | None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split parsed rows into new accepted rows and quarantine rows; fill the report's counts.

    `parsed` holds each table with its normalised rows and their reasons; `known` the keys the
    warehouse already has. A row is a duplicate when its key is known or appeared earlier.
    """
    accepted: list[pd.DataFrame] = []
    quarantined: list[pd.DataFrame] = []
    for table, rows, reasons in parsed:
        file = str(table.path.resolve())
        report.rows_read += len(rows) + len(table.malformed)
        accepted.append(rows.loc[reasons.isna().to_numpy()])
        quarantined.append(quarantine_rows(table.frame, reasons, file))
        if table.malformed:
            quarantined.append(_malformed_rows(table, file))
    new = pd.concat(accepted, ignore_index=True)
    duplicate = new[key].duplicated(keep="first").to_numpy()
    if known is not None and len(known):
        duplicate |= new[key].isin(known).to_numpy()
    new = new.loc[~duplicate]
    bad = pd.concat(quarantined, ignore_index=True)
    report.duplicates = int(duplicate.sum())
    report.accepted = len(new)
    report.quarantined = {str(k): int(v) for k, v in bad["reason"].value_counts().items()}
    report.unclassified_drugs = top_unclassified(new)
    if "concealment" in new.columns:
        report.unknown_concealment = unknown_parts(new["concealment"], TOP_UNCLASSIFIED)
    return new, bad


def _ingest_records(tables: list[RawTable], fmt: str, settings: Settings,
                    report: IngestReport, say: Progress, today: pd.Timestamp) -> IngestReport:
    canonicals = [_to_canonical(table, fmt) for table in tables]  # column errors before writes
    parsed = []
    for table, canonical in zip(tables, canonicals, strict=True):
        say(f"normalising {len(canonical):,} rows of {table.path.name}")
        records, reasons = normalise_records(
            canonical, str(table.path.resolve()), today, max_cell_chars=settings.max_cell_chars,
            date_floor=pd.Timestamp(settings.date_floor))
        judged = canonical.get(IMPORTER_REASON_COLUMN)  # rows the importer judged itself
        reasons = reasons if judged is None else judged.where(judged.notna(), reasons)
        parsed.append((table, records, reasons))
    records_path = settings.paths.records
    files = [str(t.path.resolve()) for t in tables]
    with _warehouse_lock(settings, say):  # the duplicate check sees every earlier ingest
        new, bad = _settle(report, parsed, "seizure_id", _read_column(records_path, "seizure_id"))
        say(f"writing {len(new):,} records")
        outputs = {settings.paths.quarantine: parquet_writer(
            _quarantine_frame(settings.paths.quarantine, bad, files))}
        table = _records_table(records_path, new)
        if table is not None:
            outputs[records_path] = parquet_writer(table)
        _publish_warehouse(settings, outputs, report)
    return report


def _ingest_aggregates(tables: list[RawTable], fmt: str, settings: Settings,
                       report: IngestReport, say: Progress) -> IngestReport:
    from features.importers import cbp, unodc_annual

    module = cbp if fmt == "cbp" else unodc_annual
    parsed = []
    for table in tables:
        rows, reasons = module.source_rows(table.frame, table.path)
        parsed.append((table, rows.assign(file=str(table.path.resolve())), reasons))
    rows_path = settings.paths.aggregate_rows
    files = [str(t.path.resolve()) for t in tables]
    with _warehouse_lock(settings, say):
        stored = pd.read_parquet(rows_path) if rows_path.exists() else None
        new, bad = _settle(report, parsed, "key", None if stored is None else stored["key"])
        all_rows = new if stored is None else pd.concat([stored, new], ignore_index=True)
        say(f"building series from {len(all_rows):,} aggregated rows")
        is_cbp = (all_rows["source"] == cbp.SOURCE).to_numpy()
        # `source` lets the build tell a yearly table from a monthly source sharing a series id
        series = [frame.assign(source=source) for frame, source in (
            (cbp.series_from_rows(all_rows.loc[is_cbp]), cbp.SOURCE),
            (unodc_annual.series_from_rows(all_rows.loc[~is_cbp]), unodc_annual.SOURCE_PREFIX))
            if len(frame)]
        _publish_warehouse(settings, {
            rows_path: parquet_writer(all_rows),
            settings.paths.aggregates: parquet_writer(
                pd.concat(series, ignore_index=True)),
            settings.paths.quarantine: parquet_writer(
                _quarantine_frame(settings.paths.quarantine, bad, files)),
        }, report)
    return report


# --- warehouse I/O ---------------------------------------------------------------------------
def _read_column(path: Path, column: str) -> pd.Series | None:
    if not path.exists():
        return None
    return pq.read_table(path, columns=[column]).column(0).to_pandas()


def _warehouse_lock(settings: Settings, say: Progress) -> Any:
    return home_lock(settings.paths, "ingest", settings.lock_timeout_seconds, say)


def _publish_warehouse(settings: Settings, outputs: dict[Path, Any],
                       report: IngestReport) -> None:
    """The warehouse files of one ingest as one unit, its manifest (the report) written last."""
    publish_files(settings.paths.warehouse_manifest, outputs, {
        "ingested_at": datetime.now(UTC).isoformat(timespec="seconds"), **report.to_dict()})


def _records_table(path: Path, new: pd.DataFrame) -> Any:
    """The stored records with `new` appended (None: nothing to write)."""
    import pyarrow as pa

    if not len(new) and path.exists():
        return None
    # categorical columns travel as dictionaries and are cast to plain strings by Arrow
    table = pa.Table.from_pandas(new[list(RECORD_COLUMNS)], preserve_index=False)
    table = table.cast(RECORD_SCHEMA)
    if path.exists():
        table = pa.concat_tables([as_record_schema(pq.read_table(path)), table])
    return table


def _quarantine_frame(path: Path, bad: pd.DataFrame, files: list[str]) -> pd.DataFrame:
    """This ingest's rejected rows, replacing earlier ones from the same files."""
    old = pd.read_parquet(path) if path.exists() else None
    if old is not None:
        old = old.loc[~old["file"].isin(files)]
    parts = [df for df in (old, bad) if df is not None and len(df)]
    frame = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(
        columns=list(QUARANTINE_META_COLUMNS))
    text_columns = [c for c in frame.columns if c != "line"]
    frame[text_columns] = frame[text_columns].astype(object).where(frame[text_columns].notna(),
                                                                   None)
    frame["line"] = pd.to_numeric(frame["line"]).astype("int64")
    ordered = [c for c in frame.columns if c not in QUARANTINE_META_COLUMNS]
    return frame[ordered + list(QUARANTINE_META_COLUMNS)]


def read_records(settings: Settings) -> pd.DataFrame:
    """The accepted records of the home's warehouse (empty frame with the columns when none)."""
    path = settings.paths.records
    if not path.exists():
        return RECORD_SCHEMA.empty_table().to_pandas()
    return pd.read_parquet(path)


__all__ = ["IngestReport", "ingest_files", "normalise_records", "quarantine_rows",
           "read_records", "Reason"]
