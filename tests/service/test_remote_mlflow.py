"""Train and serve through a remote MLflow tracking server (`mlflow server` on loopback).

Nothing but NARCOTREND_MLFLOW_TRACKING_URI changes: the training run, its artifacts and the
registered version go to the server (artifacts proxied by it, into its own folder, none under
the home), and the service loads the champion from the server's registry.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
from api_home import free_port, make_series

from core.settings import get_settings
from serving.api.auth import create_key
from serving.db import session_scope

pytestmark = pytest.mark.slow

MLFLOW = Path(sys.executable).with_name("mlflow")


@dataclass
class MlflowServer:
    url: str
    artifacts: Path
    backend: Path


def wait_until_up(url: str, process: subprocess.Popen, log: Path, seconds: float = 180) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"mlflow server exited: {log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError(f"mlflow server not up after {seconds}s: {log.read_text()[-2000:]}")


@pytest.fixture
def mlflow_server(tmp_path: Path) -> Iterator[MlflowServer]:
    """`mlflow server` with a SQLite backend and proxied artifacts, in its own process group."""
    root = tmp_path / "mlflow-server"
    root.mkdir()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = root / "server.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [str(MLFLOW), "server", "--backend-store-uri", f"sqlite:///{root / 'm.db'}",
             "--artifacts-destination", str(root / "art"), "--serve-artifacts",
             "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
            cwd=root, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_until_up(url, process, log)
        yield MlflowServer(url=url, artifacts=root / "art", backend=root / "m.db")
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def small_world_series() -> pd.DataFrame:
    """About forty series of three years: country and world cocaine series of tests/api_home."""
    series = make_series(n_periods=36)
    keep = series["geo"].isin(["ESP", "NLD", "COL", "NGA", "Europe", "World"])
    return series[keep & series["drug"].isin(["cocaine", "cocaine hydrochloride"])]


def test_train_and_serve_through_a_remote_mlflow_server(home, monkeypatch, mlflow_server):
    from fastapi.testclient import TestClient

    from serving.api.app import create_app
    from training.train import train

    monkeypatch.setenv("NARCOTREND_MLFLOW_TRACKING_URI", mlflow_server.url)
    monkeypatch.setenv("NARCOTREND_N_JOBS", "1")
    get_settings.cache_clear()
    settings = get_settings()
    settings.ensure_dirs()
    series = small_world_series()
    series.to_parquet(settings.series_dir / "series.parquet", index=False)

    summary = train(settings, horizon=3)

    assert (summary["version"], summary["promoted"]) == ("1", True)
    assert summary["n_series"] == series["unique_id"].nunique()
    assert not (settings.mlruns_dir / "mlflow.db").exists()  # nothing tracked locally
    assert list(settings.mlruns_dir.rglob("*.parquet")) == []
    stored = {p.name for p in mlflow_server.artifacts.rglob("*") if p.is_file()}
    assert {"forecasts.parquet", "choices.parquet", "MLmodel"} <= stored

    with session_scope(settings.service_database_url) as session:
        raw_key, _ = create_key(session, "viewer", name="remote-mlflow test")
    forecasts = pd.read_parquet(settings.forecasts_dir / "forecasts.parquet")
    (settings.forecasts_dir / "forecasts.parquet").unlink()  # served from the registry alone
    uid = "ESP/cocaine/kg"
    with TestClient(create_app(settings)) as client:
        ready = client.get("/ready").json()
        answer = client.get(f"/v1/forecasts/{uid}",
                            headers={"Authorization": f"Bearer {raw_key}"})
        models = client.get("/v1/models", headers={"Authorization": f"Bearer {raw_key}"})
    assert (ready["model_loaded"], ready["model_version"]) == (True, "1")
    assert ready["forecasts_source"] == "model version 1"
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["source"], body["model_version"]) == ("model version 1", "1")
    expected = forecasts[forecasts["unique_id"] == uid].sort_values("ds")
    assert [p["forecast"] for p in body["points"]] == pytest.approx(
        expected["forecast"].tolist(), rel=1e-12)
    assert models.status_code == 200, models.text
    assert "1" in str(models.json())
