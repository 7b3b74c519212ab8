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
- intervals: a country's own calibrated band moves with its point (clipped at zero, kept around
  it); an aggregate's band is the spread of the sum of its countries, sampled from their bands
  with the backtest's cross-country dependence (training.hier_intervals), so lo <= point <= hi.

Completeness (issue 15): an aggregate is the sum of the countries that report. Its future
forecast sums every country's forecast (a forecast is of a month reported in full). In the
backtest that chooses the method, a country without an actual in a period is left out of the
aggregate's sum for that period (not summed as a zero), and a period in which a country was
masked for low reporting (train already blanks the country's own actual there) leaves the
aggregates above it unscored, as their actuals still hold the partial report; those masked
errors are also no evidence of dependence for the intervals (drawn independently).
Sources with their own levels (CBP's areas -> regions -> nationwide) get their own trees
(training.source_trees). Substance -> group (training.drug_trees): the group trees are
reconciled first, each country's substances are then shared out of its group's forecast, and
the substance trees are summed up from those countries, so both hierarchies add up at once.
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
from training.drug_trees import share_out
from training.hier_intervals import (
    aggregate_bands,
    calibrate_levels,
    coverage_by_level,
    moved_bands,
    stacked,
)
from training.source_trees import SOURCE_LEVELS, Tree, source_trees

GEO_ORDER = ("world", "region", "subregion", "country")
#: every level a tree can have, top first (source trees: training.source_trees)
LEVEL_ORDER = (*GEO_ORDER, *SOURCE_LEVELS)
METHODS = ("bottom_up", "mint_wls_struct", "mint_shrink")
HIERARCHY_COLUMNS = ["unique_id", "geo_level", "geo", "region", "drug_level", "drug", "metric"]
SPREAD_FLOOR = 1e-6  # relative residual spread under which mint_shrink is not offered


@dataclass
class TreeBacktest:
    """What the backtest says of one tree (training.reconcile._backtest_scores)."""

    scores: dict[str, dict[str, float]]
    residuals: np.ndarray | None
    reported: np.ndarray | None
    windows: list[tuple[np.ndarray, np.ndarray, pd.DataFrame]] = field(default_factory=list)
    recs: dict[str, list[np.ndarray]] = field(default_factory=dict)
    future: dict[str, np.ndarray] = field(default_factory=dict)


@dataclass
class Reconciled:
    """Coherent forecasts and what reconciliation did."""

    forecasts: pd.DataFrame
    methods: dict[str, str] = field(default_factory=dict)
    fallbacks: dict[str, str] = field(default_factory=dict)
    report: dict[str, Any] = field(default_factory=dict)


def geo_trees(hierarchy: pd.DataFrame, ids: Sequence[str]) -> list[Tree]:
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
            if node["geo_level"] == "world":
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


def forecast_trees(hierarchy: pd.DataFrame, ids: Sequence[str],
                   history: pd.DataFrame | None = None) -> tuple[list[Tree], list[Tree]]:
    """The trees reconciliation makes of ``ids``: the sources' own (training.source_trees,
    read from the series ``history``; none without it), then the geography's of the series
    those do not hold."""
    sourced = source_trees(hierarchy, ids, history) if history is not None else []
    taken = {uid for tree in sourced for uid in tree.ids}
    return sourced, geo_trees(hierarchy, [u for u in ids if u not in taken])


def largest_gap(forecasts: pd.DataFrame, trees: Sequence[Tree]) -> float:
    """The largest distance, over every tree, node and period, between a node's point forecast
    and the sum of its bottoms' (0 when every tree is coherent)."""
    gap = 0.0
    for tree in trees:
        part = forecasts[forecasts["unique_id"].isin(set(tree.ids))]
        wide, _ = _matrix(part, tree.ids, "forecast")
        gap = max(gap, float(np.nanmax(np.abs(wide - tree.S @ wide[-tree.n_bottom:]))))
    return gap


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
    """``column`` of ``frame`` (one row per id and ds) as ids x sorted dates, NaN where absent
    (by index arithmetic: a pivot_table per window and column cost a third of the time)."""
    dates = np.sort(frame["ds"].unique())
    out = np.full((len(ids), len(dates)), np.nan)
    rows = pd.Index(ids).get_indexer(frame["unique_id"])
    cols = np.searchsorted(dates, frame["ds"].to_numpy())
    use = rows >= 0
    out[rows[use], cols[use]] = frame[column].to_numpy(float)[use]
    return out, dates


def _fill_aggregates(tree: Tree, y_hat: np.ndarray) -> np.ndarray:
    """An aggregate without a base forecast gets the sum of its countries' (bottom-up)."""
    n_agg = len(tree.ids) - tree.n_bottom
    bottom = np.nan_to_num(y_hat[n_agg:])
    summed = tree.S[:n_agg] @ bottom
    out = y_hat.copy()
    out[:n_agg] = np.where(np.isnan(y_hat[:n_agg]), summed, y_hat[:n_agg])
    out[n_agg:] = bottom
    return out


def _backtest_scores(tree: Tree, backtest: pd.DataFrame, scale: pd.Series,
                     partial: Mapping[tuple[str, pd.Timestamp], float] | None = None,
                     future: np.ndarray | None = None,
                     methods: Sequence[str] = METHODS) -> TreeBacktest:
    """Mean MASE per method and geo level over the backtest windows, the residuals (nodes x
    points) mint_shrink estimates its covariance from (and the aggregate intervals their
    dependence), which bottoms reported at each of those points (a bottom never in the
    backtest counts as reporting: there is no evidence it does not), and each method's
    reconciled windows (to calibrate the aggregates' intervals on), and the ``future`` base
    forecasts reconciled by each method in the same call.

    Missing is not zero: an aggregate's actual is the sum of the bottoms that reported in the
    period, so its reconciled forecast is scored as the sum of those same bottoms (a bottom
    without an actual is left out of that period's sum, not summed as a zero). A bottom masked
    for low reporting (issue 15; train blanks its actual) is left out the same way, and its
    partial report (``partial``: (bottom id, ds) -> the value before masking) is taken out of
    the aggregates' actuals above it, so both sides sum the same full reporters."""
    part = backtest[backtest["unique_id"].isin(set(tree.ids))]
    if part.empty:
        return TreeBacktest({}, None, None)
    n_agg = len(tree.ids) - tree.n_bottom
    windows, reported = [], []
    for _, window in part.groupby("cutoff", sort=True):
        y_hat, dates = _matrix(window, tree.ids, "forecast")
        y, _ = _matrix(window, tree.ids, "y")
        reported.append(~np.isnan(y[n_agg:]) | np.isnan(y_hat[n_agg:]).all(axis=1)[:, None])
        if partial:
            values = np.array([[partial.get((uid, d), np.nan) for d in dates]
                               for uid in tree.ids[n_agg:]], float)
            y[n_agg:][~np.isnan(values)] = np.nan
            y[:n_agg] -= tree.S[:n_agg] @ np.nan_to_num(values)
            reported[-1] &= np.isnan(values)
        windows.append((y_hat, y, window))
    residuals = np.concatenate([y - y_hat for y_hat, y, _ in windows], axis=1)
    node_scale = scale.reindex(tree.ids).fillna(1.0).to_numpy(float)[:, None]
    errors: dict[str, list[np.ndarray]] = {m: [] for m in methods}
    recs: dict[str, list[np.ndarray]] = {m: [] for m in methods}
    # every window in one call per method: reconciliation works period by period, and the
    # library's projection (a pseudo-inverse) is then computed once, not once per window
    parts = [_fill_aggregates(tree, y_hat) for y_hat, _, _ in windows]
    parts += [] if future is None else [future]
    cuts = np.cumsum([part.shape[1] for part in parts])[:-1]
    reconciled_future: dict[str, np.ndarray] = {}
    for method in methods:
        try:
            rec_all = np.split(reconcile_matrix(method, tree.S, np.concatenate(parts, axis=1),
                                                residuals), cuts, axis=1)
        except Exception:  # noqa: BLE001 - a method that fails is not chosen
            continue
        if future is not None:
            reconciled_future[method] = rec_all.pop()
        for rec, (_, y, _) in zip(rec_all, windows, strict=True):
            known = ~np.isnan(y[n_agg:])
            recs[method].append(rec)
            scored = rec.copy()
            scored[:n_agg] = tree.S[:n_agg] @ np.where(known, rec[n_agg:], 0.0)
            errors[method].append(np.abs(scored - y) / node_scale)
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
                          for lvl in LEVEL_ORDER if (levels == lvl).any()
                          and np.isfinite(per_node[levels == lvl]).any()}
    return TreeBacktest(scores, residuals, np.concatenate(reported, axis=1), windows,
                        {m: r for m, r in recs.items() if len(r) == len(windows)},
                        reconciled_future)


def _backtest_bands(tree: Tree, bt: TreeBacktest, method: str, levels: Sequence[int]
                    ) -> pd.DataFrame:
    """The aggregates' backtest points with the bands the chosen method gives them (``y,
    forecast, lo-80, hi-80, ...`` and the tree level), from the bottoms' calibrated backtest
    bands: what the aggregates' intervals are calibrated on."""
    if method not in bt.recs or not bt.windows:
        return pd.DataFrame()
    n_agg = len(tree.ids) - tree.n_bottom
    rows = []
    for (y_hat, y, window), rec in zip(bt.windows, bt.recs[method], strict=True):
        if not all(f"lo-{lvl}" in window for lvl in levels):
            return pd.DataFrame()
        out = tree_bands(tree, _fill_aggregates(tree, y_hat), rec,
                         _bands(window, tree.ids, levels, "-"), bt.residuals, bt.reported,
                         levels)
        frame = pd.DataFrame({"unique_id": np.repeat(tree.ids[:n_agg], y.shape[1]),
                              "level": np.repeat(tree.levels[:n_agg], y.shape[1]),
                              "y": y[:n_agg].ravel(), "forecast": rec[:n_agg].ravel()})
        for lvl in levels:
            frame[f"lo-{lvl}"] = out[lvl][0][:n_agg].ravel()
            frame[f"hi-{lvl}"] = out[lvl][1][:n_agg].ravel()
        rows.append(frame)
    return pd.concat(rows, ignore_index=True)


def _bands(frame: pd.DataFrame, ids: list[str], levels: Sequence[int], sep: str = "_"
           ) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """Each level's ``lo``/``hi`` columns of ``frame`` as ids x dates (``sep``: ``_`` in
    forecasts, ``-`` in the backtest)."""
    return {lvl: (_matrix(frame, ids, f"lo{sep}{lvl}")[0], _matrix(frame, ids, f"hi{sep}{lvl}")[0])
            for lvl in levels}


def tree_bands(tree: Tree, base: np.ndarray, rec: np.ndarray,
               bands: dict[int, tuple[np.ndarray, np.ndarray]], residuals: np.ndarray | None,
               reported: np.ndarray | None, levels: Sequence[int]
               ) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """Bands of every node after reconciliation: a bottom's own calibrated band and that band
    moved with its point, together (training.hier_intervals.moved_bands); an aggregate's is the
    spread of the sum of its bottoms that report (training.hier_intervals)."""
    n_agg = len(tree.ids) - tree.n_bottom
    bottom = moved_bands(rec[n_agg:], base[n_agg:],
                         {lvl: (bands[lvl][0][n_agg:], bands[lvl][1][n_agg:]) for lvl in levels})
    bottom_residuals = None if residuals is None else residuals[n_agg:]
    aggregate = aggregate_bands(tree.S[:n_agg], rec[:n_agg], rec[n_agg:], bottom,
                                bottom_residuals, levels, reported)
    return {lvl: (np.vstack([aggregate[lvl][0], bottom[lvl][0]]),
                  np.vstack([aggregate[lvl][1], bottom[lvl][1]])) for lvl in levels}


def _long(matrix: np.ndarray, ids: list[str], dates: np.ndarray, name: str) -> pd.DataFrame:
    return pd.DataFrame({"unique_id": np.repeat(ids, len(dates)),
                         "ds": np.tile(dates, len(ids)), name: matrix.ravel()})


def reconcile_forecasts(forecasts: pd.DataFrame, hierarchy: pd.DataFrame,
                        backtest: pd.DataFrame, scale: pd.Series,
                        levels: Sequence[int] = (80, 95),
                        history: pd.DataFrame | None = None,
                        masked: pd.DataFrame | None = None) -> Reconciled:
    """Coherent ``forecasts`` (``unique_id, ds, forecast, lo_80, ...``) over every tree of
    ``hierarchy``: the geography trees and, with the series ``history`` (``unique_id, ds, y``),
    the trees of already-aggregated sources (training.source_trees: CBP's areas -> nationwide);
    ``backtest`` is the project's backtest (``unique_id, ds, cutoff, y, forecast``) that
    chooses each tree's method and gives the aggregate intervals their dependence, ``scale``
    each series' MASE scale, ``masked`` the rows (``unique_id, ds, y``) train masked for low
    reporting, with their values before masking.

    Every tree but the substances' goes first (the groups', the sources'); then each leaf's
    substances are shared out of their group's reconciled forecast (training.drug_trees) and
    the substance trees summed up from those leaves, so substances add up to their group at
    every level too. Those trees' aggregates are calibrated on a bottom-up backtest of the
    substances' own forecasts (the backtest has no shared-out windows): their level factor
    reads the sampler's dependence, not the shares."""
    started = time.perf_counter()
    sourced, geo = forecast_trees(hierarchy, forecasts["unique_id"].unique(), history)
    trees = sourced + geo
    partial = {} if masked is None else dict(zip(
        zip(masked["unique_id"], pd.to_datetime(masked["ds"]), strict=True),
        masked["y"].astype(float), strict=True))
    run = _TreeRun(backtest, scale, partial, levels)
    substance_trees = [t for t in trees if t.key.startswith("substance:")]
    for tree in (t for t in trees if not t.key.startswith("substance:")):
        run.reconcile(tree, forecasts)
    aggregates = {u for tree in trees for u in tree.ids[:len(tree.ids) - tree.n_bottom]}
    shared, changed, share_report = share_out(run.current(forecasts), hierarchy, history, levels,
                                              aggregates)
    for tree in substance_trees:
        run.reconcile(tree, shared, "bottom_up" if changed & set(tree.ids) else None)
    level_of = {u: lvl for tree in trees for u, lvl in zip(tree.ids, tree.levels, strict=True)
                if u in run.done}
    calibration_points = stacked(run.calibration)
    pieces, factors = calibrate_levels(run.pieces, calibration_points, level_of, scale, levels)
    untouched = shared[~shared["unique_id"].isin(run.done)]
    out = pd.concat([untouched, *pieces], ignore_index=True)[list(forecasts.columns)]
    out = out.sort_values(["unique_id", "ds"], ignore_index=True)
    report = {
        "trees": len(trees),
        "source_trees": len(sourced),
        "methods": {m: sum(v == m for k, v in run.methods.items() if k not in run.forced)
                    for m in METHODS},  # as chosen by backtest (the summed trees: below)
        "fallbacks": len(run.fallbacks),
        "backtest_mase_by_level": {m: {lvl: round(float(np.mean(v)), 4) for lvl, v in d.items()}
                                   for m, d in run.by_method.items()},
        "intervals": "aggregates: sampled sums of their bottoms' bands, backtest dependence, "
                     "calibrated per level on the backtest",
        "interval_factors_by_level": factors,
        "backtest_coverage_by_level": coverage_by_level(calibration_points, levels),
        "substances": {**share_report, "trees_summed_from_shared_leaves": len(run.forced)},
        "seconds": round(time.perf_counter() - started, 2),
    }
    return Reconciled(out, run.methods, run.fallbacks, report)


@dataclass
class _TreeRun:
    """The trees reconciled so far: their pieces, methods, fallbacks, scores and the
    aggregates' backtest bands their intervals are calibrated on."""

    backtest: pd.DataFrame
    scale: pd.Series
    partial: Mapping[tuple[str, pd.Timestamp], float]
    levels: Sequence[int]
    methods: dict[str, str] = field(default_factory=dict)
    fallbacks: dict[str, str] = field(default_factory=dict)
    by_method: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    pieces: list[pd.DataFrame] = field(default_factory=list)
    calibration: list[pd.DataFrame] = field(default_factory=list)
    done: set[str] = field(default_factory=set)
    forced: set[str] = field(default_factory=set)  # trees run by a given method, not chosen

    def current(self, forecasts: pd.DataFrame) -> pd.DataFrame:
        """``forecasts`` with the reconciled rows so far in place of their own."""
        rest = forecasts[~forecasts["unique_id"].isin(self.done)]
        return pd.concat([rest, *self.pieces], ignore_index=True)[list(forecasts.columns)]

    def reconcile(self, tree: Tree, forecasts: pd.DataFrame, method: str | None = None) -> None:
        """One tree: by its best method on the backtest (the next on failure, reported), or by
        ``method`` when given."""
        part = forecasts[forecasts["unique_id"].isin(set(tree.ids))]
        y_hat, dates = _matrix(part, tree.ids, "forecast")
        base = _fill_aggregates(tree, y_hat)
        bt = _backtest_scores(tree, self.backtest, self.scale, self.partial, base,
                              METHODS if method is None else (method,))
        if method is None:
            for name, per_level in bt.scores.items():  # the figures the choice is made on
                for lvl, value in per_level.items():
                    self.by_method.setdefault(name, {}).setdefault(lvl, []).append(value)
        else:
            self.forced.add(tree.key)
        ranked = sorted(bt.scores, key=lambda m: np.mean(list(bt.scores[m].values())))
        order = [method] if method is not None else ranked + [
            m for m in ("mint_wls_struct", "bottom_up") if m not in ranked]
        for name in order:
            try:
                rec = bt.future[name] if name in bt.future else reconcile_matrix(
                    name, tree.S, base, bt.residuals)
                break
            except Exception as err:  # noqa: BLE001 - fall back and report
                self.fallbacks[tree.key] = f"{name}: {type(err).__name__}: {err}"
        else:  # pragma: no cover - BottomUp does not fail
            return
        self.methods[tree.key] = name
        bands = tree_bands(tree, base, rec, _bands(part, tree.ids, self.levels), bt.residuals,
                           bt.reported, self.levels)
        self.calibration.append(_backtest_bands(tree, bt, name, self.levels))
        new = _long(rec, tree.ids, dates, "forecast")
        for lvl in self.levels:  # in _long's order: ids repeated, dates tiled
            new[f"lo_{lvl}"], new[f"hi_{lvl}"] = bands[lvl][0].ravel(), bands[lvl][1].ravel()
        rest = part.drop(columns=[c for c in new.columns if c not in ("unique_id", "ds")])
        self.pieces.append(rest.merge(new, on=["unique_id", "ds"], how="left"))
        self.done |= set(tree.ids)
