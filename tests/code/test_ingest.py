"""The ingest stage on small canonical files: storage, duplicates, quarantine, report, export."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from core.errors import NarcotrendError
from core.settings import get_settings
from features.ingest import ingest_files, normalise_records, read_records
from features.schema import RECORD_COLUMNS

TODAY = pd.Timestamp("2025-06-01")
HEADER = "seizure_id,date,country,drug,quantity,unit,transport_mode,origin_country,"\
         "transit_countries,destination_country,concealment,source\n"
GOOD = (
    "A1,2024-01-05,ESP,Cocaine HCL,12.5,kg,Maritime,COL,Ecuador;PAN,ESP,container,Customs\n"
    "A2,2024-01-06,Spain,crystal meth,300,g,Commercial air,,,,luggage,Police\n"
    "A3,2024-01-07,\"Iran, Islamic Republic of\",Captagon,1000,tablets,by road,SYR,JOR,SAU,,\n"
)


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def ingest(paths: list[Path], fmt: str = "canonical"):
    return ingest_files(paths, fmt, get_settings(), today=TODAY)


def test_ingest_stores_normalised_records(home):
    report = ingest([write(home / "a.csv", HEADER + GOOD)])
    records = read_records(get_settings()).set_index("seizure_id")
    assert (report.rows_read, report.accepted, report.duplicates) == (3, 3, 0)
    assert list(read_records(get_settings()).columns) == list(RECORD_COLUMNS)
    a1, a2, a3 = records.loc["A1"], records.loc["A2"], records.loc["A3"]
    assert (a1["country"], a1["region"], a1["subregion"]) == ("ESP", "Europe", "Southern Europe")
    assert (a1["substance"], a1["drug_group"], a1["kg"]) == ("cocaine hydrochloride", "cocaine",
                                                              12.5)
    assert (a1["transport_mode"], a1["origin_country"], a1["transit_countries"]) == (
        "sea", "COL", "ECU;PAN")
    assert (a1["destination_country"], a1["destination_region"]) == ("ESP", "Europe")
    assert (a2["country"], a2["unit"], a2["kg"], a2["transport_mode"]) == ("ESP", "g", 0.3, "air")
    assert (a3["country"], a3["unit"], a3["transport_mode"]) == ("IRN", "tablet", "land")
    assert a3["kg"] == pytest.approx(0.17)
    assert a1["date"] == pd.Timestamp("2024-01-05")


def test_reingesting_the_same_file_accepts_nothing_new(home):
    path = write(home / "a.csv", HEADER + GOOD + "B1,2024-01-09,FRA,Heroin,-1,kg,,,,,,\n")
    first = ingest([path])
    second = ingest([path])
    assert (first.accepted, first.duplicates) == (3, 0)
    assert (second.accepted, second.duplicates, second.quarantined) == (
        0, 3, {"non_positive_quantity": 1})
    assert len(read_records(get_settings())) == 3
    quarantine = pd.read_parquet(get_settings().warehouse_dir / "quarantine.parquet")
    assert len(quarantine) == 1


def test_ingest_report_keeps_rows_read_equal_to_accepted_duplicates_and_quarantined(home):
    rows = GOOD + GOOD.replace("A1", "A9") + "\n".join([
        "C1,2024-01-09,FRA,Heroin,-1,kg,,,,,,",
        "C2,2099-01-09,FRA,Heroin,1,kg,,,,,,",
        "C3,2024-01-09,FRA,Heroin,1,bushel,,,,,,",
        "C4,2024-01-09,Atlantis,Heroin,1,kg,,,,,,",
    ]) + "\n"
    report = ingest([write(home / "a.csv", HEADER + rows)])
    assert report.rows_read == 10
    assert report.rows_read == report.accepted + report.duplicates + report.quarantined_total
    assert report.duplicates == 2  # A2 and A3 repeated
    assert report.quarantined == {"non_positive_quantity": 1, "future_date": 1,
                                  "unknown_unit": 1, "unknown_country": 1}


def test_ingest_without_seizure_ids_hashes_the_normalised_content(home):
    text = ("date,country,drug,quantity,unit\n2024-01-05,ESP,Cocaine HCL,12.5,kg\n"
            "2024-01-05,Spain,cocaine  hcl,12.5,KG\n2024-01-06,ESP,Cocaine HCL,12.5,kg\n")
    report = ingest([write(home / "a.csv", text)])
    ids = read_records(get_settings())["seizure_id"]
    assert (report.accepted, report.duplicates) == (2, 1)
    assert ids.str.fullmatch(r"h-[0-9a-f]{16}").all()


def test_ingest_lists_unclassified_drug_names_by_frequency(home):
    text = ("date,country,drug,quantity,unit\n" + "2024-01-05,ESP,Blue dream,1,kg\n"
            "2024-01-06,ESP,Blue dream,1,kg\n2024-01-07,ESP,Zorbex,1,kg\n")
    report = ingest([write(home / "a.csv", text)])
    assert report.accepted == 3
    assert report.unclassified_drugs == {"Blue dream": 2, "Zorbex": 1}
    assert set(read_records(get_settings())["drug_group"]) == {"unclassified"}


def test_ingest_reads_parquet_input(home):
    frame = pd.DataFrame({"date": pd.to_datetime(["2024-03-01", "2024-03-02"]),
                          "country": ["DEU", "FRA"], "drug": ["hashish", "heroin"],
                          "quantity": [1.5, 2.0], "unit": ["kg", "g"]})
    path = home / "in.parquet"
    frame.to_parquet(path)
    report = ingest([path])
    records = read_records(get_settings()).sort_values("date")
    assert report.accepted == 2
    assert records["kg"].tolist() == [1.5, 0.002]
    assert records["date"].tolist() == list(frame["date"])


def test_unreadable_file_leaves_the_warehouse_untouched(home):
    good = write(home / "good.csv", HEADER + GOOD)
    bad = write(home / "bad.csv", "when,where\n1,2\n")
    with pytest.raises(NarcotrendError, match="bad.csv: missing column"):
        ingest([good, bad])
    assert not (get_settings().warehouse_dir / "records.parquet").exists()


@pytest.mark.parametrize(("header", "fmt"), [
    ("REGION,country,SEIZURE_DATE,DRUG_NAME,AMOUNT,DRUG_UNIT\n", "unodc-ids"),
    ("CLASE_BIEN,DEPTO_HECHO,FECHA_HECHO,BIEN_UNIDAD_MEDIDA,CANTIDAD\n", "pnc-colombia"),
])
def test_a_real_format_ingested_as_canonical_is_named_in_the_error(home, header, fmt):
    path = write(home / "export.csv", header + "x,x,x,x,x,x\n")
    with pytest.raises(NarcotrendError, match=f"run `narcotrend ingest --format {fmt} "
                                              "export.csv`"):
        ingest([path])


def test_normalise_records_is_pure_and_gives_one_reason_per_row():
    canonical = pd.DataFrame({"date": ["2024-01-01", "2024-01-01", "not a date"],
                              "country": ["ESP", "ESP", "ESP"], "drug": ["heroin", None, "heroin"],
                              "quantity": ["1", "1", "1"], "unit": ["kg", "kg", "kg"]})
    records, reasons = normalise_records(canonical, "mem", TODAY)
    assert reasons.tolist() == [None, "empty_drug", "unparseable_date"]
    assert records["kg"].tolist()[0] == 1.0


def test_ingest_cli_json_prints_one_object_with_the_report(home):
    from serving.cli import register_commands
    from serving.cli.app import app

    register_commands()
    path = write(home / "a.csv", HEADER + GOOD + "B1,2024-01-09,FRA,Heroin,0,kg,,,,,,\n")
    result = CliRunner().invoke(app, ["ingest", str(path), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert {k: report[k] for k in ("rows_read", "accepted", "duplicates", "quarantined")} == {
        "rows_read": 4, "accepted": 3, "duplicates": 0,
        "quarantined": {"non_positive_quantity": 1}}
    assert report["unclassified_drugs"] == {}


def test_export_quarantine_writes_csv_with_reasons(home):
    from serving.cli import register_commands
    from serving.cli.app import app

    register_commands()
    ingest([write(home / "a.csv", HEADER + "B1,2024-01-09,FRA,Heroin,-1,kg,,,,,,\n")])
    out = home / "out" / "q.csv"
    result = CliRunner().invoke(app, ["export", "quarantine", "--out", str(out)])
    assert result.exit_code == 0, result.output
    exported = pd.read_csv(out)
    assert exported["reason"].tolist() == ["non_positive_quantity"]
    assert exported["line"].tolist() == [2]


def test_export_before_build_names_the_missing_stage(home):
    from serving.cli.data import export_source

    with pytest.raises(NarcotrendError, match="run `narcotrend build` first"):
        export_source(get_settings(), "series")
    with pytest.raises(NarcotrendError, match="run `narcotrend train` first"):
        export_source(get_settings(), "forecasts")


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_export_series_writes_the_stored_series_by_suffix(home, suffix):
    from serving.cli import register_commands
    from serving.cli.app import app

    register_commands()
    series = pd.DataFrame({"unique_id": ["ESP/cocaine/kg"] * 2,
                           "ds": pd.to_datetime(["2024-01-01", "2024-02-01"]), "y": [1.0, None],
                           "geo_level": "country", "geo": "ESP", "region": "Europe",
                           "drug_level": "group", "drug": "cocaine", "metric": "kg"})
    get_settings().series_dir.mkdir(parents=True)
    series.to_parquet(get_settings().series_dir / "series.parquet", index=False)
    out = home / f"series{suffix}"
    result = CliRunner().invoke(app, ["export", "series", "--out", str(out)])
    assert result.exit_code == 0, result.output
    back = pd.read_csv(out, parse_dates=["ds"]) if suffix == ".csv" else pd.read_parquet(out)
    pd.testing.assert_frame_equal(back, series, check_dtype=False)


def test_export_refuses_an_unknown_suffix(home):
    from serving.cli.data import ExportWhat, export

    with pytest.raises(NarcotrendError, match="must be .csv or .parquet"):
        export(what=ExportWhat.series, out=home / "x.xlsx")


def test_canonical_headers_are_matched_whatever_their_case_and_spacing(home):
    text = "Date,COUNTRY,Drug,Quantity,Unit,Transport Mode\n2024-01-05,ESP,heroin,1,kg,Air\n"
    report = ingest([write(home / "a.csv", text)])
    records = read_records(get_settings())
    assert report.accepted == 1
    assert records["transport_mode"].tolist() == ["air"]


def test_ingest_reads_gzip_compressed_csv(home):
    import gzip

    path = home / "a.csv.gz"
    path.write_bytes(gzip.compress((HEADER + GOOD).encode("utf-8")))
    assert ingest([path]).accepted == 3
