"""Report pieces on small frames with known answers: periods, places and scope, linked cases
under need-to-know, the route-flow map's centroids, the dissemination schedule."""

from __future__ import annotations

from types import SimpleNamespace

import pandas as pd
import pytest

from core.errors import NarcotrendError
from serving.reports.charts import centroids, flow_map
from serving.reports.dissemination import due_period, recipients_of, report_places
from serving.reports.inputs import parse_period, resolve_place, window
from serving.reports.judgements import incidents_of, key_judgements
from serving.reports.linked import linked_cases
from serving.reports.sections import OutOfScope, check_scope, place_alerts


def test_periods_month_quarter_and_year_cover_their_months():
    month, quarter, year = parse_period("2024-12"), parse_period("2024-Q4"), parse_period("2024")
    assert (month.months, quarter.months, year.months) == (1, 3, 12)
    assert (quarter.start, quarter.end) == (pd.Timestamp("2024-10-01"),
                                            pd.Timestamp("2024-12-01"))
    assert quarter.previous().start == pd.Timestamp("2024-07-01")
    assert window(month, "tactical").start == pd.Timestamp("2024-10-01")  # the last 3 months
    assert window(year, "tactical") == year


@pytest.mark.parametrize("text", ["2024-13", "2024-Q5", "24", "2024-12-01", "Q4"])
def test_malformed_period_is_one_line_error(text):
    with pytest.raises(NarcotrendError, match="is not a month"):
        parse_period(text)


def test_europe_scope_sees_spain_and_not_colombia():
    check_scope(resolve_place("ESP"), ["Europe"])
    with pytest.raises(OutOfScope):
        check_scope(resolve_place("COL"), ["Europe"])
    europe = resolve_place("Europe")
    assert europe.level == "region" and "ESP" in europe.countries and "COL" not in europe.countries


def test_place_alerts_keep_the_window_and_the_place_countries_only():
    alerts = [{"id": "a", "geo": "ESP", "geo_level": "country", "region": "Europe",
               "period": "2024-11", "type": "surge"},
              {"id": "b", "geo": "ESP", "geo_level": "country", "region": "Europe",
               "period": "2023-11", "type": "surge"},
              {"id": "c", "geo": "COL", "geo_level": "country", "region": "Americas",
               "period": "2024-11", "type": "surge"}]
    chosen = place_alerts(alerts, resolve_place("ESP"), parse_period("2024-Q4"))
    assert [a["id"] for a in chosen] == ["a"]


def case_group_frames() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """One group seized in Spain, the Netherlands and Colombia; Spain's two records."""
    groups = pd.DataFrame([{"group_id": "G1", "drug": "cocaine", "countries": ["ESP", "NLD", "COL"],
                            "first_date": "2024-10-03", "last_date": "2024-11-20",
                            "n_seizures": 5, "kg": 900.0, "signature": {"logo": "scorpion"},
                            "strength": 0.9}])
    links = pd.DataFrame({"seizure_id": ["S1", "S2", "S3", "S4", "S5"], "group_id": "G1",
                          "strength": 0.9})
    records = pd.DataFrame({"seizure_id": ["S1", "S2"], "country": "ESP", "kg": [100.0, 120.0],
                            "date": pd.to_datetime(["2024-10-03", "2024-11-20"])})
    return groups, links, records


def test_europe_reader_gets_non_european_countries_of_a_case_group_without_their_records():
    groups, links, records = case_group_frames()
    section = linked_cases(groups, links, records, resolve_place("ESP"),
                           parse_period("2024-Q4"), ["Europe"])
    (row,) = section["rows"]
    assert row["outside_scope"] == ["Colombia"]
    assert "Colombia (outside your scope)" in row["countries"]
    assert [s["seizure_id"] for s in row["own"]] == ["S1", "S2"]
    assert row["n_seizures"] == 5 and row["kg"] == 220.0  # the group's kg only unscoped
    assert row["signature"] == "logo: scorpion"


def test_unscoped_reader_gets_the_group_total_and_no_outside_note():
    groups, links, records = case_group_frames()
    (row,) = linked_cases(groups, links, records, resolve_place("ESP"),
                          parse_period("2024-Q4"), None)["rows"]
    assert row["outside_scope"] == [] and row["kg"] == 900.0


def test_case_group_outside_the_period_or_of_one_country_is_not_shown():
    groups, links, records = case_group_frames()
    earlier = linked_cases(groups, links, records, resolve_place("ESP"),
                           parse_period("2023"), None)
    single = linked_cases(groups.assign(countries=[["ESP"]]), links, records,
                          resolve_place("ESP"), parse_period("2024-Q4"), None)
    assert earlier["rows"] == [] and single["rows"] == []


