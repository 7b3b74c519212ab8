"""One writer at a time per home: a lock file around every stage that writes the warehouse,
series, forecasts or links (ingest, build, train, detect, link).

`home_lock(paths, stage)` takes the home's lock (`data/.writer.lock`, an OS file lock from
`filelock`, released by the kernel when the holder dies, even by kill -9). A second writer
waits up to `NARCOTREND_LOCK_TIMEOUT_SECONDS`, saying once who holds the lock and since when
(`data/.writer.json`, written by the holder), then fails with one line. The lock is re-entrant
within a process, so `narcotrend run` holds it across its stages. On taking it, unfinished
publications a killed writer left (core.publish) are finished or cleaned first.

`@writes_home("train")` wraps a stage function whose first argument is the settings.
"""

from __future__ import annotations

import functools
import json
import os
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, TypeVar

from filelock import FileLock, Timeout

from core.errors import NarcotrendError
from core.home import HomePaths, write_text_atomic
from core.publish import recover_publications

F = TypeVar("F", bound=Callable[..., Any])
Say = Callable[[str], None]

_locks: dict[str, FileLock] = {}
_locks_guard = threading.Lock()


def _lock_for(paths: HomePaths) -> FileLock:
    key = str(paths.writer_lock)
    with _locks_guard:
        if key not in _locks:
            paths.writer_lock.parent.mkdir(parents=True, exist_ok=True)
            _locks[key] = FileLock(key, thread_local=False)
        return _locks[key]


def lock_holder(paths: HomePaths) -> dict[str, Any] | None:
    """Who holds (or last held) the home's writer lock: stage, pid, host, since."""
    try:
        return json.loads(paths.writer_holder.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _describe(holder: dict[str, Any] | None) -> str:
    if not holder:
        return "another writer"
    return (f"`{holder.get('stage', '?')}` (pid {holder.get('pid', '?')} on "
            f"{holder.get('host', '?')}, since {holder.get('since', '?')})")


@contextmanager
def home_lock(paths: HomePaths, stage: str, timeout: float = 600.0,
              say: Say | None = None) -> Iterator[None]:
    """Hold the home's writer lock for `stage`; NarcotrendError after `timeout` seconds.

    The wait is announced as a line on stderr (not through `say`, a progress display may
    overwrite it), so whoever waits sees who holds the home."""
    lock = _lock_for(paths)
    outermost = not lock.is_locked
    try:
        lock.acquire(timeout=0)
    except Timeout:
        holder = lock_holder(paths)
        message = (f"waiting for {_describe(holder)} to finish writing {paths.root} "
                   f"(at most {timeout:g} s)")
        _stderr(message)
        if say is not None:
            say(message)
        try:
            lock.acquire(timeout=timeout)
        except Timeout:
            raise NarcotrendError(
                f"{stage}: {paths.root} is still being written by {_describe(lock_holder(paths))}"
                f" after {timeout:g} s; try again when it has finished (NARCOTREND_LOCK_TIMEOUT_"
                "SECONDS sets the wait)") from None
    try:
        if outermost:
            write_text_atomic(json.dumps({
                "stage": stage, "pid": os.getpid(), "host": socket.gethostname(),
                "since": datetime.now(UTC).isoformat(timespec="seconds")}), paths.writer_holder)
            recover_publications(paths)
        yield
    finally:
        lock.release()


def _stderr(message: str) -> None:
    import sys

    sys.stderr.write(message + "\n")
    sys.stderr.flush()


def writes_home(stage: str) -> Callable[[F], F]:
    """Run the decorated stage (first argument: the settings) under the home's writer lock."""

    def decorate(func: F) -> F:
        @functools.wraps(func)
        def wrapper(settings: Any, *args: Any, **kwargs: Any) -> Any:
            timeout = float(getattr(settings, "lock_timeout_seconds", 600.0))
            with home_lock(settings.paths, stage, timeout):
                return func(settings, *args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate
