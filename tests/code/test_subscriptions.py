"""Subscriptions and silences: validation, matching rules, the silence lifecycle."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from core.errors import NarcotrendError
from serving.alerting.silences import apply_silences, create_silence, list_silences
from serving.alerting.subscriptions import (
    add_subscription,
    list_subscriptions,
    normalise_geo,
    remove_subscription,
    subscription_matches,
)
from serving.db import Alert, Subscription, session_scope, utcnow


def alert_dict(**overrides: Any) -> dict[str, Any]:
    base = {"id": "a1", "type": "surge", "geo_level": "country", "geo": "ESP",
            "region": "Europe", "drug_level": "group", "drug": "cocaine", "metric": "kg",
            "period": "2024-05", "detected_at": "2024-05", "severity": "medium", "score": 2.0,
            "evidence": {}, "status": "open", "fingerprint": "fp-esp"}
    return base | overrides


def sub(geos: list[str] | None = None, drugs: list[str] | None = None,
        min_severity: str = "low") -> Subscription:
    return Subscription(email="p@example.org", geos=geos or [], drugs=drugs or [],
                        min_severity=min_severity)


def test_add_subscription_normalises_address_and_geographies(db_url):
    with session_scope(db_url) as session:
        created = add_subscription(session, " Planner@Example.ORG ",
                                   ["Spain", "western africa", "de"], ["Cocaine"], "HIGH")
        assert created.email == "Planner@example.org"
        assert created.geos == ["ESP", "Western Africa", "DEU"]
        assert created.drugs == ["cocaine"]
        spelled = add_subscription(session, "p@example.org", [], ["Ecstasy", " crack  Cocaine"])
        assert spelled.drugs == ["MDMA", "crack cocaine"]
        with pytest.raises(NarcotrendError, match="unknown drug 'kryptonite'"):
            add_subscription(session, "p@example.org", [], ["kryptonite"])
        # a name the taxonomy leaves unclassified but the built series have is accepted
        unclassified = add_subscription(session, "p@example.org", [], ["Kitil"],
                                        series_drugs=["kitil", "cocaine"])
        assert unclassified.drugs == ["kitil"]
        assert created.min_severity == "high"


def test_add_subscription_refuses_header_injection_in_address(db_url):
    with session_scope(db_url) as session, pytest.raises(NarcotrendError, match="injection"):
        add_subscription(session, "a@b.com\r\nBcc: x@y.com")
    with session_scope(db_url) as session:
        assert list_subscriptions(session) == []


@pytest.mark.parametrize("email", ["not-an-address", "a@b", "a@@b.com", "a b@c.com"])
def test_add_subscription_refuses_invalid_address(db_url, email):
    with session_scope(db_url) as session, pytest.raises(NarcotrendError, match="email"):
        add_subscription(session, email)


def test_add_subscription_refuses_unknown_severity_and_geo(db_url):
    with session_scope(db_url) as session:
        with pytest.raises(NarcotrendError, match="min_severity 'urgent'.*low, medium"):
            add_subscription(session, "p@example.org", min_severity="urgent")
        with pytest.raises(NarcotrendError, match="geo 'Atlantis'"):
            add_subscription(session, "p@example.org", geos=["Atlantis"])


def test_identical_subscription_is_stored_once_and_remove_deletes_it(db_url):
    with session_scope(db_url) as session:
        first = add_subscription(session, "p@example.org", ["Europe"], owner_key_id="k1")
        again = add_subscription(session, "p@example.org", ["europe"], owner_key_id="k1")
        other = add_subscription(session, "q@example.org", owner_key_id="k2")
        assert again.id == first.id
        assert [s.id for s in list_subscriptions(session)] == [first.id, other.id]
        assert [s.id for s in list_subscriptions(session, owner_key_id="k2")] == [other.id]
        assert remove_subscription(session, first.id) is True
        assert remove_subscription(session, first.id) is False
        assert [s.id for s in list_subscriptions(session)] == [other.id]


def test_world_subscription_means_everywhere():
    assert normalise_geo("world") == "World"


def test_subscription_without_filters_matches_everything():
    assert subscription_matches(sub(), alert_dict(geo="NGA", region="Africa", drug="NPS"))


def test_region_subscription_covers_its_countries_only():
    europe = sub(geos=["Europe"])
    assert subscription_matches(europe, alert_dict())
    assert subscription_matches(europe, alert_dict(geo_level="subregion",
                                                   geo="Western Europe"))
    assert not subscription_matches(europe, alert_dict(geo="NGA", region="Africa"))


def test_subregion_subscription_covers_its_countries_by_un_subregion():
    west_africa = sub(geos=["Western Africa"])
    assert subscription_matches(west_africa, alert_dict(geo="NGA", region="Africa"))
    assert subscription_matches(west_africa, alert_dict(geo="GHA", region="Africa"))
    assert not subscription_matches(west_africa, alert_dict(geo="KEN", region="Africa"))


def test_country_and_division_subscriptions_cover_a_department_alert(db_url):
    department = alert_dict(geo_level="admin1", geo="COL:ANTIOQUIA", region="Americas")
    with session_scope(db_url) as session:
        stored = add_subscription(session, "p@example.org", geos=["Colombia:Antioquia"])
        assert stored.geos == ["COL:ANTIOQUIA"]
        assert subscription_matches(stored, department)
    assert subscription_matches(sub(geos=["COL"]), department)
    assert subscription_matches(sub(geos=["South America"]), department)
    assert not subscription_matches(sub(geos=["COL:CAUCA"]), department)
    assert not subscription_matches(sub(geos=["Europe"]), department)
    assert not subscription_matches(sub(geos=["COL:ANTIOQUIA"]),
                                    alert_dict(geo="COL", region="Americas"))


def test_country_subscription_gets_route_shifts_where_it_gains_share():
    route = {"attribute": "departure_country", "gaining": ["ECU"], "losing": ["BRA"],
             "destination": "Europe"}
    shift = alert_dict(type="route_shift", geo_level="region", geo="Europe", route=route)
    assert subscription_matches(sub(geos=["ECU"]), shift)
    assert not subscription_matches(sub(geos=["COL"]), shift)


def test_drug_filter_matches_group_or_substance_case_insensitively():
    assert subscription_matches(sub(drugs=["Cocaine"]), alert_dict())
    crack = alert_dict(drug_level="substance", drug="crack cocaine")
    assert subscription_matches(sub(drugs=["crack cocaine"]), crack)
    assert not subscription_matches(sub(drugs=["cannabis"]), crack)
    assert not subscription_matches(sub(drugs=["cocaine"]), crack, substance_groups={})
    assert subscription_matches(sub(drugs=["cocaine"]), crack,
                                substance_groups={"crack cocaine": "cocaine"})


def test_group_subscription_covers_its_substances_by_the_reviewed_taxonomy():
    herb = alert_dict(drug_level="substance", drug="cannabis herb")
    assert subscription_matches(sub(drugs=["cannabis"]), herb)
    assert not subscription_matches(sub(drugs=["cocaine"]), herb)


@pytest.mark.parametrize(("severity", "expected"),
                         [("low", False), ("medium", False), ("high", True), ("critical", True)])
def test_min_severity_filters_lower_alerts(severity, expected):
    assert subscription_matches(sub(min_severity="high"), alert_dict(severity=severity)) is expected


def _store_alert(session, **overrides: Any) -> Alert:
    data = alert_dict(**overrides)
    data.pop("id")
    row = Alert(first_detected_at=data["detected_at"], **data)
    session.add(row)
    session.flush()
    return row


def test_create_silence_refuses_no_matcher_past_expiry_and_unknown_type(db_url):
    later = utcnow() + timedelta(hours=1)
    with session_scope(db_url) as session:
        with pytest.raises(NarcotrendError, match="at least one matcher"):
            create_silence(session, expires_at=later)
        with pytest.raises(NarcotrendError, match="in the past"):
            create_silence(session, geo="ESP", expires_at=utcnow() - timedelta(minutes=1))
        with pytest.raises(NarcotrendError, match="type 'spike'"):
            create_silence(session, type="spike", expires_at=later)


def test_silence_mutes_matching_open_alerts_and_expiry_reopens_them(db_url):
    now = utcnow()
    with session_scope(db_url) as session:
        esp = _store_alert(session, geo="ESP", fingerprint="fp-esp")
        nga = _store_alert(session, geo="NGA", region="Africa", fingerprint="fp-nga")
        acked = _store_alert(session, geo="PRT", fingerprint="fp-prt", status="acknowledged")
        silence = create_silence(session, geo="Europe", drug="cocaine",
                                 expires_at=now + timedelta(hours=2), comment="known seizure")
        assert silence.geo == "Europe"
        assert apply_silences(session, now=now) == 1
        assert (esp.status, nga.status, acked.status) == ("silenced", "open", "acknowledged")
        assert apply_silences(session, now=now) == 0
        assert [s.id for s in list_silences(session, now=now)] == [silence.id]

        after_expiry = now + timedelta(hours=3)
        assert list_silences(session, now=after_expiry) == []
        assert apply_silences(session, now=after_expiry) == 1
        assert esp.status == "open"


def test_silence_by_type_leaves_other_types_open(db_url):
    now = utcnow()
    with session_scope(db_url) as session:
        surge = _store_alert(session, type="surge", fingerprint="fp-1")
        decline = _store_alert(session, type="decline", fingerprint="fp-2")
        create_silence(session, type="decline", expires_at=now + timedelta(hours=1))
        apply_silences(session, now=now)
        assert (surge.status, decline.status) == ("open", "silenced")
