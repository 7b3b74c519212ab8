"""The shipped example of planners' thresholds: it reads, names series the built-in world has,
and raises forecast-threshold alerts exactly where the upper interval reaches a threshold."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from models.threshold import read_thresholds

EXAMPLE = Path(__file__).resolve().parents[2] / "data" / "reference" / "thresholds.example.csv"


def test_the_example_names_world_series_and_raises_alerts_where_the_band_crosses(home,
                                                                               monkeypatch):
    from bench.detect import prepare
    from core.settings import get_settings
    from training.detection_config import DetectionConfig
    from training.detection_engine import detect_frame
    from training.detection_inputs import load_inputs, load_thresholds

    thresholds = read_thresholds(EXAMPLE)
    assert len(thresholds) == 5 and set(thresholds["level"]) == {80, 95}

    settings = get_settings()
    prepare(settings.home, seed=settings.demo_seed)
    series = pd.read_parquet(settings.series_dir / "series.parquet")
    assert set(thresholds["unique_id"]) <= set(series["unique_id"])

    # forecasts that put the first two thresholds' series right above them, the rest below
    last = series["ds"].max()
    rows = []
    for i, rec in enumerate(thresholds.itertuples(index=False)):
        upper = rec.threshold * (1.2 if i < 2 else 0.5)
        for step in (1, 2, 3):
            rows.append({"unique_id": rec.unique_id, "ds": last + pd.DateOffset(months=step),
                         "forecast": upper / 2, "lo_80": 0.0, "hi_80": upper, "lo_95": 0.0,
                         "hi_95": upper, "model": "test"})
    monkeypatch.setenv("NARCOTREND_ALERT_THRESHOLDS_FILE", str(EXAMPLE))
    get_settings.cache_clear()
    configured = load_thresholds(get_settings())
    pd.testing.assert_frame_equal(configured, thresholds)
    series, routes = load_inputs(settings)
    alerts = detect_frame(series, routes, None, forecasts=pd.DataFrame(rows),
                          config=DetectionConfig.from_settings(settings), thresholds=configured)
    crossed = {f"{a['geo']}/{a['drug']}/{a['metric']}" for a in alerts
               if a["type"] == "forecast_threshold"}
    assert crossed == set(thresholds["unique_id"].iloc[:2])
