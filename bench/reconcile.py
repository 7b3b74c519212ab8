"""Bench: the reconciled hierarchy on real holdouts (issue 16), per level.

The UNODC IDS file is ingested (``--format unodc-ids``) and built monthly in a scratch home (so
the reporting-completeness table of issue 15 is there and train masks and reconciles with it);
the drug-group series of every geo level are kept, the last 12 months held out, and the whole
``narcotrend train`` stage runs on the rest. The CBP files (``--format cbp``: areas -> CBP regions
-> nationwide, the source's own tree) the same way. Per tree level it prints, as JSON:
coverage of the 80 and 95% intervals on the held-out months, MSIS (M4's mean scaled interval
score: interval score over the training months' seasonal-naive MAE, averaged per series, then
over the level's series), the number of series; the largest coherence gap (an aggregate's point
forecast against the sum of its bottoms', every tree and period); the reconciliation report; the
train and the reconciliation seconds.

    .venv/bin/python bench/reconcile.py [--ids FILE|none] [--cbp DIR|none] [--n-jobs 2]
                                        [--ids-substances]

``--ids-substances`` keeps IDS's substance series too (every level; 4 minutes more): their
levels are scored apart (``substance:country`` ...) and the substance -> group coherence gap is
measured over every geo x group x metric (training.drug_trees).

The held-out actual of an aggregate is what the build makes of the held-out records: the sum of
the countries that reported that month, while its forecast is of all of them reporting. So each
level's coverage is also given on the months whose reporting countries carry 95% or more of
the aggregate's forecast (``coverage_80_reported_in_full`` ...; bench/forecast_scores.py:
``reported_share``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from bench.forecast_scores import covered, mark_reported_in_full  # noqa: E402  (repo first)

DATA = REPO.parent / "shared" / "data"
DEFAULT_IDS = DATA / "unodc_ids_2011_2016" / "drug-trafficking-unodc.csv"
DEFAULT_CBP = DATA / "cbp_nationwide_drugs"
HOLDOUT = 12
SEASON = 12
LEVELS = (80, 95)


def holdout(files: list[Path], fmt: str, n_jobs: int, keep_groups: bool,
            keep: Path | None = None) -> dict:
    """Ingest, build, hold out the last HOLDOUT months, train; scores per tree level."""
    from core.settings import Settings
    from features.build import build_all
    from features.ingest import ingest_files
    from training.reconcile import HIERARCHY_COLUMNS
    from training.train import train

    with tempfile.TemporaryDirectory() as home:
        settings = Settings(home=Path(home), n_jobs=n_jobs, horizon=HOLDOUT)
        settings.ensure_dirs()
        ingest_files(files, fmt, settings)
        build_all(settings)
        series = pd.read_parquet(settings.paths.series)
        if keep_groups:
            series = series[series["drug_level"] == "group"]
        cut = series["ds"].max() - pd.DateOffset(months=HOLDOUT)
        test = series[series["ds"] > cut]
        series[series["ds"] <= cut].to_parquet(settings.paths.series, index=False)
        if settings.paths.completeness.exists():  # nothing later than t is used for t
            done = pd.read_parquet(settings.paths.completeness)
            done[done["ds"] <= cut].to_parquet(settings.paths.completeness, index=False)
        started = time.perf_counter()
        summary = train(settings, horizon=HOLDOUT)
        seconds = time.perf_counter() - started
        forecasts = pd.read_parquet(settings.forecasts_dir / "forecasts.parquet")
    if keep is not None:  # for a closer look at the forecasts and the held-out months
        keep.mkdir(parents=True, exist_ok=True)
        forecasts.to_parquet(keep / f"{fmt}_forecasts.parquet", index=False)
        series.to_parquet(keep / f"{fmt}_series.parquet", index=False)
    meta = series[HIERARCHY_COLUMNS].drop_duplicates("unique_id")
    history = series[series["ds"] <= cut]
    return {"n_series": int(meta["unique_id"].nunique()), "train_end": str(cut.date()),
            "by_level": by_level(forecasts, test, history, meta),
            "max_coherence_gap": coherence_gap(forecasts, meta, history),
            "max_substance_group_gap": substance_gap(forecasts, meta),
            "reconciliation": summary["reconciliation"], "train_seconds": round(seconds, 2),
            "reconcile_seconds": summary["reconciliation"].get("seconds")}


def trees_of(forecasts: pd.DataFrame, meta: pd.DataFrame, history: pd.DataFrame) -> list:
    """The trees reconciliation makes of the forecast series (sources' first, then the
    geography's); a series outside every tree is not scored per level."""
    from training.reconcile import forecast_trees

    sourced, geo = forecast_trees(meta, forecasts["unique_id"].unique(), history)
    return sourced + geo


def by_level(forecasts: pd.DataFrame, test: pd.DataFrame, history: pd.DataFrame,
             meta: pd.DataFrame) -> dict:
    from training.metrics import interval_score

    frame = history.sort_values(["unique_id", "ds"])
    scale = frame.groupby("unique_id")["y"].diff(SEASON).abs().groupby(
        frame["unique_id"]).mean()
    data = test[["unique_id", "ds", "y"]].merge(forecasts, on=["unique_id", "ds"])
    data = data[data["y"].notna()]
    trees = trees_of(forecasts, meta, history)
    data["level"] = data["unique_id"].map(pd.Series(
        {u: lvl for t in trees for u, lvl in zip(t.ids, t.levels, strict=True)}))
    data = data[data["level"].notna()]
    data = mark_reported_in_full(data, forecasts, test, trees)
    substance = data["unique_id"].map(meta.set_index("unique_id")["drug_level"]) == "substance"
    data.loc[substance, "level"] = "substance:" + data.loc[substance, "level"]
    out = {}
    for level, part in data.groupby("level"):
        row: dict = {"n_series": int(part["unique_id"].nunique()), "n_points": len(part)}
        s = part["unique_id"].map(scale)
        for lvl in LEVELS:
            lo, hi = part[f"lo_{lvl}"], part[f"hi_{lvl}"]
            row[f"coverage_{lvl}"] = covered(part, lvl)
            score = interval_score(part["y"].to_numpy(float), lo.to_numpy(float),
                                   hi.to_numpy(float), lvl) / s.to_numpy(float)
            per_series = pd.Series(score, index=part.index).replace(np.inf, np.nan).groupby(
                part["unique_id"]).mean()
            row[f"msis_{lvl}"] = round(float(per_series.mean()), 4)
        full = part[part["in_full"]]
        if part["aggregate"].any():  # the months its countries reported in full
            row["points_reported_in_full"] = len(full)
            row |= {f"coverage_{lvl}_reported_in_full": covered(full, lvl) for lvl in LEVELS}
        out[str(level)] = row
    return out


def coherence_gap(forecasts: pd.DataFrame, meta: pd.DataFrame, history: pd.DataFrame) -> float:
    from training.reconcile import largest_gap

    return largest_gap(forecasts, trees_of(forecasts, meta, history))


def substance_gap(forecasts: pd.DataFrame, meta: pd.DataFrame) -> dict:
    """The largest gap between a group's point forecast and the sum of its substances', over
    every geo x group x metric and period, in the unit and relative to the group's forecast."""
    from training.drug_trees import drug_trees
    from training.reconcile import largest_gap

    trees = drug_trees(meta, forecasts["unique_id"].unique())
    if not trees:
        return {"trees": 0}
    points = forecasts.set_index("unique_id")["forecast"]
    gaps = [largest_gap(forecasts, [tree]) for tree in trees]
    relative = [gap / max(float(points.loc[tree.ids[0]].abs().max()), 1e-9)
                for gap, tree in zip(gaps, trees, strict=True)]
    return {"trees": len(trees), "max_gap": max(gaps), "max_relative_gap": max(relative),
            "trees_over_1e-6": int(sum(g > 1e-6 for g in gaps))}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ids", default=str(DEFAULT_IDS), help="the IDS file, or none")
    parser.add_argument("--cbp", default=str(DEFAULT_CBP), help="the CBP folder, or none")
    parser.add_argument("--n-jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--ids-substances", action="store_true",
                        help="keep IDS's substance series too, scored apart")
    parser.add_argument("--keep", type=Path, help="write each holdout's series and forecasts here")
    args = parser.parse_args(argv)
    from serving.cli import quiet_libraries

    quiet_libraries()
    result: dict = {"n_jobs": args.n_jobs, "holdout_months": HOLDOUT}
    if args.ids.lower() != "none":
        result["ids"] = holdout([Path(args.ids)], "unodc-ids", args.n_jobs,
                                keep_groups=not args.ids_substances,
                                keep=args.keep)
    if args.cbp.lower() != "none":
        result["cbp"] = holdout(sorted(Path(args.cbp).glob("*.csv")), "cbp", args.n_jobs,
                                keep_groups=False, keep=args.keep)
    print(json.dumps(result, indent=2, default=str))
    return result


if __name__ == "__main__":
    main()
