"""`narcotrend run`: every stage in order on the configured data, the built-in world when none.

Each stage reads the previous stage's stored output, so any stage can also be rerun alone with
its own command.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from rich.console import Console

from core.settings import Settings


def ensure_input_files(settings: Settings, console: Console) -> tuple[list[Path], str]:
    """The files to ingest: the configured ones, or the built-in world written into the home."""
    if settings.data_files:
        return list(settings.data_files), settings.data_format
    from features.synthetic_world import SEIZURES_FILE, write_world

    target = settings.demo_dir / SEIZURES_FILE
    if target.exists():
        console.print(f"using the built-in synthetic world in {settings.demo_dir}")
    else:
        summary = write_world(settings.demo_dir, seed=settings.demo_seed)
        console.print(f"no data configured (NARCOTREND_DATA_FILES): wrote the built-in synthetic "
                      f"world, {summary['records']:,} seizure records and {summary['events']} "
                      f"planted events, to {settings.demo_dir}")
    return [target], "canonical"


def run_pipeline(settings: Settings, console: Console) -> None:
    """Run every stage once on the configured data."""
    settings.ensure_dirs()
    files, fmt = ensure_input_files(settings, console)

    from features.build import build_all
    from features.ingest import ingest_files

    def progress(message: str) -> None:
        console.print(f"  {message}", highlight=False)

    report = ingest_files(files, fmt, settings, progress=progress)
    console.print(f"ingest: {report.rows_read:,} rows read, {report.accepted:,} accepted, "
                  f"{report.duplicates:,} duplicates, {report.quarantined_total:,} quarantined")
    built = build_all(settings, progress=progress)
    console.print(f"build: {built['series']:,} series ({built['freq']}, {built['start']} to "
                  f"{built['end']}) and {built['routes']:,} route flows")

    from training.train import train

    trained = train(settings, progress=progress)
    console.print(f"train: {trained['n_series']:,} series forecast {trained['horizon']} periods "
                  f"ahead in {trained['seconds']:.0f}s, backtest MASE {trained['mase'] or 0:.3f}, "
                  f"coverage {trained['coverage_80'] or 0:.0%}/{trained['coverage_95'] or 0:.0%} "
                  f"(80/95%), {trained['fallbacks']} fallbacks; model version "
                  f"{trained['version']}{' (champion)' if trained['promoted'] else ''}",
                  highlight=False)

    # detection runs last: it reads the forecasts (thresholds) when training wrote them
    from serving.alerting.detection import detect_and_store

    since = replay_start(settings, built["end"], built["freq"])
    found = detect_and_store(settings, since=since, progress=progress)
    kinds = ", ".join(f"{n} {t}" for t, n in sorted(found["by_type"].items())) or "none"
    replayed = (f" after replaying {found['replayed']} months from {since} (a new home; counts "
                "include the replay)" if found["replayed"] else "")
    console.print(f"detect: {found['alerts']} alerts as of {found['detected_at']} ({kinds}, "
                  f"on {found['unit']})"
                  f"{replayed}; {found['created']} new, {found['resolved']} resolved",
                  highlight=False)

    # linkage: case groups from the records' signatures, linked_cases alerts per country
    from serving.alerting.links import link_and_store

    linked = link_and_store(settings, progress=progress)
    console.print(f"link: {linked['groups']:,} case groups ({linked['cross_border_groups']} "
                  f"cross-border) from {linked['candidates']:,} signed seizures; "
                  f"{linked['alerts']} linked_cases alerts", highlight=False)


def replay_start(settings: Settings, last_period: str | None, freq: str = "MS") -> str | None:
    """The month `run` replays detection from: `run_replay_periods` months before the last period
    when the home has no alert yet (its first run) and the build (at `freq`) is monthly, else
    None."""
    from serving.alerting.detection import latest_detection
    from serving.db import session_scope

    if not settings.run_replay_periods or not last_period or freq != "MS":
        return None  # detection (and so its replay) steps by month
    with session_scope(settings.service_database_url) as session:
        if latest_detection(session) is not None:
            return None
    return str(pd.Period(last_period, "M") - settings.run_replay_periods)
