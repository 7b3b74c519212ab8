"""Reporting completeness on records with a known answer: full, partial, a gap, and a real fall
in one drug while the others hold (that one is still a decline to detect)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.completeness import low_reporting_periods, reporting_completeness

DRUGS = ("cannabis", "cocaine", "opioids", "amphetamine-type stimulants")


def records(country: str, per_month: dict[str, list[int]]) -> pd.DataFrame:
    """One record per seizure on the 10th of each month from 2020-01, `per_month[drug][t]`."""
    rows = []
    for drug, counts in per_month.items():
        for t, n in enumerate(counts):
            day = pd.Timestamp("2020-01-10") + pd.DateOffset(months=t)
            rows += [{"date": day, "country": country, "drug_group": drug}] * n
    return pd.DataFrame(rows)


def at(table: pd.DataFrame, month: str) -> float:
    return float(table.loc[table["ds"] == pd.Timestamp(month), "completeness"].iloc[0])


def test_full_reporting_is_complete():
    table = reporting_completeness(records("ESP", {d: [20] * 30 for d in DRUGS}))
    assert at(table, "2021-06") == pytest.approx(1.0)
    assert not table["low"].any()


def test_a_fraction_of_the_usual_reports_is_low_and_its_recovery_is_not():
    counts = [40] * 24 + [4] * 6 + [40] * 6
    table = reporting_completeness(records("RUS", {d: counts for d in DRUGS}))
    assert at(table, "2022-02") == pytest.approx(0.1)
    assert at(table, "2022-03") == pytest.approx(0.1)  # a partial spell never becomes the norm
    assert at(table, "2022-08") == pytest.approx(1.0)
    low = low_reporting_periods(table)
    assert low["ds"].dt.strftime("%Y-%m").tolist() == [f"2022-{m:02d}" for m in range(1, 7)]
    assert set(low["country"]) == {"RUS"}


def test_a_month_without_any_record_is_a_gap():
    counts = [30] * 20 + [0] * 2 + [30] * 4
    table = reporting_completeness(records("PER", {d: counts for d in DRUGS}))
    assert at(table, "2021-09") == 0.0 and at(table, "2021-10") == 0.0
    assert table.loc[table["completeness"] == 0.0, "low"].all()


def test_a_real_fall_in_one_drug_while_the_others_hold_stays_complete():
    per_month = {d: [25] * 30 for d in DRUGS}
    per_month["opioids"] = [25] * 24 + [3] * 6  # a real decline of one drug
    table = reporting_completeness(records("AFG", per_month))
    assert at(table, "2022-03") == pytest.approx(1.0)
    assert not table["low"].any()


def test_before_any_history_completeness_is_unknown():
    table = reporting_completeness(records("NLD", {d: [10] * 3 for d in DRUGS}))
    assert np.isnan(at(table, "2020-01")) and not table["low"].any()


def test_training_reads_low_reporting_months_of_a_country_as_unknown():
    from features.completeness import mask_low_reporting_rows

    counts = [40] * 24 + [4] * 6
    table = reporting_completeness(records("RUS", {d: counts for d in DRUGS}))
    ds = pd.date_range("2020-01-01", periods=30, freq="MS")
    series = pd.concat([pd.DataFrame({"unique_id": f"{geo}/opioids/seizures", "ds": ds,
                                      "y": 40.0, "geo_level": level, "geo": geo})
                        for geo, level in (("RUS", "country"), ("Europe", "region"))])
    masked = mask_low_reporting_rows(series, table)
    rus = masked[masked["geo"] == "RUS"]
    assert rus["y"].isna().tolist() == [False] * 24 + [True] * 6
    assert masked.loc[masked["geo"] == "Europe", "y"].notna().all()


def test_a_series_seized_only_in_low_months_keeps_them_and_one_seized_elsewhere_does_not():
    from features.completeness import mask_low_reporting_rows

    counts = [40] * 24 + [4] * 6
    table = reporting_completeness(records("RUS", {d: counts for d in DRUGS}))
    ds = pd.date_range("2020-01-01", periods=30, freq="MS")
    province = [0.0] * 26 + [0.5, 0.0, 0.0, 0.0]  # its one seizure in a low month
    country = [3.0] * 24 + [0.5] * 6
    series = pd.concat([
        pd.DataFrame({"unique_id": "RUS:TVER/heroin/kg", "ds": ds, "y": province,
                      "geo_level": "admin1", "geo": "RUS:TVER"}),
        pd.DataFrame({"unique_id": "RUS/heroin/kg", "ds": ds, "y": country,
                      "geo_level": "country", "geo": "RUS"})])
    masked = mask_low_reporting_rows(series, table)
    tver = masked[masked["geo"] == "RUS:TVER"]
    # masked, the province would never have seized: its low months stay, zeros too
    assert tver["y"].tolist() == province
    assert masked.loc[masked["geo"] == "RUS", "y"].isna().tolist() == [False] * 24 + [True] * 6


def by_agency(country: str, per_agency: dict[str, list[int]]) -> pd.DataFrame:
    """Records of `records` spread evenly over DRUGS, each naming its reporting agency
    (`source`): `per_agency[agency][t]` records in month t."""
    frames = []
    for agency, counts in per_agency.items():
        per_drug = {d: [n // len(DRUGS) for n in counts] for d in DRUGS}
        frames.append(records(country, per_drug).assign(source=agency))
    return pd.concat(frames, ignore_index=True)


def test_an_agency_that_stops_sending_is_low_even_when_the_other_sends_more():
    customs = [60] * 24 + [0] * 6 + [60] * 4
    police = [60] * 24 + [80] * 6 + [60] * 4  # holds the totals up to 2/3 of the usual
    table = reporting_completeness(by_agency("ESP", {"Customs": customs, "Police": police}))
    spell = table[table["ds"].between("2022-01-01", "2022-06-01")]
    assert spell["low"].all() and (spell["stopped_sources"] == "Customs").all()
    assert at(table, "2022-03") == pytest.approx(0.5)  # Customs' half of the usual is missing
    assert spell["records"].tolist() == [80.0] * 6  # totals alone: 2/3, not low by the drugs
    assert not table.loc[table["ds"] < pd.Timestamp("2022-01-01"), "low"].any()
    assert not table.loc[table["ds"] > pd.Timestamp("2022-06-01"), "low"].any()


def test_the_source_mix_says_nothing_with_one_source():
    counts = [60] * 24 + [40] * 6
    table = reporting_completeness(by_agency("ESP", {"UNODC IDS": counts}))
    assert not table["low"].any() and (table["stopped_sources"] == "").all()
    assert at(table, "2022-01") == pytest.approx(40 / 60)  # the drugs' share: a fall, read


def test_a_small_reporter_of_two_drug_groups_is_low_from_the_first_month_of_a_spell():
    # 14 records a month in two groups (each too few to test alone), then a fifth of them
    per_month = {"cannabis": [8] * 24 + [2] * 6 + [8] * 3,
                 "opioids": [6] * 24 + [1] * 6 + [6] * 3}
    table = reporting_completeness(records("EGY", per_month))
    low = low_reporting_periods(table)["ds"].dt.strftime("%Y-%m").tolist()
    assert low == [f"2022-{m:02d}" for m in range(1, 7)]


def test_a_small_reporters_real_fall_in_its_main_drug_is_not_low():
    # cannabis collapses, opioids hold (a little down): the drugs' median and the total are
    # low, the drugs other than cannabis are not
    per_month = {"cannabis": [10] * 24 + [0] * 6, "opioids": [4] * 24 + [3] * 6}
    table = reporting_completeness(records("EGY", per_month))
    assert at(table, "2022-02") < 0.5 and not table["low"].any()
