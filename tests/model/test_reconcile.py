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
