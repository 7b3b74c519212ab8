"""Reconciliation on a small geography with a known structure: every method makes each
aggregate the sum of its countries, keeps intervals around the point and nothing below zero."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from training.reconcile import (
    METHODS,
    geo_trees,
    reconcile_forecasts,
    reconcile_matrix,
    shrinkage_is_safe,
)

COUNTRIES = {"ESP": ("Southern Europe", "Europe"), "PRT": ("Southern Europe", "Europe"),
             "FRA": ("Western Europe", "Europe"), "DEU": ("Western Europe", "Europe"),
             "COL": ("South America", "Americas"), "PER": ("South America", "Americas")}
SUBREGIONS = {"Southern Europe": "Europe", "Western Europe": "Europe",
              "South America": "Americas"}
DATES = pd.date_range("2020-01-01", periods=30, freq="MS")


def hierarchy() -> pd.DataFrame:
    rows = [(f"{c}/cocaine/kg", "country", c, region) for c, (_, region) in COUNTRIES.items()]
    rows += [(f"{s}/cocaine/kg", "subregion", s, r) for s, r in SUBREGIONS.items()]
    rows += [(f"{r}/cocaine/kg", "region", r, r) for r in ("Europe", "Americas")]
    rows += [("World/cocaine/kg", "world", "World", "World")]
    frame = pd.DataFrame(rows, columns=["unique_id", "geo_level", "geo", "region"])
    return frame.assign(drug_level="group", drug="cocaine", metric="kg")


def children(node: str) -> list[str]:
    geo = node.split("/")[0]
    if geo == "World":
        return [f"{c}/cocaine/kg" for c in COUNTRIES]
    return [f"{c}/cocaine/kg" for c, (sub, region) in COUNTRIES.items() if geo in (sub, region)]


def history_and_backtest() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Countries with noisy levels, aggregates their exact sums; base forecasts that do not add
    up (each aggregate over-forecast by 30%), for 3 backtest windows and the future."""
    rng = np.random.default_rng(4)
    level = {c: 10.0 * (i + 1) for i, c in enumerate(COUNTRIES)}
    y = {f"{c}/cocaine/kg": level[c] + rng.normal(0, 2, len(DATES)) for c in COUNTRIES}
    for node in hierarchy()["unique_id"]:
        if node not in y:
            y[node] = np.sum([y[k] for k in children(node)], axis=0)
    series = pd.concat([pd.DataFrame({"unique_id": k, "ds": DATES, "y": v})
                        for k, v in y.items()], ignore_index=True)

    def base(uid: str, dates: pd.DatetimeIndex) -> np.ndarray:
        if uid.split("/")[0] in COUNTRIES:
            return np.full(len(dates), level[uid.split("/")[0]])
        return 1.3 * np.sum([np.full(len(dates), level[k.split("/")[0]])
                             for k in children(uid)], axis=0)

    cv = []
    for cut in (18, 21, 24):
        dates = DATES[cut:cut + 6]
        for uid, values in y.items():
            cv.append(pd.DataFrame({"unique_id": uid, "ds": dates, "cutoff": DATES[cut - 1],
                                    "y": values[cut:cut + 6], "forecast": base(uid, dates)}))
    future = pd.date_range(DATES[-1], periods=7, freq="MS")[1:]
    fc = pd.concat([pd.DataFrame({"unique_id": uid, "ds": future, "forecast": base(uid, future)})
                    for uid in y], ignore_index=True)
    fc["lo_80"], fc["hi_80"] = fc["forecast"] * 0.8, fc["forecast"] * 1.2
    fc["lo_95"], fc["hi_95"] = fc["forecast"] * 0.6, fc["forecast"] * 1.4
    fc["model"] = "test"
    return series, pd.concat(cv, ignore_index=True), fc


def assert_coherent(fc: pd.DataFrame) -> None:
    wide = fc.pivot(index="ds", columns="unique_id", values="forecast")
    for node in hierarchy()["unique_id"]:
        if node.split("/")[0] not in COUNTRIES:
            total = wide[children(node)].sum(axis=1)
            np.testing.assert_allclose(wide[node], total, rtol=0, atol=1e-6)
    # and each level is the sum of the level below it
    np.testing.assert_allclose(wide["Europe/cocaine/kg"], wide["Southern Europe/cocaine/kg"]
                               + wide["Western Europe/cocaine/kg"], atol=1e-6)
    np.testing.assert_allclose(wide["World/cocaine/kg"], wide["Europe/cocaine/kg"]
                               + wide["Americas/cocaine/kg"], atol=1e-6)


