"""Substance -> group on a small world with a known answer: after reconciliation every group
is the sum of its substances at every geo level, the geography still adds up for groups and
substances alike, and each substance keeps its share of the group."""

from __future__ import annotations

import numpy as np
import pandas as pd

from training.drug_trees import drug_trees, share_out
from training.reconcile import forecast_trees, largest_gap, reconcile_forecasts

COUNTRIES = {"ESP": ("Southern Europe", "Europe"), "PRT": ("Southern Europe", "Europe"),
             "FRA": ("Western Europe", "Europe")}
AGGREGATES = [("subregion", "Southern Europe", "Europe"), ("subregion", "Western Europe", "Europe"),
              ("region", "Europe", "Europe"), ("world", "World", "World")]
DRUGS = [("group", "cocaine"), ("substance", "cocaine hydrochloride"),
         ("substance", "crack cocaine")]
DATES = pd.date_range("2020-01-01", periods=30, freq="MS")
FUTURE = pd.date_range("2022-07-01", periods=6, freq="MS")


def hierarchy(skip: tuple[str, ...] = ()) -> pd.DataFrame:
    rows = []
    for drug_level, drug in DRUGS:
        rows += [(f"{c}/{drug}/kg", "country", c, r, drug_level, drug)
                 for c, (_, r) in COUNTRIES.items()]
        rows += [(f"{g}/{drug}/kg", lvl, g, r, drug_level, drug) for lvl, g, r in AGGREGATES]
    frame = pd.DataFrame(rows, columns=["unique_id", "geo_level", "geo", "region", "drug_level",
                                        "drug"]).assign(metric="kg")
    return frame[~frame["unique_id"].isin(skip)]


def members(uid: str) -> list[str]:
    geo, drug, _ = uid.split("/")
    return [f"{c}/{drug}/kg" for c, (sub, region) in COUNTRIES.items()
            if geo in ("World", sub, region)]


