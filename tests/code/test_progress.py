"""core.progress: stage lines whole in a log, and one line per 10% of a stage's steps."""

from __future__ import annotations

import io

from core.progress import Progress, steps


def test_steps_through_a_plain_callable_say_each_tenth_once():
    lines: list[str] = []
    tick = steps(lines.append, "backtests", 20)
    for i in range(20):
        tick(f"model {i}")
    assert len(lines) == 10
    assert lines[0] == "backtests: 2/20 (10%) (model 1)"
    assert lines[-1] == "backtests: 20/20 (100%) (model 19)"


def test_steps_of_fewer_than_ten_say_every_step():
    lines: list[str] = []
    tick = steps(lines.append, "final fit", 3)
    for _ in range(3):
        tick()
    assert lines == ["final fit: 1/3 (33%)", "final fit: 2/3 (66%)", "final fit: 3/3 (100%)"]


def test_progress_in_a_log_writes_long_lines_whole_and_no_bar():
    out = io.StringIO()
    long = "backtesting 7 models on 1,204 series " + "x" * 150
    with Progress(stream=out, terminal=False) as progress:
        progress(long)
        tick = steps(progress, "backtests", 2)
        tick("ets")
        tick("theta")
    assert out.getvalue().splitlines() == [long, "backtests: 1/2 (50%) (ets)",
                                           "backtests: 2/2 (100%) (theta)"]
