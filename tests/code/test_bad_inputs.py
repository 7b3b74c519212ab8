"""The bad-input corpus (bad_inputs/ here): every file is refused with one line, or its bad rows
are quarantined with the right reasons while its good rows are kept. Never a traceback."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from core.errors import NarcotrendError
from core.settings import get_settings
from features.ingest import ingest_files, read_records

CORPUS = Path(__file__).parent / "bad_inputs"
REPO = Path(__file__).resolve().parents[2]
TODAY = pd.Timestamp("2025-06-01")

# file -> words the one-line error must contain
UNREADABLE = {
    "empty.csv": "empty",
    "blank_lines.csv": "empty",
    "binary.csv": "binary",
    "wrong_columns.csv": "missing column(s) date, country, drug, quantity, unit",
    "duplicate_column.csv": "duplicate column names ['unit']",
    "prose.txt": "missing column(s)",
    "not_really.parquet": "not a readable Parquet file",
}

# file -> (rows kept, quarantine reason counts)
PARTLY_BAD = {
    "header_only.csv": (0, {}),
    "latin1.csv": (2, {}),
    "bom_crlf_semicolon.csv": (2, {}),
    "quoted_newlines.csv": (2, {}),
    "future_date.csv": (1, {"future_date": 1}),
    "huge_quantity.csv": (1, {"implausible_quantity": 1, "non_finite_quantity": 1}),
    "nan_quantity.csv": (1, {"non_finite_quantity": 2, "unparseable_quantity": 1}),
    "unknown_unit.csv": (1, {"unknown_unit": 1}),
    "negative_quantity.csv": (1, {"non_positive_quantity": 2}),
    "unknown_country.csv": (1, {"unknown_country": 1, "missing_required_field": 1}),
    "bad_dates.csv": (1, {"unparseable_date": 3}),
    "empty_drug.csv": (1, {"empty_drug": 2}),
    "ragged_rows.csv": (2, {"malformed_row": 1}),
}


def test_corpus_has_at_least_twelve_files_and_every_one_is_covered():
    files = {p.name for p in CORPUS.iterdir()}
    assert len(files) >= 12
    assert files == set(UNREADABLE) | set(PARTLY_BAD)


@pytest.mark.parametrize("name", sorted(UNREADABLE))
def test_unreadable_file_raises_one_line_naming_the_file(home, name):
    with pytest.raises(NarcotrendError) as caught:
        ingest_files([CORPUS / name], "canonical", get_settings(), today=TODAY)
    message = str(caught.value)
    assert "\n" not in message
    assert name in message
    assert UNREADABLE[name] in message


@pytest.mark.parametrize("name", sorted(PARTLY_BAD))
def test_bad_rows_are_quarantined_and_good_rows_kept(home, name):
    kept, reasons = PARTLY_BAD[name]
    report = ingest_files([CORPUS / name], "canonical", get_settings(), today=TODAY)
    assert report.accepted == kept
    assert report.quarantined == reasons
    assert report.rows_read == report.accepted + report.duplicates + report.quarantined_total
    assert len(read_records(get_settings())) == kept
    if reasons:
        quarantine = pd.read_parquet(get_settings().warehouse_dir / "quarantine.parquet")
        assert quarantine["reason"].value_counts().to_dict() == reasons
        assert quarantine["file"].str.endswith(name).all()


def test_latin1_file_is_decoded_with_a_warning(home):
    report = ingest_files([CORPUS / "latin1.csv"], "canonical", get_settings(), today=TODAY)
    records = read_records(get_settings()).set_index("country")
    assert report.warnings == ["latin1.csv: not valid UTF-8, read as Latin-1"]
    assert records.loc["ESP", "concealment"] == "camión frigorífico"
    assert records.loc["FRA", "drug_reported"] == "cocaïne"


def test_quoted_newlines_stay_inside_their_field(home):
    ingest_files([CORPUS / "quoted_newlines.csv"], "canonical", get_settings(), today=TODAY)
    records = read_records(get_settings()).set_index("country")
    assert records.loc["NLD", "concealment"] == "hidden in a false floor, truck"
    assert records.loc["NLD", "unit"] == "tablet"
    assert records.loc["BEL", "concealment"] == "container bananas"


def test_bom_and_crlf_do_not_leak_into_names_or_values(home):
    ingest_files([CORPUS / "bom_crlf_semicolon.csv"], "canonical", get_settings(), today=TODAY)
    records = read_records(get_settings()).sort_values("date")
    assert records["country"].tolist() == ["ESP", "PRT"]
    assert records["unit"].tolist() == ["kg", "kg"]
    assert records["kg"].tolist() == [1.5, 2.0]


@pytest.mark.parametrize("name", ["empty.csv", "binary.csv", "wrong_columns.csv",
                                  "duplicate_column.csv"])
def test_cli_exits_2_with_one_line_for_an_unreadable_file(tmp_path, name, run_cli):
    result = run_cli(tmp_path, "ingest", str(CORPUS / name))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error:") and name in lines[0]
    assert "Traceback" not in result.stderr + result.stdout


def test_cli_quarantines_bad_rows_without_a_traceback(tmp_path, run_cli):
    result = run_cli(tmp_path, "ingest", str(CORPUS / "negative_quantity.csv"), "--json")
    assert result.returncode == 0, result.stderr
    assert '"non_positive_quantity": 2' in result.stdout
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(("content", "words"), [
    ("date,country\n".encode("utf-16"), "UTF-16"),
    (b"PK\x03\x04\x14\x00\x06\x00", "Excel"),
])
def test_utf16_and_excel_files_are_refused_with_a_hint(home, tmp_path, content, words):
    path = tmp_path / "export.csv"
    path.write_bytes(content)
    with pytest.raises(NarcotrendError, match=words):
        ingest_files([path], "canonical", get_settings(), today=TODAY)