def world(group_level: dict[str, float], substance_level: dict[tuple[str, str], float]
          ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Histories that add up both ways; base forecasts that do not: each country's group at
    ``group_level``, its substances at ``substance_level``, aggregates their countries' sums
    +20%; 3 backtest windows of the same base forecasts."""
    rng = np.random.default_rng(3)
    y = {}
    for c in COUNTRIES:
        for drug in ("cocaine hydrochloride", "crack cocaine"):
            y[f"{c}/{drug}/kg"] = substance_level[(c, drug)] + rng.normal(0, 1, len(DATES))
        y[f"{c}/cocaine/kg"] = y[f"{c}/cocaine hydrochloride/kg"] + y[f"{c}/crack cocaine/kg"]
    for uid in hierarchy()["unique_id"]:
        if uid.split("/")[0] not in COUNTRIES:
            y[uid] = np.sum([y[m] for m in members(uid)], axis=0)
    series = pd.concat([pd.DataFrame({"unique_id": k, "ds": DATES, "y": v})
                        for k, v in y.items()], ignore_index=True)

    def base(uid: str) -> float:
        geo, drug, _ = uid.split("/")
        if geo in COUNTRIES:
            return group_level[geo] if drug == "cocaine" else substance_level[(geo, drug)]
        return 1.2 * sum(base(m) for m in members(uid))

    cv = pd.concat([pd.DataFrame({"unique_id": uid, "ds": DATES[cut:cut + 6],
                                  "cutoff": DATES[cut - 1], "y": v[cut:cut + 6],
                                  "forecast": base(uid)})
                    for cut in (18, 21, 24) for uid, v in y.items()], ignore_index=True)
    fc = pd.concat([pd.DataFrame({"unique_id": uid, "ds": FUTURE, "forecast": base(uid)})
                    for uid in y], ignore_index=True)
    fc["lo_80"], fc["hi_80"] = fc["forecast"] * 0.8, fc["forecast"] * 1.2
    fc["lo_95"], fc["hi_95"] = fc["forecast"] * 0.6, fc["forecast"] * 1.4
    fc["model"] = "test"
    return series, cv, fc


def reconciled(fc: pd.DataFrame, cv: pd.DataFrame, series: pd.DataFrame,
               meta: pd.DataFrame | None = None):
    meta = hierarchy() if meta is None else meta
    scale = pd.Series(1.0, index=meta["unique_id"])
    return reconcile_forecasts(fc[fc["unique_id"].isin(meta["unique_id"])], meta, cv, scale,
                               history=series)


def test_groups_are_the_sum_of_their_substances_at_every_level_and_geography_holds():
    # groups forecast 100, 60, 40 by country; substances 30 + 20, 10 + 20, 30 + 10: half,
    # double, the same as the group
    levels = {"ESP": 100.0, "PRT": 60.0, "FRA": 40.0}
    subs = {("ESP", "cocaine hydrochloride"): 30.0, ("ESP", "crack cocaine"): 20.0,
            ("PRT", "cocaine hydrochloride"): 10.0, ("PRT", "crack cocaine"): 20.0,
            ("FRA", "cocaine hydrochloride"): 30.0, ("FRA", "crack cocaine"): 10.0}
    series, cv, fc = world(levels, subs)
    assert largest_gap(fc, drug_trees(hierarchy(), fc["unique_id"].unique())) > 10
    out = reconciled(fc, cv, series)
    f = out.forecasts
    trees = drug_trees(hierarchy(), f["unique_id"].unique())
    assert len(trees) == 7  # 3 countries, 2 subregions, 1 region, the world
    assert largest_gap(f, trees) < 1e-6
    sourced, geo = forecast_trees(hierarchy(), f["unique_id"].unique(), series)
    assert len(geo) == 3 and largest_gap(f, geo) < 1e-6
    point = f.groupby("unique_id")["forecast"].first()
    for c in COUNTRIES:  # each substance keeps its share of its country's reconciled group
        group = point[f"{c}/cocaine/kg"]
        share = subs[(c, "cocaine hydrochloride")] / (subs[(c, "cocaine hydrochloride")]
                                                      + subs[(c, "crack cocaine")])
        assert np.isclose(point[f"{c}/cocaine hydrochloride/kg"], share * group)
    assert ((f["lo_95"] <= f["lo_80"] + 1e-9) & (f["lo_80"] <= f["forecast"] + 1e-9)
            & (f["forecast"] <= f["hi_80"] + 1e-9) & (f["hi_80"] <= f["hi_95"] + 1e-9)).all()
    # a substance doubled keeps its own band's reach below and gains the moved one above
    prt = f[f["unique_id"] == "PRT/crack cocaine/kg"].iloc[0]
    assert prt["lo_80"] <= 0.8 * 20.0 + 1e-9 and prt["hi_80"] >= prt["forecast"] * 1.0
    report = out.report["substances"]
    assert report["leaves"] == 3 and report["unallocated"] == 0
    assert report["trees_summed_from_shared_leaves"] == 2


def test_substances_forecasting_nothing_take_their_recorded_shares():
    levels = {"ESP": 50.0, "PRT": 50.0, "FRA": 50.0}
    subs = {(c, d): (30.0 if d == "crack cocaine" else 10.0) for c in COUNTRIES
            for d in ("cocaine hydrochloride", "crack cocaine")}
    series, cv, fc = world(levels, subs)
    esp = fc["unique_id"].str.startswith("ESP/") & (fc["unique_id"] != "ESP/cocaine/kg")
    fc.loc[esp, ["forecast", "lo_80", "hi_80", "lo_95", "hi_95"]] = 0.0
    shared, changed, report = share_out(fc, hierarchy(), series, (80, 95))
    point = shared.groupby("unique_id")["forecast"].first()
    recorded = series.groupby("unique_id")["y"].sum()
    crack = recorded["ESP/crack cocaine/kg"] / (recorded["ESP/crack cocaine/kg"]
                                                + recorded["ESP/cocaine hydrochloride/kg"])
    assert np.isclose(point["ESP/crack cocaine/kg"], 50.0 * crack)
    assert 0.7 < crack < 0.8  # 30 of every 40 recorded
    assert report["cells_from_recorded_shares"] == len(FUTURE)
    assert "ESP/crack cocaine/kg" in changed and "ESP/cocaine/kg" not in changed


def test_a_group_without_any_substance_forecast_is_counted_unallocated():
    levels = {"ESP": 100.0, "PRT": 60.0, "FRA": 40.0}
    subs = {(c, d): 20.0 for c in COUNTRIES for d in ("cocaine hydrochloride", "crack cocaine")}
    series, cv, fc = world(levels, subs)
    meta = hierarchy(skip=("FRA/cocaine hydrochloride/kg", "FRA/crack cocaine/kg"))
    out = reconciled(fc, cv, series, meta)
    assert out.report["substances"]["unallocated"] == len(FUTURE)
    f = out.forecasts
    point = f.groupby("unique_id")["forecast"].first()
    # the gap up the tree is France's group forecast, which no substance carries
    gap = largest_gap(f, drug_trees(meta, f["unique_id"].unique()))
    assert np.isclose(gap, point["FRA/cocaine/kg"])


def test_a_tree_aggregate_is_never_a_leaf_and_a_negative_forecast_takes_no_share():
    levels = {"ESP": 10.0, "PRT": 10.0, "FRA": 10.0}
    subs = {(c, d): 5.0 for c in COUNTRIES for d in ("cocaine hydrochloride", "crack cocaine")}
    series, cv, fc = world(levels, subs)
    fc.loc[fc["unique_id"] == "PRT/crack cocaine/kg", "forecast"] = -2.0
    fc.loc[fc["unique_id"] == "PRT/cocaine hydrochloride/kg", "forecast"] = 4.0
    # a country series that sums a source's areas (CBP's nationwide) is no leaf to share
    shared, changed, _ = share_out(fc, hierarchy(), series, (80, 95),
                                   aggregates={"ESP/crack cocaine/kg"})
    point = shared.groupby("unique_id")["forecast"].first()
    assert "ESP/crack cocaine/kg" not in changed and point["ESP/crack cocaine/kg"] == 5.0
    assert point["ESP/cocaine hydrochloride/kg"] == 10.0  # the group's whole, alone
    assert point["PRT/crack cocaine/kg"] == 0.0 and point["PRT/cocaine hydrochloride/kg"] == 10.0
    assert (shared["lo_80"] <= shared["forecast"] + 1e-9).all()
