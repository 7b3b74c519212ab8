"""The MLflow run of a stored detection holds the alert store's counts (issue 15): the detect
stage logs the run, serving logs what storing it created, updated, re-opened and resolved."""

from __future__ import annotations

import pytest


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_stored_detection_logs_the_store_counts_to_its_mlflow_run(built_world):
    from mlflow import MlflowClient
    from sqlalchemy import func, select

    from core.settings import Settings
    from serving.alerting.alerts_store import PRODUCER_TYPES
    from serving.db import Alert, session_scope

    settings = Settings(home=built_world)
    client = MlflowClient(tracking_uri=settings.tracking_uri)
    experiment = client.get_experiment_by_name("detection")
    runs = client.search_runs([experiment.experiment_id], "tags.`mlflow.runName` LIKE 'detect %'")
    assert len(runs) == 1
    metrics = runs[0].data.metrics
    detected = select(func.count()).select_from(Alert).where(
        Alert.type.in_(PRODUCER_TYPES["detect"]))  # linked-case alerts are the link stage's
    with session_scope(settings.service_database_url) as session:
        stored = session.scalar(detected)
        resolved = session.scalar(detected.where(Alert.status == "resolved"))
    assert metrics["created"] == stored > 0  # a fresh store: every alert row was created once
    assert metrics["resolved"] >= resolved
    assert {"updated", "reopened", "notices"} <= set(metrics)
