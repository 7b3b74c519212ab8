"""Fixtures of the model tests: the built-in world, ingested and built as `narcotrend run`
does, in the test's home."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
import pytest


@pytest.fixture
def build_world() -> Callable[..., pd.DataFrame]:
    """``build_world(settings, keep, scale=0.2)``: the world's series kept where ``keep(series)``
    is true, written back as the home's series file (so a test trains in seconds)."""

    def build(settings, keep: Callable[[pd.DataFrame], pd.Series],
              scale: float = 0.2) -> pd.DataFrame:
        from features.build import build_all
        from features.ingest import ingest_files
        from features.synthetic_world import SEIZURES_FILE, write_world

        settings.ensure_dirs()
        write_world(settings.demo_dir, seed=settings.demo_seed, scale=scale)
        ingest_files([settings.demo_dir / SEIZURES_FILE], "canonical", settings)
        build_all(settings)
        path = settings.paths.series
        series = pd.read_parquet(path)
        series = series[keep(series)].reset_index(drop=True)
        series.to_parquet(path, index=False)
        return series

    return build
