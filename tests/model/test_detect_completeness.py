"""Detection with reporting completeness, on frames with a known answer: a country that sends a
fraction of its usual reports raises no decline (nor its region), a real fall still does."""

from __future__ import annotations

import numpy as np
import pandas as pd
from detect_frames import series_frame

from training.detection_engine import detect_frame


def world(esp: list[float]) -> pd.DataFrame:
    """ESP (the country in question) and its region Europe, FRA steady beside it."""
    rng = np.random.default_rng(8)
    fra = rng.poisson(20, len(esp)).astype(float)
    frame = series_frame({"ESP": esp, "FRA": list(fra)})
    region = series_frame({"Europe": list(np.asarray(esp) + fra)}, geo_level="region")
    return pd.concat([frame, region], ignore_index=True)


def collapse() -> list[float]:
    rng = np.random.default_rng(9)
    return list(np.concatenate([rng.poisson(80, 30), rng.poisson(6, 6)]).astype(float))


def test_a_collapse_that_is_partial_reporting_raises_no_decline():
    frame = world(collapse())
    months = pd.date_range("2019-01-01", periods=36, freq="MS")
    low = pd.DataFrame({"country": "ESP", "ds": months[30:]})
    alerts = detect_frame(frame, None, None, low_reporting=low)
    assert not [a for a in alerts if a["type"] == "decline"]


def test_the_same_collapse_with_full_reporting_is_a_decline_of_country_and_region():
    alerts = detect_frame(world(collapse()), None, None)
    declines = {a["geo"] for a in alerts if a["type"] == "decline"}
    assert declines == {"ESP", "Europe"}


def region_of(esp: list[float], fra: list[float]) -> pd.DataFrame:
    """ESP and FRA, and Europe as exactly their sum."""
    frame = series_frame({"ESP": esp, "FRA": fra})
    region = series_frame({"Europe": list(np.asarray(esp) + np.asarray(fra))},
                          geo_level="region")
    return pd.concat([frame, region], ignore_index=True)


def declines(alerts: list[dict]) -> set[str]:
    return {a["geo"] for a in alerts if a["type"] == "decline"}


def test_a_region_decline_a_small_low_reporter_explains_is_no_decline():
    # ESP, 9% of Europe (below the masking share), sends nothing for 6 months while FRA eases
    # to 0.7 (not a decline alone): Europe reads 0.64, a decline only with ESP in it
    rng = np.random.default_rng(11)
    fra = np.concatenate([rng.poisson(400, 30), rng.poisson(280, 6)]).astype(float)
    esp = np.concatenate([rng.poisson(40, 30), np.zeros(6)])
    months = pd.date_range("2019-01-01", periods=36, freq="MS")
    low = pd.DataFrame({"country": "ESP", "ds": months[30:]})
    assert declines(detect_frame(region_of(list(esp), list(fra)), None, None)) == {"Europe",
                                                                                   "ESP"}
    assert declines(detect_frame(region_of(list(esp), list(fra)), None, None,
                                 low_reporting=low)) == set()


def test_a_region_decline_that_holds_without_its_low_reporter_is_still_a_decline():
    rng = np.random.default_rng(12)
    fra = np.concatenate([rng.poisson(200, 30), rng.poisson(60, 6)]).astype(float)
    esp = np.concatenate([rng.poisson(50, 30), rng.poisson(5, 6)]).astype(float)
    months = pd.date_range("2019-01-01", periods=36, freq="MS")
    low = pd.DataFrame({"country": "ESP", "ds": months[30:]})
    found = detect_frame(region_of(list(esp), list(fra)), None, None, low_reporting=low)
    assert declines(found) == {"Europe", "FRA"}
    (europe,) = [a for a in found if a["geo"] == "Europe" and a["type"] == "decline"]
    assert europe["evidence"]["without"] == ["ESP"]
    assert "read without ESP" in europe["evidence"]["summary"]


def test_an_aggregate_takes_out_a_member_with_two_low_periods_in_its_lookback():
    from models.panel import exclude_low_reporters, to_matrix

    frame = region_of([10.0] * 6, [30.0] * 6)
    matrix = to_matrix(frame)
    hidden = np.full(matrix.values.shape, np.nan)
    esp = int(np.flatnonzero(matrix.keys["geo"] == "ESP")[0])
    europe = int(np.flatnonzero(matrix.keys["geo"] == "Europe")[0])
    hidden[esp, 4] = 10.0
    once, excluded = exclude_low_reporters(matrix, hidden)
    assert not excluded.any() and once.values[europe].tolist() == [40.0] * 6
    hidden[esp, 5] = 10.0
    out, excluded = exclude_low_reporters(matrix, hidden)
    assert out.values[europe].tolist() == [30.0] * 6  # every period, without ESP
    assert out.keys.loc[europe, "without"] == "ESP" and once.keys is matrix.keys
    assert excluded.tolist() == [True, False]  # country rows in order: ESP, FRA
