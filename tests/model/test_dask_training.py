"""Training on a Dask cluster by settings alone: NARCOTREND_DASK_SCHEDULER sends the per-series
work to the cluster's worker processes, and the forecasts equal those of the local run."""

from __future__ import annotations

from collections.abc import Iterator

import pandas as pd
import pytest
from api_home import make_series

from core.settings import Settings

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def cluster() -> Iterator[object]:
    """A local cluster of two single-threaded worker processes (as remote workers would be)."""
    from distributed import LocalCluster

    with LocalCluster(n_workers=2, processes=True, threads_per_worker=1,
                      dashboard_address=None) as local_cluster:
        yield local_cluster


def small_series() -> pd.DataFrame:
    """Two dozen three-year series of tests/api_home, gaps included (NGA does not report)."""
    series = make_series(n_periods=36)
    return series[series["geo"].isin(["ESP", "NGA", "COL", "World"])
                  & series["drug"].isin(["cocaine", "cannabis", "coca paste"])]


def trained_forecasts(home, **settings: object) -> tuple[pd.DataFrame, dict]:
    from training.train import train

    config = Settings(home=home, horizon=3, **settings)
    config.ensure_dirs()
    small_series().to_parquet(config.series_dir / "series.parquet", index=False)
    summary = train(config)
    return pd.read_parquet(config.forecasts_dir / "forecasts.parquet"), summary


def test_training_on_a_dask_cluster_equals_the_local_run(tmp_path, cluster):
    from distributed import Client

    local, local_summary = trained_forecasts(tmp_path / "local", n_jobs=2)
    on_dask, dask_summary = trained_forecasts(tmp_path / "dask",
                                              dask_scheduler=cluster.scheduler_address)

    with Client(cluster.scheduler_address) as client:
        executed = client.run(lambda dask_worker: dask_worker.state.executed_count)
    assert len(executed) == 2 and all(n > 0 for n in executed.values())  # the cluster worked
    assert dask_summary["n_series"] == local_summary["n_series"] == small_series()[
        "unique_id"].nunique()
    pd.testing.assert_frame_equal(on_dask, local, check_exact=False, rtol=0, atol=1e-9)