def test_trees_put_aggregates_first_and_each_sums_its_countries():
    (tree,) = geo_trees(hierarchy(), hierarchy()["unique_id"])
    assert tree.levels[:6] == ["world", "region", "region", "subregion", "subregion",
                               "subregion"]
    assert tree.n_bottom == 6
    world = tree.S[tree.ids.index("World/cocaine/kg")]
    europe = tree.S[tree.ids.index("Europe/cocaine/kg")]
    assert world.sum() == 6 and europe.sum() == 4
    assert np.array_equal(tree.S[6:], np.eye(6))


@pytest.mark.parametrize("method", METHODS)
def test_every_method_makes_the_tree_add_up_without_negatives(method):
    (tree,) = geo_trees(hierarchy(), hierarchy()["unique_id"])
    rng = np.random.default_rng(0)
    y_hat = rng.uniform(-2, 50, (len(tree.ids), 4))
    residuals = rng.normal(0, 3, (len(tree.ids), 40))
    rec = reconcile_matrix(method, tree.S, y_hat, residuals)
    np.testing.assert_allclose(rec, tree.S @ rec[6:], atol=1e-6)
    assert (rec >= -1e-9).all()


def test_shrinkage_is_not_offered_when_a_node_has_no_residual_spread():
    rng = np.random.default_rng(0)
    residuals = rng.normal(0, 3, (5, 30))
    assert shrinkage_is_safe(residuals)
    residuals[2] = 0.0  # a country that never seizes: forecast 0, actual 0
    assert not shrinkage_is_safe(residuals)
    with pytest.raises(ValueError, match="near-zero residual spread"):
        reconcile_matrix("mint_shrink", np.vstack([np.ones(5), np.eye(5)]),
                         np.ones((6, 2)), np.vstack([residuals.sum(axis=0), residuals]))


def test_reconciled_forecasts_add_up_keep_bands_around_the_point_and_pick_a_method():
    series, cv, fc = history_and_backtest()
    scale = pd.Series(1.0, index=series["unique_id"].unique())
    out = reconcile_forecasts(fc, hierarchy(), cv, scale)
    assert_coherent(out.forecasts)
    f = out.forecasts
    assert ((f["lo_95"] <= f["lo_80"] + 1e-9) & (f["lo_80"] <= f["forecast"] + 1e-9)
            & (f["forecast"] <= f["hi_80"] + 1e-9) & (f["hi_80"] <= f["hi_95"] + 1e-9)).all()
    assert (f["lo_95"] >= 0).all()
    assert out.methods == {"group:cocaine/kg": out.methods["group:cocaine/kg"]}
    # the aggregates' base forecasts were 30% too high: bottom-up (exact countries) wins
    assert out.methods["group:cocaine/kg"] == "bottom_up"
    assert set(out.report["backtest_mase_by_level"]["bottom_up"]) == {
        "world", "region", "subregion", "country"}
    assert len(f) == len(fc) and set(f.columns) == set(fc.columns)


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_trained_world_forecasts_add_up_at_every_geo_level(home, build_world):
    from core.settings import get_settings
    from training.reconcile import HIERARCHY_COLUMNS
    from training.train import train

    settings = get_settings()
    series = build_world(settings, lambda s: (s["drug_level"] == "group")
                         & (s["drug"] == "cocaine") & (s["metric"] == "kg"))
    summary = train(settings, horizon=6)
    assert summary["reconciliation"]["trees"] == 1
    assert summary["reconciliation"]["backtest_mase_by_level"]
    stored = pd.read_parquet(settings.forecasts_dir / "forecasts.parquet")
    meta = series[HIERARCHY_COLUMNS].drop_duplicates("unique_id")
    (tree,) = geo_trees(meta, stored["unique_id"].unique())
    wide = stored.pivot(index="unique_id", columns="ds", values="forecast").reindex(tree.ids)
    values = wide.to_numpy()
    np.testing.assert_allclose(values, tree.S @ values[-tree.n_bottom:], rtol=0, atol=1e-6)
    assert set(tree.levels) == {"world", "region", "subregion", "country"}
    assert ((stored["lo_95"] <= stored["forecast"] + 1e-9)
            & (stored["forecast"] <= stored["hi_95"] + 1e-9)).all()
    assert (stored["lo_95"] >= 0).all()


