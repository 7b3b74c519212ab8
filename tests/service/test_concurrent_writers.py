"""One writer at a time per home (issue 18): concurrent ingests keep exactly the union, a
second writer waits and then fails with one line saying who holds the home."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import REPO

HEADER = "seizure_id,date,country,drug,quantity,unit\n"


def seizure_file(path: Path, ids: list[str]) -> Path:
    rows = [f"{sid},2024-0{1 + n % 9}-1{n % 10},ESP,cocaine,{1 + n % 7},kg"
            for n, sid in enumerate(ids)]
    path.write_text(HEADER + "\n".join(rows) + "\n", encoding="utf-8")
    return path


def start_cli(home: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen:
    environ = {**os.environ, "NARCOTREND_HOME": str(home), **(env or {})}
    return subprocess.Popen([sys.executable, "-m", "serving.cli", *args], cwd=REPO, env=environ,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.slow
@pytest.mark.timeout(400)
def test_ten_concurrent_ingest_pairs_store_exactly_the_union(tmp_path, run_cli):
    home = tmp_path / "home"
    expected: set[str] = set()
    accepted = 0
    for pair in range(10):
        shared = [f"S{pair}-{n}" for n in range(20)]  # in both files: stored once
        a = seizure_file(tmp_path / f"a{pair}.csv", [f"A{pair}-{n}" for n in range(300)] + shared)
        b = seizure_file(tmp_path / f"b{pair}.csv", [f"B{pair}-{n}" for n in range(300)] + shared)
        expected |= {f"A{pair}-{n}" for n in range(300)} | {f"B{pair}-{n}" for n in range(300)}
        expected |= set(shared)
        running = [start_cli(home, "ingest", "--json", str(path)) for path in (a, b)]
        for process in running:
            out, err = process.communicate(timeout=300)
            assert process.returncode == 0, err
            report = json.loads(out)
            assert report["accepted"] + report["duplicates"] == report["rows_read"] == 320
            accepted += report["accepted"]
    stored = pd.read_parquet(home / "data" / "warehouse" / "records.parquet")["seizure_id"]
    assert not stored.duplicated().any()
    assert set(stored) == expected
    assert accepted == len(stored) == 6200
    built = run_cli(home, "build")
    assert built.returncode == 0, built.stderr


HOLD = """
import sys, time
from core.locking import home_lock
from core.home import HomePaths
with home_lock(HomePaths(__import__('pathlib').Path(sys.argv[1])), "train"):
    print("held", flush=True)
    sys.stdin.readline()  # until the test lets go
"""


def hold_lock(home: Path) -> subprocess.Popen:
    """A process holding the home's writer lock as `train` until a line on its stdin."""
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(home)], cwd=REPO,
                              env={**os.environ, "PYTHONPATH": str(REPO)},
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    return holder


@pytest.mark.timeout(60)
def test_a_second_writer_fails_with_one_line_naming_the_holder(home, run_cli):
    seizure_file(home / "a.csv", ["X1", "X2"])
    holder = hold_lock(home)
    try:
        started = time.monotonic()
        result = run_cli(home, "ingest", str(home / "a.csv"),
                         env={"NARCOTREND_LOCK_TIMEOUT_SECONDS": "1"})
        waited = time.monotonic() - started
    finally:
        holder.kill()
        holder.wait()
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert f"waiting for `train` (pid {holder.pid}" in result.stderr
    error = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(error) == 1 and "still being written by `train`" in error[0]
    assert waited < 30
    assert not (home / "data" / "warehouse" / "records.parquet").exists()


@pytest.mark.timeout(60)
def test_a_writer_waits_for_the_holder_and_then_writes(home):
    seizure_file(home / "a.csv", ["X1", "X2"])
    holder = hold_lock(home)
    ingest = start_cli(home, "ingest", "--json", str(home / "a.csv"))
    said = ingest.stderr.readline()  # blocks until the ingest reaches the lock and waits
    holder.communicate("done\n", timeout=30)
    out, _ = ingest.communicate(timeout=60)
    assert ingest.returncode == 0
    assert json.loads(out)["accepted"] == 2
    assert said.startswith(f"waiting for `train` (pid {holder.pid}")
