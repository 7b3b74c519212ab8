"""Route shifts: for each drug and destination region, did the shares of departure countries,
transit countries or transport modes change between a baseline window and a recent window?

Per (drug, destination region, attribute) the seizures of the two windows form a 2 x K
contingency table over the attribute's known entities (unknown parts stay out: shares are of
seizures with a known value). Each entity is tested on its own (its share against the rest) with
a Mantel-Haenszel test stratified by seizing country: a route changed when the seizures of the
same countries name it more or less often, not when the mix of seizing countries changed (a surge
of captagon seizures in Saudi Arabia raises the share of captagon's departure countries among
amphetamine-type stimulants bound for Asia without any route moving). The p-value (the caller
corrects across all tests with Benjamini-Hochberg) is the smallest entity p-value,
Bonferroni-corrected for the number of entities tested: a route shift is usually one or two
entities moving, which their own tests see long before an omnibus test over many entities does.
Cramér's V of the pooled table gives the effect size, and each entity's pooled share change with
its z says who gained and who lost. Entities too small to test are pooled into one "other"
column. Transit is counted per whole route (the set of countries a seizure names, each seizure
once); a country is then tested on the share of seizures naming it, so a transit country never
seen before the recent window counts as soon as enough seizures name it. Only seizing countries
that reported the flow in both windows are counted, so that a change in who reports (common in
voluntary reporting such as UNODC's) is not read as a change of route.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

ATTRIBUTES: tuple[str, ...] = ("departure_country", "transit_countries", "transport_mode")
UNKNOWN = {"", "unknown", "Unknown", "UNK", "nan", "None"}
OTHER = "(other)"
#: Drug level -> the route-flow column naming the drug (features/routes.py).
DRUG_COLUMNS: dict[str, str] = {"group": "drug_group", "substance": "substance"}


@dataclass(frozen=True)
class Windows:
    """Inclusive period bounds of the baseline and recent windows."""

    baseline_start: pd.Timestamp
    baseline_end: pd.Timestamp
    recent_start: pd.Timestamp
    recent_end: pd.Timestamp

    @classmethod
    def ending(cls, as_of: pd.Timestamp, recent: int, baseline: int,
               freq: str = "MS") -> Windows:
        """`recent` periods of `freq` ending at `as_of`, and the `baseline` periods just before
        them."""
        unit = _OFFSET_UNITS[freq]
        recent_start = as_of - pd.DateOffset(**{unit: recent - 1})
        baseline_end = recent_start - pd.DateOffset(**{unit: 1})
        return cls(baseline_end - pd.DateOffset(**{unit: baseline - 1}), baseline_end,
                   recent_start, as_of)


#: Build frequency -> the `pd.DateOffset` keyword of one period.
_OFFSET_UNITS: dict[str, str] = {"MS": "months", "W-MON": "weeks", "YS": "years"}


def entity_counts(routes: pd.DataFrame, attribute: str, windows: Windows, *,
                  time_col: str = "ds", weight_col: str = "seizures") -> pd.DataFrame:
    """Seizures per (drug_level, drug, destination_region, reporter, entity, window), unknowns
    dropped; `reporter` is the seizing country (`country`).

    Every flow counts at both drug levels (its group and its substance).

    `transit_countries` is `;`-joined: the entity is the route, its countries sorted (the same
    set of countries in another order is the same route), so each seizure counts once.
    """
    in_base = routes[time_col].between(windows.baseline_start, windows.baseline_end)
    in_recent = routes[time_col].between(windows.recent_start, windows.recent_end)
    frame = routes.loc[in_base | in_recent]
    frame = frame[frame["destination_region"].notna()]
    window = np.where(frame[time_col] >= windows.recent_start, "recent", "baseline")
    common = {
        "reporter": (frame["country"].to_numpy() if "country" in frame.columns
                     else np.full(len(frame), "")),
        "destination_region": frame["destination_region"].to_numpy(),
        "entity": frame[attribute].astype("string").to_numpy(), "window": window,
        "n": frame[weight_col].to_numpy(dtype=float),
    }
    out = pd.concat([
        pd.DataFrame({"drug_level": level, "drug": frame[col].to_numpy(), **common})
        for level, col in DRUG_COLUMNS.items() if col in frame.columns
    ], ignore_index=True)
    out = out[out["drug"].notna()]
    if attribute == "transit_countries":
        out["entity"] = out["entity"].map(route_key, na_action="ignore")
    out = out[out["entity"].notna() & ~out["entity"].isin(UNKNOWN)]
    keys = ["drug_level", "drug", "destination_region", "reporter", "entity", "window"]
    return out.groupby(keys, as_index=False, observed=True)["n"].sum()


def route_key(value: str) -> str:
    """A transit list as a route: its known countries, sorted and `;`-joined ("" if none)."""
    parts = {x.strip() for x in str(value).split(";")} - UNKNOWN - {""}
    return ";".join(sorted(parts))


def union_p_value(z: list[float]) -> float:
    """The smallest two-sided p-value of the entities' z-scores, Bonferroni-corrected for their
    number (valid whatever their dependence); 1 when none was tested."""
    if not z:
        return 1.0
    return float(min(1.0, len(z) * 2.0 * stats.norm.sf(max(abs(v) for v in z))))


def named_counts(part: pd.DataFrame) -> pd.DataFrame:
    """Transit route counts turned into counts of seizures naming each country (a seizure naming
    k countries counts once for each of them)."""
    out = part.assign(entity=part["entity"].str.split(";")).explode("entity")
    return out[out["entity"].notna() & (out["entity"] != "")]


def stratified_z(part: pd.DataFrame, entities: list[str], *,
                 routes: bool = False) -> dict[str, float]:
    """Mantel-Haenszel z per entity: recent seizures naming it against those expected if each
    seizing country (`reporter`) kept its baseline share, over the hypergeometric variance.

    `part`: seizures per (reporter, entity, window); a reporter's totals are its seizures with a
    known value. With `routes`, entities are `;`-joined transit routes: the totals are taken per
    route, the entity counts per country named."""
    totals = part.pivot_table(index="reporter", columns="window", values="n", aggfunc="sum",
                              fill_value=0.0)
    totals = totals.reindex(columns=["baseline", "recent"], fill_value=0.0)
    counted = named_counts(part) if routes else part
    counted = counted[counted["entity"].isin(entities)]
    cells = counted.pivot_table(index=["entity", "reporter"], columns="window", values="n",
                                aggfunc="sum", fill_value=0.0)
    cells = cells.reindex(columns=["baseline", "recent"], fill_value=0.0).reset_index()
    big_b = totals["baseline"].reindex(cells["reporter"]).to_numpy()
    big_c = totals["recent"].reindex(cells["reporter"]).to_numpy()
    m = (cells["baseline"] + cells["recent"]).to_numpy()
    n = big_b + big_c
    with np.errstate(invalid="ignore", divide="ignore"):
        expected = np.where(n > 0, big_c * m / n, 0.0)
        var = np.where(n > 1, big_b * big_c * m * (n - m) / (n ** 2 * (n - 1)), 0.0)
    sums = pd.DataFrame({"entity": cells["entity"], "o": cells["recent"], "e": expected,
                         "v": var}).groupby("entity")[["o", "e", "v"]].sum()
    with np.errstate(invalid="ignore", divide="ignore"):
        z = np.where(sums["v"] > 0, (sums["o"] - sums["e"]) / np.sqrt(sums["v"]), 0.0)
    return {e: float(v) for e, v in zip(sums.index, z, strict=True)}


def name_countries(baseline: pd.Series, recent: pd.Series, *,
                   min_cell: float = 5.0) -> tuple[dict[str, tuple[float, float]], list[str]]:
    """Pooled share of seizures naming each country of the transit routes (`baseline`, `recent`:
    seizures per route) in each window, and the countries named at least 2 x `min_cell` times
    (those worth a test)."""
    n_b, n_r = float(baseline.sum()), float(recent.sum())
    named: dict[str, list[float]] = {}
    for window, counts in ((0, baseline), (1, recent)):
        for route, n in counts.items():
            for country in str(route).split(";"):
                if country and country != OTHER:
                    named.setdefault(country, [0.0, 0.0])[window] += float(n)
    shares = {c: (a / n_b, b / n_r) for c, (a, b) in named.items()}
    return shares, [c for c, (a, b) in named.items() if a + b >= 2 * min_cell]


def movers(shares: dict[str, tuple[float, float]], z: dict[str, float], *,
           min_share_change: float = 0.05, residual: float = 2.0) -> tuple[list[str], list[str]]:
    """Entities that gained and lost (share change and z both beyond their bounds), largest
    change first."""
    change = {e: shares[e][1] - shares[e][0] for e in z if e in shares}
    gaining = [e for e in sorted(change, key=lambda e: -change[e])
               if change[e] >= min_share_change and z[e] >= residual]
    losing = [e for e in sorted(change, key=lambda e: change[e])
              if change[e] <= -min_share_change and z[e] <= -residual]
    return gaining, losing


def compare_shares(baseline: pd.Series, recent: pd.Series, *, min_cell: float = 5.0,
               min_share_change: float = 0.05, residual: float = 2.0) -> dict | None:
    """G-test of one 2 x K table (seizures per entity in each window); None if untestable.

    Returns `g`, `dof`, `p_value`, `cramers_v`, `shares` (entity -> (baseline, recent)),
    `gaining` and `losing` (entities sorted by share change, by the adjusted residuals of the
    pooled table).
    """
    table = pd.concat({"baseline": baseline, "recent": recent}, axis=1).fillna(0.0)
    small = table.sum(axis=1) < 2 * min_cell
    if small.any():
        pooled = table[small].sum()
        table = table[~small]
        if pooled.sum() > 0:
            table.loc[OTHER] = pooled
    if len(table) < 2 or (table.sum() <= 0).any():
        return None
    obs = table.to_numpy().T  # 2 x K
    total = obs.sum()
    row = obs.sum(axis=1, keepdims=True)
    col = obs.sum(axis=0, keepdims=True)
    expected = row * col / total
    with np.errstate(divide="ignore", invalid="ignore"):
        g = 2.0 * np.nansum(np.where(obs > 0, obs * np.log(obs / expected), 0.0))
        chi2 = np.sum((obs - expected) ** 2 / expected)
        adj = (obs - expected) / np.sqrt(expected * (1 - row / total) * (1 - col / total))
    dof = obs.shape[1] - 1
    shares = obs / row
    change = shares[1] - shares[0]
    entities = list(table.index)
    gaining = [entities[k] for k in np.argsort(-change)
               if change[k] >= min_share_change and adj[1, k] >= residual and entities[k] != OTHER]
    losing = [entities[k] for k in np.argsort(change)
              if change[k] <= -min_share_change and adj[1, k] <= -residual
              and entities[k] != OTHER]
    return {
        "g": float(g), "dof": int(dof), "p_value": float(stats.chi2.sf(g, dof)),
        "cramers_v": float(np.sqrt(chi2 / total)),
        "shares": {e: (float(shares[0, k]), float(shares[1, k])) for k, e in enumerate(entities)},
        "gaining": gaining, "losing": losing,
        "baseline_total": float(row[0, 0]), "recent_total": float(row[1, 0]),
    }


def scan_route_shifts(
    routes: pd.DataFrame,
    windows: Windows,
    *,
    attributes: tuple[str, ...] = ATTRIBUTES,
    min_total: float = 30.0,
    min_cell: float = 5.0,
    min_share_change: float = 0.05,
    time_col: str = "ds",
) -> pd.DataFrame:
    """One row per testable (drug, destination region, attribute) in the given windows.

    Columns: `drug_level, drug, destination_region, attribute`, the fields of `compare_shares`, and
    `new` (gaining entities never seen in any period before the recent window; only counted for
    transit countries, where a new country is itself the news).
    """
    rows: list[dict] = []
    for attribute in attributes:
        if attribute not in routes.columns:
            continue
        counts = entity_counts(routes, attribute, windows, time_col=time_col)
        seen_before: set = set()
        if attribute == "transit_countries":
            earlier = routes.loc[routes[time_col] < windows.recent_start, attribute].dropna()
            seen_before = set(earlier.astype(str).str.split(";").explode().str.strip())
        for (level, drug, dest), part in counts.groupby(
                ["drug_level", "drug", "destination_region"], observed=True):
            # only seizing countries that reported this flow in both windows: a country that
            # joins or leaves the data would otherwise pass for a shift of the route
            both = part.groupby("reporter")["window"].nunique()
            part = part[part["reporter"].isin(both.index[both == 2])]
            wide = part.pivot_table(index="entity", columns="window", values="n",
                                    aggfunc="sum", fill_value=0.0)
            base = wide.get("baseline", pd.Series(0.0, index=wide.index))
            recent = wide.get("recent", pd.Series(0.0, index=wide.index))
            if base.sum() < min_total or recent.sum() < min_total:
                continue
            result = compare_shares(base, recent, min_cell=min_cell,
                                    min_share_change=min_share_change)
            if result is None:
                continue
            if attribute == "transit_countries":
                result["shares"], tested = name_countries(base, recent, min_cell=min_cell)
            else:
                tested = [e for e in result["shares"] if e != OTHER]
            z = stratified_z(part, tested, routes=attribute == "transit_countries")
            result["p_table"] = result["p_value"]
            result["p_value"] = union_p_value(list(z.values()))
            result["gaining"], result["losing"] = movers(
                result["shares"], z, min_share_change=min_share_change)
            new = [e for e in result["gaining"] if attribute == "transit_countries"
                   and e not in seen_before]
            rows.append({"drug_level": level, "drug": drug, "destination_region": dest,
                         "attribute": attribute, **result, "new": new})
    columns = ["drug_level", "drug", "destination_region", "attribute", "g", "dof", "p_value",
               "p_table", "cramers_v", "shares", "gaining", "losing", "baseline_total",
               "recent_total",
               "new"]
    return pd.DataFrame(rows, columns=columns)
