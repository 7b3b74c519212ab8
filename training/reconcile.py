"""One coherent hierarchy: country -> subregion -> region -> world forecasts made to add up.

Countries, subregions, regions and the world are forecast separately (each has its own history
and model), so a Europe forecast need not be the sum of its countries. Nixtla's
hierarchicalforecast reconciles them, one tree per drug (group or substance) x metric, so kg and
seizure counts are never mixed:

- the tree's summing matrix ``S`` has the aggregates first and an identity block for the
  countries last (hierarchicalforecast's shape); an aggregate is the sum of the countries under
  it that have a forecast, as the series build defines aggregates as the sums of the countries
  that report (NaN stays unknown, never zero);
- candidates: ``BottomUp``, ``MinTrace(wls_struct, nonnegative=True)`` and
  ``MinTrace(mint_shrink, nonnegative=True)`` on the backtest residuals. The library's
  non-negativity first sets negative base forecasts to zero, then solves a quadratic programme
  per period (clarabel) for non-negative countries and sums them up (coherent by construction).
  Its shrinkage estimator only adds a ridge of 2e-8 to the covariance and raises when 98% of the
  residual sums are zero, so a tree with a node of near-zero residual spread (a country that
  never seizes that drug: forecast 0, actual 0) is not offered mint_shrink at all (guard below),
  and any failure falls back to BottomUp and is reported;
- the method of each tree is the one with the lowest backtest MASE averaged over its geo levels
  (each level counts once, so 150 countries do not outvote the world); the figures per method and
  level are reported;
- intervals move with their point: each bound is shifted by the reconciliation's change of the
  point, clipped at zero and kept around the point, so lo <= point <= hi holds after it.

Completeness hook (issue 15): :func:`geo_trees` takes the countries of a tree from the forecast
ids. When reporting-completeness masks exist, an aggregate's members should be the countries
that report in the period; pass them in as ``members`` (aggregate id -> country ids) and the
trees use them instead of the geography.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from hierarchicalforecast.methods import BottomUp, MinTrace

from core.geography import country_subregion

GEO_ORDER = ("world", "region", "subregion", "country")
METHODS = ("bottom_up", "mint_wls_struct", "mint_shrink")
HIERARCHY_COLUMNS = ["unique_id", "geo_level", "geo", "region", "drug_level", "drug", "metric"]
SPREAD_FLOOR = 1e-6  # relative residual spread under which mint_shrink is not offered


@dataclass
class Tree:
    """One hierarchy: node ids (aggregates first, countries last), their geo levels and S."""

    key: str
    ids: list[str]
    levels: list[str]
    S: np.ndarray

    @property
    def n_bottom(self) -> int:
        return self.S.shape[1]


@dataclass
class Reconciled:
    """Coherent forecasts and what reconciliation did."""

    forecasts: pd.DataFrame
    methods: dict[str, str] = field(default_factory=dict)
    fallbacks: dict[str, str] = field(default_factory=dict)
    report: dict[str, Any] = field(default_factory=dict)


def geo_trees(hierarchy: pd.DataFrame, ids: Sequence[str],
              members: Mapping[str, Sequence[str]] | None = None) -> list[Tree]:
    """The trees of the series in ``ids`` (one per drug level x drug x metric) with at least one
    country and one aggregate. ``hierarchy`` has ``HIERARCHY_COLUMNS``, one row per id."""
    known = set(ids)
    meta = hierarchy.drop_duplicates("unique_id")
    meta = meta[meta["unique_id"].isin(known) & meta["geo_level"].isin(GEO_ORDER)]
    trees = []
    for (drug_level, drug, metric), part in meta.groupby(["drug_level", "drug", "metric"],
                                                         sort=True):
        countries = part[part["geo_level"] == "country"]
        aggregates = part[part["geo_level"] != "country"].copy()
        if countries.empty or aggregates.empty:
            continue
        aggregates["order"] = aggregates["geo_level"].map(GEO_ORDER.index)
        aggregates = aggregates.sort_values(["order", "geo"])
        bottom = countries["unique_id"].tolist()
        rows, agg_ids, agg_levels = [], [], []
        for _, node in aggregates.iterrows():
            if members is not None and node["unique_id"] in members:
                inside = countries["unique_id"].isin(set(members[node["unique_id"]]))
            elif node["geo_level"] == "world":
                inside = pd.Series(True, index=countries.index)
            elif node["geo_level"] == "region":
                inside = countries["region"] == node["geo"]
            else:
                inside = countries["geo"].map(country_subregion) == node["geo"]
            if inside.any():
                rows.append(inside.to_numpy(float))
                agg_ids.append(node["unique_id"])
                agg_levels.append(node["geo_level"])
        if not rows:
            continue
        S = np.vstack([np.vstack(rows), np.eye(len(bottom))])
        trees.append(Tree(f"{drug_level}:{drug}/{metric}", agg_ids + bottom,
                          agg_levels + ["country"] * len(bottom), S))
    return trees


def reconcile_matrix(method: str, S: np.ndarray, y_hat: np.ndarray,
                     residuals: np.ndarray | None = None) -> np.ndarray:
    """Coherent forecasts (same shape as ``y_hat``: nodes x periods) by ``method``."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "replacing negative forecasts", sparse conversions
        if method == "bottom_up":
            return BottomUp().fit_predict(S=S, y_hat=y_hat)["mean"]
        if method == "mint_wls_struct":
            return MinTrace("wls_struct", nonnegative=True).fit_predict(S=S, y_hat=y_hat)["mean"]
        if method == "mint_shrink":
            if residuals is None or not shrinkage_is_safe(residuals):
                raise ValueError("near-zero residual spread: mint_shrink not offered")
            return MinTrace("mint_shrink", nonnegative=True).fit_predict(
                S=S, y_hat=y_hat, y_insample=residuals, y_hat_insample=np.zeros_like(residuals)
            )["mean"]
    raise ValueError(f"unknown reconciliation method {method!r}; use one of {METHODS}")


