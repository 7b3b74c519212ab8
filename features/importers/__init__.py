"""Reading seizure files and the registry of input formats.

`read_table` turns any CSV (delimiter sniffed; UTF-8 with or without BOM, Latin-1 fallback; CRLF;
quoted newlines; gzip-compressed or not) or Parquet file into a frame of text columns, or raises
`NarcotrendError` naming the file and what is wrong. The format modules map those columns onto
the canonical record (`unodc_ids`, `pnc_colombia`) or onto series (`cbp`, `unodc_annual`).
"""

from __future__ import annotations

import csv
import io
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from core.errors import NarcotrendError

FORMATS: tuple[str, ...] = ("canonical", "unodc-ids", "cbp", "unodc-annual", "pnc-colombia")
RECORD_FORMATS: frozenset[str] = frozenset({"canonical", "unodc-ids", "pnc-colombia"})
AGGREGATE_FORMATS: frozenset[str] = frozenset({"cbp", "unodc-annual"})

_SNIFF_BYTES = 64 * 1024
_CHUNK_BYTES = 1 << 20


@dataclass(frozen=True)
class InputLimits:
    """Bounds on one input file (`core.settings.Settings` gives them): the size a file may
    reach once decompressed, and its number of columns."""

    max_bytes: int = 512 << 20
    max_columns: int = 1000
_DELIMITERS = ",;\t|"
_BOM = b"\xef\xbb\xbf"


@dataclass
class RawTable:
    """A file's rows as text (categorical columns), with what reading it had to work around."""

    frame: pd.DataFrame
    path: Path
    warnings: list[str] = field(default_factory=list)
    # rows the CSV parser could not split into the header's columns: (record number, raw text)
    malformed: list[tuple[int | None, str]] = field(default_factory=list)


def check_format(fmt: str) -> str:
    if fmt not in FORMATS:
        raise NarcotrendError(f"unknown --format {fmt!r}; use one of {', '.join(FORMATS)}")
    return fmt


def read_table(path: Path, limits: InputLimits | None = None) -> RawTable:
    """Read a CSV or Parquet file into text columns; NarcotrendError if it cannot be read.

    A symbolic link is followed only to a file in the link's own folder tree (a link to
    /etc/passwd is refused, saying so, and nothing of the target is shown)."""
    path = Path(path)
    limits = limits or InputLimits()
    if not path.is_file():
        raise NarcotrendError(f"{path}: file not found")
    _check_link(path)
    if path.stat().st_size > limits.max_bytes and not _is_gzip(path):
        raise NarcotrendError(f"{path}: {path.stat().st_size:,} bytes, more than the "
                              f"{limits.max_bytes:,} allowed (NARCOTREND_MAX_DECOMPRESSED_BYTES)")
    if path.suffix.lower() in (".parquet", ".pq"):
        return _read_parquet(path, limits)
    return _read_csv(path, limits)


def _check_link(path: Path) -> None:
    """Refuse a path that leads, through a symbolic link, outside the folder it names."""
    named = Path(os.path.abspath(path))
    target = path.resolve()
    if target == named:
        return
    if not target.is_relative_to(named.parent.resolve()):
        raise NarcotrendError(f"{path}: a symbolic link to a file outside {named.parent}; "
                              "name the file itself if it is the one to ingest")


def _is_gzip(path: Path) -> bool:
    with path.open("rb") as handle:
        return handle.read(2) == b"\x1f\x8b"


def _read_bytes(path: Path, limits: InputLimits) -> bytes:
    """The file's bytes, a gzip file inflated chunk by chunk and refused once it passes the
    limit (a 6 MB file may inflate to 6 GiB)."""
    if not _is_gzip(path):
        return path.read_bytes()
    import zlib

    inflate = zlib.decompressobj(wbits=31)
    parts: list[bytes] = []
    size = 0
    with path.open("rb") as handle:
        try:
            while chunk := handle.read(_CHUNK_BYTES):
                while chunk:
                    part = inflate.decompress(chunk, _CHUNK_BYTES)
                    size += len(part)
                    if size > limits.max_bytes:
                        raise NarcotrendError(
                            f"{path}: inflates to more than {limits.max_bytes:,} bytes "
                            "(NARCOTREND_MAX_DECOMPRESSED_BYTES); split it or raise the limit")
                    parts.append(part)
                    chunk = inflate.unconsumed_tail
                if inflate.eof:
                    break
        except zlib.error as err:
            raise NarcotrendError(f"{path}: a damaged gzip file ({err})") from None
    if not inflate.eof:
        raise NarcotrendError(f"{path}: a damaged gzip file (truncated)")
    return b"".join(parts)


def _check_width(path: Path, count: int, limits: InputLimits) -> None:
    if count > limits.max_columns:
        raise NarcotrendError(f"{path}: {count:,} columns, more than the {limits.max_columns:,} "
                              "allowed (NARCOTREND_MAX_COLUMNS)")


def _read_parquet(path: Path, limits: InputLimits) -> RawTable:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        _check_width(path, len(pq.read_schema(path).names), limits)
        table = pq.read_table(path)
    except (pa.ArrowException, OSError) as err:
        raise NarcotrendError(f"{path}: not a readable Parquet file ({err})") from None
    names = table.column_names
    _check_header(path, names)
    frame = table.to_pandas()
    text = pd.DataFrame({
        name: (frame[name] if frame[name].dtype == object
               else frame[name].astype(str).where(frame[name].notna()))
        for name in names
    })
    return RawTable(text.astype("category"), path)