def test_centroids_lie_inside_their_countries_and_flows_become_map_lines():
    lon, lat = centroids()["ESP"]
    assert -10 < lon < 4 and 36 < lat < 44
    lon, lat = centroids()["COL"]
    assert -80 < lon < -66 and -5 < lat < 13
    spec = flow_map(pd.DataFrame([{"from": "COL", "to": "ESP", "kg": 10.0}]), ("ESP",), "t")
    assert spec["layer"][1]["data"] == {"name": "flows"}  # one named dataset, as every spec
    lines = spec["datasets"]["flows"]
    assert lines[0]["from"] == "COL" and lines[0]["lat2"] == pytest.approx(centroids()["ESP"][1])


def test_schedules_are_due_for_the_last_month_and_the_last_complete_quarter():
    assert due_period("tactical-monthly", pd.Timestamp("2024-12-01")) == "2024-12"
    assert due_period("strategic-quarterly", pd.Timestamp("2024-12-01")) == "2024-Q4"
    assert due_period("strategic-quarterly", pd.Timestamp("2025-02-01")) == "2024-Q4"


def test_region_report_goes_to_subscribers_of_the_region_and_of_its_countries():
    spain, europe, colombia = (SimpleNamespace(geos=[g]) for g in ("ESP", "Europe", "COL"))
    assert report_places(["ESP"]) == ["ESP", "Europe"]
    assert recipients_of("Europe", [spain, europe, colombia]) == [spain, europe]
    assert recipients_of("ESP", [spain, europe, colombia]) == [spain]


def seizure_rows() -> dict:
    return {"rows": [{"drug": "cocaine", "seizures": 300.0, "seizures_change": 0.6, "kg": 900.0,
                      "forecast": {"months": 3, "mean": 100.0, "lo_80": 90.0, "hi_80": 110.0,
                                   "until": "2025-03"}},
                     {"drug": "cannabis", "seizures": 200.0, "seizures_change": -0.05,
                      "kg": 50.0}], "incomplete": [], "top": ["cocaine", "cannabis"]}


def test_key_judgements_lead_with_the_alerts_and_say_what_to_expect():
    alert = {"id": "a1", "type": "surge", "geo": "ESP", "geo_level": "country",
             "region": "Europe", "drug_level": "group", "drug": "cocaine", "metric": "seizures",
             "period": "2024-11", "severity": "high", "score": 4.0, "fingerprint": "f1",
             "evidence": {"summary": "+80% over 6 months"}}
    judgements = key_judgements(incidents=incidents_of([alert]), seizures=seizure_rows(),
                                linked={"rows": []}, place="Spain", period="2024-Q4",
                                link=lambda i: f"https://dash/?alert={i}")
    assert 3 <= len(judgements) <= 6
    first = judgements[0]
    assert first.source == "alert" and "cocaine" in first.text and "Spain" in first.text
    assert first.confidence == "high" and first.evidence == "https://dash/?alert=a1"
    expect = next(j for j in judgements if j.source == "forecast")
    assert "about 100 cocaine seizures a month" in expect.text and expect.confidence == "high"
    assert any("rose 60%" in j.text for j in judgements if j.source == "series")


def test_without_alerts_the_judgements_say_so_and_name_the_main_drug():
    rows = seizure_rows()
    rows["rows"] = [dict(r, seizures_change=0.01, forecast=None) for r in rows["rows"]]
    judgements = key_judgements(incidents=[], seizures=rows, linked={"rows": []},
                                place="Spain", period="2024-Q4", link=str)
    texts = [j.text for j in judgements]
    assert len(judgements) == 3
    assert any(t.startswith("Cocaine remains the most seized") for t in texts)
    assert any(t.startswith("No alert was raised for Spain in 2024-Q4") for t in texts)


def test_small_world_report_renders_every_section_and_escapes_alert_text():
    from api_home import EVIL, make_forecasts, make_routes, make_series

    from serving.reports.inputs import RECORD_COLUMNS, ReportInputs
    from serving.reports.render import build_report, render_html

    series = make_series(36, start="2022-01-01")
    alert = {"id": "a1", "type": "surge", "geo": "ESP", "geo_level": "country",
             "region": "Europe", "drug_level": "group", "drug": "cocaine", "metric": "kg",
             "period": "2024-11", "severity": "high", "score": 3.0, "fingerprint": "f",
             "status": "open", "evidence": {"summary": EVIL}}
    inputs = ReportInputs(series=series[series["geo"] == "ESP"], routes=make_routes(
        36, start="2022-01-01"), forecasts=make_forecasts(series),
        records=pd.DataFrame(columns=RECORD_COLUMNS), quarantine=pd.DataFrame(),
        alerts=[alert], data_end=pd.Timestamp("2024-12-01"))
    report = build_report("ESP", "2024-Q4", "strategic", inputs, regions=["Europe"])
    html = render_html(report)
    assert EVIL not in html and "&lt;img src=x" in html
    assert report.judgements[0].source == "alert"
    assert [c.kind for c in report.charts].count("series") == 2 and report.charts[-1].kind == "map"
    assert report.routes["inbound"][0]["to"] == "Spain"
    for anchor in ("header", "judgements", "seizures", "routes", "sightings", "linked",
                   "coverage"):
        assert f'<section id="{anchor}"' in html
