"""What the forecast route says beside the numbers: a series silent at the end, the
countries an aggregate's forecast assumes report, and a substance's share of its group."""

from __future__ import annotations

import numpy as np
import pandas as pd

from serving.api.auth import Principal
from serving.api.model_store import build_series_data
from serving.api.routers.forecasts import forecast_notes

EVERYONE = Principal(key_id="k", prefix="p", role="viewer", regions=None)


def series(uid: str, geo_level: str, geo: str, region: str, y: list[float]) -> pd.DataFrame:
    return pd.DataFrame({"unique_id": uid, "ds": pd.date_range("2015-01-01", periods=len(y),
                                                               freq="MS"), "y": y,
                         "geo_level": geo_level, "geo": geo, "region": region,
                         "drug_level": "group", "drug": "cocaine", "metric": "kg"})


def test_a_silent_country_and_the_aggregates_that_assume_it_reports_say_so():
    reported = [10.0] * 24
    silent = [400.0] * 15 + [np.nan] * 9  # Colombia, silent for the last nine months
    data = build_series_data(pd.concat([
        series("COL/cocaine/kg", "country", "COL", "Americas", silent),
        series("ESP/cocaine/kg", "country", "ESP", "Europe", reported),
        series("PER/cocaine/kg", "country", "PER", "Americas", reported),
        series("World/cocaine/kg", "world", "World", "World", [410.0] * 15 + [20.0] * 9),
        series("Americas/cocaine/kg", "region", "Americas", "Americas", [410.0] * 15 + [10.0] * 9),
        series("Europe/cocaine/kg", "region", "Europe", "Europe", reported)]))
    forecasts = {uid: {"model": "median", "points": [{"forecast": value}]} for uid, value in
                 {"COL/cocaine/kg": 400.0, "ESP/cocaine/kg": 10.0, "PER/cocaine/kg": 10.0,
                  "World/cocaine/kg": 420.0, "Americas/cocaine/kg": 410.0,
                  "Europe/cocaine/kg": 10.0}.items()}
    notes = lambda uid, who=EVERYONE: forecast_notes(data, forecasts, data.info[uid], who)  # noqa: E731

    assert data.info["COL/cocaine/kg"]["last_reported"] == "2016-03-01"
    assert data.info["COL/cocaine/kg"]["silent_periods"] == 9
    assert notes("COL/cocaine/kg") == [
        "not reported since 2016-03 (9 periods): the forecast is of the periods as if reported "
        "in full, not of a continued silence"]
    assert notes("ESP/cocaine/kg") == []
    world = notes("World/cocaine/kg")
    assert world == ["the sum of the forecasts of its 3 countries, each as if it reports in "
                     "full; silent for the last 3 periods or more: COL (since 2016-03)"]
    assert "COL" not in notes("Europe/cocaine/kg")[0]
    # a key that sees Europe only is not told of the Americas' countries through the world
    europe = Principal(key_id="e", prefix="e", role="viewer", regions=frozenset({"Europe"}))
    assert "COL" not in notes("World/cocaine/kg", europe)[0]


def test_a_substance_says_its_share_of_its_group_only_where_the_substances_add_up():
    frames = [series("ESP/cocaine/kg", "country", "ESP", "Europe", [10.0] * 24)]
    for drug in ("cocaine hydrochloride", "crack cocaine"):
        frames.append(series(f"ESP/{drug}/kg", "country", "ESP", "Europe", [5.0] * 24).assign(
            drug_level="substance", drug=drug))
    data = build_series_data(pd.concat(frames))

    def notes(values: dict[str, float]) -> list[str]:
        forecasts = {uid: {"model": "median", "points": [{"forecast": v}, {"forecast": v}]}
                     for uid, v in values.items()}
        return forecast_notes(data, forecasts, data.info["ESP/crack cocaine/kg"], EVERYONE)

    coherent = notes({"ESP/cocaine/kg": 12.0, "ESP/cocaine hydrochloride/kg": 9.0,
                      "ESP/crack cocaine/kg": 3.0})
    assert coherent == ["25% of the cocaine forecast here: its share of the group's forecast, "
                        "in proportion to the substances' own forecasts, so the substances add "
                        "up to the group"]
    tiny = notes({"ESP/cocaine/kg": 1000.0, "ESP/cocaine hydrochloride/kg": 999.0,
                  "ESP/crack cocaine/kg": 1.0})
    assert tiny[0].startswith("under 1% of the cocaine forecast here")
    # forecasts made before substances were shared out do not add up: nothing is claimed
    assert notes({"ESP/cocaine/kg": 12.0, "ESP/cocaine hydrochloride/kg": 4.0,
                  "ESP/crack cocaine/kg": 3.0}) == []
    # an aggregate's substance is the sum of its countries' shares
    europe = build_series_data(pd.concat([f.assign(unique_id=f["unique_id"].str.replace(
        "ESP", "Europe"), geo_level="region", geo="Europe") for f in frames]))
    forecasts = {uid.replace("ESP", "Europe"): {"points": [{"forecast": v}]} for uid, v in
                 {"ESP/cocaine/kg": 12.0, "ESP/cocaine hydrochloride/kg": 9.0,
                  "ESP/crack cocaine/kg": 3.0}.items()}
    region = forecast_notes(europe, forecasts, europe.info["Europe/crack cocaine/kg"], EVERYONE)
    assert region[-1] == ("25% of the cocaine forecast here: the sum of its countries' shares of "
                          "their cocaine forecasts, so the substances add up to the group")
    group_row = data.info["ESP/cocaine/kg"]
    assert forecast_notes(data, {"ESP/cocaine/kg": {"points": [{"forecast": 12.0}]}},
                          group_row, EVERYONE) == []