def normal_bands(mean: np.ndarray, sd: np.ndarray) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    from scipy import stats

    return {lvl: (mean - stats.norm.ppf(1 - (1 - lvl / 100) / 2) * sd,
                  mean + stats.norm.ppf(1 - (1 - lvl / 100) / 2) * sd) for lvl in (80, 95)}


@pytest.mark.parametrize("correlated", [False, True])
def test_aggregate_interval_of_known_bottoms_covers_its_nominal_share(correlated):
    """20 normal bottoms (mean 100, sd 10) with exact bands; the backtest errors are independent
    or the same for all. The sum's 80/95% bands must cover fresh sums at about 80/95%: with
    independent bottoms they are sqrt(20) times one bottom's width, with one common error 20."""
    from training.hier_intervals import aggregate_bands

    rng = np.random.default_rng(1)
    n, periods = 20, 3
    mean, sd = np.full((n, periods), 100.0), np.full((n, periods), 10.0)
    common = rng.normal(0, 1, 400)
    errors = np.tile(common, (n, 1)) if correlated else rng.normal(0, 1, (n, 400))
    bands = aggregate_bands(np.ones((1, n)), mean.sum(axis=0, keepdims=True), mean,
                            normal_bands(mean, sd), errors, (80, 95), n_samples=4000)
    draws = 10.0 * (np.tile(rng.normal(0, 1, 20000), (n, 1)) if correlated
                    else rng.normal(0, 1, (n, 20000)))
    totals = 100.0 * n + draws.sum(axis=0)
    for lvl, tolerance in ((80, 0.03), (95, 0.02)):
        lo, hi = bands[lvl][0][0, 0], bands[lvl][1][0, 0]
        inside = float(((totals >= lo) & (totals <= hi)).mean())
        assert abs(inside - lvl / 100) <= tolerance, (lvl, inside)
    width = bands[80][1][0, 0] - bands[80][0][0, 0]
    single = 2 * 1.2816 * 10.0
    assert width == pytest.approx(single * (n if correlated else np.sqrt(n)), rel=0.1)


def test_aggregate_interval_sums_only_the_bottoms_that_report():
    """Two bottoms of 100 with narrow bands; the second never reported in the backtest: the
    aggregate's band is about the first one's, and still holds the point (their full sum)."""
    from training.hier_intervals import aggregate_bands

    mean, sd = np.full((2, 1), 100.0), np.full((2, 1), 1.0)
    errors = np.random.default_rng(2).normal(0, 1, (2, 50))
    reported = np.array([[True] * 50, [False] * 50])
    bands = aggregate_bands(np.ones((1, 2)), np.array([[200.0]]), mean, normal_bands(mean, sd),
                            errors, (80, 95), reported=reported)
    lo80, hi80 = bands[80][0][0, 0], bands[80][1][0, 0]
    assert 97 < lo80 < 100 and hi80 == pytest.approx(200.0)
    assert bands[95][0][0, 0] <= lo80 and bands[95][1][0, 0] >= hi80


