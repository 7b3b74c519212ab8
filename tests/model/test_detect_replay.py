"""`detect --since` (and a first `narcotrend run`) replays monthly detection into the store: the
store ends as monthly runs would have left it, alert by alert."""

from __future__ import annotations

import pandas as pd
import pytest
from sqlalchemy import select

from core.errors import NarcotrendError


def test_replay_leaves_the_store_as_monthly_runs_would_have(home):
    from bench.detect import prepare
    from core.settings import get_settings
    from features.completeness import low_reporting_periods
    from serving.alerting.detection import detect_and_store as detect
    from serving.db import Alert, session_scope
    from serving.pipeline import replay_start
    from training.alert_backtest import backtest_alerts
    from training.detection_config import DetectionConfig
    from training.detection_inputs import load_completeness, load_inputs

    settings = get_settings()
    prepare(settings.home, seed=settings.demo_seed)
    series, routes = load_inputs(settings)
    end = pd.Period(series["ds"].max(), "M")
    since = replay_start(settings, str(end))
    assert since == str(end - settings.run_replay_periods)
    assert replay_start(settings, str(end), "W-MON") is None  # detection steps by month
    since = str(end - 8)  # shorter, to keep the test quick

    summary = detect(settings, since=since, log_mlflow=False)
    assert summary["replayed"] == 8 and summary["detected_at"] == str(end)

    low = low_reporting_periods(load_completeness(settings))
    expected = sorted(backtest_alerts(series, routes, since, str(end),
                                      DetectionConfig.from_settings(settings), low_reporting=low),
                      key=lambda a: a["detected_at"])
    first_seen: dict[str, str] = {}
    last_seen: dict[str, str] = {}
    for alert in expected:
        first_seen.setdefault(alert["fingerprint"], alert["detected_at"])
        last_seen[alert["fingerprint"]] = alert["detected_at"]
    assert len(first_seen) > summary["alerts"]  # the replay holds more than the last month
    assert summary["created"] == len(first_seen)  # counts include the replay's

    with session_scope(settings.service_database_url) as session:
        rows = {row.fingerprint: (row.first_detected_at, row.status)
                for row in session.scalars(select(Alert))}
    assert set(rows) == set(first_seen)
    for fingerprint, (first, status) in rows.items():
        assert first == first_seen[fingerprint]
        absent = (end - pd.Period(last_seen[fingerprint], "M")).n
        assert (status == "resolved") == (absent >= settings.alert_resolve_after_periods)
    assert {status for _, status in rows.values()} == {"open", "resolved"}

    # the store has its history now: a later `run` does not replay again
    assert replay_start(settings, str(end)) is None
    # and no run may write detections older than the store's
    for older in ({"as_of": str(end - 2)}, {"since": str(end - 3)}):
        with pytest.raises(NarcotrendError, match=f"detections up to {end}"):
            detect(settings, log_mlflow=False, **older)
    assert detect(settings, log_mlflow=False)["created"] == 0  # the same month again: updates