def shrinkage_is_safe(residuals: np.ndarray) -> bool:
    """The guard of the shrinkage estimator: every node has residuals with a spread above
    ``SPREAD_FLOOR`` times the largest spread of the tree, and enough of them."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        spread = np.nanstd(residuals, axis=1)
        counts = np.sum(~np.isnan(residuals), axis=1)
    top = np.nanmax(spread) if np.isfinite(spread).any() else 0.0
    return bool(top > 0 and np.all(counts >= 3) and np.all(spread > SPREAD_FLOOR * top))


def _matrix(frame: pd.DataFrame, ids: list[str], column: str) -> tuple[np.ndarray, np.ndarray]:
    wide = frame.pivot_table(index="unique_id", columns="ds", values=column, dropna=False)
    wide = wide.reindex(ids)
    return wide.to_numpy(float), wide.columns.to_numpy()


def _fill_aggregates(tree: Tree, y_hat: np.ndarray) -> np.ndarray:
    """An aggregate without a base forecast gets the sum of its countries' (bottom-up)."""
    n_agg = len(tree.ids) - tree.n_bottom
    bottom = np.nan_to_num(y_hat[n_agg:])
    summed = tree.S[:n_agg] @ bottom
    out = y_hat.copy()
    out[:n_agg] = np.where(np.isnan(y_hat[:n_agg]), summed, y_hat[:n_agg])
    out[n_agg:] = bottom
    return out


def _backtest_scores(tree: Tree, backtest: pd.DataFrame, scale: pd.Series
                     ) -> tuple[dict[str, dict[str, float]], np.ndarray | None]:
    """Mean MASE per method and geo level over the backtest windows, and the residuals
    (nodes x points) mint_shrink estimates its covariance from."""
    part = backtest[backtest["unique_id"].isin(set(tree.ids))]
    if part.empty:
        return {}, None
    resid = []
    errors: dict[str, list[np.ndarray]] = {m: [] for m in METHODS}
    windows = [(c, w) for c, w in part.groupby("cutoff", sort=True)]
    for _, window in windows:
        y_hat, _ = _matrix(window, tree.ids, "forecast")
        y, _ = _matrix(window, tree.ids, "y")
        resid.append(y - y_hat)
    residuals = np.concatenate(resid, axis=1) if resid else None
    node_scale = scale.reindex(tree.ids).fillna(1.0).to_numpy(float)[:, None]
    for _, window in windows:
        y_hat, _ = _matrix(window, tree.ids, "forecast")
        y, _ = _matrix(window, tree.ids, "y")
        base = _fill_aggregates(tree, y_hat)
        for method in METHODS:
            try:
                rec = reconcile_matrix(method, tree.S, base, residuals)
            except Exception:  # noqa: BLE001 - a method that fails is not chosen
                continue
            errors[method].append(np.abs(rec - y) / node_scale)
    levels = np.array(tree.levels)
    scores: dict[str, dict[str, float]] = {}
    for method, parts in errors.items():
        if len(parts) != len(windows):
            continue
        err = np.concatenate(parts, axis=1)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            per_node = np.nanmean(err, axis=1)
        scores[method] = {lvl: float(np.nanmean(per_node[levels == lvl]))
                          for lvl in GEO_ORDER if (levels == lvl).any()
                          and np.isfinite(per_node[levels == lvl]).any()}
    return scores, residuals


