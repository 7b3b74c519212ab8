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
