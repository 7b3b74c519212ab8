"""`narcotrend train` shows a progress bar on a terminal (a pseudo-terminal, as a person sees
it) and prints stage lines when piped."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest
from api_home import make_series

from core.settings import Settings

REPO = Path(__file__).resolve().parents[2]
BAR = "━"  # rich's bar glyph


def tiny_home(home: Path) -> dict[str, str]:
    """A home with six built series, enough to train in seconds."""
    settings = Settings(home=home)
    settings.ensure_dirs()
    series = make_series(36)
    keep = series["unique_id"].drop_duplicates().head(6)
    series[series["unique_id"].isin(keep)].to_parquet(settings.series_dir / "series.parquet")
    return {**os.environ, "NARCOTREND_HOME": str(home), "NARCOTREND_N_JOBS": "1",
            "COLUMNS": "120"}


def run_in_pty(args: list[str], env: dict[str, str], timeout: float) -> str:
    """What a terminal would show of `args` (stdout and stderr on one pseudo-terminal)."""
    parent, child = pty.openpty()
    process = subprocess.Popen(args, stdin=child, stdout=child, stderr=child, env=env, cwd=REPO)
    os.close(child)
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([parent], [], [], 0.5)
        if ready:
            try:
                data = os.read(parent, 65536)
            except OSError:  # the child closed the terminal
                break
            if not data:
                break
            chunks.append(data)
        elif process.poll() is not None:
            break
    process.wait(timeout=30)
    os.close(parent)
    assert process.returncode == 0, b"".join(chunks).decode(errors="replace")[-2000:]
    return b"".join(chunks).decode(errors="replace")


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_train_shows_a_bar_on_a_terminal_and_stage_lines_when_piped(tmp_path):
    env = tiny_home(tmp_path / "tty")
    shown = run_in_pty([sys.executable, "-m", "serving.cli", "train"], env, timeout=500)
    assert BAR in shown and "backtests" in shown

    env = tiny_home(tmp_path / "piped")
    piped = subprocess.run([sys.executable, "-m", "serving.cli", "train"], env=env, cwd=REPO,
                           capture_output=True, text=True, timeout=500)
    assert piped.returncode == 0, piped.stderr
    lines = piped.stderr.splitlines()
    assert BAR not in piped.stderr and "\x1b[" not in piped.stderr  # no bar, no escapes
    assert any(line.startswith("backtesting ") for line in lines)
    assert any(line.startswith("backtests: ") and line.endswith("series)") for line in lines)
    assert any(line.startswith("final fit: ") for line in lines)
    assert any(line.startswith("trained 6 series") for line in lines)