def _shift_bands(frame: pd.DataFrame, new_point: pd.Series, levels: Sequence[int]) -> pd.DataFrame:
    out = frame.copy()
    delta = new_point.to_numpy(float) - out["forecast"].to_numpy(float)
    point = new_point.to_numpy(float)
    inner_lo, inner_hi = point, point
    for lvl in sorted(levels):
        lo = np.maximum(out[f"lo_{lvl}"].to_numpy(float) + delta, 0.0)
        hi = out[f"hi_{lvl}"].to_numpy(float) + delta
        lo, hi = np.minimum(lo, inner_lo), np.maximum(hi, inner_hi)
        out[f"lo_{lvl}"], out[f"hi_{lvl}"] = lo, hi
        inner_lo, inner_hi = lo, hi
    out["forecast"] = point
    return out


def reconcile_forecasts(forecasts: pd.DataFrame, hierarchy: pd.DataFrame,
                        backtest: pd.DataFrame, scale: pd.Series,
                        levels: Sequence[int] = (80, 95),
                        members: Mapping[str, Sequence[str]] | None = None) -> Reconciled:
    """Coherent ``forecasts`` (``unique_id, ds, forecast, lo_80, ...``) over every tree of
    ``hierarchy``; ``backtest`` is the project's backtest (``unique_id, ds, cutoff, y,
    forecast``) that chooses each tree's method, ``scale`` each series' MASE scale."""
    started = time.perf_counter()
    trees = geo_trees(hierarchy, forecasts["unique_id"].unique(), members)
    methods: dict[str, str] = {}
    fallbacks: dict[str, str] = {}
    by_method: dict[str, dict[str, list[float]]] = {}
    pieces = []
    done: set[str] = set()
    for tree in trees:
        scores, residuals = _backtest_scores(tree, backtest, scale)
        for method, per_level in scores.items():
            for lvl, value in per_level.items():
                by_method.setdefault(method, {}).setdefault(lvl, []).append(value)
        ranked = sorted(scores, key=lambda m: np.mean(list(scores[m].values())))
        order = ranked + [m for m in ("mint_wls_struct", "bottom_up") if m not in ranked]
        part = forecasts[forecasts["unique_id"].isin(set(tree.ids))]
        y_hat, dates = _matrix(part, tree.ids, "forecast")
        base = _fill_aggregates(tree, y_hat)
        for method in order:
            try:
                rec = reconcile_matrix(method, tree.S, base, residuals)
                break
            except Exception as err:  # noqa: BLE001 - fall back and report
                fallbacks[tree.key] = f"{method}: {type(err).__name__}: {err}"
        else:  # pragma: no cover - BottomUp does not fail
            continue
        methods[tree.key] = method
        new = pd.DataFrame(rec, index=tree.ids, columns=dates).stack(future_stack=True)
        new = new.rename("reconciled").rename_axis(["unique_id", "ds"]).reset_index()
        merged = part.merge(new, on=["unique_id", "ds"], how="left")
        pieces.append(_shift_bands(merged.drop(columns="reconciled"), merged["reconciled"],
                                   levels))
        done |= set(tree.ids)
    untouched = forecasts[~forecasts["unique_id"].isin(done)]
    out = pd.concat([untouched, *pieces], ignore_index=True)[list(forecasts.columns)]
    out = out.sort_values(["unique_id", "ds"], ignore_index=True)
    report = {
        "trees": len(trees),
        "methods": {m: sum(v == m for v in methods.values()) for m in METHODS},
        "fallbacks": len(fallbacks),
        "backtest_mase_by_level": {m: {lvl: round(float(np.mean(v)), 4) for lvl, v in d.items()}
                                   for m, d in by_method.items()},
        "seconds": round(time.perf_counter() - started, 2),
    }
    return Reconciled(out, methods, fallbacks, report)
