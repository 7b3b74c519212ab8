"""Bounded inputs and safe exports (issue 18): files made to exhaust or trick the ingest end in
one line or a quarantine, quickly, showing nothing outside the named file; CSV exports never
start a spreadsheet formula."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import pandas as pd
import pytest

from core.errors import NarcotrendError
from core.settings import Settings
from features.ingest import ingest_files, read_records
from serving.cli.data import formula_safe

TODAY = pd.Timestamp("2025-06-01")
HEADER = "seizure_id,date,country,drug,quantity,unit\n"
GOOD = "G1,2024-01-05,ESP,cocaine,12.5,kg\n"


def settings_for(home: Path, **bounds) -> Settings:
    return Settings(home=home, **bounds)


def refusal(path: Path, settings: Settings) -> str:
    with pytest.raises(NarcotrendError) as caught:
        ingest_files([path], "canonical", settings, today=TODAY)
    message = str(caught.value)
    assert "\n" not in message
    return message


@pytest.mark.timeout(30)
def test_a_gzip_bomb_is_refused_once_it_inflates_past_the_limit(home):
    path = home / "bomb.csv.gz"
    with gzip.open(path, "wb", compresslevel=9) as out:
        out.write(HEADER.encode())
        chunk = GOOD.encode() * 100_000
        for _ in range(20):  # ~66 MB inflated from a few hundred kB
            out.write(chunk)
    assert path.stat().st_size < 2 << 20
    message = refusal(path, settings_for(home, max_decompressed_bytes=4 << 20))
    assert "inflates to more than 4,194,304 bytes" in message


def test_a_small_gzip_file_within_the_limit_is_read(home):
    path = home / "small.csv.gz"
    path.write_bytes(gzip.compress((HEADER + GOOD).encode()))
    report = ingest_files([path], "canonical", settings_for(home), today=TODAY)
    assert report.accepted == 1


def test_twenty_thousand_columns_are_refused_as_too_many_not_as_duplicates(home):
    path = home / "wide.csv"
    path.write_text(",".join(f"c{n}" for n in range(20_000)) + "\n" + "1," * 19_999 + "1\n")
    message = refusal(path, settings_for(home))
    assert "20,000 columns, more than the 1,000 allowed" in message


def test_a_nul_byte_after_the_first_64_kb_refuses_the_file(home):
    path = home / "nul.csv"
    body = GOOD * 3000  # ~100 kB
    path.write_bytes((HEADER + body).encode() + b"G2,2024-01-05,ESP,coca\x00ine,1,kg\n")
    message = refusal(path, settings_for(home))
    assert "NUL byte on line 3,002" in message


def test_a_symlink_outside_its_folder_is_refused_without_showing_the_target(home):
    link = home / "innocent.csv"
    os.symlink("/etc/passwd", link)
    message = refusal(link, settings_for(home))
    assert "symbolic link to a file outside" in message
    assert "root:x" not in message and "/etc/passwd" not in message


def test_a_symlink_within_its_folder_is_followed(home):
    (home / "real.csv").write_text(HEADER + GOOD)
    os.symlink("real.csv", home / "alias.csv")
    report = ingest_files([home / "alias.csv"], "canonical", settings_for(home), today=TODAY)
    assert report.accepted == 1


@pytest.mark.timeout(30)
def test_a_200_kb_country_cell_is_quarantined_as_too_long(home):
    path = home / "long.csv"
    path.write_text(HEADER + GOOD + f"L1,2024-01-05,{'Spain ' * 35_000},cocaine,1,kg\n")
    report = ingest_files([path], "canonical", settings_for(home), today=TODAY)
    assert (report.accepted, report.quarantined) == (1, {"cell_too_long": 1})
    quarantine = pd.read_parquet(home / "data" / "warehouse" / "quarantine.parquet")
    assert quarantine["reason"].tolist() == ["cell_too_long"]


def test_dates_before_the_floor_are_quarantined(home):
    path = home / "old.csv"
    path.write_text(HEADER + GOOD + "O1,1899-12-31,ESP,cocaine,1,kg\n"
                    "O2,1900-01-01,ESP,heroin,1,kg\n" "O3,1950-01-01,ESP,heroin,1,kg\n")
    report = ingest_files([path], "canonical", settings_for(home), today=TODAY)
    assert (report.accepted, report.quarantined) == (2, {"date_before_floor": 2})
    assert read_records(settings_for(home))["date"].min() == pd.Timestamp("1950-01-01")
    later = settings_for(home / "h2", date_floor="2000-01-01")
    assert ingest_files([path], "canonical", later, today=TODAY).quarantined == {
        "date_before_floor": 3}


def test_rich_markup_in_a_header_and_a_drug_name_is_printed_as_text(home, run_cli):
    path = home / "markup.csv"
    path.write_text("seizure_id,date,country,drug,quantity,unit,[/red]notes\n"
                    "M1,2024-01-05,ESP,[/red][bold]crack,1,kg,x\n")
    result = run_cli(home, "ingest", str(path))
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert "[/red][bold]crack" in result.stderr  # the unclassified name, as it is
    bad = run_cli(home, "ingest", str(home / "[/red]missing.csv"))
    assert bad.returncode == 2
    assert bad.stderr.strip() == f"error: {home / '[/red]missing.csv'}: file not found"


def test_formula_cells_are_escaped_and_numbers_untouched():
    frame = pd.DataFrame({
        "drug": ["=cmd|' /C calc'!A0", "+1+1", "-2+3", "@SUM(A1)", "\tx", "\rx", "cocaine"],
        "text_number": ["-0.5", "+3", "-1e3", "1", "-", "=1", "a-b"],
        "y": [-0.5, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
    })
    frame["category"] = pd.Categorical(["=HYPERLINK(\"x\")"] * 7)
    safe = formula_safe(frame)
    assert safe["drug"].tolist() == ["'=cmd|' /C calc'!A0", "'+1+1", "'-2+3", "'@SUM(A1)",
                                     "'\tx", "'\rx", "cocaine"]
    assert safe["text_number"].tolist() == ["-0.5", "+3", "-1e3", "1", "'-", "'=1", "a-b"]
    assert safe["y"].tolist() == frame["y"].tolist()
    assert set(safe["category"]) == {"'=HYPERLINK(\"x\")"}
    assert frame["drug"][0] == "=cmd|' /C calc'!A0"  # the stored frame is not changed


def test_export_csv_escapes_a_formula_drug_name_and_parquet_keeps_it(home, run_cli):
    path = home / "formula.csv"
    path.write_text(HEADER + "F1,2024-01-05,ESP,\"=hyperlink(\"\"http://x\"\")\",-1,kg\n")
    assert run_cli(home, "ingest", str(path)).returncode == 0
    assert run_cli(home, "export", "quarantine", "--out", str(home / "q.csv")).returncode == 0
    assert run_cli(home, "export", "quarantine", "--out", str(home / "q.parquet")).returncode == 0
    exported = pd.read_csv(home / "q.csv", dtype=str)
    assert exported["drug"].tolist() == ["'=hyperlink(\"http://x\")"]
    assert exported["quantity"].tolist() == ["-1"]
    assert pd.read_parquet(home / "q.parquet")["drug"].tolist() == ["=hyperlink(\"http://x\")"]


@pytest.mark.timeout(30)
def test_many_distinct_long_country_names_are_unknown_without_running_the_patterns(home):
    path = home / "countries.csv"
    rows = "".join(f"C{n},2024-01-05,{('Spain' + str(n) + ' ') * 20},cocaine,1,kg\n"
                   for n in range(1000))  # each ~160 characters: under the cell cap
    path.write_text(HEADER + GOOD + rows)
    report = ingest_files([path], "canonical", settings_for(home), today=TODAY)
    assert (report.accepted, report.quarantined) == (1, {"unknown_country": 1000})
