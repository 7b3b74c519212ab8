"""A killed or failed train leaves no RUNNING MLflow run and no worker processes (issue 18)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from core.settings import Settings
from tests.conftest import REPO
from training.cleanup import cleaned_up

# a train-like stage that starts a worker and then works until killed
STAGE = """
import subprocess, sys, time
from pathlib import Path
from core.settings import Settings
from training.cleanup import cleaned_up

@cleaned_up("train")
def stage(settings):
    worker = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    print(worker.pid, flush=True)
    time.sleep(120)

stage(Settings(home=Path(sys.argv[1])))
"""


@cleaned_up("train")
def next_train(settings: Settings) -> str:
    return "trained"


def start_stage(home: Path) -> tuple[subprocess.Popen, psutil.Process]:
    stage = subprocess.Popen([sys.executable, "-c", STAGE, str(home)], cwd=REPO,
                             env={**os.environ, "PYTHONPATH": str(REPO)},
                             stdout=subprocess.PIPE, text=True)
    worker = psutil.Process(int(stage.stdout.readline()))
    record = home / "data" / ".train-workers.json"
    deadline = time.monotonic() + 20
    while not (record.exists() and worker.pid in [p for p, _ in json.loads(record.read_text())]):
        assert time.monotonic() < deadline, "the worker was never recorded"
        time.sleep(0.1)
    return stage, worker


@pytest.mark.timeout(60)
def test_workers_of_a_train_killed_by_sigkill_are_ended_by_the_next_train(home):
    stage, worker = start_stage(home)
    stage.kill()
    stage.wait()
    assert worker.is_running()  # orphaned, as joblib's busy workers are
    assert next_train(Settings(home=home)) == "trained"
    assert not worker.is_running() or worker.status() == psutil.STATUS_ZOMBIE
    assert not (home / "data" / ".train-workers.json").exists()


@pytest.mark.timeout(60)
def test_a_train_stopped_by_sigterm_ends_its_workers_itself(home):
    stage, worker = start_stage(home)
    stage.send_signal(signal.SIGTERM)
    assert stage.wait(timeout=20) == 128 + signal.SIGTERM
    worker.wait(timeout=10)
    assert not (home / "data" / ".train-workers.json").exists()


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_a_run_left_running_by_a_killed_train_is_marked_failed_at_the_next_start(home):
    from mlflow import MlflowClient

    settings = Settings(home=home)
    settings.ensure_dirs()
    client = MlflowClient(tracking_uri=settings.tracking_uri)
    experiment = client.create_experiment("narcotrend",
                                          artifact_location=settings.artifact_location)
    orphan = client.create_run(experiment).info.run_id  # never ended: its process died
    assert client.get_run(orphan).info.status == "RUNNING"
    assert next_train(settings) == "trained"
    assert client.get_run(orphan).info.status == "FAILED"
