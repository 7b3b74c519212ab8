"""The scores bench/forecast.py reports: MASE, coverage and MSIS per method on a holdout, and
the figures that say which of them can rank methods at all.

The mean MSIS over series (M4's) is, like the mean MASE, made by a few hauls: on CBP one San
Diego MDMA month (800 kg against a training scale of 0.014 kg) is 60 of the best peer's 81
points at 80%, and every method scores it within 1%. Three figures read the intervals without
that: the mean over the ``regular`` series, the volume-weighted MSIS per unit (M5's weighting:
each series by its last training year's volume, kg and seizures apart), and the geometric mean
of the per-series ratio to each peer (as AvgRelMAE). ``record_bound`` says how far down the
mean can go at all: the score any band whose top stays within a series' training record must
pay on the months that broke it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

SEASON = 12


def scales(train: pd.DataFrame) -> pd.Series:
    """Training seasonal-naive MAE per series (NaN pairs skipped)."""
    frame = train.sort_values(["unique_id", "ds"])
    diff = frame.groupby("unique_id")["y"].diff(SEASON).abs()
    return diff.groupby(frame["unique_id"]).mean()


def holdout_mae(test: pd.DataFrame, forecasts: pd.DataFrame, point: str) -> pd.Series:
    """Mean absolute error of ``point`` per series over the observed held-out months."""
    data = test[["unique_id", "ds", "y"]].merge(forecasts[["unique_id", "ds", point]],
                                                 on=["unique_id", "ds"], how="inner")
    data = data[data["y"].notna()]
    return (data[point] - data["y"]).abs().groupby(data["unique_id"]).mean()


EXACT = 1e-6  # a holdout MAE below this (seizures or kg a month) is an exact forecast


def avg_relative(errors: pd.Series, reference: pd.Series) -> dict[str, float]:
    """Geometric mean of ``errors / reference`` per series (a holdout MAE, an MSIS) over the
    series where both are non-zero (below ``EXACT`` counts as zero: on an all-zero IDS holdout
    AutoTheta's 1e-118 against the project's 2e-8 seizures is a ratio of 1e110, which alone
    tripled the mean over 215 series, though both forecasts are exact)."""
    pair = pd.concat([errors, reference], axis=1, join="inner").dropna()
    pair = pair.where(pair >= EXACT, 0.0)
    ours, theirs = pair.iloc[:, 0], pair.iloc[:, 1]
    both = (ours > 0) & (theirs > 0)
    ratio = ours[both] / theirs[both]
    return {"avg_relative": round(float(np.exp(np.log(ratio).mean())), 4),
            "share_of_series_better": round(float((ratio < 1).mean()), 4),
            "n_series": int(both.sum()),
            # left out (ratio 0 or infinite): exact forecasts of an all-zero holdout, mostly
            "n_left_out_only_project_exact": int(((ours == 0) & (theirs > 0)).sum()),
            "n_left_out_only_peer_exact": int(((ours > 0) & (theirs == 0)).sum()),
            "n_left_out_both_exact": int(((ours == 0) & (theirs == 0)).sum())}


def hindsight(per_series: dict[str, pd.Series], best_peer: str,
              regular: set[str]) -> dict[str, float]:
    """The per-series best of every method, chosen knowing the held-out months: a floor no
    forecast among these reaches, and how few series make the all-series mean."""
    table = pd.DataFrame(per_series)
    oracle = table.min(axis=1)
    peer = table[best_peer].sort_values(ascending=False)
    half = int(np.searchsorted(peer.cumsum().to_numpy(), peer.sum() / 2) + 1)
    is_regular = table.index.isin(regular)
    return {"best_of_all_mase_all": round(float(oracle.mean()), 4),
            "best_of_all_ratio_all": round(float(oracle.mean() / table[best_peer].mean()), 4),
            "best_of_all_ratio_regular": round(float(oracle[is_regular].mean()
                                                     / table.loc[is_regular, best_peer].mean()), 4),
            "shock_series": half, "shock_series_ids": list(peer.index[:half])}


def unit_of(ids: pd.Index) -> pd.Index:
    """``kg`` or ``seizures``: the last part of a series id."""
    return pd.Index(ids).str.rsplit("/", n=1).str[-1]


def weighted_by_unit(per_series: pd.Series, weights: pd.Series) -> dict[str, float]:
    """Per unit, the mean of ``per_series`` weighted by ``weights`` renormalised over the series
    scored (so a unit's weights sum to 1 on the scored series)."""
    w = weights.reindex(per_series.index).fillna(0.0)
    out = {}
    for unit, part in per_series.groupby(unit_of(per_series.index)):
        total = w[part.index].sum()
        if total > 0:
            out[str(unit)] = float((part * w[part.index]).sum() / total)
    return out


def score(test: pd.DataFrame, forecasts: pd.DataFrame, point: str, bounds: dict[int, tuple[str,
          str]], scale: pd.Series, regular: set[str],
          classes: pd.Series | None = None, weights: pd.Series | None = None) -> dict:
    """MASE, coverage and MSIS (M4's mean scaled interval score) of one method on the holdout:
    over every series (``_all``) and the regular ones; with ``classes`` (series class by id),
    coverage and MSIS per class; with ``weights`` (volume weights by id), the volume-weighted
    MSIS per unit (``wmsis_<level>``). ``per_series`` and ``per_series_msis_<level>`` are the
    per-series figures the caller compares methods on."""
    from training.metrics import interval_score

    data = test[["unique_id", "ds", "y"]].merge(forecasts, on=["unique_id", "ds"], how="inner")
    data = data[data["y"].notna() & data["unique_id"].isin(scale.index)]
    err = (data[point] - data["y"]).abs() / data["unique_id"].map(scale)
    per_series = err.groupby(data["unique_id"]).mean()
    out = {"mase": float(per_series[per_series.index.isin(regular)].mean()),
           "per_series": per_series,
           "mase_all": float(per_series.mean()), "mase_median_all": float(per_series.median()),
           "n_points": len(data)}
    label = data["unique_id"].map(classes) if classes is not None else None
    for lvl, (lo, hi) in bounds.items():
        if lo in data:
            inside = ((data["y"] >= data[lo]) & (data["y"] <= data[hi])).where(
                data[lo].notna() & data[hi].notna())  # no interval: not scored on it
            out[f"coverage_{lvl}"] = float(inside[data["unique_id"].isin(regular)].mean())
            out[f"coverage_{lvl}_all"] = float(inside.mean())
            msis = pd.Series(interval_score(data["y"].to_numpy(float), data[lo].to_numpy(float),
                                            data[hi].to_numpy(float), lvl), index=data.index)
            msis = (msis / data["unique_id"].map(scale)).groupby(data["unique_id"]).mean()
            out[f"msis_{lvl}_all"] = float(msis.mean())
            out[f"msis_{lvl}"] = float(msis[msis.index.isin(regular)].mean())
            out[f"per_series_msis_{lvl}"] = msis
            if weights is not None:
                out[f"wmsis_{lvl}"] = {u: round(v, 4)
                                       for u, v in weighted_by_unit(msis, weights).items()}
            if label is not None:
                for name, part in inside.groupby(label):
                    ids = data.loc[part.index, "unique_id"].unique()
                    out.setdefault("by_class", {}).setdefault(str(name), {
                        "n_series": int(len(ids))})
                    out["by_class"][str(name)][f"coverage_{lvl}"] = round(float(part.mean()), 4)
                    out["by_class"][str(name)][f"msis_{lvl}"] = round(float(
                        msis.reindex(ids).mean()), 4)
    return out


def record_bound(test: pd.DataFrame, record: pd.Series, scale: pd.Series,
                 lvl: int) -> pd.Series:
    """Per series, the least MSIS any ``lvl``% band whose top stays within ``record`` (the
    series' training maximum) can score on ``test``: 2 / alpha times the scaled amount by which
    the held-out months exceed the record, width left at zero."""
    data = test[test["y"].notna() & test["unique_id"].isin(scale.index)]
    excess = np.maximum(data["y"] - data["unique_id"].map(record), 0.0)
    alpha = 1 - lvl / 100
    return ((2 / alpha) * excess / data["unique_id"].map(scale)).groupby(
        data["unique_id"]).mean()


def hindsight_band_bound(test: pd.DataFrame, scale: pd.Series, lvl: int) -> pd.Series:
    """Per series, the MSIS of the best band constant over the holdout, chosen knowing every
    held-out value: the least expected score of any band that knows the held-out values but
    not which month holds which, every order alike likely (each month's best band is then the
    one for all the values).
    A reference, not a floor under every forecast: a band that reads order from the training
    months (a trend) can do better on a trending holdout. Where one month breaks out, its
    timing is what no forecast knows, and there the reference binds. The interval score parts
    apart, so its top is the held-out values' upper ``1 - alpha / 2`` quantile and its bottom
    the lower one (the pinball loss's minimisers): at 80% over 12 months it leaves one month
    above it, since widening by d every month costs 12 d and saves (2 / alpha) d = 10 d on
    that month, so a lone shock is paid in full."""
    data = test[test["y"].notna() & test["unique_id"].isin(scale.index)]
    alpha = 1 - lvl / 100
    out = {}
    for uid, y in data.groupby("unique_id")["y"]:
        v = y.to_numpy(float)
        top = min(c + (2 / alpha) * np.maximum(v - c, 0).mean() for c in v)
        bottom = min(-c + (2 / alpha) * np.maximum(c - v, 0).mean() for c in v)
        out[uid] = (top + bottom) / scale[uid]
    return pd.Series(out, dtype=float)


def interval_figures(project: dict, peers: dict[str, dict], bound: dict[int, pd.Series],
                     regular: set[str], levels: tuple[int, ...],
                     constant_band: dict[int, pd.Series] | None = None) -> dict:
    """Per level, the project's MSIS against the best peer's four ways (all series, regular
    series, volume-weighted per unit, geometric mean of per-series ratios to each peer) and the
    share of the best peer's mean that ``bound`` (:func:`record_bound`) already is, and with
    ``constant_band`` (:func:`hindsight_band_bound`) the share the best constant band chosen
    in hindsight is."""
    out: dict = {}
    for lvl in levels:
        key = f"msis_{lvl}"
        mine = project[f"per_series_{key}"]
        best_all = min(p[f"{key}_all"] for p in peers.values())
        best_regular = min(p[key] for p in peers.values())
        units = project.get(f"w{key}", {})
        best_weighted = {u: min(p[f"w{key}"][u] for p in peers.values()) for u in units}
        scored = bound[lvl].reindex(mine.index).fillna(0.0)
        is_regular = scored.index.isin(regular)
        out[str(lvl)] = {
            "ratio_all": round(project[f"{key}_all"] / best_all, 4),
            "ratio_regular": round(project[key] / best_regular, 4),
            "ratio_volume_weighted": {u: round(units[u] / best_weighted[u], 4) for u in units},
            "avg_relative_by_peer": {name: avg_relative(mine, p[f"per_series_{key}"])[
                "avg_relative"] for name, p in peers.items()},
            "record_bound_ratio_all": round(float(scored.mean()) / best_all, 4),
            "record_bound_ratio_regular": round(float(scored[is_regular].mean())
                                                / best_regular, 4),
        }
        if constant_band is not None:
            out[str(lvl)]["hindsight_constant_band_ratio_all"] = round(float(
                constant_band[lvl].reindex(mine.index).mean()) / best_all, 4)
    return out


IN_FULL = 0.95  # share of an aggregate's forecast its reporting countries must carry


def reported_share(forecasts: pd.DataFrame, test: pd.DataFrame, trees: list) -> pd.Series:
    """Per aggregate and held-out month (index ``unique_id, ds``), the share of the sum of its
    bottoms' forecasts carried by the bottoms that reported that month (NaN where that sum is
    0: no share to carry). An aggregate's actual is the sum of its reporters only (missing is
    not zero), while its forecast is of all of them reporting: where reporters carry less than
    :data:`IN_FULL`, a miss below says who did not report, not how wrong the forecast was."""
    wide = forecasts.pivot_table(index="unique_id", columns="ds", values="forecast")
    known = test[test["y"].notna()].assign(one=1.0).pivot_table(
        index="unique_id", columns="ds", values="one")
    pieces = []
    for tree in trees:
        n_agg = len(tree.ids) - tree.n_bottom
        bottoms = wide.reindex(tree.ids[n_agg:]).fillna(0.0)
        reported = known.reindex(index=bottoms.index, columns=bottoms.columns).fillna(0.0)
        total = tree.S[:n_agg] @ bottoms.to_numpy()
        carried = tree.S[:n_agg] @ (bottoms.to_numpy() * reported.to_numpy())
        with np.errstate(divide="ignore", invalid="ignore"):
            share = np.where(total > 0, carried / total, np.nan)
        pieces.append(pd.Series(share.ravel(), index=pd.MultiIndex.from_product(
            [tree.ids[:n_agg], bottoms.columns], names=["unique_id", "ds"])))
    return pd.concat(pieces) if pieces else pd.Series(dtype=float)


def mark_reported_in_full(data: pd.DataFrame, forecasts: pd.DataFrame, test: pd.DataFrame,
                          trees: list) -> pd.DataFrame:
    """``data`` (held-out rows, ``unique_id, ds, ...``) with ``aggregate`` (the row is a tree's
    aggregate) and ``in_full`` (its reporting countries carry :data:`IN_FULL` of its forecast;
    False where the forecast is 0)."""
    share = reported_share(forecasts, test, trees)
    key = pd.MultiIndex.from_frame(data[["unique_id", "ds"]])
    return data.assign(aggregate=key.isin(share.index),
                       in_full=share.reindex(key).to_numpy() >= IN_FULL)


def covered(part: pd.DataFrame, lvl: int) -> float:
    """The share of ``part``'s rows whose ``y`` lies in its ``lvl``% band (NaN when empty)."""
    inside = (part["y"] >= part[f"lo_{lvl}"]) & (part["y"] <= part[f"hi_{lvl}"])
    return round(float(inside.mean()), 4) if len(part) else float("nan")
