"""Series from records: zero versus not reporting, aggregation, frequencies, the build stage."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from core.errors import NarcotrendError
from features.build import build_all
from features.series import SERIES_COLUMNS, build_series, merge_aggregates

PLACES = {  # country -> (UN region, UN subregion)
    "ESP": ("Europe", "Southern Europe"),
    "PRT": ("Europe", "Southern Europe"),
    "FRA": ("Europe", "Western Europe"),
    "COL": ("Americas", "Latin America and the Caribbean"),
}
SUBSTANCE_GROUP = {"cocaine hydrochloride": "cocaine", "crack cocaine": "cocaine",
                   "cannabis resin": "cannabis", "cannabis herb": "cannabis",
                   "methamphetamine": "amphetamine-type stimulants"}


def make_records(rows: list[tuple[str, str, str, float]]) -> pd.DataFrame:
    """Canonical records from (date, country, substance, kg) tuples."""
    frame = pd.DataFrame(rows, columns=["date", "country", "substance", "kg"])
    frame["date"] = pd.to_datetime(frame["date"])
    frame["region"] = frame["country"].map(lambda c: PLACES[c][0])
    frame["subregion"] = frame["country"].map(lambda c: PLACES[c][1])
    frame["drug_group"] = frame["substance"].map(SUBSTANCE_GROUP)
    return frame


# ESP reports Jan, Mar, Apr (gap in Feb); FRA reports Jan to Apr; PRT starts in Mar;
# COL reports Jan and Apr (gap in Feb and Mar).
RECORDS = [
    ("2024-01-05", "ESP", "cocaine hydrochloride", 10.0),
    ("2024-01-20", "ESP", "cannabis resin", 2.0),
    ("2024-01-21", "ESP", "cannabis resin", 3.0),
    ("2024-03-10", "ESP", "cocaine hydrochloride", 5.0),
    ("2024-04-01", "ESP", "methamphetamine", 0.5),
    ("2024-01-11", "FRA", "cannabis herb", 3.0),
    ("2024-02-03", "FRA", "crack cocaine", 1.0),
    ("2024-03-02", "FRA", "cannabis herb", 4.0),
    ("2024-04-30", "FRA", "cannabis herb", 6.0),
    ("2024-03-15", "PRT", "cocaine hydrochloride", 7.0),
    ("2024-01-02", "COL", "cocaine hydrochloride", 100.0),
    ("2024-04-02", "COL", "cocaine hydrochloride", 50.0),
]


@pytest.fixture(scope="module")
def series() -> pd.DataFrame:
    return build_series(make_records(RECORDS))


def values(series: pd.DataFrame, unique_id: str) -> list[float]:
    rows = series[series["unique_id"] == unique_id].sort_values("ds")
    assert len(rows), f"no series {unique_id}"
    return rows["y"].tolist()


def months(series: pd.DataFrame, unique_id: str) -> list[str]:
    rows = series[series["unique_id"] == unique_id].sort_values("ds")
    return rows["ds"].dt.strftime("%Y-%m").tolist()


def test_series_have_the_long_format_columns(series: pd.DataFrame) -> None:
    assert list(series.columns) == list(SERIES_COLUMNS)
    assert series["ds"].dtype == "datetime64[ns]"
    assert series["y"].dtype == "float64"
    assert not series.duplicated(["unique_id", "ds"]).any()
    assert set(series["geo_level"]) == {"world", "region", "subregion", "country"}
    assert set(series["drug_level"]) == {"group", "substance"}
    assert set(series["metric"]) == {"seizures", "kg"}


def test_reporting_gap_gives_nan_in_every_series_of_the_country(series: pd.DataFrame) -> None:
    esp = series[series["geo"] == "ESP"]
    february = esp[esp["ds"] == "2024-02-01"]
    assert len(february) == esp["unique_id"].nunique()  # an explicit gap row in every series
    assert february["y"].isna().all()
    assert values(series, "ESP/cocaine/kg") == pytest.approx([10.0, np.nan, 5.0, 0.0],
                                                             nan_ok=True)


def test_reporting_country_without_the_drug_gives_zero(series: pd.DataFrame) -> None:
    # FRA reported cannabis herb in January but no cocaine: 0, not missing.
    assert values(series, "FRA/cocaine/seizures") == [0.0, 1.0, 0.0, 0.0]
    assert values(series, "FRA/crack cocaine/kg") == [0.0, 1.0, 0.0, 0.0]


def test_drug_appearing_later_is_zero_from_the_first_reporting_period(
        series: pd.DataFrame) -> None:
    # ESP's first methamphetamine is in April; before it ESP reported other drugs (0) or
    # nothing (Feb: NaN).
    assert values(series, "ESP/methamphetamine/seizures") == pytest.approx(
        [0.0, np.nan, 0.0, 1.0], nan_ok=True)


def test_series_start_at_the_geography_first_reporting_period(series: pd.DataFrame) -> None:
    assert months(series, "PRT/cocaine/kg") == ["2024-03", "2024-04"]
    assert values(series, "PRT/cocaine/kg") == pytest.approx([7.0, np.nan], nan_ok=True)
    assert months(series, "ESP/cocaine/kg") == ["2024-01", "2024-02", "2024-03", "2024-04"]


def test_no_series_for_a_drug_a_country_never_seized(series: pd.DataFrame) -> None:
    assert "PRT/cannabis/kg" not in set(series["unique_id"])
    assert "COL/cannabis resin/seizures" not in set(series["unique_id"])


def test_region_total_equals_the_sum_of_its_countries(series: pd.DataFrame) -> None:
    countries = series[series["geo_level"] == "country"]
    reporting = countries.dropna(subset=["y"]).groupby("region")["ds"].unique().map(set)
    for (region, drug, metric), part in countries.groupby(["region", "drug", "metric"]):
        total = series[series["unique_id"] == f"{region}/{drug}/{metric}"].set_index("ds")["y"]
        summed = part.groupby("ds")["y"].sum().reindex(total.index, fill_value=0.0)
        reported = total.index.isin(list(reporting[region]))
        # a reporting region's total is the sum of its countries, NaN counting as nothing ...
        assert total[reported].tolist() == pytest.approx(summed[reported].tolist())
        # ... and it is missing exactly when none of its countries reported anything
        assert total[~reported].isna().all()
    assert values(series, "Europe/cocaine/kg") == [10.0, 1.0, 12.0, 0.0]


def test_aggregate_is_nan_only_when_none_of_its_countries_reports(
        series: pd.DataFrame) -> None:
    # Southern Europe = ESP (gap in Feb) + PRT (from Mar): Feb has no report at all.
    assert values(series, "Southern Europe/cocaine/kg") == pytest.approx(
        [10.0, np.nan, 12.0, 0.0], nan_ok=True)
    # COL is the only American country and misses Feb and Mar.
    assert values(series, "Americas/cocaine/seizures") == pytest.approx(
        [1.0, np.nan, np.nan, 1.0], nan_ok=True)
    # Europe always has a reporting country: no NaN although ESP has a gap.
    assert not np.isnan(values(series, "Europe/cannabis/kg")).any()


def test_world_equals_the_sum_of_regions(series: pd.DataFrame) -> None:
    regions = series[series["geo_level"] == "region"]
    summed = regions.groupby(["drug", "metric", "ds"])["y"].sum(min_count=1)
    world = series[series["geo_level"] == "world"].set_index(["drug", "metric", "ds"])["y"]
    pd.testing.assert_series_equal(world.sort_index(), summed.reindex(world.index).fillna(0.0)
                                   .sort_index(), check_names=False)
    assert values(series, "World/cocaine/kg") == [110.0, 1.0, 12.0, 50.0]


def test_every_geography_carries_its_un_region(series: pd.DataFrame) -> None:
    region_of = series.drop_duplicates("geo").set_index("geo")["region"].to_dict()
    assert region_of["World"] == "World"
    assert region_of["Europe"] == "Europe"
    assert region_of["Western Europe"] == "Europe"
    assert region_of["ESP"] == "Europe"
    assert region_of["COL"] == "Americas"
    assert set(series.loc[series["geo"] == "ESP", "drug_level"]) == {"group", "substance"}


def test_weekly_series_start_on_mondays_and_keep_gaps() -> None:
    records = make_records([
        ("2024-01-01", "ESP", "cocaine hydrochloride", 1.0),  # Monday, week 1
        ("2024-01-07", "ESP", "cocaine hydrochloride", 2.0),  # Sunday, still week 1
        ("2024-01-08", "FRA", "cannabis herb", 1.0),  # week 2: ESP not reporting
        ("2024-01-17", "ESP", "cannabis resin", 4.0),  # week 3
    ])
    series = build_series(records, "W-MON")
    assert set(series["ds"].dt.dayofweek) == {0}
    assert months(series, "ESP/cocaine/kg") == ["2024-01", "2024-01", "2024-01"]
    assert values(series, "ESP/cocaine/kg") == pytest.approx([3.0, np.nan, 0.0], nan_ok=True)
    assert values(series, "Europe/cocaine/seizures") == [2.0, 0.0, 0.0]


def test_yearly_series_sum_the_year() -> None:
    records = make_records([
        ("2022-03-01", "ESP", "cocaine hydrochloride", 1.0),
        ("2022-11-30", "ESP", "cocaine hydrochloride", 2.0),
        ("2023-05-05", "FRA", "cannabis herb", 1.0),
        ("2024-02-01", "ESP", "cannabis resin", 4.0),
    ])
    series = build_series(records, "YS")
    rows = series[series["unique_id"] == "ESP/cocaine/kg"]
    assert rows["ds"].dt.strftime("%Y-%m-%d").tolist() == ["2022-01-01", "2023-01-01",
                                                            "2024-01-01"]
    assert values(series, "ESP/cocaine/kg") == pytest.approx([3.0, np.nan, 0.0], nan_ok=True)


def test_start_and_end_bound_the_periods_and_extend_with_gaps() -> None:
    records = make_records(RECORDS)
    series = build_series(records, start="2024-02-01", end="2024-06-30")
    assert months(series, "FRA/cannabis/kg") == ["2024-02", "2024-03", "2024-04", "2024-05",
                                                 "2024-06"]
    assert values(series, "FRA/cannabis/kg") == pytest.approx([0.0, 4.0, 6.0, np.nan, np.nan],
                                                              nan_ok=True)
    # COL's January seizure is outside: its series starts at its first report inside (April).
    assert months(series, "COL/cocaine/kg")[0] == "2024-04"


def test_unknown_frequency_is_refused_with_the_allowed_values() -> None:
    with pytest.raises(NarcotrendError, match="`freq` must be one of MS, W-MON, YS .*, got 'D'"):
        build_series(make_records(RECORDS), "D")


def test_records_without_a_needed_column_are_refused() -> None:
    with pytest.raises(NarcotrendError, match="substance"):
        build_series(make_records(RECORDS).drop(columns="substance"))


def test_no_records_give_an_empty_frame_with_the_columns() -> None:
    series = build_series(make_records([]))
    assert series.empty and list(series.columns) == list(SERIES_COLUMNS)


def cbp_aggregates(months_: list[str], values_: list[float]) -> pd.DataFrame:
    return pd.DataFrame({
        "unique_id": "Southwest Border/methamphetamine/seizures", "ds": pd.to_datetime(months_),
        "y": values_, "geo_level": "region", "geo": "Southwest Border", "region": "Americas",
        "drug_level": "substance", "drug": "methamphetamine", "metric": "seizures"})


def test_merge_aggregates_keeps_their_own_geo_levels_and_values(series: pd.DataFrame) -> None:
    aggregates = cbp_aggregates(["2024-01-01", "2024-02-01", "2024-03-01"], [5.0, np.nan, 7.0])
    merged, report = merge_aggregates(series, aggregates, "MS")
    assert report == {"added": 1, "skipped_coarser": 0, "skipped_duplicate": 0,
                      "skipped_conflict": 0}
    assert values(merged, "Southwest Border/methamphetamine/seizures") == pytest.approx(
        [5.0, np.nan, 7.0], nan_ok=True)
    assert len(merged) == len(series) + 3


def test_merge_aggregates_sums_finer_periods_and_leaves_out_coarser_ones(
        series: pd.DataFrame) -> None:
    monthly = cbp_aggregates(["2023-11-01", "2023-12-01", "2024-01-01"], [1.0, 2.0, 4.0])
    yearly_build, report = merge_aggregates(build_series(make_records(RECORDS), "YS"), monthly,
                                            "YS")
    assert values(yearly_build, "Southwest Border/methamphetamine/seizures") == [3.0, 4.0]
    yearly = cbp_aggregates(["2022-01-01", "2023-01-01"], [10.0, 20.0])
    _, report = merge_aggregates(series, yearly, "MS")
    assert report["skipped_coarser"] == 1 and report["added"] == 0


def test_merge_aggregates_does_not_duplicate_a_built_series(series: pd.DataFrame) -> None:
    duplicate = cbp_aggregates(["2024-01-01", "2024-02-01"], [1.0, 2.0]).assign(
        unique_id="ESP/cocaine/kg")
    merged, report = merge_aggregates(series, duplicate, "MS")
    assert report["skipped_duplicate"] == 1
    assert values(merged, "ESP/cocaine/kg") == pytest.approx(values(series, "ESP/cocaine/kg"),
                                                             nan_ok=True)


def test_merge_aggregates_leaves_out_a_series_two_sources_share(series: pd.DataFrame) -> None:
    monthly = cbp_aggregates(["2024-01-01", "2024-02-01", "2024-03-01"], [1.0, 2.0, 4.0])
    yearly = cbp_aggregates(["2023-01-01", "2024-01-01"], [30.0, 40.0])
    merged, report = merge_aggregates(series, pd.concat([monthly, yearly]), "MS")
    assert report["skipped_conflict"] == 1 and report["added"] == 0
    assert len(merged) == len(series)


def test_merge_aggregates_judges_coarseness_per_source_and_counts_ids(series: pd.DataFrame):
    monthly = cbp_aggregates(["2022-01-01", "2022-02-01"], [1.0, 2.0]).assign(source="cbp")
    yearly = cbp_aggregates(["2021-01-01", "2022-01-01"], [30.0, 40.0]).assign(source="annual")
    other = yearly.assign(unique_id="Southwest Border/fentanyl/seizures", drug="fentanyl")
    both = pd.concat([monthly, yearly, other])
    uid = "Southwest Border/methamphetamine/seizures"

    merged, report = merge_aggregates(series, both, "MS")
    assert (report["added"], report["skipped_coarser"], report["skipped_conflict"]) == (1, 1, 0)
    assert values(merged, uid) == [1.0, 2.0]
    _, report = merge_aggregates(series, both, "W-MON")  # both sources coarser than weeks
    assert (report["added"], report["skipped_coarser"]) == (0, 2)
    merged, report = merge_aggregates(build_series(make_records(RECORDS), "YS"), both, "YS")
    assert (report["added"], report["skipped_conflict"]) == (1, 1)  # 2022 has two sources
    assert uid not in set(merged["unique_id"])


def write_records(home, records: pd.DataFrame) -> None:
    from core.settings import get_settings

    warehouse = get_settings().warehouse_dir
    warehouse.mkdir(parents=True, exist_ok=True)
    for col in ("origin_country", "departure_country", "transit_countries",
                "destination_country", "destination_region", "transport_mode"):
        records[col] = None
    records.to_parquet(warehouse / "records.parquet", index=False)


def test_build_all_writes_series_routes_and_a_manifest(home) -> None:
    from core.settings import get_settings

    write_records(home, make_records(RECORDS))
    messages: list[str] = []
    summary = build_all(get_settings(), progress=messages.append)
    series_dir = get_settings().series_dir
    stored = pd.read_parquet(series_dir / "series.parquet")
    routes = pd.read_parquet(series_dir / "routes.parquet")
    assert summary["series"] == stored["unique_id"].nunique() and summary["rows"] == len(stored)
    assert (summary["start"], summary["end"]) == ("2024-01-01", "2024-04-01")
    assert summary["routes"] == len(routes) and routes["seizures"].sum() == len(RECORDS)
    assert values(stored, "ESP/cocaine/kg") == pytest.approx([10.0, np.nan, 5.0, 0.0],
                                                             nan_ok=True)
    assert json.loads((series_dir / "build.json").read_text())["series"] == summary["series"]
    assert any("route flows" in message for message in messages)


def test_build_all_with_only_aggregated_imports_stores_their_series(home) -> None:
    from core.settings import get_settings

    warehouse = get_settings().warehouse_dir
    warehouse.mkdir(parents=True, exist_ok=True)
    cbp_aggregates(["2024-01-01", "2024-02-01"], [5.0, 6.0]).to_parquet(
        warehouse / "aggregates.parquet", index=False)
    summary = build_all(get_settings())
    stored = pd.read_parquet(get_settings().series_dir / "series.parquet")
    assert (summary["series"], summary["routes"], summary["aggregate_series"]) == (1, 0, 1)
    assert stored["y"].tolist() == [5.0, 6.0]


def test_build_all_without_a_records_store_says_to_ingest_first(home) -> None:
    from core.settings import get_settings

    with pytest.raises(NarcotrendError, match="run `narcotrend ingest"):
        build_all(get_settings())


def test_build_command_exits_2_with_one_line_when_nothing_was_ingested(home, run_cli) -> None:
    result = run_cli(home, "build")
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert "narcotrend ingest" in result.stderr


def test_a_substance_named_like_a_group_keeps_unique_ids_unique() -> None:
    records = make_records([("2024-01-05", "ESP", "cocaine hydrochloride", 1.0)])
    records.loc[0, "substance"] = "cocaine"  # e.g. an unclassified name kept as reported
    series = build_series(records)
    assert not series.duplicated(["unique_id", "ds"]).any()
    assert "ESP/cocaine (substance)/kg" in set(series["unique_id"])


# Colombia names a department on some records; Spain on none. February's Colombian record names
# no department: the country has it, no division does.
DIVISION_RECORDS = [
    ("2024-01-02", "COL", "cocaine hydrochloride", 100.0, "ANTIOQUIA"),
    ("2024-02-10", "COL", "cocaine hydrochloride", 30.0, None),
    ("2024-03-05", "COL", "cannabis herb", 5.0, "CAUCA"),
    ("2024-03-06", "COL", "cocaine hydrochloride", 20.0, "ANTIOQUIA"),
    ("2024-01-05", "ESP", "cocaine hydrochloride", 10.0, None),
]


@pytest.fixture(scope="module")
def division_series() -> pd.DataFrame:
    records = make_records([row[:4] for row in DIVISION_RECORDS])
    records["admin1"] = [row[4] for row in DIVISION_RECORDS]
    return build_series(records)


def test_admin1_series_exist_only_for_the_divisions_records_name(division_series) -> None:
    divisions = division_series[division_series["geo_level"] == "admin1"]
    assert set(divisions["geo"]) == {"COL:ANTIOQUIA", "COL:CAUCA"}
    assert set(divisions["region"]) == {"Americas"}
    assert "COL:ANTIOQUIA/cocaine/kg" in set(divisions["unique_id"])


def test_the_country_stays_the_sum_of_all_its_records_with_or_without_a_division(
        division_series) -> None:
    assert values(division_series, "COL/cocaine/kg") == [100.0, 30.0, 20.0]
    np.testing.assert_array_equal(values(division_series, "COL:ANTIOQUIA/cocaine/kg"),
                                  [100.0, np.nan, 20.0])


def test_a_division_without_seizures_when_its_country_reports_divisions_is_zero(
        division_series) -> None:
    # Cauca: nothing in January (Antioquia reported) -> 0; February no division reported -> NaN
    np.testing.assert_array_equal(values(division_series, "COL:CAUCA/cannabis/kg"),
                                  [0.0, np.nan, 5.0])
    assert months(division_series, "COL:CAUCA/cannabis/kg") == ["2024-01", "2024-02", "2024-03"]


def test_records_without_an_admin1_column_build_no_admin1_level() -> None:
    series = build_series(make_records(RECORDS))
    assert "admin1" not in set(series["geo_level"])


@pytest.fixture(scope="module")
def synthetic_build(tmp_path_factory) -> tuple[pd.DataFrame, dict]:
    """The default synthetic world at a quarter of its size, ingested and built in a fresh home."""
    from core.settings import Settings
    from features.ingest import ingest_files
    from features.synthetic_world import write_world

    home = tmp_path_factory.mktemp("synthetic_home")
    settings = Settings(home=home)
    written = write_world(settings.demo_dir, seed=7, scale=0.25)
    ingest_files([settings.demo_dir / "seizures.csv"], "canonical", settings)
    build_all(settings)
    truth = json.loads((settings.demo_dir / "events.json").read_text())
    assert written["records"] > 10_000
    return pd.read_parquet(settings.series_dir / "series.parquet"), truth


def test_synthetic_world_reporting_gap_is_missing_in_every_series_of_the_country(
        synthetic_build: tuple[pd.DataFrame, dict]) -> None:
    series, truth = synthetic_build
    gaps = [d for d in truth["distractors"] if d["type"] == "reporting_gap"]
    assert gaps
    for gap in gaps:
        country = series[series["geo"] == gap["geo"]]
        inside = country["ds"].between(pd.Timestamp(gap["start"]), pd.Timestamp(gap["end"]))
        n_months = len(pd.period_range(gap["start"], gap["end"], freq="M"))
        assert inside.sum() == n_months * country["unique_id"].nunique()
        assert country.loc[inside, "y"].isna().all()
        assert country.loc[~inside, "y"].notna().mean() > 0.9
        # the country's region keeps reporting through the gap: its totals are numbers
        region = series[(series["geo"] == gap["region"]) & series["ds"].between(
            pd.Timestamp(gap["start"]), pd.Timestamp(gap["end"]))]
        assert region["y"].notna().all()


@pytest.mark.parametrize("event_type", ["surge", "new_drug"])
def test_synthetic_world_planted_events_show_in_their_series(
        synthetic_build: tuple[pd.DataFrame, dict], event_type: str) -> None:
    series, truth = synthetic_build
    events = [e for e in truth["events"] if e["type"] == event_type]
    assert events
    for event in events:
        y = series[series["unique_id"] == f"{event['geo']}/{event['drug']}/{event['metric']}"]
        y = y.set_index("ds")["y"]
        onset = pd.Timestamp(event["onset"])
        before = y[(y.index < onset) & (y.index >= onset - pd.DateOffset(months=12))]
        after = y[(y.index >= onset) & (y.index < onset + pd.DateOffset(months=12))]
        observed = event["observed_monthly"]
        assert before.mean() == pytest.approx(observed["before"], rel=0.1, abs=0.2), event["id"]
        assert after.mean() == pytest.approx(observed["after"], rel=0.1), event["id"]
        if event_type == "new_drug":  # absence before the onset reads as 0, not missing
            assert (before == 0).all()


@pytest.mark.realdata
def test_cbp_series_pass_through_the_build_unchanged_and_complete(home, shared_data) -> None:
    from core.settings import get_settings
    from features.ingest import ingest_files

    settings = get_settings()
    ingest_files(sorted((shared_data / "cbp_nationwide_drugs").glob("*.csv")), "cbp", settings)
    build_all(settings)
    uid = "Southwest Border/methamphetamine/seizures"
    stored = pd.read_parquet(settings.warehouse_dir / "aggregates.parquet")
    built = pd.read_parquet(settings.series_dir / "series.parquet")
    expected = stored[stored["unique_id"] == uid].set_index("ds")["y"].sort_index()
    got = built[built["unique_id"] == uid].set_index("ds")["y"].sort_index()
    months_ = pd.date_range("2018-10-01", "2025-05-01", freq="MS")
    assert got.index.equals(months_) and got.notna().all()
    pd.testing.assert_series_equal(got, expected)
