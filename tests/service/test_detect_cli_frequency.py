"""`narcotrend build --freq W-MON && narcotrend detect` detects on weeks and says so; on a yearly
build `detect` runs what yearly series allow and names what it skips (the built-in world)."""

from __future__ import annotations

import pytest


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_detect_follows_the_build_frequency(tmp_path, run_cli):
    from bench.detect import prepare

    prepare(tmp_path, seed=7)
    assert run_cli(tmp_path, "build", "--freq", "W-MON").returncode == 0
    weekly = run_cli(tmp_path, "detect")
    assert weekly.returncode == 0, weekly.stderr
    said = weekly.stdout + weekly.stderr  # progress and summaries go to stderr
    assert "as of 2025-W01, detected on weeks:" in said and "skipped" not in said

    assert run_cli(tmp_path, "build", "--freq", "YS").returncode == 0
    mixed = run_cli(tmp_path, "detect")  # the store holds weekly alerts: not mixed with years
    assert mixed.returncode == 2 and "holds weekly detections" in mixed.stdout + mixed.stderr
    (tmp_path / "data" / "narcotrend.db").unlink()
    yearly = run_cli(tmp_path, "detect")
    assert yearly.returncode == 0, yearly.stderr
    said = yearly.stdout + yearly.stderr
    assert "as of 2024, detected on years:" in said
    assert "skipped on a yearly build: emerging_trend (needs" in said
    assert "surge (needs" in said and "decline (needs" in said
