"""The train stage against a real MLflow SQLite store: run, registry, champion gate, serving."""

from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd
import pytest

from training.registry import gate


def test_gate_promotes_when_no_worse_and_says_why():
    assert gate(0.81, 0.85, "3") == (True, "mase 0.810 <= champion 0.850 (version 3)")
    promoted, reason = gate(0.9, 0.85, "3")
    assert not promoted and "champion kept" in reason
    assert gate(0.9, None, None)[0]
    assert not gate(float("nan"), 0.85, "3")[0]
    # scores of different backtest setups are not compared
    promoted, reason = gate(0.5, 0.85, "3", "horizon=12", "horizon=6")
    assert not promoted and "not comparable" in reason
    assert gate(0.5, 0.85, "3", "horizon=6", "horizon=6")[0]


@pytest.mark.slow
def test_train_registers_gates_the_champion_and_a_fresh_process_serves_the_same_forecasts(
        home, build_world):
    from mlflow import MlflowClient
    from typer.testing import CliRunner

    import serving.cli.models  # noqa: F401 - registers the commands
    from core.settings import get_settings
    from models.baselines import WindowMean
    from serving.cli.app import app
    from training.fit import fit_forecasts
    from training.registry import log_training_run
    from training.train import train

    settings = get_settings()
    series = build_world(settings, lambda s: s["geo_level"] == "world")
    n_series = series["unique_id"].nunique()
    first = train(settings, horizon=6)
    assert first["version"] == "1" and first["promoted"]
    assert first["n_series"] == n_series > 50 and 0 < first["mase"] < 2
    stored = pd.read_parquet(settings.forecasts_dir / "forecasts.parquet")
    assert list(stored.columns) == ["unique_id", "ds", "forecast", "lo_80", "hi_80", "lo_95",
                                    "hi_95", "model"]
    assert len(stored) == n_series * 6
    assert (stored[["forecast", "lo_80", "lo_95"]] >= 0).all().all()

    client = MlflowClient(tracking_uri=settings.tracking_uri)
    run = client.get_run(first["run_id"])
    assert {"mase", "coverage_80", "coverage_95", "mase.ets", "mase.median"} <= set(
        run.data.metrics)
    assert run.data.params["horizon"] == "6"
    artifacts = {a.path for a in client.list_artifacts(first["run_id"], "training")}
    assert {"training/backtest.parquet", "training/choices.parquet",
            "training/forecasts.parquet"} <= artifacts
    assert client.list_artifacts(first["run_id"], "plots")

    # a fresh process loads the champion by alias and answers with the stored forecasts
    out = settings.home / "served.parquet"
    code = ("import sys, mlflow, pandas as pd; mlflow.set_tracking_uri(sys.argv[1]); "
            "m = mlflow.pyfunc.load_model(f'models:/{sys.argv[2]}@champion'); "
            "ids = pd.DataFrame({'unique_id': sys.argv[4].split(',')}); "
            "m.predict(ids).to_parquet(sys.argv[3])")
    ids = sorted(series["unique_id"].unique())
    subprocess.run([sys.executable, "-c", code, settings.tracking_uri,
                    settings.registered_model_name, str(out), ",".join(ids)],
                   check=True, cwd=settings.home, capture_output=True, timeout=300)
    served = pd.read_parquet(out)
    pd.testing.assert_frame_equal(served.sort_values(["unique_id", "ds"], ignore_index=True),
                                  stored.sort_values(["unique_id", "ds"], ignore_index=True),
                                  check_dtype=False)

    # a worse candidate is registered but does not take the alias
    worse = fit_forecasts(series[["unique_id", "ds", "y"]], 6, models=[WindowMean(3)], n_jobs=1)
    assert worse.metrics["mase"] > first["mase"]
    second = log_training_run(settings, worse)
    assert second["version"] == "2" and not second["promoted"]
    mv = client.get_model_version_by_alias(settings.registered_model_name, "champion")
    assert str(mv.version) == "1"
    assert "champion kept" in client.get_model_version(
        settings.registered_model_name, "2").tags["promotion"]

    # by hand, the alias moves; `models list --json` shows it
    runner = CliRunner()
    result = runner.invoke(app, ["models", "promote", "2"])
    assert result.exit_code == 0, result.output
    listed = runner.invoke(app, ["models", "list", "--json"])
    rows = json.loads(listed.stdout)
    assert [(r["version"], r["champion"]) for r in rows] == [("2", True), ("1", False)]
    assert rows[1]["mase"] == pytest.approx(first["mase"])
    # each version's setup and its figures per series class
    assert rows[1]["setup"] == {"horizon": "6", "windows": "3", "step": "3",
                                "calibration_windows": "6", "freq": "MS",
                                "reconciliation": rows[1]["setup"]["reconciliation"]}
    assert sum(fig["n_series"] for fig in rows[1]["by_class"].values()) == first["n_backtested"]
    # the home's forecasts file follows the champion (e-mail charts, thresholds, export read it)
    pd.testing.assert_frame_equal(
        pd.read_parquet(settings.forecasts_dir / "forecasts.parquet"),
        worse.forecasts.reset_index(drop=True), check_dtype=False)

    # a run with another horizon is not compared with the champion and does not replace it
    other = train(settings, horizon=3)
    assert not other["promoted"] and "not comparable" in other["promotion"]
    pd.testing.assert_frame_equal(
        pd.read_parquet(settings.forecasts_dir / "forecasts.parquet"),
        worse.forecasts.reset_index(drop=True), check_dtype=False)
    candidate = pd.read_parquet(settings.forecasts_dir / f"candidate-v{other['version']}.parquet")
    assert candidate.groupby("unique_id").size().eq(3).all()
