"""Incidents, the one summary line, evidence in words and the score that follows severity."""

from __future__ import annotations

from alert_builders import hkg_event, surge

from models.alerts import ranked_score
from serving.alerting.evidence import describe
from serving.alerting.incidents import group_incidents, scoped_incidents
from serving.alerting.picture import picture_counts, picture_line


def test_one_event_at_three_levels_and_two_drug_levels_is_one_incident():
    incidents = group_incidents(hkg_event())
    assert len(incidents) == 1
    incident = incidents[0]
    assert (incident.lead["geo"], incident.lead["drug"]) == ("Asia", "cocaine")
    assert len(incident.alerts) == 6
    assert incident.severity == "critical"  # its most severe member's
    assert incident.score == incident.lead["score"]  # its lead's


def test_other_periods_types_and_route_shifts_stay_apart():
    alerts = [*hkg_event(), surge("country", period="2024-06", geo="JPN"),
              {**surge("region"), "type": "decline", "fingerprint": "d", "id": "d"}]
    assert len(group_incidents(alerts)) == 3


def test_alerts_with_a_group_id_make_one_incident_per_group_wherever_they_are():
    alerts = [surge("country", geo="ESP", region="Europe", group_id="g1", fingerprint="a", id="a"),
              surge("country", geo="COL", region="Americas", group_id="g1", fingerprint="b",
                    id="b"),
              surge("country", geo="PER", region="Americas", group_id="g2", fingerprint="c",
                    id="c")]
    incidents = group_incidents(alerts)
    assert sorted(len(i.alerts) for i in incidents) == [1, 2]


def test_an_incident_is_as_active_as_its_most_active_member():
    alerts = hkg_event()
    for alert in alerts:
        alert["status"] = "acknowledged"
    alerts[4]["status"] = "open"
    assert group_incidents(alerts)[0].status == "open"
    alerts[4]["status"] = "silenced"
    assert group_incidents(alerts)[0].status == "acknowledged"


def test_a_scoped_key_sees_an_incident_with_its_in_scope_members_only():
    alerts = [*hkg_event(), surge("country", geo="ESP", region="Europe", period="2024-09")]
    world = group_incidents([surge("world"), *alerts])
    europe = scoped_incidents(world, ["Europe"])
    assert [a["geo"] for i in europe for a in i.alerts] == ["ESP"]
    asia = scoped_incidents(world, ["Asia"])
    assert {a["region"] for i in asia for a in i.alerts} == {"Asia"}
    whole = next(i for i in world if i.lead["geo"] == "World")
    assert asia[0].id == whole.id  # the same incident, so it can be acknowledged by its id


def test_incidents_rank_by_severity_then_score():
    alerts = [surge("country", geo="ESP", region="Europe", severity="medium", strength=20,
                    fingerprint="m", id="m"),
              surge("country", geo="FRA", region="Europe", severity="high", strength=1,
                    fingerprint="h1", id="h1", period="2024-05"),
              surge("country", geo="DEU", region="Europe", severity="high", strength=9,
                    fingerprint="h2", id="h2", period="2024-06")]
    assert [i.lead["id"] for i in group_incidents(alerts)] == ["h2", "h1", "m"]


def test_the_summary_line_counts_active_alerts_incidents_and_silenced_apart():
    alerts = hkg_event()
    alerts[0]["status"] = "acknowledged"
    alerts.append({**surge("country", geo="ESP", region="Europe"), "status": "silenced"})
    counts = picture_counts(alerts)
    assert counts == {"active": 6, "incidents": 1, "by_type": {"surge": 6}, "silenced": 1}
    assert picture_line(counts) == "6 active alerts in 1 incident (6 surge); 1 silenced"


def test_score_follows_severity_inside_a_type_whatever_the_strength():
    weak_critical = ranked_score("critical", 0.1)
    strong_high = ranked_score("high", 1e6)
    assert weak_critical > strong_high
    assert ranked_score("high", 5) > ranked_score("high", 2) > ranked_score("medium", 1e9)
    assert ranked_score("low", float("inf")) < 1.0


def test_evidence_names_statistics_in_plain_words_with_the_raw_value_beside():
    said = describe(surge("country", geo="HKG"))
    assert said["summary"] == ("Seizures of cocaine in Hong Kong rose 176% from 2024-04: "
                               "844 seizures in 9 months against 306 seizures expected.")
    figures = {f["name"]: f for f in said["figures"]}
    assert figures["chance of a false alarm (q-value)"]["value"] == "below 0.1% (q = 1e-06)"
    assert figures["distance from the expected level (z-score)"]["raw"] == 7.94
    assert figures["observed"]["value"] == "844 seizures"


def test_evidence_of_an_unknown_shape_is_shown_as_stored():
    alert = {"type": "linked_cases", "geo": "ESP", "period": "2024-05", "detected_at": "2024-06",
             "evidence": {"summary": "12 seizures share a lab signature", "countries": 3}}
    said = describe(alert)
    assert said["summary"] == "12 seizures share a lab signature"
    assert said["figures"] == [{"name": "countries", "value": "3", "unit": "", "raw": 3}]
