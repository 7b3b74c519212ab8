"""`narcotrend run`: every stage in order on the configured data, the built-in world when none.

Each stage reads the previous stage's stored output, so any stage can also be rerun alone with
its own command.
"""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from serving.settings import Settings


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
    ensure_input_files(settings, console)
