"""Training leaves nothing behind (issue 18): no RUNNING MLflow run, no worker processes.

`cleaned_up("train")` wraps a stage: under the home's writer lock it first ends what a killed
earlier train left (its recorded workers, its runs still RUNNING, marked FAILED: while we hold
the lock no other writer of this home runs, so a RUNNING run is an orphan), then runs the stage
with SIGTERM turned into SystemExit (so MLflow's run context marks the run FAILED and the
finally blocks run) and its worker processes recorded every second in `data/.train-workers.json`
and ended when the stage ends, however it ends. Only kill -9 skips that, and then the next
train ends them.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import signal
import threading
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from core.home import HomePaths, write_text_atomic
from core.locking import writes_home
from core.settings import Settings

log = logging.getLogger(__name__)
F = TypeVar("F", bound=Callable[..., Any])
POLL_SECONDS = 1.0


def end_processes(processes: list[Any], timeout: float = 5.0) -> None:
    """Terminate psutil processes, kill those still alive after `timeout`; gone ones are fine."""
    import psutil

    for member in processes:
        with contextlib.suppress(psutil.NoSuchProcess):
            member.terminate()
    _, alive = psutil.wait_procs(processes, timeout=timeout)
    for member in alive:
        with contextlib.suppress(psutil.NoSuchProcess):
            member.kill()


def end_worker_processes(timeout: float = 5.0, keep: frozenset[int] = frozenset()) -> None:
    """End the processes this one started, but those in `keep` (joblib's reusable workers idle
    for minutes, and busy ones finish their task first, holding hundreds of MB each)."""
    import psutil

    end_processes([c for c in psutil.Process().children(recursive=True) if c.pid not in keep],
                  timeout)


def end_recorded_workers(paths: HomePaths) -> int:
    """End the workers a killed train recorded, if still alive (same pid and start time)."""
    import psutil

    try:
        recorded = json.loads(paths.train_workers.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return 0
    alive = []
    for pid, started in recorded:
        with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
            process = psutil.Process(pid)
            if abs(process.create_time() - started) < 0.01:
                alive.append(process)
    end_processes(alive)
    paths.train_workers.unlink(missing_ok=True)
    if alive:
        log.warning("ended %d worker(s) left by a killed train", len(alive))
    return len(alive)


def fail_orphan_runs(settings: Settings) -> int:
    """Mark FAILED the runs a killed train or detect left RUNNING in the home's own tracking
    store (SQLite under the home); a shared tracking server is left alone."""
    if settings.mlflow_tracking_uri or not settings.paths.mlflow_db.exists():
        return 0
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=settings.tracking_uri)
    experiments = [e.experiment_id for e in client.search_experiments()]
    if not experiments:
        return 0
    runs = client.search_runs(experiments, filter_string="attributes.status = 'RUNNING'")
    for run in runs:
        client.set_terminated(run.info.run_id, status="FAILED")
    if runs:
        log.warning("marked %d run(s) of a killed stage FAILED", len(runs))
    return len(runs)


@contextlib.contextmanager
def workers_tracked(paths: HomePaths) -> Iterator[None]:
    """Record the children this process starts while the block runs; end them when it ends
    (children it had before, such as a test's Dask cluster, are not the stage's)."""
    import psutil

    done = threading.Event()
    me = psutil.Process()
    before = frozenset(c.pid for c in me.children(recursive=True))

    def record() -> None:
        seen: list[list[float]] = []
        while not done.wait(POLL_SECONDS):
            with contextlib.suppress(psutil.Error, OSError):
                now = sorted([c.pid, c.create_time()] for c in me.children(recursive=True)
                             if c.pid not in before)
                if now != seen:
                    write_text_atomic(json.dumps(now), paths.train_workers)
                    seen = now

    recorder = threading.Thread(target=record, name="train-workers", daemon=True)
    recorder.start()
    try:
        with _sigterm_exits():
            yield
    finally:
        done.set()
        recorder.join()
        _end_stage_workers(before)
        paths.train_workers.unlink(missing_ok=True)


def _end_stage_workers(before: frozenset[int]) -> None:
    """End the workers the stage started: joblib's reusable executor shut down (so this process
    can use joblib again), then what is left, but loky's resource tracker, which this process
    keeps using and which exits with it."""
    import psutil

    with contextlib.suppress(Exception):
        from joblib.externals.loky import reusable_executor

        executor = reusable_executor._executor  # the live one, if any (asking for it makes one)
        if executor is not None:
            executor.shutdown(wait=True, kill_workers=True)
    left = []
    for child in psutil.Process().children(recursive=True):
        with contextlib.suppress(psutil.Error):
            if child.pid not in before and "resource_tracker" not in " ".join(child.cmdline()):
                left.append(child)
    end_processes(left)


@contextlib.contextmanager
def _sigterm_exits() -> Iterator[None]:
    """SIGTERM raises SystemExit(143) in the main thread, so cleanup code runs."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum: int, frame: Any) -> None:
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def cleaned_up(stage: str) -> Callable[[F], F]:
    """Run the decorated stage (first argument: the settings) under the writer lock, after
    ending what a killed run left, with its workers tracked and ended."""

    def decorate(func: F) -> F:
        @functools.wraps(func)
        def body(settings: Settings, *args: Any, **kwargs: Any) -> Any:
            end_recorded_workers(settings.paths)
            fail_orphan_runs(settings)
            with workers_tracked(settings.paths):
                return func(settings, *args, **kwargs)

        return writes_home(stage)(body)  # type: ignore[return-value]

    return decorate
