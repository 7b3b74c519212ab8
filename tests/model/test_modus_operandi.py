"""The modus operandi detector on hand-made route flows with a known answer: a change of method
within a country is found; the same aggregate change made by a second country joining, or a
change of how often the method is filled in, is not."""

from __future__ import annotations

import pandas as pd
import pytest

from models.alerts import make_alert
from models.modus_operandi import scan_modus_operandi
from models.route_shift import Windows
from training.detection_config import DetectionConfig
from training.detection_engine import detect_frame
from training.detection_eval import Geography, score_alerts

AS_OF = pd.Timestamp("2021-06-01")
WINDOWS = Windows.ending(AS_OF, 6, 24)


def flows(country: str, per_month: dict[str, tuple[int, int]], *, region: str = "Europe",
          start: str = "2019-06-01", end: str = "2021-06-01",
          onset: str = "2021-01-01") -> pd.DataFrame:
    """Monthly cocaine flows of one seizing country: method -> (seizures a month before the
    onset, seizures a month from it); a method of None is a record without concealment text."""
    rows = []
    for ds in pd.date_range(start, end, freq="MS"):
        for method, (before, after) in per_month.items():
            n = after if ds >= pd.Timestamp(onset) else before
            if n:
                rows.append({"ds": ds, "drug_group": "cocaine", "substance": "cocaine "
                             "hydrochloride", "country": country, "region": region,
                             "concealment_method": method, "seizures": n, "kg": float(n)})
    return pd.DataFrame(rows)


def found(frame: pd.DataFrame, geo: str) -> pd.DataFrame:
    tests = scan_modus_operandi(frame, WINDOWS)
    return tests[(tests["geo"] == geo) & (tests["drug"] == "cocaine")]


def test_method_growing_within_a_country_is_found_and_named():
    frame = flows("ESP", {"postal_parcel": (2, 12), "luggage": (10, 4), "container_cargo": (10, 6),
                          None: (5, 5)})
    (row,) = found(frame, "ESP").itertuples()
    assert row.p_value < 1e-6
    assert row.gaining == ["postal_parcel"]
    assert "luggage" in row.losing
    assert row.geo_level == "country" and row.region == "Europe"
    assert row.shares["postal_parcel"][0] == pytest.approx(2 / 22)
    assert row.shares["postal_parcel"][1] == pytest.approx(12 / 22)
    assert row.known_method_share == {"baseline": pytest.approx(22 / 27, abs=1e-4),
                                      "recent": pytest.approx(22 / 27, abs=1e-4)}
    (region,) = found(frame, "Europe").itertuples()
    assert region.gaining == ["postal_parcel"]


def test_second_country_joining_with_another_method_is_not_a_shift():
    # the region's postal share goes from 2/22 to 14/44 because PRT starts reporting
    steady = flows("ESP", {"postal_parcel": (2, 2), "luggage": (10, 10),
                           "container_cargo": (10, 10)})
    joining = flows("PRT", {"postal_parcel": (0, 12), "luggage": (0, 10)}, start="2021-01-01")
    region = found(pd.concat([steady, joining], ignore_index=True), "Europe")
    pooled_only = region.iloc[0]
    assert pooled_only["p_value"] > 0.05
    assert pooled_only["gaining"] == []
    assert found(joining, "PRT").empty  # no baseline: nothing to compare


def test_change_of_known_share_alone_raises_nothing():
    frame = flows("NLD", {"container_cargo": (12, 4), "vessel": (6, 2), None: (6, 30)})
    (row,) = found(frame, "NLD").itertuples()
    assert row.known_method_share["baseline"] == pytest.approx(0.75)
    assert row.known_method_share["recent"] == pytest.approx(6 / 36, abs=1e-4)
    assert row.p_value > 0.05 and row.gaining == [] and row.losing == []


def test_too_few_known_methods_are_not_tested():
    frame = flows("BEL", {"postal_parcel": (0, 3), "luggage": (1, 1), None: (40, 40)})
    assert found(frame, "BEL").empty


def test_detect_frame_raises_a_modus_operandi_alert_with_the_concealment_route():
    frame = flows("ESP", {"postal_parcel": (2, 12), "luggage": (10, 4), "container_cargo": (10, 6),
                          None: (5, 5)})
    months = frame.groupby("ds", as_index=False)["seizures"].sum()
    series = pd.DataFrame({"unique_id": "ESP/cocaine/seizures", "ds": months["ds"],
                           "y": months["seizures"].astype(float), "geo_level": "country",
                           "geo": "ESP", "region": "Europe", "drug_level": "group",
                           "drug": "cocaine", "metric": "seizures"})
    alerts = [a for a in detect_frame(series, frame, None, config=DetectionConfig())
              if a["type"] == "modus_operandi_shift"]
    spain = next(a for a in alerts if a["geo"] == "ESP" and a["drug"] == "cocaine")
    assert spain["route"] == {"attribute": "concealment", "gaining": ["postal_parcel"],
                              "losing": spain["route"]["losing"], "destination": None}
    assert "luggage" in spain["route"]["losing"]
    assert spain["geo_level"] == "country" and spain["region"] == "Europe"
    assert spain["evidence"]["known_method_share"]["baseline"] == pytest.approx(22 / 27, abs=1e-3)
    assert "postal_parcel" in spain["evidence"]["summary"]
    assert spain["evidence"]["known_share_changed"] is False
    assert spain["period"] == "2021-01"


def mo_alert(geo: str, drug: str, detected_at: str, gaining: list[str]) -> dict:
    keys = {"geo_level": "country", "geo": geo, "region": "Europe", "drug_level": "group",
            "drug": drug, "metric": "seizures"}
    return make_alert(type_="modus_operandi_shift", keys=keys, period=detected_at,
                      detected_at=detected_at, severity="low", score=1.0, evidence={},
                      route={"attribute": "concealment", "gaining": gaining, "losing": [],
                             "destination": None})


def test_scoring_matches_the_planted_method_and_blames_the_completeness_distractor():
    geo = Geography({"ESP": {"Southern Europe", "Europe", "World"},
                     "ITA": {"Southern Europe", "Europe", "World"}})
    events = [{"id": "M01", "type": "modus_operandi_shift", "geo": "ESP", "drug": "cocaine",
               "metric": "seizures", "gaining": ["body_carrier"], "onset": "2022-03"}]
    distractors = [{"type": "completeness_change", "geo": "ITA", "drug": "cocaine",
                    "onset": "2022-02"}]
    alerts = [mo_alert("ESP", "cocaine", "2022-05", ["body_carrier"]),
              mo_alert("ESP", "cocaine", "2022-06", ["postal_parcel"]),  # another method
              mo_alert("ITA", "cocaine", "2022-09", ["luggage"])]
    scores = score_alerts(alerts, events, distractors, geo, {})
    assert scores["per_event"][0]["delay"] == 2
    assert scores["alert_keys"] == 2 and scores["matched_keys"] == 1
    assert scores["distractor_alerts"] == 1
    assert scores["distractor_alert_keys"] == ["modus_operandi_shift/ITA/cocaine/concealment"]
