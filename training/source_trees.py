"""Each source its own tree: the hierarchies of already-aggregated imports (CBP's areas of
responsibility -> CBP regions -> nationwide), beside the country -> world geography.

An aggregated import publishes its own levels (features.importers.cbp: ``area`` series for the
areas, ``region`` for CBP's three regions, ``country`` USA for the nation) and the series file
does not say which area is in which CBP region. So the tree is read from the data and kept only
where the data add up:

- per source (all series of one drug level x drug x metric with ``area`` series, and their
  ``country`` / ``region`` series), an aggregate's members are found by non-negative least
  squares of its history on the areas' histories, pooled over every drug and metric (a CBP region
  holds the same areas for every drug), each series scaled to its own size; weights are rounded
  to 0/1;
- an aggregate joins a drug's tree only if its history equals the sum of its members' in every
  period where all are known, within ``TOLERANCE`` of its size; one that does not add up (a
  nationwide figure with more than its areas) is left out and forecast on its own.

On the CBP files every area is in one region and the areas add up to the nation and the regions
to within 4e-12 kg, so each drug x metric gets the full three-level tree.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.optimize import nnls

SOURCE_LEVELS = ("nationwide", "source_region", "area")
_LEVEL_OF = {"country": "nationwide", "region": "source_region"}
TOLERANCE = 1e-6  # relative gap under which an aggregate counts as the sum of its members


@dataclass
class Tree:
    """One hierarchy: node ids (aggregates first, bottoms last), their levels and S."""

    key: str
    ids: list[str]
    levels: list[str]
    S: np.ndarray

    @property
    def n_bottom(self) -> int:
        return self.S.shape[1]


def source_trees(hierarchy: pd.DataFrame, ids: Sequence[str],
                 history: pd.DataFrame) -> list[Tree]:
    """The trees of the sources with ``area`` series among ``ids``; ``history`` the series
    (``unique_id, ds, y``) their structure is read from."""
    meta = hierarchy.drop_duplicates("unique_id")
    meta = meta[meta["unique_id"].isin(set(ids))]
    keys = ["drug_level", "drug", "metric"]
    with_areas = meta.loc[meta["geo_level"] == "area", keys].drop_duplicates()
    if with_areas.empty:
        return []
    meta = meta.merge(with_areas, on=keys)
    meta = meta[meta["geo_level"].isin(["area", *_LEVEL_OF])]
    wide = history[history["unique_id"].isin(set(meta["unique_id"]))].pivot_table(
        index="ds", columns="unique_id", values="y", dropna=False)
    members = _members(meta, wide)
    trees = []
    for (drug_level, drug, metric), part in meta.groupby(keys, sort=True):
        areas = part[part["geo_level"] == "area"].sort_values("geo")
        bottom = areas["unique_id"].tolist()
        rows, agg_ids, agg_levels = [], [], []
        tops = part[part["geo_level"] != "area"].copy()
        tops["order"] = tops["geo_level"].map(list(_LEVEL_OF).index)
        for _, node in tops.sort_values(["order", "geo"]).iterrows():
            row = areas["geo"].isin(members.get(node["geo"], set())).to_numpy(float)
            if row.any() and _adds_up(wide, node["unique_id"], bottom, row):
                rows.append(row)
                agg_ids.append(node["unique_id"])
                agg_levels.append(_LEVEL_OF[node["geo_level"]])
        if rows:
            S = np.vstack([np.vstack(rows), np.eye(len(bottom))])
            trees.append(Tree(f"{drug_level}:{drug}/{metric}@areas", agg_ids + bottom,
                              agg_levels + ["area"] * len(bottom), S))
    return trees


def _members(meta: pd.DataFrame, wide: pd.DataFrame) -> dict[str, set[str]]:
    """Per aggregate geo, the area geos whose histories sum to it (NNLS pooled over every drug
    and metric, rounded to 0/1)."""
    keys = ["drug_level", "drug", "metric"]
    area_geos = sorted(meta.loc[meta["geo_level"] == "area", "geo"].unique())
    top_geos = sorted(meta.loc[meta["geo_level"] != "area", "geo"].unique())
    blocks_x, blocks_y = [], []
    for _, part in meta.groupby(keys, sort=True):
        by_geo = part.set_index("geo")["unique_id"]
        x = np.column_stack([_column(wide, by_geo.get(g)) for g in area_geos])
        y = np.column_stack([_column(wide, by_geo.get(g), np.nan) for g in top_geos])
        size = np.nanmax(np.abs(y)) if np.isfinite(y).any() else 0.0
        size = size if size > 0 else 1.0
        blocks_x.append(x / size)
        blocks_y.append(y / size)
    X, Y = np.vstack(blocks_x), np.vstack(blocks_y)
    out: dict[str, set[str]] = {}
    for j, geo in enumerate(top_geos):
        use = np.isfinite(Y[:, j]) & np.isfinite(X).all(axis=1)
        if use.sum() < len(area_geos):
            continue
        weights, _ = nnls(X[use], Y[use, j])
        out[geo] = {g for g, w in zip(area_geos, weights, strict=True) if w > 0.5}
    return out


def _column(wide: pd.DataFrame, uid: str | None, missing: float = 0.0) -> np.ndarray:
    """One series' history; an area without a series for the drug seized none of it (0), an
    aggregate without one is unknown (NaN)."""
    if uid is None or uid not in wide:
        return np.full(len(wide), missing)
    return wide[uid].to_numpy(float)


def _adds_up(wide: pd.DataFrame, node: str, bottom: list[str], row: np.ndarray) -> bool:
    """Whether ``node``'s history is the sum of the bottoms in ``row`` wherever all are known."""
    if node not in wide:
        return False
    parts = np.column_stack([_column(wide, u) for u in bottom])
    total = parts @ row
    y = wide[node].to_numpy(float)
    use = np.isfinite(y) & np.isfinite(total)
    if not use.any():
        return False
    size = max(1.0, float(np.max(np.abs(y[use]))))
    return bool(np.max(np.abs(y[use] - total[use])) <= TOLERANCE * size)
