"""A daemon thread that calls a function every N seconds until stopped (model polling, audit
flushing)."""

from __future__ import annotations

import threading
from collections.abc import Callable


class Periodic:
    """Calls `func` every `seconds` in a daemon thread between `start()` and `stop()`."""

    def __init__(self, func: Callable[[], object], seconds: float, name: str) -> None:
        self.func = func
        self.seconds = seconds
        self.name = name
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Stop the loop and wait for a call in progress to finish."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.wait(self.seconds):
            self.func()
