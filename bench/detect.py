"""A 30-month alert backtest on the built-in world: time, and scores against its planted events.

Writes the world at `--seed` into a temporary home (or uses `--home`, already built), ingests
and builds it, replays detection month by month from `--start` for `--months` months, scores
the alerts (`training.detection_eval`) and prints one JSON document:
`{seed, months, series, seconds_backtest, seconds_prepare, recall, precision, median_delay,
distractor_alerts, alerts, per_event}`. The target is a 30-month backtest under 300 s. With
`--seeds`, one world per seed (each seed plants other events): a JSON list, then a table.

    .venv/bin/python bench/detect.py [--seed 7 | --seeds 404 505 606] [--start 2022-01]
                                     [--months 30] [--home DIR]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

TARGET_SECONDS = 300.0


def prepare(home: Path, seed: int) -> float:
    """World -> ingest -> build in `home`; seconds taken."""
    from core.settings import Settings
    from features.build import build_all
    from features.ingest import ingest_files
    from features.synthetic_world import write_world

    began = time.perf_counter()
    settings = Settings(home=home)
    settings.ensure_dirs()
    write_world(settings.demo_dir, seed=seed)
    ingest_files([settings.demo_dir / "seizures.csv"], "canonical", settings)
    build_all(settings)
    return time.perf_counter() - began


def run(home: Path, start: str, months: int) -> dict:
    from core.settings import Settings
    from training.alert_backtest import run_backtest

    settings = Settings(home=home)
    end = (pd.Period(start, "M") + months - 1).strftime("%Y-%m")
    result = run_backtest(settings, start, end, log_mlflow=False)
    scores = result["evaluation"] or {}
    series = pd.read_parquet(settings.series_dir / "series.parquet", columns=["unique_id"])
    return {
        "start": start, "end": end, "months": months,
        "series": int(series["unique_id"].nunique()),
        "seconds_backtest": result["seconds"], "target_seconds": TARGET_SECONDS,
        "alerts": len(result["alerts"]),
        **{k: scores.get(k) for k in ("recall", "precision", "median_delay",
                                      "distractor_alerts", "distractor_alert_keys", "alert_keys",
                                      "matched_keys")},
        "per_event": [{k: e[k] for k in ("id", "detected", "delay")}
                      for e in scores.get("per_event", [])],
        "unmatched_keys": scores.get("unmatched_keys", []),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=7, help="world seed (default: demo_seed 7)")
    parser.add_argument("--start", default="2022-01")
    parser.add_argument("--months", type=int, default=30)
    parser.add_argument("--seeds", type=int, nargs="+", default=None,
                        help="several world seeds: one backtest each, then a table")
    parser.add_argument("--home", type=Path, default=None, help="an already built home")
    args = parser.parse_args()
    if args.home is not None:
        out = {"seed": None, "seconds_prepare": 0.0, **run(args.home, args.start, args.months)}
        print(json.dumps(out, indent=1))
        return
    results = [bench_seed(seed, args.start, args.months) for seed in (args.seeds or [args.seed])]
    print(json.dumps(results if args.seeds else results[0], indent=1))
    if args.seeds:
        print(table(results))


def bench_seed(seed: int, start: str, months: int) -> dict:
    """World at `seed` in a temporary home, prepared and backtested."""
    with tempfile.TemporaryDirectory(prefix="narcotrend-bench-detect-") as tmp:
        prepared = prepare(Path(tmp), seed)
        return {"seed": seed, "seconds_prepare": round(prepared, 2),
                **run(Path(tmp), start, months)}


def table(results: list[dict]) -> str:
    """One line per seed: events, recall, precision, median delay, distractor alerts, seconds."""
    lines = ["seed  events  recall  precision  median_delay  distractor_alerts  seconds"]
    for r in results:
        lines.append(f"{r['seed']:>4}  {len(r['per_event']):>6}  {r['recall']:>6.2f}  "
                     f"{r['precision']:>9.2f}  {r['median_delay']:>12}  "
                     f"{r['distractor_alerts']:>17}  {r['seconds_backtest']:>7.1f}")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
