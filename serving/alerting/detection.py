"""A detection run stored: `training.detect.detect` finds the alerts, this module upserts them
into the service database (the replay's monthly batches first, in order, then the run's own),
for `narcotrend detect` and `narcotrend run`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.locking import writes_home
from core.settings import Settings
from serving.alerting.alerts_store import upsert_alerts
from serving.alerting.notices_store import upsert_notices
from serving.db import Alert, session_scope
from training.detect import detect
from training.registry import log_run_metrics

COUNTS = ("created", "updated", "reopened", "resolved")


def latest_detection(session: Session) -> str | None:
    """The latest period the alert store holds a detection of (None when empty)."""
    return session.scalar(select(func.max(Alert.detected_at)))


def store_detection(settings: Settings, result: dict[str, Any]) -> dict[str, int]:
    """Upsert a detection's replay batches, its alerts and its notices; the counts summed (and
    `notices`, how many the run holds)."""
    totals = dict.fromkeys(COUNTS, 0)
    batches = [*result.get("batches", []), (result["detected_at"], result["alerts"])]
    with session_scope(settings.service_database_url) as session:
        for period, alerts in batches:
            counts = upsert_alerts(session, alerts, period, settings.alert_resolve_after_periods)
            for key in COUNTS:
                totals[key] += counts[key]
        totals["notices"] = len(result.get("notices", []))
        upsert_notices(session, result.get("notices", []))
    return totals


@writes_home("detect")
def detect_and_store(settings: Settings, as_of: str | None = None, *, since: str | None = None,
                     progress: Callable[[str], None] | None = None,
                     log_mlflow: bool = True) -> dict[str, Any]:
    """Detect (refusing periods older than the store's), store, and summarise: `detected_at`,
    `freq`, `unit`, `alerts` (how many), `replayed`, `skipped`, `by_type`, `by_severity`, the
    upserts' counts (the replay's included; also logged to the detect run in MLflow), `seconds`,
    `mlflow_run_id`."""
    with session_scope(settings.service_database_url) as session:
        stored_up_to = latest_detection(session)
    result = detect(settings, as_of, since=since, stored_up_to=stored_up_to, progress=progress,
                    log_mlflow=log_mlflow)
    counts = store_detection(settings, result)
    if result.get("mlflow_run_id"):  # the run the detect stage logged gets the store's counts
        log_run_metrics(settings, result["mlflow_run_id"], counts)
    summary = {k: v for k, v in result.items() if k not in ("alerts", "batches", "notices")}
    return {**summary, "alerts": len(result["alerts"]), **counts}
