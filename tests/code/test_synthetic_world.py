"""The synthetic world keeps its promises: checked on its own output, as an ingest would read it.

The events and distractors are drawn per seed, so the promises about them are checked on a few
seeds' worlds (`world` is parametrised) and, cheaply, on many seeds' plans.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from core.errors import NarcotrendError
from features import synthetic_catalog as cat
from features.synthetic_catalog import (
    GROUPS,
    MODE_NAMES,
    REPORTED_NAMES,
    SUBSTANCES,
    UNIT_NAMES,
    UNKNOWN_COUNTRIES,
    UNKNOWN_UNITS,
)
from features.synthetic_events import draw_plan, group_of
from features.synthetic_world import EVENTS_FILE, SEIZURES_FILE, generate_world, write_world

EVENT_TYPES = ("emerging_trend", "surge", "decline", "new_drug", "route_shift")
MONTHS = pd.period_range("2016-01", "2024-12", freq="M").astype(str)
_REGION = {"America": "Americas"}


def _country_table(values: pd.Series) -> pd.DataFrame:
    """ISO3 and UN region of each distinct written country value, by country_converter."""
    import country_converter as coco

    uniques = pd.Series(values.dropna().unique())
    data = coco.CountryConverter().data.drop_duplicates("ISO3").set_index("ISO3")["continent"]
    found = coco.convert(uniques.tolist(), to="ISO3", not_found="?")
    iso3 = [c if c in data.index else "" for c in ([found] if isinstance(found, str) else found)]
    return pd.DataFrame({"iso3": [c or None for c in iso3],
                         "region": [_REGION.get(data[c], data[c]) if c else None for c in iso3]},
                        index=uniques)


@pytest.fixture(scope="module")
def countries(world) -> pd.DataFrame:
    """The country table of every country value the default world writes, converted once."""
    frame = world[0]
    columns = ["country", "origin_country", "departure_country", "destination_country"]
    transit = frame["transit_countries"].dropna().str.split(";").explode()
    return _country_table(pd.concat([frame[c] for c in columns] + [transit]))


def _countries(values: pd.Series, table: pd.DataFrame) -> pd.DataFrame:
    return table.reindex(values.to_numpy()).set_axis(values.index)


WORLD_SEEDS = (7, 2, 13)  # the default seed and two others: each plants other events


@pytest.fixture(scope="module", params=WORLD_SEEDS, ids=[f"seed{s}" for s in WORLD_SEEDS])
def world(request) -> tuple[pd.DataFrame, dict]:
    return generate_world(seed=request.param)


@pytest.fixture(scope="module")
def clean(world, countries) -> pd.DataFrame:
    """The rows an ingest would accept, with ISO3 country, month, substance, group and kg."""
    frame, _ = world
    frame = frame.drop_duplicates()
    dates = pd.to_datetime(frame["date"], format="%Y-%m-%d", errors="coerce")
    geo = _countries(frame["country"], countries)
    ok = (dates.notna() & (dates <= "2024-12-31") & (frame["quantity"] > 0)
          & frame["unit"].isin(list(UNIT_NAMES)) & frame["drug"].notna() & geo["iso3"].notna())
    out = frame[ok].copy()
    out["iso3"], out["region"] = geo.loc[ok, "iso3"], geo.loc[ok, "region"]
    out["month"] = dates[ok].dt.strftime("%Y-%m")
    out["substance"] = out["drug"].map(lambda d: REPORTED_NAMES[d][0])
    out["group"] = out["drug"].map(lambda d: REPORTED_NAMES[d][1])
    tablet_kg = {s.name: s.tablet_kg for s in SUBSTANCES}
    per_unit = out["unit"].map({"kg": 1.0, "KG": 1.0, "g": .001, "grams": .001, "l": 1.0,
                                "litres": 1.0})
    per_tablet = out["substance"].map(tablet_kg)
    out["kg"] = out["quantity"] * per_unit.fillna(per_tablet)
    dest = _countries(out["destination_country"], countries)
    out["destination_region"] = dest["region"]
    out["mode"] = out["transport_mode"].map(MODE_NAMES)
    return out


def _events(world, kind: str) -> list[dict]:
    return [e for e in world[1]["events"] if e["type"] == kind]


def _slice(clean: pd.DataFrame, event: dict) -> pd.DataFrame:
    level = "group" if event["drug_level"] == "group" else "substance"
    return clean[(clean["iso3"] == event["geo"]) & (clean[level] == event["drug"])]


def _monthly(rows: pd.DataFrame, metric: str = "seizures") -> pd.Series:
    grouped = rows.groupby("month")
    values = grouped.size() if metric == "seizures" else grouped["kg"].sum()
    return values.reindex(MONTHS, fill_value=0)


def _window(series: pd.Series, onset: str, start: int, stop: int) -> float:
    i = list(MONTHS).index(onset)
    return float(series.iloc[i + start:i + stop].mean())


def test_world_covers_108_months_of_40_countries_in_5_regions(clean):
    assert sorted(clean["month"].unique()) == list(MONTHS)
    assert clean["iso3"].nunique() >= 40
    assert set(clean["region"]) == {"Africa", "Americas", "Asia", "Europe", "Oceania"}
    per_region = clean.groupby("region")["iso3"].nunique()
    assert (per_region >= 4).all()


def test_default_world_has_100k_to_150k_records(world):
    assert 100_000 <= len(world[0]) <= 150_000


def test_country_values_mix_codes_and_names_that_all_map_but_the_planted_unknowns(world,
                                                                                   countries):
    frame, truth = world
    geo = _countries(frame["country"], countries)
    unmapped = frame.loc[geo["iso3"].isna(), "country"]
    assert set(unmapped) <= set(UNKNOWN_COUNTRIES)
    assert len(unmapped) == truth["dirt"]["bad_rows"]["unknown_country"]
    written = set(frame["country"])
    assert {"IRN", "Iran, Islamic Republic of", "NLD", "Netherlands", "NL"} <= written
    assert written & {"Türkiye", "Turkey"} and "NA" not in written
    for column in ("origin_country", "departure_country", "destination_country"):
        assert _countries(frame[column].dropna(), countries)["iso3"].notna().all(), column
    transit = frame["transit_countries"].dropna().str.split(";").explode()
    assert _countries(transit, countries)["iso3"].notna().all()


def test_drug_spellings_are_all_listed_and_cover_the_eight_groups(world, clean):
    frame, _ = world
    assert set(frame["drug"].dropna()) <= set(REPORTED_NAMES)
    assert set(clean["group"]) == set(GROUPS)
    for spelling in ("Cocaine HCL", "crack", "Crystal meth", "Hashish", "Heroin", "Captagon",
                     "ecstasy", "MDMA", "Spice", "khat", "ephedrine", "tramadol", "fentanyl"):
        assert spelling in set(frame["drug"]), spelling
    substances = {s for s, _ in REPORTED_NAMES.values()}
    assert not substances & set(GROUPS)


def test_quantities_come_in_mixed_units_and_modes_in_reporters_spellings(world, clean):
    frame, _ = world
    units = frame["unit"].value_counts()
    assert set(UNIT_NAMES) <= set(units.index)
    assert set(clean["mode"].dropna()) == {"air", "land", "sea", "mail", "rail"}
    assert {"Maritime", "by road", "Air cargo", "postal"} <= set(frame["transport_mode"])
    cocaine = clean[clean["substance"] == "cocaine hydrochloride"]["kg"]
    assert cocaine.quantile(.99) / cocaine.median() > 30  # lognormal, heavy right tail


def test_every_event_type_is_planted_twice_with_onsets_the_backtest_can_see(world):
    events = world[1]["events"]
    for kind in EVENT_TYPES:
        assert len([e for e in events if e["type"] == kind]) >= 2, kind
    for event in events:
        assert "2022-01" <= event["onset"] <= "2024-06"
        assert {"id", "type", "geo_level", "geo", "region", "drug_level", "drug", "metric",
                "onset", "magnitude", "description"} <= set(event)
    assert len({e["id"] for e in events}) == len(events)


def test_emerging_trends_grow_in_raw_counts_after_onset(world, clean):
    for event in _events(world, "emerging_trend"):
        counts = _monthly(_slice(clean, event))
        before = _window(counts, event["onset"], -12, 0)
        assert _window(counts, event["onset"], 6, 12) > 1.4 * before, event["id"]
        assert _window(counts, event["onset"], 12, 18) > 1.8 * before, event["id"]


def test_surges_raise_the_level_from_onset(world, clean):
    for event in _events(world, "surge"):
        rows = _slice(clean, event)
        if event["metric"] == "kg":
            before = rows[rows["month"] < event["onset"]]["kg"].median()
            after = rows[rows["month"] >= event["onset"]]["kg"].median()
            assert after > 1.8 * before, event["id"]
        else:
            counts = _monthly(rows)
            before = _window(counts, event["onset"], -12, 0)
            assert _window(counts, event["onset"], 0, 12) > 1.7 * before, event["id"]


def test_declines_lower_the_level_from_onset(world, clean):
    for event in _events(world, "decline"):
        counts = _monthly(_slice(clean, event))
        before = _window(counts, event["onset"], -12, 0)
        assert _window(counts, event["onset"], 0, 12) < .6 * before, event["id"]


def test_new_drugs_are_absent_before_onset_and_seized_monthly_after(world, clean):
    for event in _events(world, "new_drug"):
        counts = _monthly(_slice(clean, event))
        i = list(MONTHS).index(event["onset"])
        assert counts.iloc[:i].sum() == 0, event["id"]
        assert (counts.iloc[i:] >= 1).mean() >= .9 and counts.iloc[i:].mean() >= 5, event["id"]
        anywhere = clean[(clean["substance"] == event["drug"]) & (clean["month"] < event["onset"])]
        assert anywhere.empty


def test_route_shifts_move_the_gaining_and_losing_shares_by_20_points(world, clean):
    column = {"departure_country": "departure_country", "transit_countries": "transit_countries",
              "transport_mode": "mode"}
    for event in _events(world, "route_shift"):  # on the flow's substances (a group may hold
        # other flows to the same region)
        rows = clean[clean["substance"].isin(event["substances"])
                     & (clean["destination_region"] == event["destination_region"])]
        values = rows[column[event["attribute"]]].dropna().str.split(";")
        months = rows.loc[values.index, "month"]
        i = list(MONTHS).index(event["onset"])
        before = values[(months >= MONTHS[i - 12]) & (months < MONTHS[i])]
        after = values[(months >= MONTHS[i]) & (months <= MONTHS[i + 11])]

        def share(parts: pd.Series, entities: list[str]) -> float:
            return float(parts.map(lambda p: bool(set(p) & set(entities))).mean())

        assert len(before) >= 50 and len(after) >= 50, event["id"]
        assert share(after, event["gaining"]) - share(before, event["gaining"]) >= .2, event["id"]
        assert share(before, event["losing"]) - share(after, event["losing"]) >= .2, event["id"]


def test_new_transit_countries_are_never_seen_as_transit_before_onset():
    seed = next(s for s in range(100) if any(e["type"] == "route_shift" and e["new"]
                                             for e in draw_plan(s).events))
    frame, truth = generate_world(seed=seed)
    (event,) = [e for e in truth["events"] if e["type"] == "route_shift" and e["new"]]
    dates = pd.to_datetime(frame["date"], format="%Y-%m-%d", errors="coerce")
    parts = frame.loc[dates.notna(), "transit_countries"].dropna().str.split(";")
    early = parts[frame.loc[parts.index, "date"] < event["onset"]]
    late = parts[frame.loc[parts.index, "date"] >= event["onset"]]
    for country in event["new"]:
        assert not early.map(lambda p, c=country: c in p).any()
        assert late.map(lambda p, c=country: c in p).sum() >= 50


def test_each_seed_draws_its_own_events_and_distractors():
    plans = [draw_plan(seed) for seed in range(3)]
    keys = [{(e["type"], e.get("geo"), e["drug"], e["onset"]) for e in p.events} for p in plans]
    assert keys[0] != keys[1] != keys[2]
    assert draw_plan(5) == draw_plan(5)
    assert len({p.gaps for p in plans}) == 3 and len({p.outliers for p in plans}) > 1


def test_plans_of_any_seed_keep_the_event_rules():
    for seed in range(300):
        _check_plan(draw_plan(seed))


def _check_plan(plan) -> None:
    for kind in EVENT_TYPES:
        assert len([e for e in plan.events if e["type"] == kind]) >= 2, kind
    gap_geos = {g for g, _, _ in plan.gaps}
    outlier_pairs = {(o[0], group_of("substance", o[1])) for o in plan.outliers}
    level = [e for e in plan.events if e["type"] != "route_shift"]
    pairs = [(e["geo"], group_of(e["drug_level"], e["drug"])) for e in level]
    assert len(set(pairs)) == len(pairs) and not set(pairs) & outlier_pairs
    assert not {e["geo"] for e in level} & gap_geos
    flows = [e["flow"] for e in plan.events if e["type"] == "route_shift"]
    assert len(set(flows)) == len(flows)
    for event in plan.events:
        assert cat.ONSET_RANGE[0] <= event["onset"] <= cat.ONSET_RANGE[1]
        if event["type"] in ("emerging_trend", "surge", "decline"):
            assert event["baseline"] >= 20 and event["geo"] in cat.CORE_RATES
        if event["type"] == "emerging_trend":
            assert .08 <= event["magnitude"] <= .15
        elif event["type"] == "surge":
            assert 2 <= event["magnitude"] <= (4.5 if event["metric"] == "kg" else 3.5)
        elif event["type"] == "decline":
            assert .3 <= event["magnitude"] <= .5
        elif event["type"] == "new_drug":
            assert event["magnitude"] >= 6
    for _, start, end in plan.gaps:
        assert 3 <= len(pd.period_range(start, end, freq="M")) <= 4 and end <= "2024-06"


def test_reporting_gap_countries_have_no_rows_in_the_gap_but_report_around_it(world, clean,
                                                                              countries):
    frame, truth = world
    gaps = [d for d in truth["distractors"] if d["type"] == "reporting_gap"]
    assert gaps
    geo = _countries(frame["country"], countries)["iso3"]
    months = frame["date"].str[:7]
    for gap in gaps:
        assert 3 <= len(pd.period_range(gap["start"], gap["end"], freq="M")) <= 5
        inside = (geo == gap["geo"]) & (months >= gap["start"]) & (months <= gap["end"])
        assert not inside.any(), gap["geo"]
        counts = _monthly(clean[clean["iso3"] == gap["geo"]])
        i, j = list(MONTHS).index(gap["start"]), list(MONTHS).index(gap["end"])
        assert counts.iloc[i - 1] > 0 and counts.iloc[j + 1] > 0


def test_outlier_is_one_giant_seizure_dwarfing_its_series(world, clean):
    _, truth = world
    outliers = [d for d in truth["distractors"] if d["type"] == "outlier"]
    assert outliers
    for outlier in outliers:
        rows = clean[(clean["iso3"] == outlier["geo"]) & (clean["substance"] == outlier["drug"])]
        biggest = rows.loc[rows["kg"].idxmax()]
        assert biggest["seizure_id"] == outlier["seizure_id"]
        assert biggest["month"] == outlier["period"] and biggest["kg"] == outlier["quantity"]
        monthly = _monthly(rows, "kg")
        assert monthly[outlier["period"]] > 3 * monthly.drop(outlier["period"]).max()


def test_duplicates_and_each_kind_of_bad_row_appear_in_the_stated_numbers(world):
    frame, truth = world
    dirt = truth["dirt"]
    assert frame.duplicated().sum() == dirt["duplicates"] > 0
    assert frame["seizure_id"].duplicated().sum() == dirt["duplicates"]
    dates = pd.to_datetime(frame["date"], format="%Y-%m-%d", errors="coerce")
    found = {
        "negative_quantity": (frame["quantity"] < 0).sum(),
        "impossible_date": (dates.isna() & frame["date"].str.fullmatch(r"\d{4}-\d{2}-\d{2}")).sum(),
        "future_date": (dates > "2024-12-31").sum(),
        "unknown_unit": frame["unit"].isin(UNKNOWN_UNITS).sum(),
        "unknown_country": frame["country"].isin(UNKNOWN_COUNTRIES).sum(),
        "empty_drug": frame["drug"].isna().sum(),
    }
    assert found == dirt["bad_rows"]
    assert all(0 < n <= 300 for n in found.values())
    assert not (set(frame["unit"]) - set(UNIT_NAMES) - set(UNKNOWN_UNITS))


def test_write_world_gives_the_same_bytes_for_the_same_seed_and_others_for_another(tmp_path):
    summaries = [write_world(tmp_path / name, seed=seed, scale=.2)
                 for name, seed in (("a", 3), ("b", 3), ("c", 4))]
    files = [[(tmp_path / d / f).read_bytes() for f in (SEIZURES_FILE, EVENTS_FILE)]
             for d in "abc"]
    assert files[0] == files[1]
    assert files[0][0] != files[2][0] and files[0][1] != files[2][1]
    frame = pd.read_csv(summaries[0]["seizures_path"], keep_default_na=False, dtype=str)
    assert summaries[0]["records"] == len(frame) and summaries[0]["events"] >= 10
    truth = json.loads(files[0][1])
    assert (truth["seed"], truth["start"], truth["end"]) == (3, "2016-01", "2024-12")
    assert frame["quantity"].str.fullmatch(r"-?\d+(\.\d+)?").all()


def test_a_few_countries_name_the_division_of_most_of_their_records(world, clean):
    from core.divisions import normalise_division

    named = clean[clean["admin1"].notna()]
    assert set(named["iso3"]) == set(cat.DIVISIONS)
    share = clean.groupby("iso3")["admin1"].apply(lambda s: s.notna().mean())
    for iso3, expected in cat.DIVISION_SHARE.items():
        assert share[iso3] == pytest.approx(expected, abs=.05)
    colombian = named.loc[named["iso3"] == "COL", "admin1"].unique()
    assert all(normalise_division("COL", name) for name in colombian)


def test_the_division_draw_leaves_every_other_column_and_the_truth_as_they_were(monkeypatch):
    frame, truth = generate_world(seed=5, scale=.3)
    monkeypatch.setattr(cat, "DIVISIONS", {})
    without, truth_without = generate_world(seed=5, scale=.3)
    assert without["admin1"].isna().all() and frame["admin1"].notna().any()
    pd.testing.assert_frame_equal(frame.drop(columns="admin1"), without.drop(columns="admin1"))
    assert truth == truth_without


def test_scale_three_widens_countries_and_substances():
    frame, truth = generate_world(seed=7, scale=3)
    small = generate_world(seed=7)[1]
    assert truth["countries"] >= 120 > small["countries"]
    assert truth["substances"] >= 100 > small["substances"]
    assert len(frame) > 3 * 100_000
    assert set(frame["drug"].dropna()) <= set(REPORTED_NAMES)


@pytest.mark.parametrize("seed, scale", [(-1, 1.0), (7, 0), (7, -2.0), ("7", 1.0), (7, 500)])
def test_generate_world_rejects_bad_seed_or_scale(seed, scale):
    with pytest.raises(NarcotrendError, match="seed|scale"):
        generate_world(seed=seed, scale=scale)


def test_demo_data_command_writes_the_world_into_the_given_folder(home):
    from typer.testing import CliRunner

    from serving.cli import app, register_commands

    register_commands()
    out = home / "world"
    result = CliRunner().invoke(app, ["demo-data", "--out", str(out), "--seed", "11"])
    assert result.exit_code == 0, result.output
    assert "planted" in result.output
    truth = json.loads((out / EVENTS_FILE).read_text())
    assert truth["seed"] == 11 and {e["type"] for e in truth["events"]} == {
        *EVENT_TYPES, "modus_operandi_shift"}
    assert np.isclose(truth["scale"], 1.0)


def test_concealment_shift_grows_from_small_to_large_and_the_distractor_keeps_the_mix(world):
    events, distractors = world[1]["events"], world[1]["distractors"]
    (shift,) = [e for e in events if e["type"] == "modus_operandi_shift"]
    # small before (USA opioids by post is ~10% in the world's own mix), large and 3x after
    before, after = shift["observed_share"]["before"], shift["observed_share"]["after"]
    assert before < 0.15 and after > 0.3 and after > 3 * before
    (distractor,) = [d for d in distractors if d["type"] == "completeness_change"]
    known = distractor["known_method_share"]
    assert known["after"] < known["before"] - 0.3
    assert distractor["geo"] != shift["geo"]


def test_a_partial_reporter_sends_a_fraction_of_its_reports_then_recovers(world, clean):
    _, truth = world
    (partial,) = [d for d in truth["distractors"] if d["type"] == "partial_reporting"]
    assert 0.1 <= partial["share"] <= 0.25 and partial["geo"] not in {
        e.get("geo") for e in truth["events"]}
    counts = _monthly(clean[clean["iso3"] == partial["geo"]])
    months = list(MONTHS)
    i, j = months.index(partial["start"]), months.index(partial["end"])
    before, during = counts.iloc[i - 12:i].mean(), counts.iloc[i:j + 1].mean()
    after = counts.iloc[j + 1:j + 7].mean()
    assert during < 0.4 * before and after > 0.6 * before
