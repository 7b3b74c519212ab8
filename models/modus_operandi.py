"""Modus operandi shifts: for each drug and seizing country (and UN region), did the shares of
concealment methods change between a baseline window and a recent window?

The shares are of seizures with a known method (`features.concealment`: a method other than
`unknown`, text present): records that say nothing of how the drug was hidden stay out, and the
share of records with a known method in each window (`known_method_share`) is reported as
evidence. A change in that share alone (a reporter filling the field more or less often) is not
a shift, since it leaves the mix of known methods as it was.

Each method is tested on its own (its share against the rest) with a Mantel-Haenszel test
stratified by reporting country (the seizing country: UNODC's reporters report their own
seizures), so a region's mix that moves only because a country that hides differently joined,
left or reported more is not read as a change in how drugs are hidden; a country-level test has
one stratum. Only reporting countries with known methods in both windows count. The p-value of
a (drug, geo) is its smallest method p-value, Bonferroni-corrected for the methods tested (the
caller corrects across the run with Benjamini-Hochberg), as `models.route_shift` does for
routes; methods with fewer than 2 x `min_cell` seizures over both windows are pooled into one
"other" column, and a (drug, geo) needs `min_total` known-method seizures in each window.
Cramér's V of the pooled table is the effect size; the methods gaining and losing are those
whose pooled share moved by `min_share_change` with a Mantel-Haenszel z beyond 2.

Vectorised over every (drug, geo) at once: one backtest tests every month.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from models.route_shift import DRUG_COLUMNS, OTHER, Windows, movers, union_p_value

ATTRIBUTE = "concealment"
METHOD_COLUMN = "concealment_method"
UNKNOWN_METHOD = "unknown"
GEO_LEVELS: dict[str, str] = {"country": "country", "region": "region"}  # level -> flow column
COLUMNS = ["drug_level", "drug", "geo_level", "geo", "region", "p_value", "cramers_v", "g",
           "dof", "shares", "gaining", "losing", "baseline_total", "recent_total",
           "known_method_share", "reporters"]


def method_counts(routes: pd.DataFrame, windows: Windows, *, time_col: str = "ds",
                  weight_col: str = "seizures") -> pd.DataFrame:
    """Seizures per (drug_level, drug, geo_level, geo, region, reporter, method, window); the
    method is `unknown` where the flow has none (null or `unknown`)."""
    in_base = routes[time_col].between(windows.baseline_start, windows.baseline_end)
    in_recent = routes[time_col].between(windows.recent_start, windows.recent_end)
    frame = routes.loc[(in_base | in_recent) & routes["country"].notna()]
    method = frame[METHOD_COLUMN].astype(object) if METHOD_COLUMN in frame.columns else None
    common = {
        "reporter": frame["country"].to_numpy(object),
        "region": frame["region"].to_numpy(object),
        "method": (np.full(len(frame), UNKNOWN_METHOD, dtype=object) if method is None
                   else method.where(method.notna(), UNKNOWN_METHOD).to_numpy(object)),
        "window": np.where(frame[time_col] >= windows.recent_start, "recent", "baseline"),
        "n": frame[weight_col].to_numpy(dtype=float),
    }
    parts = [pd.DataFrame({"drug_level": level, "drug": frame[col].to_numpy(object),
                           "geo_level": geo_level, "geo": frame[geo_col].to_numpy(object),
                           **common})
             for level, col in DRUG_COLUMNS.items() if col in frame.columns
             for geo_level, geo_col in GEO_LEVELS.items()]
    out = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(
        columns=["drug_level", "drug", "geo_level", "geo", *common])
    out = out[out["drug"].notna() & out["geo"].notna()]
    keys = ["drug_level", "drug", "geo_level", "geo", "region", "reporter", "method", "window"]
    return out.groupby(keys, as_index=False, observed=True)["n"].sum()


def scan_modus_operandi(routes: pd.DataFrame, windows: Windows, *, min_total: float = 30.0,
                        min_cell: float = 5.0, min_share_change: float = 0.15,
                        time_col: str = "ds") -> pd.DataFrame:
    """One row per testable (drug, seizing country or region) in the given windows (`COLUMNS`).

    `known_method_share` is {"baseline", "recent"}: the share of the geo's seizures with a known
    method in each window; `shares` maps each method (small ones pooled as "(other)") to its
    (baseline, recent) share among the known.
    """
    if routes is None or routes.empty or METHOD_COLUMN not in routes.columns:
        return pd.DataFrame(columns=COLUMNS)
    counts = method_counts(routes, windows, time_col=time_col)
    group = ["drug_level", "drug", "geo_level", "geo"]
    wide = counts.pivot_table(index=[*group, "region", "reporter", "method"], columns="window",
                              values="n", aggfunc="sum", fill_value=0.0)
    wide = wide.reindex(columns=["baseline", "recent"], fill_value=0.0).reset_index()
    all_n = wide.groupby(group, observed=True)[["baseline", "recent"]].sum()
    known = wide[wide["method"] != UNKNOWN_METHOD]
    if known.empty:
        return pd.DataFrame(columns=COLUMNS)
    known_n = known.groupby(group, observed=True)[["baseline", "recent"]].sum()
    # reporting countries with known methods in both windows
    per_reporter = known.groupby([*group, "reporter"], observed=True)[["baseline", "recent"]].sum()
    both = per_reporter[(per_reporter["baseline"] > 0) & (per_reporter["recent"] > 0)]
    known = known.merge(both.rename(columns={"baseline": "B", "recent": "R"}).reset_index(),
                        on=[*group, "reporter"])
    totals = known.groupby(group, observed=True)[["baseline", "recent"]].sum()
    testable = totals[(totals["baseline"] >= min_total) & (totals["recent"] >= min_total)]
    if testable.empty:
        return pd.DataFrame(columns=COLUMNS)
    known = known.merge(testable.rename(columns={"baseline": "TB", "recent": "TR"}).reset_index(),
                        on=group)
    pooled = known.groupby([*group, "method"], observed=True)[["baseline", "recent"]].sum()
    big = (pooled["baseline"] + pooled["recent"]) >= 2 * min_cell
    z = _mh_z(known, group)
    z = z[big.reindex(z.index, fill_value=False)]
    table = pooled.reset_index()
    table.loc[~big.to_numpy(), "method"] = OTHER
    table = table.groupby([*group, "method"], observed=True)[["baseline", "recent"]].sum()
    effect = _pooled_effect(table, group)
    regions = known.drop_duplicates(group).set_index(group)["region"].to_dict()
    reporters = both.groupby(level=list(range(len(group))), observed=True).size().to_dict()
    stat_of = effect.to_dict("index")
    total_of = testable.to_dict("index")
    known_of, all_of = known_n.to_dict("index"), all_n.to_dict("index")
    cells_of: dict[tuple, dict[str, tuple[float, float]]] = {}
    for (*key, method), b, r in zip(table.index, table["baseline"], table["recent"],
                                    strict=True):
        cells_of.setdefault(tuple(key), {})[method] = (float(b), float(r))
    z_of_key: dict[tuple, dict[str, float]] = {}
    for (*key, method), value in z.items():
        z_of_key.setdefault(tuple(key), {})[method] = float(value)
    rows = []
    for key, z_of in z_of_key.items():
        if key not in stat_of:
            continue
        cells, stat, total = cells_of[key], stat_of[key], total_of[key]
        b_all = sum(b for b, _ in cells.values())
        r_all = sum(r for _, r in cells.values())
        shares = {m: (b / b_all, r / r_all) for m, (b, r) in cells.items()}
        gaining, losing = movers(shares, z_of, min_share_change=min_share_change)
        geo_level, geo = key[2], key[3]
        rows.append({
            "drug_level": key[0], "drug": key[1], "geo_level": geo_level, "geo": geo,
            "region": geo if geo_level == "region" else regions.get(key),
            "p_value": union_p_value(list(z_of.values())), "cramers_v": float(stat["cramers_v"]),
            "g": float(stat["g"]), "dof": int(stat["dof"]), "shares": shares,
            "gaining": gaining, "losing": losing,
            "baseline_total": float(total["baseline"]), "recent_total": float(total["recent"]),
            "known_method_share": {
                w: round(known_of[key][w] / all_of[key][w], 4) if all_of[key][w] > 0 else None
                for w in ("baseline", "recent")},
            "reporters": int(reporters.get(key, 0)),
        })
    return pd.DataFrame(rows, columns=COLUMNS)


def _mh_z(known: pd.DataFrame, group: list[str]) -> pd.Series:
    """Mantel-Haenszel z per (group, method) over the reporting countries: recent seizures by the
    method against those expected had each country kept its own baseline share."""
    m = (known["baseline"] + known["recent"]).to_numpy(float)
    big_b, big_r = known["B"].to_numpy(float), known["R"].to_numpy(float)
    n = big_b + big_r
    with np.errstate(invalid="ignore", divide="ignore"):
        expected = np.where(n > 0, big_r * m / n, 0.0)
        var = np.where(n > 1, big_b * big_r * m * (n - m) / (n ** 2 * (n - 1)), 0.0)
    sums = pd.DataFrame({**{c: known[c] for c in [*group, "method"]},
                         "o": known["recent"].to_numpy(float), "e": expected, "v": var}
                        ).groupby([*group, "method"], observed=True)[["o", "e", "v"]].sum()
    with np.errstate(invalid="ignore", divide="ignore"):
        z = np.where(sums["v"] > 0, (sums["o"] - sums["e"]) / np.sqrt(sums["v"]), 0.0)
    return pd.Series(z, index=sums.index)


def _pooled_effect(table: pd.DataFrame, group: list[str]) -> pd.DataFrame:
    """G statistic, degrees of freedom and Cramér's V of each group's pooled 2 x K table."""
    obs = table[["baseline", "recent"]]
    row = obs.groupby(level=list(range(len(group))), observed=True).transform("sum")
    total = row.sum(axis=1)
    col = obs.sum(axis=1)
    expected = row.mul(col / total, axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        g_cells = np.where(obs > 0, obs * np.log(obs / expected), 0.0).sum(axis=1)
        chi_cells = ((obs - expected) ** 2 / expected).fillna(0.0).sum(axis=1)
    cells = pd.DataFrame({"g": 2 * g_cells, "chi2": chi_cells, "k": 1.0, "n": col},
                         index=obs.index)
    out = cells.groupby(level=list(range(len(group))), observed=True).sum()
    out = out[out["k"] >= 2]
    return pd.DataFrame({"g": out["g"], "dof": out["k"] - 1,
                         "cramers_v": np.sqrt(out["chi2"] / out["n"])})