def test_aggregate_intervals_after_reconciliation_are_sums_of_the_bottoms_not_shifted_bands():
    """The aggregates' own bands (±20/40% of a 30% too high point) are replaced: each aggregate's
    band comes from its countries' and is narrower than the sum of their widths (the countries'
    errors are independent), holds the point, never below zero."""
    series, cv, fc = history_and_backtest()
    cv["lo-80"], cv["hi-80"] = cv["forecast"] - 2.6, cv["forecast"] + 2.6
    cv["lo-95"], cv["hi-95"] = cv["forecast"] - 3.9, cv["forecast"] + 3.9
    for uid in fc["unique_id"].unique():  # countries: their calibrated bands of sd 2
        if uid.split("/")[0] in COUNTRIES:
            rows = fc["unique_id"] == uid
            fc.loc[rows, "lo_80"] = fc.loc[rows, "forecast"] - 2.6
            fc.loc[rows, "hi_80"] = fc.loc[rows, "forecast"] + 2.6
            fc.loc[rows, "lo_95"] = fc.loc[rows, "forecast"] - 3.9
            fc.loc[rows, "hi_95"] = fc.loc[rows, "forecast"] + 3.9
    out = reconcile_forecasts(fc, hierarchy(), cv, pd.Series(1.0, index=fc["unique_id"].unique()))
    f = out.forecasts.set_index("unique_id")
    world = f.loc["World/cocaine/kg"]
    width = (world["hi_80"] - world["lo_80"]).to_numpy()
    assert (width < 6 * 5.2).all() and (width > np.sqrt(6) * 5.2 * 0.5).all()
    assert ((world["lo_80"] <= world["forecast"]) & (world["forecast"] <= world["hi_80"])).all()
    assert set(out.report["backtest_coverage_by_level"]) == {"world", "region", "subregion"}
    assert set(out.report["interval_factors_by_level"]["world"]) == {80, 95}


def test_masked_country_is_not_summed_and_its_partial_report_leaves_its_aggregates():
    """Countries forecast exactly; ESP is masked for low reporting in one backtest month (its
    actual blanked, its partial 3 kg still inside the aggregates' actuals). Bottom-up is then
    exact on every aggregate only if ESP is left out of the sum and its 3 kg out of the actual;
    without the masked rows the aggregates above ESP carry the error."""
    series, cv, fc = history_and_backtest()
    country = cv["unique_id"].str.split("/").str[0].isin(COUNTRIES)
    cv.loc[country, "forecast"] = cv.loc[country, "y"]
    month = cv["ds"].iloc[0]
    esp = (cv["unique_id"] == "ESP/cocaine/kg") & (cv["ds"] == month)
    above = cv["unique_id"].isin([n for n in hierarchy()["unique_id"]
                                  if "ESP/cocaine/kg" in children(n)]) & (cv["ds"] == month)
    cv.loc[above, "y"] = cv.loc[above, "y"] - cv.loc[esp, "y"].iloc[0] + 3.0
    cv.loc[esp, "y"] = np.nan
    masked = pd.DataFrame({"unique_id": ["ESP/cocaine/kg"], "ds": [month], "y": [3.0]})
    scale = pd.Series(1.0, index=fc["unique_id"].unique())
    right = reconcile_forecasts(fc, hierarchy(), cv, scale, masked=masked)
    wrong = reconcile_forecasts(fc, hierarchy(), cv, scale)
    exact = right.report["backtest_mase_by_level"]["bottom_up"]
    assert max(exact.values()) < 1e-9
    assert wrong.report["backtest_mase_by_level"]["bottom_up"]["world"] > 0.01


