"""Substance -> group: a drug group's forecast made the sum of its substances' forecasts.

The build sums every substance of a group into the group's series (cocaine = cocaine
hydrochloride + crack cocaine + coca paste ...: on the IDS file a country's group equals the sum
of its substances in every month), but each series is forecast on its own and each drug's
geography tree is reconciled on its own (training.reconcile), so a dashboard could show a
cocaine forecast that is not the sum of its substances'. Both hierarchies are made to hold at
once, without undoing the geography's:

- a group's forecast stays as its geography tree reconciled it: the group has at least the
  reports of any of its substances, and its tree's method was chosen by backtest;
- at each leaf of the geography (a country, an admin-1 division, an area), the substances'
  forecasts are scaled to add up to their group's there, each keeping its share of their sum
  (top-down by forecast proportions, Athanasopoulos, Ahmed & Hyndman 2009); where they forecast
  nothing but the group forecasts more, the shares are the substances' recorded totals at that
  leaf, and equal shares where those are zero too;
- each substance's aggregates (subregion, region, world) are then the sums of its countries
  (training.reconcile runs its tree bottom up from these countries), so a region's group is
  the sum of its countries' groups, which are the sums of their substances, which sum to the
  region's substances: every node of the cross hierarchy adds up;
- a substance's band moves with its point as a reconciled country's does (its own calibrated
  band and the moved one together: training.hier_intervals.moved_bands).

A leaf is a series of one of those levels that is no tree's aggregate: CBP's nationwide series
is a country but sums its areas, and in a run that also holds IDS's USA series its substances
are not IDS's opioids group's to share. A substance without a forecast (reported in fewer than
3 periods, training.classes) gets no share, so where no substance of a group has a forecast at
a leaf the group's forecast there is left unallocated: counted (``unallocated``: leaf x period
cells with a group forecast above 0 and no substance forecast, or no substance series, to
carry it) and measured (:func:`drug_trees` with training.reconcile.largest_gap) rather than
hidden.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from core.taxonomy import series_group, substance_groups
from training.hier_intervals import moved_bands
from training.source_trees import Tree

#: the geo levels at which a group's forecast is shared out (no series sums them up to here)
LEAF_LEVELS = ("country", "admin1", "area")
_KEYS = ["geo_level", "geo", "group", "metric"]


def _with_groups(hierarchy: pd.DataFrame, ids: Sequence[str] | None = None) -> pd.DataFrame:
    """One row per series (those in ``ids`` when given) with the ``group`` its drug belongs to
    (a group series: its own name)."""
    meta = hierarchy.drop_duplicates("unique_id")
    if ids is not None:
        meta = meta[meta["unique_id"].isin(set(ids))]
    groups = substance_groups()
    return meta.assign(group=[series_group(level, drug, groups) for level, drug
                              in zip(meta["drug_level"], meta["drug"], strict=True)])


def drug_trees(hierarchy: pd.DataFrame, ids: Sequence[str]) -> list[Tree]:
    """One two-level tree per geo x group x metric of ``ids`` with a group series and at least
    one of its substances' (the group first, then its substances): what
    training.reconcile.largest_gap measures the substance -> group coherence on."""
    meta = _with_groups(hierarchy, ids)
    trees = []
    for (geo_level, geo, group, metric), part in meta.groupby(_KEYS, sort=True):
        top = part.loc[part["drug_level"] == "group", "unique_id"].tolist()
        subs = sorted(part.loc[part["drug_level"] == "substance", "unique_id"])
        if len(top) != 1 or not subs:
            continue
        S = np.vstack([np.ones((1, len(subs))), np.eye(len(subs))])
        trees.append(Tree(f"{geo_level}:{geo}/{group}/{metric}@substances", top + subs,
                          ["group"] + ["substance"] * len(subs), S))
    return trees


def share_out(forecasts: pd.DataFrame, hierarchy: pd.DataFrame, history: pd.DataFrame | None,
              levels: Sequence[int], aggregates: set[str] | frozenset[str] = frozenset()
              ) -> tuple[pd.DataFrame, set[str], dict[str, Any]]:
    """``forecasts`` (``unique_id, ds, forecast, lo_80, ...``) with each leaf substance's
    forecast scaled to its group's there (bands moved with it); the ids changed; a report.
    ``history`` (``unique_id, ds, y``) gives the recorded shares where the substances
    forecast nothing; ``aggregates`` are the trees' aggregates, never leaves. The report's
    ``cells_from_recorded_shares`` counts the leaf x period cells whose substances forecast
    nothing (shared by their records, or equally where those are 0 too)."""
    meta = _with_groups(hierarchy, forecasts["unique_id"].unique())
    meta = meta[meta["geo_level"].isin(LEAF_LEVELS) & ~meta["unique_id"].isin(aggregates)]
    meta = meta.set_index("unique_id")
    leaf = forecasts[forecasts["unique_id"].isin(meta.index)]
    leaf = leaf.join(meta[["drug_level", *_KEYS]], on="unique_id")
    subs = leaf[leaf["drug_level"] == "substance"]
    tops = leaf.loc[leaf["drug_level"] == "group", [*_KEYS, "ds", "forecast"]]
    report: dict[str, Any] = {"leaves": 0, "cells_from_recorded_shares": 0, "unallocated": 0}
    if subs.empty or tops.empty:
        return forecasts, set(), report
    subs = subs.merge(tops.rename(columns={"forecast": "target"}), on=[*_KEYS, "ds"])
    subs = subs[subs["target"].notna() & subs["forecast"].notna()]
    cell = [*_KEYS, "ds"]
    own = np.maximum(subs["forecast"].to_numpy(float), 0.0)  # a share is never negative
    total = pd.Series(own, index=subs.index).groupby([subs[k] for k in cell]).transform(
        "sum").to_numpy(float)
    recorded = _recorded(history, subs["unique_id"])
    recorded_total = recorded.groupby([subs[k] for k in cell]).transform("sum").to_numpy(float)
    n_parts = subs.groupby(cell)["forecast"].transform("size").to_numpy(float)
    target = subs["target"].to_numpy(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(total > 0, own / total,
                         np.where(recorded_total > 0, recorded.to_numpy(float) / recorded_total,
                                  1.0 / n_parts))
    point = np.maximum(target, 0.0) * share
    moved = moved_bands(point, subs["forecast"].to_numpy(float),
                        {lvl: (subs[f"lo_{lvl}"].to_numpy(float),
                               subs[f"hi_{lvl}"].to_numpy(float)) for lvl in levels})
    new = subs[["unique_id", "ds"]].assign(forecast=point)
    for lvl in levels:
        new[f"lo_{lvl}"], new[f"hi_{lvl}"] = moved[lvl]
    out = forecasts.merge(new, on=["unique_id", "ds"], how="left", suffixes=("", "_shared"))
    for column in ["forecast", *(f"{side}_{lvl}" for lvl in levels for side in ("lo", "hi"))]:
        shared = out.pop(f"{column}_shared")
        out[column] = shared.where(shared.notna(), out[column])
    allocated = subs.drop_duplicates(cell)
    unallocated = tops.merge(allocated[cell], on=cell, how="left", indicator=True)
    report.update({
        "leaves": int(subs.drop_duplicates(_KEYS).shape[0]),
        "cells_from_recorded_shares": int(subs.loc[(total <= 0) & (target > 0), cell]
                                          .drop_duplicates().shape[0]),
        "unallocated": int(((unallocated["_merge"] == "left_only")
                            & (unallocated["forecast"] > 0)).sum()),
    })
    return out, set(subs["unique_id"]), report


def _recorded(history: pd.DataFrame | None, ids: pd.Series) -> pd.Series:
    """Each row's series' recorded total (aligned with ``ids``; 0 without a history)."""
    if history is None or history.empty:
        return pd.Series(0.0, index=ids.index)
    totals = history.groupby("unique_id")["y"].sum()
    return ids.map(totals).fillna(0.0).astype(float)