def _read_csv(path: Path, limits: InputLimits) -> RawTable:
    import pyarrow as pa
    import pyarrow.csv as pacsv

    raw = _read_bytes(path, limits)  # gzip-compressed CSV (.csv.gz) inflated, bounded
    if not raw.strip():
        raise NarcotrendError(f"{path}: the file is empty; expected a CSV with a header row")
    head = raw[:_SNIFF_BYTES]
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise NarcotrendError(f"{path}: UTF-16 text; save it as UTF-8 CSV")
    if head.startswith(b"PK\x03\x04"):
        raise NarcotrendError(f"{path}: a ZIP or Excel file, not a CSV text file; export it as CSV")
    nul = raw.find(b"\x00")
    if nul >= 0:
        line = raw.count(b"\n", 0, nul) + 1
        raise NarcotrendError(f"{path}: binary content (a NUL byte on line {line:,}), not a "
                              "CSV text file")
    warnings: list[str] = []
    body = raw[len(_BOM):] if raw.startswith(_BOM) else raw
    encoding = "utf8"
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        encoding = "latin-1"
        warnings.append(f"{path.name}: not valid UTF-8, read as Latin-1")
    sample = body[:_SNIFF_BYTES].decode(encoding, errors="replace")
    delimiter = _sniff_delimiter(sample)
    # the whole header line, however long (a 20k-column header passes the sniffed sample)
    first_line = body.find(b"\n")
    head_text = body[:max(_SNIFF_BYTES, first_line + 1)].decode(encoding, errors="replace")
    _check_width(path, head_text.split("\n", 1)[0].count(delimiter) + 1, limits)
    header = next(csv.reader(io.StringIO(head_text), delimiter=delimiter), [])
    names = [name.strip() for name in header]
    _check_header(path, names)

    malformed: list[tuple[int | None, str]] = []

    def _on_bad_row(row: pacsv.InvalidRow) -> str:
        malformed.append((row.number, row.text))
        return "skip"

    try:
        table = pacsv.read_csv(
            pa.py_buffer(body),
            read_options=pacsv.ReadOptions(column_names=names, skip_rows=1, encoding=encoding,
                                           block_size=8 << 20),
            parse_options=pacsv.ParseOptions(delimiter=delimiter, newlines_in_values=True,
                                             invalid_row_handler=_on_bad_row),
            convert_options=pacsv.ConvertOptions(
                column_types={name: pa.dictionary(pa.int32(), pa.string()) for name in names},
                null_values=[""], strings_can_be_null=True, quoted_strings_can_be_null=True),
        )
    except pa.ArrowException as err:
        raise NarcotrendError(f"{path}: cannot parse as CSV ({err})") from None
    frame = table.to_pandas()
    malformed = [(number if number is not None else _line_of(body, text, encoding), text)
                 for number, text in malformed]
    if len(frame) == 0:
        warnings.append(f"{path.name}: header only, no data rows")
    return RawTable(frame, path, warnings, malformed)


def _line_of(body: bytes, text: str, encoding: str) -> int | None:
    """The 1-based line where a row's text starts (for the few rows the parser rejects)."""
    position = body.find(text.encode("utf-8" if encoding == "utf8" else encoding))
    return None if position < 0 else body.count(b"\n", 0, position) + 1


def _sniff_delimiter(sample: str) -> str:
    """The delimiter of a CSV sample: csv.Sniffer on whole lines, else the most frequent one."""
    lines = sample.splitlines()
    complete = "\n".join(lines[:-1] if len(lines) > 1 else lines)
    try:
        return csv.Sniffer().sniff(complete, delimiters=_DELIMITERS).delimiter
    except csv.Error:
        first = lines[0] if lines else ""
        return max(_DELIMITERS, key=first.count) if any(d in first for d in _DELIMITERS) else ","


def _check_header(path: Path, names: list[str]) -> None:
    if not names or all(not name for name in names):
        raise NarcotrendError(f"{path}: no header row")
    if any(not name for name in names):
        raise NarcotrendError(f"{path}: empty column name in the header {names}")
    seen: set[str] = set()
    duplicated = sorted({name for name in names if name in seen or seen.add(name)})
    if duplicated:
        raise NarcotrendError(f"{path}: duplicate column names {duplicated}; each column once")


def require_columns(path: Path, frame: pd.DataFrame, required: tuple[str, ...],
                    fmt: str) -> None:
    """NarcotrendError naming the missing columns when `frame` lacks any of `required`."""
    missing = [name for name in required if name not in frame.columns]
    if missing:
        raise NarcotrendError(
            f"{path}: missing column(s) {', '.join(missing)} for --format {fmt}; found "
            f"{', '.join(map(str, frame.columns))}")


def row_hashes(frame: pd.DataFrame, columns: list[str] | tuple[str, ...]) -> pd.Series:
    """A stable 16-hex-digit hash of each row's values in `columns`.

    pandas' row hash with its fixed default key: the same values give the same id in every run
    and every process, whether a column is text or categorical.
    """
    hashes = pd.util.hash_pandas_object(frame[list(columns)], index=False, categorize=True)
    hexed = hashes.to_numpy().astype(">u8").tobytes().hex().encode("ascii")
    text = np.frombuffer(hexed, dtype="S16").astype("U16").astype(object)
    return pd.Series(text, index=frame.index, dtype=object)
