"""Bench: the project's forecasts against statsforecast's peers on two real holdouts, CBP and IDS.

Second holdout (issue 16): the UNODC IDS record-level file (``--ids``), ingested as
``--format unodc-ids`` and built monthly; the drug-group series at every geo level are trained
(so the project reconciles its country -> subregion -> region -> world trees), the country
series scored and forecast by the peers (the same scored set for every method; the peers'
time is for those only, the project's for the whole tree), the last 12 months held out. Each
holdout reports AvgRelMAE against each of the seven peers (AutoETS, AutoARIMA, AutoTheta,
SeasonalNaive and the intermittent-demand ADIDA, CrostonOptimized, IMAPA, which get
statsforecast's conformal intervals), mean MASE, MSIS (M4's mean scaled interval score) and
coverage overall and per series class (training.classes, from the training months), the
reconciliation report and the largest coherence gap of the project's forecasts.

The first holdout, as before:

The CBP monthly Nationwide Drug Seizures (../shared/data/cbp_nationwide_drugs) become series
(country, CBP region and area of responsibility x drug x seizures/kg); the last 12 months are
held out. Peers (AutoETS, AutoARIMA, AutoTheta, SeasonalNaive) forecast them in one
``StatsForecast.forecast`` call; the project runs the whole ``narcotrend train`` stage
(backtests, choice, final fit, MLflow run and registration) in a scratch home on the same
training months and cores. Prints one JSON document:

    .venv/bin/python bench/forecast.py [--data DIR] [--ids FILE|none] [--skip-cbp] [--n-jobs 2]

MASE is the mean over series of the holdout MAE divided by the training months' seasonal-naive
MAE; coverage is the share of held-out points inside the interval. Two populations are scored:
- ``all``: every series whose MASE is defined (non-zero scale);
- ``regular`` (the acceptance population): those with at least 12 non-zero training months.
Mostly-empty series make MASE ill-conditioned: one 800 kg MDMA haul in San Diego against a
training scale of 0.014 kg gives a MASE of 4,600 for every method alike, which alone is 6 of the
8.4 points of the all-series mean, so that mean cannot rank methods. The filter uses the training
months only, never the held-out ones.

Two more figures show why, and rank the methods without the scale:
- ``hindsight``: per series, the best of all five forecasts (the project's and the four peers')
  picked with knowledge of the held-out months, then averaged. If even that oracle stays above
  0.95 x the best peer on all series, no forecast can meet the ratio there: the mean is made by
  a few hauls nobody forecast (``shock_series`` count the series that make half of it).
- ``avg_rel_mae``: the geometric mean over series of the project's holdout MAE divided by the
  best peer's (Davydenko & Fildes, 2013), over every series where both are non-zero. It needs no
  in-sample scale, so mostly-empty series count like the others without dominating.

MSIS has the same trouble, worse: on CBP ten series make 90% of the best peer's mean, on IDS one
Armenian sedatives series with a scale near zero most of it. ``intervals`` (bench/
forecast_scores.py) reads each level four ways against the best peer (all series, regular
series, volume-weighted per unit as M5, the geometric mean of per-series ratios to each peer)
and gives ``record_bound_ratio``: the share of the best peer's mean MSIS that any band whose top
stays within each series' training record must pay on the months that broke the record. Above
0.9, no such band can be 0.9 x the best peer on that mean.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from bench.forecast_scores import (  # noqa: E402  (the repository on the path first)
    avg_relative,
    covered,
    hindsight,
    hindsight_band_bound,
    holdout_mae,
    interval_figures,
    mark_reported_in_full,
    record_bound,
    scales,
    score,
)

DEFAULT_DATA = REPO.parent / "shared" / "data" / "cbp_nationwide_drugs"
DEFAULT_IDS = REPO.parent / "shared" / "data" / "unodc_ids_2011_2016" / "drug-trafficking-unodc.csv"
HOLDOUT = 12
SEASON = 12
LEVELS = (80, 95)


def load_series(folder: Path) -> pd.DataFrame:
    """CBP series in the project's long format, from the project's importer."""
    from features.importers.cbp import load_cbp_series

    paths = sorted(folder.glob("*.csv"))
    if not paths:
        raise SystemExit(f"no CBP csv files in {folder}")
    return load_cbp_series(paths)


def split(series: pd.DataFrame, holdout: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    cut = series["ds"].max() - pd.DateOffset(months=holdout)
    return series[series["ds"] <= cut].copy(), series[series["ds"] > cut].copy()


PEERS = ("AutoETS", "AutoARIMA", "AutoTheta", "SeasonalNaive", "ADIDA", "CrostonOptimized",
         "IMAPA")


def load_ids_series(path: Path) -> pd.DataFrame:
    """The IDS file as the project reads it (``ingest --format unodc-ids``, then the monthly
    build), cut to the drug-group series at every geo level: the countries are scored (the
    series a planner asks for first), the aggregates above them make the tree the project
    reconciles (the peers forecast the scored countries only)."""
    from core.settings import Settings
    from features.ingest import ingest_files, read_records
    from features.series import build_series

    with tempfile.TemporaryDirectory() as home:
        settings = Settings(home=Path(home))
        settings.ensure_dirs()
        ingest_files([path], "unodc-ids", settings)
        records = read_records(settings)
    series = build_series(records, "MS")
    keep = series["drug_level"] == "group"
    return series[keep].reset_index(drop=True)


def peer_forecasts(train: pd.DataFrame, n_jobs: int) -> tuple[pd.DataFrame, float]:
    """statsforecast's Auto models and its intermittent-demand models in one call, as a user
    would run them (the intermittent ones with statsforecast's conformal intervals, since they
    have none of their own); NaN gaps interpolated (statsforecast cannot take them), series
    with no observation left out."""
    from statsforecast import StatsForecast
    from statsforecast.models import (
        ADIDA,
        IMAPA,
        AutoARIMA,
        AutoETS,
        AutoTheta,
        CrostonOptimized,
        SeasonalNaive,
    )
    from statsforecast.utils import ConformalIntervals

    df = train[["unique_id", "ds", "y"]].copy()
    df["y"] = df.groupby("unique_id")["y"].transform(
        lambda s: s.interpolate(limit_area="inside"))
    df = df.dropna(subset=["y"])
    windows = 2
    conformal = ConformalIntervals(h=HOLDOUT, n_windows=windows)
    auto = [AutoETS(season_length=SEASON), AutoARIMA(season_length=SEASON),
            AutoTheta(season_length=SEASON), SeasonalNaive(season_length=SEASON)]
    # statsforecast's conformal intervals need more than windows x h observations: shorter
    # series get the intermittent peers' point forecasts only (no interval, not scored on it)
    length = df.groupby("unique_id")["y"].transform("size")
    long_enough = length > windows * HOLDOUT
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # AutoETS's forecast raises on a few IDS series (statsforecast 2.1.1, pegelsfcast_C
        # on a 1-d state): those get the seasonal naive under the peer's name, as a user of
        # statsforecast's fallback_model would see it
        out = StatsForecast(models=auto, freq="MS", n_jobs=n_jobs,
                            fallback_model=SeasonalNaive(season_length=SEASON)).forecast(
            df=df, h=HOLDOUT, level=list(LEVELS))
        parts = []
        if long_enough.any():
            parts.append(StatsForecast(models=[
                ADIDA(prediction_intervals=conformal),
                CrostonOptimized(prediction_intervals=conformal),
                IMAPA(prediction_intervals=conformal)], freq="MS", n_jobs=n_jobs).forecast(
                df=df[long_enough], h=HOLDOUT, level=list(LEVELS)))
        if (~long_enough).any():
            parts.append(StatsForecast(models=[ADIDA(), CrostonOptimized(), IMAPA()],
                                       freq="MS", n_jobs=n_jobs).forecast(
                df=df[~long_enough], h=HOLDOUT))
    intermittent = pd.concat(parts, ignore_index=True)
    out = out.merge(intermittent, on=["unique_id", "ds"], how="left")
    return out, time.perf_counter() - started


def project_forecasts(train: pd.DataFrame, n_jobs: int) -> tuple[pd.DataFrame, dict, float]:
    """The full train stage in a scratch home; its forecasts, summary and wall time."""
    from core.settings import Settings
    from training.train import train as run_train

    with tempfile.TemporaryDirectory() as home:
        settings = Settings(home=Path(home), n_jobs=n_jobs, horizon=HOLDOUT)
        settings.ensure_dirs()
        train.to_parquet(settings.paths.series, index=False)
        started = time.perf_counter()
        summary = run_train(settings, horizon=HOLDOUT)
        seconds = time.perf_counter() - started
        forecasts = pd.read_parquet(settings.forecasts_dir / "forecasts.parquet")
    return forecasts, summary, seconds


def training_weights(train: pd.DataFrame) -> pd.Series:
    """M5-style volume weights of each series from its last training year (training.classes:
    a share of its unit's total, kg and seizures apart)."""
    from models.base import to_panel
    from training.classes import volume_weights

    return volume_weights(to_panel(train[["unique_id", "ds", "y"]], freq="MS"), SEASON)


def training_classes(train: pd.DataFrame) -> pd.Series:
    """The series class of each series, from the training months only (training.classes)."""
    from models.base import to_panel
    from training.classes import series_classes

    frame = series_classes(to_panel(train[["unique_id", "ds", "y"]], freq="MS"), 2 * SEASON)
    return frame.set_index("unique_id")["series_class"]


def first_call_seconds() -> dict[str, float]:
    """Cold import and first-fit cost of the engine in a fresh process (statsforecast 2.x is
    compiled ahead of time: no numba JIT to pay)."""
    code = ("import time; t=time.perf_counter(); import numpy as np; "
            "from statsforecast.models import AutoETS; t1=time.perf_counter(); "
            "y=np.sin(np.arange(60))+5; AutoETS(season_length=12).fit(y); t2=time.perf_counter();"
            " AutoETS(season_length=12).fit(y); t3=time.perf_counter(); "
            "print(t1-t, t2-t1, t3-t2)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    imp, first, second = (float(v) for v in out.stdout.split())
    return {"import_seconds": round(imp, 3), "first_fit_seconds": round(first, 4),
            "second_fit_seconds": round(second, 4)}


def coherence(forecasts: pd.DataFrame, test: pd.DataFrame, meta: pd.DataFrame,
              history: pd.DataFrame) -> dict:
    """How far each aggregate's forecast is from the sum of its parts' (largest gap over every
    tree the project reconciles, CBP's areas -> regions -> nation included, and every period),
    and the holdout coverage per geo level."""
    from training.reconcile import HIERARCHY_COLUMNS, forecast_trees, largest_gap

    meta = meta[HIERARCHY_COLUMNS].drop_duplicates("unique_id")
    sourced, geo = forecast_trees(meta, forecasts["unique_id"].unique(), history)
    trees = sourced + geo
    gap = largest_gap(forecasts, trees)
    data = test[["unique_id", "ds", "y"]].merge(forecasts, on=["unique_id", "ds"])
    data = data[data["y"].notna()].merge(meta[["unique_id", "geo_level"]], on="unique_id")
    data = mark_reported_in_full(data, forecasts, test, trees)
    coverage = {}
    for level, part in data.groupby("geo_level"):
        full = part[part["in_full"]]
        coverage[str(level)] = {f"coverage_{lvl}": covered(part, lvl) for lvl in LEVELS} | {
            "n_series": int(part["unique_id"].nunique())}
        if part["aggregate"].any():  # the months its countries reported in full
            coverage[str(level)] |= {f"coverage_{lvl}_reported_in_full": covered(full, lvl)
                                     for lvl in LEVELS} | {"points_reported_in_full": len(full),
                                                           "points": len(part)}
    return {"trees": len(trees), "max_gap": gap, "coverage_by_geo_level": coverage}


def cached_peer_forecasts(train: pd.DataFrame, n_jobs: int, cache: Path | None,
                          name: str) -> tuple[pd.DataFrame, float]:
    """:func:`peer_forecasts`, or the ones a previous run stored in ``cache`` for the same
    training frame (keyed by its content hash: the peers are deterministic, so a rerun of the
    project's side need not wait for AutoARIMA again), with the seconds that run measured."""
    if cache is None:
        return peer_forecasts(train, n_jobs)
    key = int(pd.util.hash_pandas_object(train[["unique_id", "ds", "y"]], index=False).sum())
    path = cache / f"peers-{name}-{key & 0xFFFFFFFFFFFF:x}-jobs{n_jobs}.parquet"
    if path.exists():
        frame = pd.read_parquet(path)
        return frame.drop(columns="seconds"), float(frame["seconds"].iloc[0])
    frame, seconds = peer_forecasts(train, n_jobs)
    cache.mkdir(parents=True, exist_ok=True)
    frame.assign(seconds=seconds).to_parquet(path, index=False)
    return frame, seconds


def run_holdout(name: str, series: pd.DataFrame, n_jobs: int,
                scored_level: str | None = None, peer_cache: Path | None = None) -> dict:
    """Train on all but the last HOLDOUT months, score the project and the seven peers (on the
    series at ``scored_level`` only when given; every series is trained and forecast)."""
    train, test = split(series, HOLDOUT)
    if scored_level is not None:
        scored_ids = set(series.loc[series["geo_level"] == scored_level, "unique_id"])
        test = test[test["unique_id"].isin(scored_ids)]
    else:
        scored_ids = set(series["unique_id"])
    scale = scales(train[train["unique_id"].isin(scored_ids)])
    defined = scale[(scale > 0) & scale.notna()]
    nonzero = train[train["y"] > 0].groupby("unique_id").size()
    regular = set(nonzero[nonzero >= 12].index) & set(defined.index)
    classes = training_classes(train[train["unique_id"].isin(scored_ids)])

    ours, summary, train_seconds = project_forecasts(train, n_jobs)
    if peer_cache is not None:  # the project's side beside the peers', to read per series
        ours.to_parquet(peer_cache / f"project-{name}.parquet", index=False)
    # the peers forecast the scored series only (IDS: the countries; the project also trains
    # the aggregates its reconciliation needs, so its time is the larger job)
    peers, peer_seconds = cached_peer_forecasts(train[train["unique_id"].isin(scored_ids)],
                                                n_jobs, peer_cache, name)

    # every method scored on the same held-out points, those all eight forecast: statsforecast
    # forecasts from each series' last observation, so a series with trailing unknown months
    # gets peer forecasts for months before the holdout, and some peers leave NaN points
    keys = ["unique_id", "ds"]
    common = ours.dropna(subset=["forecast"])[keys].merge(peers.dropna(subset=list(PEERS))[keys])
    n_points_before = int(test["y"].notna().sum())
    test = test.merge(common, on=keys)
    n_not_compared = n_points_before - int(test["y"].notna().sum())
    bounds = {lvl: (f"lo_{lvl}", f"hi_{lvl}") for lvl in LEVELS}
    weights = training_weights(train[train["unique_id"].isin(scored_ids)])
    project = score(test, ours, "forecast", bounds, defined, regular, classes, weights)
    peer_scores = {peer: score(test, peers, peer, {lvl: (f"{peer}-lo-{lvl}", f"{peer}-hi-{lvl}")
                                                   for lvl in LEVELS}, defined, regular, classes,
                               weights)
                   for peer in PEERS}
    record = train.groupby("unique_id")["y"].max()
    intervals = interval_figures(project, peer_scores, {
        lvl: record_bound(test, record, defined, lvl) for lvl in LEVELS}, regular, LEVELS,
        {lvl: hindsight_band_bound(test, defined, lvl) for lvl in LEVELS})
    for scores in (project, *peer_scores.values()):
        for lvl in LEVELS:
            scores.pop(f"per_series_msis_{lvl}", None)
    best_peer = min(peer_scores, key=lambda k: peer_scores[k]["mase"])
    best_peer_all = min(peer_scores, key=lambda k: peer_scores[k]["mase_all"])
    best_msis = {lvl: min(peer_scores[p].get(f"msis_{lvl}_all", np.inf) for p in PEERS)
                 for lvl in LEVELS}
    ratio = project["mase"] / peer_scores[best_peer]["mase"]
    per_series = {"project": project.pop("per_series")}
    per_series.update({peer: scores.pop("per_series") for peer, scores in peer_scores.items()})
    ours_mae = holdout_mae(test, ours, "forecast")
    relative = {peer: avg_relative(ours_mae, holdout_mae(test, peers, peer)) for peer in PEERS}
    big_classes = {c: v for c, v in project.get("by_class", {}).items() if v["n_series"] >= 30}
    return {
        "holdout": name, "holdout_months": HOLDOUT,
        "train_end": str(train["ds"].max().date()), "test_end": str(test["ds"].max().date()),
        "n_series": int(series["unique_id"].nunique()),
        "n_series_scored": len(scored_ids),
        "n_holdout_points_not_forecast_by_every_method": n_not_compared,
        "coherence": coherence(ours, split(series, HOLDOUT)[1], series, train),
        "n_series_scored_all": int(len(defined)),
        "n_series_regular": len(regular),
        "n_series_undefined_mase": int(len(scored_ids) - len(defined)),
        "series_classes": {str(k): int(v) for k, v in classes.value_counts().items()},
        "project": {**project, "train_seconds": round(train_seconds, 2),
                    "reconciliation": summary.get("reconciliation"),
                    "backtest_by_class": summary.get("by_class"),
                    "fallbacks_by_class": summary.get("fallbacks_by_class"),
                    "fit_seconds": round(summary.get("fit_seconds", float("nan")), 2),
                    "fallbacks": summary["fallbacks"], "backtest_mase": summary["mase"],
                    "backtest_coverage_80": summary["coverage_80"],
                    "backtest_coverage_95": summary["coverage_95"]},
        "peers": peer_scores,
        "peers_forecast_seconds": round(peer_seconds, 2),
        "best_peer": best_peer,
        "mase_ratio_to_best_peer": round(ratio, 4),
        "mase_ratio_to_best_peer_all": round(project["mase_all"]
                                             / peer_scores[best_peer_all]["mase_all"], 4),
        "msis_ratio_to_best_peer": {lvl: round(project[f"msis_{lvl}_all"] / best_msis[lvl], 4)
                                    for lvl in LEVELS},
        "relative_mae_to_best_peer": relative[best_peer],
        "avg_rel_mae_by_peer": {peer: r["avg_relative"] for peer, r in relative.items()},
        "intervals": intervals,
        "hindsight": hindsight(per_series, best_peer, regular),
        "acceptance": {
            "avg_rel_mae_at_most_0.85_every_peer": bool(max(
                r["avg_relative"] for r in relative.values()) <= 0.85),
            "mean_mase_all_no_worse_than_best_peer": bool(
                project["mase_all"] <= peer_scores[best_peer_all]["mase_all"]),
            "msis_at_most_0.9_best_peer": bool(all(
                project[f"msis_{lvl}_all"] <= 0.9 * best_msis[lvl] for lvl in LEVELS)),
            # can any band within the series' training records reach 0.9 x on the mean?
            "msis_0.9_reachable_within_records": bool(all(
                v["record_bound_ratio_all"] <= 0.9 for v in intervals.values())),
            # can a band knowing the held-out values, not their months, reach it?
            "msis_0.9_reachable_by_a_hindsight_constant_band": bool(all(
                v["hindsight_constant_band_ratio_all"] <= 0.9 for v in intervals.values())),
            "msis_at_most_0.9_best_peer_volume_weighted_each_unit": bool(all(
                r <= 0.9 for v in intervals.values() for r in v["ratio_volume_weighted"].values())),
            "avg_relative_msis_at_most_0.9_every_peer": bool(all(
                r <= 0.9 for v in intervals.values() for r in v["avg_relative_by_peer"].values())),
            "coverage_within_5_points_every_class_30plus": bool(all(
                abs(v[f"coverage_{lvl}"] - lvl / 100) <= 0.05
                for v in big_classes.values() for lvl in LEVELS)),
            "train_not_slower_than_peers": bool(train_seconds <= peer_seconds),
        },
    }


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--ids", type=Path, default=DEFAULT_IDS,
                        help="the UNODC IDS file (the second holdout); 'none' skips it")
    parser.add_argument("--n-jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--skip-cbp", action="store_true", help="run the IDS holdout only")
    parser.add_argument("--peer-cache", type=Path, default=None,
                        help="reuse (or store) the peers' forecasts and seconds here")
    args = parser.parse_args(argv)
    from serving.cli import quiet_libraries

    quiet_libraries()  # MLflow's progress bars and INFO lines, as on the command line
    result: dict = {"data": str(args.data), "n_jobs": args.n_jobs,
                    "peer_cache": None if args.peer_cache is None else str(args.peer_cache)}
    if not args.skip_cbp:
        result["cbp"] = run_holdout("cbp", load_series(args.data), args.n_jobs,
                                    peer_cache=args.peer_cache)
    if str(args.ids).lower() != "none":
        result["ids_data"] = str(args.ids)
        result["ids"] = run_holdout("ids", load_ids_series(args.ids), args.n_jobs, "country",
                                    args.peer_cache)
    result["engine_cold_start"] = first_call_seconds()
    print(json.dumps(result, indent=2, default=str))
    return result


if __name__ == "__main__":
    main()
