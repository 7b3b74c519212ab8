"""What a long command shows while it works: stage lines, and step bars inside a stage.

Stages already take a `progress` callable and call it with one line per stage ("backtesting 7
models on 1,204 series"). `Progress` is such a callable: on a terminal it prints the lines above
a rich progress bar; elsewhere (a log, a pipe, CI) it prints each line once, whole (no 80-column
wrapping). Inside a stage, `steps(progress, label, total)` gives a `tick` to call once per step
(one model backtested, one month replayed): a moving bar on a terminal, one line per 10% when
not, and the same 10% lines through any plain callable a test or bench passes.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from types import TracebackType
from typing import IO, Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
from rich.progress import Progress as RichProgress

Say = Callable[[str], None]


class Progress:
    """Stage lines, and bars for the steps of a stage; use as a context manager."""

    def __init__(self, console: Console | None = None, *, stream: IO[str] | None = None,
                 terminal: bool | None = None) -> None:
        stream = stream or (console.file if console is not None else sys.stderr)
        self.terminal = stream.isatty() if terminal is None else terminal
        self.console = console if console is not None and terminal is None else Console(
            file=stream, force_terminal=self.terminal, soft_wrap=not self.terminal,
            highlight=False)
        self._bar: RichProgress | None = None

    def __call__(self, message: str) -> None:
        """One stage line."""
        out = self._bar.console if self._bar is not None else self.console
        out.print(message, highlight=False, soft_wrap=True, markup=False)

    def bar(self) -> RichProgress:
        """The rich bar display (started on first use, terminals only)."""
        if self._bar is None:
            self._bar = RichProgress(TextColumn("{task.description}"), BarColumn(),
                                     MofNCompleteColumn(), TimeElapsedColumn(),
                                     console=self.console, transient=False)
            self._bar.start()
        return self._bar

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.close()


class Steps:
    """`tick(detail)` once per step of `total`: a bar on a terminal, a line per 10% otherwise."""

    def __init__(self, progress: Say | None, label: str, total: int) -> None:
        self.progress, self.label, self.total = progress, label, max(int(total), 1)
        self.done, self._tenths = 0, 0
        self._task: Any = None
        if isinstance(progress, Progress) and progress.terminal:
            self._task = progress.bar().add_task(label, total=self.total)

    def __call__(self, detail: str = "") -> None:
        self.done += 1
        if self._task is not None and isinstance(self.progress, Progress):
            description = f"{self.label}: {detail}" if detail else self.label
            self.progress.bar().update(self._task, advance=1, description=description)
            return
        tenths = min(10, self.done * 10 // self.total)
        if self.progress is not None and tenths > self._tenths:
            self._tenths = tenths
            suffix = f" ({detail})" if detail else ""
            self.progress(f"{self.label}: {self.done}/{self.total} "
                          f"({self.done * 100 // self.total}%){suffix}")


def steps(progress: Say | None, label: str, total: int) -> Steps:
    """The `tick` of a stage's steps, whatever `progress` callable the stage was given."""
    return Steps(progress, label, total)