def cbp_like() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Areas A1..A4 in two source regions (R1: A1, A2; R2: A3, A4), the nation their sum, for
    two drugs x two metrics; a third drug whose nationwide figure holds more than its areas."""
    rng = np.random.default_rng(5)
    rows, meta = [], []
    regions = {"R1": ["A1", "A2"], "R2": ["A3", "A4"]}
    for drug in ("cocaine", "heroin", "khat"):
        for metric in ("kg", "seizures"):
            areas = {a: rng.gamma(2.0, 10.0, len(DATES)) for a in ("A1", "A2", "A3", "A4")}
            values = dict(areas)
            values.update({r: areas[a] + areas[b] for r, (a, b) in regions.items()})
            values["USA"] = sum(areas.values()) + (50.0 if drug == "khat" else 0.0)
            for geo, y in values.items():
                level = "area" if geo.startswith("A") else "region" if geo.startswith(
                    "R") else "country"
                uid = f"{geo}/{drug}/{metric}"
                rows.append(pd.DataFrame({"unique_id": uid, "ds": DATES, "y": y}))
                meta.append((uid, level, geo, "Americas", "substance", drug, metric))
    return (pd.concat(rows, ignore_index=True),
            pd.DataFrame(meta, columns=["unique_id", "geo_level", "geo", "region", "drug_level",
                                        "drug", "metric"]))


def test_source_trees_read_areas_regions_and_nation_from_the_data_where_they_add_up():
    from training.source_trees import source_trees

    history, meta = cbp_like()
    trees = {t.key: t for t in source_trees(meta, meta["unique_id"], history)}
    assert len(trees) == 6
    tree = trees["substance:cocaine/kg@areas"]
    assert tree.levels == ["nationwide", "source_region", "source_region"] + ["area"] * 4
    assert tree.S[tree.ids.index("R1/cocaine/kg")].tolist() == [1, 1, 0, 0]
    assert tree.S[0].tolist() == [1, 1, 1, 1]
    khat = trees["substance:khat/kg@areas"]  # the nation is more than its areas: left out
    assert "USA/khat/kg" not in khat.ids and "R2/khat/kg" in khat.ids


def test_nationwide_forecast_is_the_sum_of_its_areas_after_reconciliation():
    history, meta = cbp_like()
    future = pd.date_range(DATES[-1], periods=4, freq="MS")[1:]
    rng = np.random.default_rng(6)
    fc = pd.DataFrame({"unique_id": np.repeat(meta["unique_id"], len(future)),
                       "ds": np.tile(future, len(meta))})
    fc["forecast"] = rng.uniform(5, 60, len(fc))
    for lvl, k in ((80, 0.3), (95, 0.6)):
        fc[f"lo_{lvl}"], fc[f"hi_{lvl}"] = fc["forecast"] * (1 - k), fc["forecast"] * (1 + k)
    fc["model"] = "test"
    cv = history[history["ds"] >= DATES[-9]].assign(cutoff=DATES[-10])
    cv["forecast"] = cv["y"] * rng.uniform(0.8, 1.2, len(cv))
    out = reconcile_forecasts(fc, meta, cv, pd.Series(1.0, index=meta["unique_id"]),
                              history=history).forecasts
    wide = out.pivot(index="ds", columns="unique_id", values="forecast")
    for drug in ("cocaine", "heroin"):
        areas = wide[[f"A{i}/{drug}/kg" for i in range(1, 5)]].sum(axis=1)
        np.testing.assert_allclose(wide[f"USA/{drug}/kg"], areas, rtol=0, atol=1e-6)
        np.testing.assert_allclose(wide[f"R1/{drug}/kg"], wide[f"A1/{drug}/kg"]
                                   + wide[f"A2/{drug}/kg"], rtol=0, atol=1e-6)
    assert ((out["lo_95"] <= out["forecast"] + 1e-9) & (out["forecast"] <= out["hi_95"] + 1e-9)
            & (out["lo_95"] >= 0)).all()
    # the bench's coherence check reads the same trees: no gap after, the base forecasts' gap
    from training.reconcile import forecast_trees, largest_gap

    sourced, geo = forecast_trees(meta, fc["unique_id"].unique(), history)
    assert len(sourced) == 6 and not geo
    assert largest_gap(out, sourced) < 1e-6 < largest_gap(fc, sourced)
    base = fc.pivot(index="ds", columns="unique_id", values="forecast")
    areas = base[[f"A{i}/cocaine/kg" for i in range(1, 5)]].sum(axis=1)
    assert largest_gap(fc, sourced) >= (base["USA/cocaine/kg"] - areas).abs().max() - 1e-9


@pytest.mark.realdata
def test_cbp_areas_make_up_the_nation_and_its_regions(shared_data):
    from features.importers.cbp import load_cbp_series
    from training.source_trees import source_trees

    series = load_cbp_series(sorted((shared_data / "cbp_nationwide_drugs").glob("*.csv")))
    meta = series.drop_duplicates("unique_id")
    trees = source_trees(meta, meta["unique_id"], series[["unique_id", "ds", "y"]])
    assert len(trees) == meta[["drug", "metric"]].drop_duplicates().shape[0]
    for tree in trees:
        assert tree.levels.count("nationwide") == 1
        assert tree.levels.count("source_region") == 3
        assert (tree.S[1:4].sum(axis=0) == 1).all()  # every area in exactly one region
