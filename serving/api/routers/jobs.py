"""Retraining through the API: `POST /v1/retrain` starts `training.train.train` in a separate
process and answers at once with a job; `GET /v1/jobs/{id}` tells how it went.

A separate process (spawned, not forked) keeps the heavy, multi-process training away from the
server's threads and its GIL, and a crash in training cannot take the service down. A supervisor
thread waits for it and marks the job failed if the process dies without saying how it ended.
When the run promotes a new champion, the model store's poller serves it within a poll period.
"""

from __future__ import annotations

import importlib
import logging
import multiprocessing
import os
import sys
import threading
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, status
from sqlalchemy import select

from core.settings import Settings
from serving.api.deps import GlobalAnalystDep, SessionDep, SettingsDep
from serving.api.schemas import Job, error_responses
from serving.db import Job as JobRow
from serving.db import session_scope, utcnow
from training.cleanup import end_processes, end_worker_processes

log = logging.getLogger(__name__)

router = APIRouter(prefix="/v1", tags=["jobs"], responses=error_responses(401, 403))

UNKNOWN_JOB = "unknown job"
RETRAIN = "retrain"
TRAIN_TARGET = "training.train:train"


def _json_safe(result: Any) -> dict[str, Any] | None:
    """A JSON-storable summary of what the training function returned."""
    import json

    if result is None:
        return None
    if not isinstance(result, dict):
        result = {"result": result}
    return json.loads(json.dumps(result, default=str))


def _finish(url: str, job_id: str, **fields: Any) -> None:
    with session_scope(url) as session:
        job = session.get(JobRow, job_id)
        if job is not None and job.status in ("queued", "running"):
            for name, value in fields.items():
                setattr(job, name, value)
            job.finished_at = utcnow()


def run_job_in_child(settings: Settings, job_id: str, target: str) -> None:
    """Child-process body: call the target with the settings, record the outcome, and leave at
    once. Its worker processes are ended first, then `os._exit` skips the interpreter's exit,
    which would wait on joblib's idle workers (kept alive for reuse) and so keep the job, and
    the server's shutdown, waiting."""
    module_name, func_name = target.split(":")
    code = 1
    try:
        try:
            func = getattr(importlib.import_module(module_name), func_name)
            result = func(settings)
            _finish(settings.service_database_url, job_id, status="succeeded",
                    result=_json_safe(result))
            code = 0
        except BaseException as err:  # noqa: BLE001 - every failure is reported on the job
            _finish(settings.service_database_url, job_id, status="failed",
                    error=f"{type(err).__name__}: {err}"[:4000])
    finally:  # even if recording the outcome failed (the supervisor then reports the exit)
        for stream in (sys.stdout, sys.stderr):
            stream.flush()
        logging.shutdown()
        end_worker_processes()
        os._exit(code)


# job id -> (its training process, the service database URL), for the shutdown
_running: dict[str, tuple[multiprocessing.process.BaseProcess, str]] = {}
_running_lock = threading.Lock()


def stop_running_jobs(timeout: float = 10.0) -> int:
    """At shutdown: end the training processes this server started and the workers they
    started, their jobs marked failed as interrupted. Returns how many."""
    import psutil

    with _running_lock:
        running = [(job_id, p, url) for job_id, (p, url) in _running.items() if p.is_alive()]
    for job_id, process, url in running:
        _finish(url, job_id, status="failed",
                error="interrupted: the service stopped while the job ran")
        try:
            tree = psutil.Process(process.pid)
            end_processes([*tree.children(recursive=True), tree], timeout)
        except psutil.NoSuchProcess:
            continue
    for _, process, _ in running:
        process.join(timeout)
    return len(running)


def _supervise(settings: Settings, job_id: str, target: str) -> None:
    url = settings.service_database_url
    with session_scope(url) as session:
        job = session.get(JobRow, job_id)
        job.status, job.started_at = "running", utcnow()
    process = multiprocessing.get_context("spawn").Process(
        target=run_job_in_child, args=(settings, job_id, target), name=f"job-{job_id}")
    process.start()
    with _running_lock:
        _running[job_id] = (process, url)
    with session_scope(url) as session:
        job = session.get(JobRow, job_id)
        job.result = {"pid": process.pid}
    process.join()
    with _running_lock:
        _running.pop(job_id, None)
    _finish(url, job_id, status="failed",
            error=f"the training process ended with exit code {process.exitcode}")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def fail_interrupted_jobs(settings: Settings) -> int:
    """At start-up: jobs a previous service process left queued or running, whose training
    process is gone, are marked failed (else they would block every later retrain)."""
    failed = 0
    with session_scope(settings.service_database_url) as session:
        for job in session.scalars(select(JobRow).where(JobRow.status.in_(("queued", "running")))):
            pid = (job.result or {}).get("pid")
            if pid is None or not _alive(int(pid)):
                job.status, job.finished_at = "failed", utcnow()
                job.error = "interrupted: the service stopped before the job finished"
                failed += 1
    return failed


def start_job(settings: Settings, kind: str, requested_by: str | None,
              target: str = TRAIN_TARGET) -> JobRow:
    """Queue a job and start it, unless one of the same kind is already queued or running."""
    with session_scope(settings.service_database_url) as session:
        running = session.scalars(select(JobRow).where(
            JobRow.kind == kind, JobRow.status.in_(("queued", "running")))).first()
        if running is not None:
            return running
        job = JobRow(kind=kind, status="queued", requested_by=requested_by)
        session.add(job)
    threading.Thread(target=_supervise, args=(settings, job.id, target), daemon=True,
                     name=f"job-supervisor-{job.id}").start()
    return job


def get_train_target() -> str:
    """The `module:function` a retrain job runs (tests override it with a quick one)."""
    return TRAIN_TARGET


@router.post("/retrain", response_model=Job, status_code=status.HTTP_202_ACCEPTED,
             summary="Retrain in the background (unscoped analyst)")
def retrain(settings: SettingsDep, principal: GlobalAnalystDep,
            target: Annotated[str, Depends(get_train_target)]) -> Job:
    """Start `narcotrend train` as a background job (or return the one already running)."""
    job = start_job(settings, RETRAIN, principal.key_id, target)
    return Job.model_validate(job, from_attributes=True)


@router.get("/jobs/{job_id}", response_model=Job, responses=error_responses(404),
            summary="A background job (unscoped analyst)")
def get_job(job_id: Annotated[str, Path(description="The job's id")], session: SessionDep,
            principal: GlobalAnalystDep) -> Job:
    job = session.get(JobRow, job_id)
    if job is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=UNKNOWN_JOB)
    return Job.model_validate(job, from_attributes=True)
