"""The one periodic loop of the service: a daemon thread that calls a function every N seconds
until stopped (model polling, audit flushing, the e-mail scheduler)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)


class Periodic:
    """Calls `func` every `seconds` in a daemon thread between `start()` and `stop()`.

    `immediately` makes the first call at start instead of after one interval. A call that
    raises is logged and the loop goes on at the next tick: one bad call never kills the thread.
    `stop()` waits up to `join_seconds` for a call in progress to finish.
    """

    def __init__(self, func: Callable[[], object], seconds: float, name: str, *,
                 immediately: bool = False, join_seconds: float = 30.0) -> None:
        self.func = func
        self.seconds = seconds
        self.name = name
        self.immediately = immediately
        self.join_seconds = join_seconds
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
            self._thread.join(timeout=self.join_seconds)
            self._thread = None

    def _call(self) -> None:
        try:
            self.func()
        except Exception:  # noqa: BLE001 - a loop must outlive one bad call
            log.exception("%s failed; retrying in %ss", self.name, self.seconds)

    def _run(self) -> None:
        if self.immediately and not self._stop.is_set():
            self._call()
        while not self._stop.wait(self.seconds):
            self._call()
