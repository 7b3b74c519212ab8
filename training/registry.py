"""MLflow tracking and registry for training runs: one run per `narcotrend train`, a registered
pyfunc version per run, and the ``champion`` alias behind a backtest-MASE gate.

Aliases and tags only, never stages (deprecated). The tracking URI is set here, inside the
stage, never at import time.
"""

from __future__ import annotations

import json
import math
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
import pandas as pd

from core.errors import NarcotrendError
from core.settings import Settings

if TYPE_CHECKING:
    from mlflow import MlflowClient

    from training.fit import TrainingResult

EXPERIMENT = "narcotrend-training"
CHAMPION = "champion"
N_PLOTS = 6
# the registered model is this file plus artifacts (MLflow models-from-code: no pickle)
MODEL_CODE = Path(__file__).with_name("pyfunc_model.py")


def client_for(settings: Settings) -> MlflowClient:
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=settings.tracking_uri, registry_uri=settings.tracking_uri)


def log_run_metrics(settings: Settings, run_id: str, metrics: dict[str, float]) -> None:
    """Metrics added to an existing run (a detect run gets the alert store's counts once serving
    has stored its alerts: created, updated, reopened, resolved)."""
    from mlflow.entities import Metric

    stamp = int(datetime.now(UTC).timestamp() * 1000)
    client_for(settings).log_batch(run_id, metrics=[
        Metric(key, float(value), stamp, 0) for key, value in metrics.items()])


def ensure_experiment(client: MlflowClient, settings: Settings) -> str:
    """The training experiment's id, created with the home's artifact location if new."""
    experiment = client.get_experiment_by_name(EXPERIMENT)
    if experiment is not None:
        return experiment.experiment_id
    return client.create_experiment(EXPERIMENT, artifact_location=settings.artifact_location)


def backtest_setup(params: dict[str, Any]) -> str:
    """What makes two backtest MASEs comparable: horizon, windows, step and frequency."""
    return (f"horizon={params.get('horizon')},windows={params.get('backtest_windows')},"
            f"step={params.get('backtest_step')},freq={params.get('freq')}")


def gate(candidate: float, champion: float | None, champion_version: str | None,
         setup: str | None = None, champion_setup: str | None = None) -> tuple[bool, str]:
    """Whether a candidate with backtest MASE ``candidate`` takes the alias, and why. Scores
    from different backtest setups (a 12-month horizon scores differently from a 6-month one)
    are not compared: the champion stays, and a person decides (`models promote`)."""
    if not math.isfinite(candidate):
        return False, f"mase {candidate} is not a number: not promoted"
    if (champion is not None and setup and champion_setup and setup != champion_setup):
        return False, (f"backtest setup {setup} differs from champion version {champion_version}"
                       f"'s {champion_setup}: scores not comparable, champion kept (promote by "
                       "hand if the new setup should serve)")
    if champion is None or not math.isfinite(champion):
        return True, f"mase {candidate:.3f}: no champion with a MASE yet"
    if candidate <= champion:
        return True, f"mase {candidate:.3f} <= champion {champion:.3f} (version {champion_version})"
    return False, (f"mase {candidate:.3f} > champion {champion:.3f} (version {champion_version}): "
                   "champion kept")


class ChampionInfo(NamedTuple):
    """The version holding the alias, its backtest MASE and backtest setup (tags)."""

    version: str
    mase: float | None
    setup: str | None


def current_champion(client: MlflowClient, name: str) -> ChampionInfo | None:
    """The champion, None when no version holds the alias."""
    from mlflow.exceptions import MlflowException

    try:
        found = client.get_model_version_by_alias(name, CHAMPION)
    except MlflowException:
        return None
    mase = found.tags.get("mase")
    if mase is None and found.run_id:
        mase = client.get_run(found.run_id).data.metrics.get("mase")
    return ChampionInfo(str(found.version), float(mase) if mase is not None else None,
                        found.tags.get("backtest"))


def write_version_forecasts(settings: Settings, version: str) -> Path:
    """Put a registered version's forecasts (its run's `training/forecasts.parquet`) in the
    home's `data/forecasts/forecasts.parquet`, which e-mail charts, thresholds and
    `export forecasts` read: that file always holds the champion's forecasts."""
    import mlflow

    client = client_for(settings)
    run_id = client.get_model_version(settings.registered_model_name, str(version)).run_id
    settings.forecasts_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        local = mlflow.artifacts.download_artifacts(
            run_id=run_id, artifact_path="training/forecasts.parquet", dst_path=tmp,
            tracking_uri=settings.tracking_uri)
        target = settings.forecasts_dir / "forecasts.parquet"
        staged = target.with_suffix(".parquet.tmp")
        Path(local).replace(staged)
        staged.replace(target)
    return target


def _plot_largest(result: TrainingResult, series_values: pd.DataFrame | None,
                  folder: Path) -> list[Path]:
    """PNG of history, last backtest window and forecast with 80/95% bands for the largest
    series (by total observed volume)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if series_values is None or result.forecasts.empty:
        return []
    forecast_ids = set(result.forecasts["unique_id"])
    volume = series_values[series_values["unique_id"].isin(forecast_ids)].groupby(
        "unique_id")["y"].sum().sort_values(ascending=False)
    paths = []
    for uid in volume.index[:N_PLOTS]:
        hist = series_values[series_values["unique_id"] == uid].tail(48)
        fc = result.forecasts[result.forecasts["unique_id"] == uid]
        fig, ax = plt.subplots(figsize=(8, 3.5))
        ax.plot(hist["ds"], hist["y"], color="black", lw=1.2, label="actual")
        bt = result.project_backtest
        if len(bt):
            bt = bt[bt["unique_id"] == uid]
            if len(bt):
                last = bt[bt["cutoff"] == bt["cutoff"].max()]
                ax.plot(last["ds"], last["forecast"], color="tab:orange", ls="--",
                        label="backtest forecast")
        ax.fill_between(fc["ds"], fc["lo_95"], fc["hi_95"], color="tab:blue", alpha=0.15,
                        label="95%")
        ax.fill_between(fc["ds"], fc["lo_80"], fc["hi_80"], color="tab:blue", alpha=0.3,
                        label="80%")
        ax.plot(fc["ds"], fc["forecast"], color="tab:blue", lw=1.5,
                label=f"forecast ({fc['model'].iloc[0]})")
        ax.set_title(uid, fontsize=10)
        ax.legend(fontsize=7, loc="upper left")
        fig.tight_layout()
        safe = "".join(c if c.isalnum() else "_" for c in uid)
        path = folder / f"{len(paths) + 1:02d}_{safe}.png"
        fig.savefig(path, dpi=90)
        plt.close(fig)
        paths.append(path)
    return paths


def _finite(metrics: dict[str, float]) -> dict[str, float]:
    return {k: float(v) for k, v in metrics.items() if v is not None and np.isfinite(v)}


def log_training_run(settings: Settings, result: TrainingResult,
                     progress: Callable[[str], None] | None = None,
                     series_values: pd.DataFrame | None = None) -> dict[str, Any]:
    """Record one training run (params, metrics, artifacts, the pyfunc bundle), register it and
    move the champion alias if it passes the gate. Returns run id, version and the decision."""
    import mlflow

    from training.pyfunc import bundle_signature

    say = progress or (lambda message: None)
    settings.mlruns_dir.mkdir(parents=True, exist_ok=True)
    mlflow.set_tracking_uri(settings.tracking_uri)
    mlflow.set_registry_uri(settings.tracking_uri)
    client = client_for(settings)
    experiment_id = ensure_experiment(client, settings)
    name = settings.registered_model_name
    metrics = dict(result.metrics)
    metrics.update({"n_series": float(result.forecasts["unique_id"].nunique()),
                    "n_fallback": float(len(result.fallbacks)),
                    "n_skipped": float(len(result.skipped))})
    metrics.update({f"fallback_band_factor_{lvl}": f for lvl, f in result.factors.items()})
    metrics.update({f"failures.{alias}": float(n) for alias, n in result.model_failures.items()})
    metrics.update({f"seconds.{k}": v for k, v in result.timings.items()})
    with tempfile.TemporaryDirectory() as tmp, mlflow.start_run(
            experiment_id=experiment_id, run_name="train") as run:
        folder = Path(tmp)
        mlflow.log_params({k: (str(v)[:5000]) for k, v in result.params.items()})
        mlflow.log_metrics(_finite(metrics))
        mlflow.set_tags({"stage": "train", "n_fallback": str(len(result.fallbacks))})
        result.backtest.to_parquet(folder / "backtest.parquet", index=False)
        result.evaluation.to_parquet(folder / "evaluation.parquet", index=False)
        choices = result.weights.copy()
        choices.to_parquet(folder / "choices.parquet", index=False)
        result.forecasts.to_parquet(folder / "forecasts.parquet", index=False)
        (folder / "fallbacks.json").write_text(json.dumps(
            {"fallbacks": result.fallbacks, "skipped": result.skipped,
             "wmase_drivers": result.wmase_drivers}, indent=1))
        for file in ("backtest.parquet", "evaluation.parquet", "choices.parquet",
                     "forecasts.parquet", "fallbacks.json"):
            mlflow.log_artifact(str(folder / file), artifact_path="training")
        plots = folder / "plots"
        plots.mkdir()
        for path in _plot_largest(result, series_values, plots):
            mlflow.log_artifact(str(path), artifact_path="plots")
        say("registering the forecast bundle")
        example = pd.DataFrame({"unique_id": result.forecasts["unique_id"].iloc[:1]})
        info = mlflow.pyfunc.log_model(
            name="model", python_model=str(MODEL_CODE),
            artifacts={"forecasts": str(folder / "forecasts.parquet"),
                       "choices": str(folder / "choices.parquet")},
            signature=bundle_signature(), input_example=example, registered_model_name=name)
        run_id = run.info.run_id
    version = str(info.registered_model_version)
    mase = float(metrics.get("mase", float("nan")))
    champion = current_champion(client, name)
    setup = backtest_setup(result.params)
    promoted, reason = gate(mase, champion.mase if champion else None,
                            champion.version if champion else None, setup,
                            champion.setup if champion else None)
    client.set_model_version_tag(name, version, "backtest", setup)
    for key in ("mase", "coverage_80", "coverage_95"):
        if key in metrics:
            client.set_model_version_tag(name, version, key, f"{metrics[key]:.4f}")
    client.set_model_version_tag(name, version, "n_series", str(int(metrics["n_series"])))
    client.set_model_version_tag(name, version, "promotion", reason)
    if promoted:
        client.set_registered_model_alias(name, CHAMPION, version)
    say(f"registered {name} version {version}: {reason}")
    return {"run_id": run_id, "version": version, "promoted": promoted, "promotion": reason,
            "champion_version": version if promoted else (champion.version if champion else None)}


def promote(settings: Settings, version: str) -> dict[str, Any]:
    """Move the champion alias to ``version`` by hand (tagged as a manual promotion)."""
    from mlflow.exceptions import MlflowException

    client = client_for(settings)
    name = settings.registered_model_name
    try:
        client.get_model_version(name, str(version))
    except MlflowException:
        raise NarcotrendError(f"model {name!r} has no version {version!r}; "
                              "`narcotrend models list` shows the versions") from None
    previous = current_champion(client, name)
    client.set_registered_model_alias(name, CHAMPION, str(version))
    reason = f"manual promotion (champion was version {previous.version})" if previous else \
        "manual promotion"
    client.set_model_version_tag(name, str(version), "promotion", reason)
    write_version_forecasts(settings, str(version))
    return {"version": str(version), "previous": previous.version if previous else None,
            "promotion": reason}


# --- reading the registry (serving, `models list`) -----------------------------------------------
def store_exists(settings: Settings) -> bool:
    """False for the default SQLite store before anything was tracked (do not create it)."""
    return bool(settings.mlflow_tracking_uri) or settings.paths.mlflow_db.exists()


def champion_version(settings: Settings) -> tuple[str, str | None] | None:
    """(version, run id) the champion alias points at, None when there is none."""
    if not store_exists(settings):
        return None
    from mlflow.exceptions import MlflowException

    try:
        mv = client_for(settings).get_model_version_by_alias(settings.registered_model_name,
                                                              CHAMPION)
    except MlflowException:
        return None
    return str(mv.version), mv.run_id


def load_version(settings: Settings, version: str) -> Any:
    """One registered version as a pyfunc, by number (a moving alias cannot race it); loading
    runs our reviewed models-from-code file and deserialises nothing."""
    import mlflow

    mlflow.set_tracking_uri(settings.tracking_uri)
    mlflow.set_registry_uri(settings.tracking_uri)
    return mlflow.pyfunc.load_model(f"models:/{settings.registered_model_name}/{version}")


def list_model_versions(settings: Settings) -> list[dict[str, Any]]:
    """Registered versions, newest first, with their run's metrics, tags and aliases."""
    if not store_exists(settings):
        return []
    from mlflow.exceptions import MlflowException

    client = client_for(settings)
    try:
        versions = client.search_model_versions(f"name='{settings.registered_model_name}'")
    except MlflowException:
        return []
    try:
        aliases_of = _aliases_by_version(client.get_registered_model(
            settings.registered_model_name).aliases)
    except MlflowException:
        aliases_of = {}
    out: list[dict[str, Any]] = []
    for mv in sorted(versions, key=lambda v: int(v.version), reverse=True):
        metrics: dict[str, float] = {}
        params: dict[str, str] = {}
        if mv.run_id:
            try:
                run = client.get_run(mv.run_id)
                metrics, params = dict(run.data.metrics), dict(run.data.params)
            except MlflowException:
                metrics = {}
        out.append({
            "version": str(mv.version), "run_id": mv.run_id,
            "aliases": aliases_of.get(str(mv.version), []), "tags": dict(mv.tags or {}),
            "metrics": {k: v for k, v in metrics.items() if np.isfinite(v)},
            "setup": version_setup(params),
            "by_class": class_figures(metrics),
            "created_at": datetime.fromtimestamp(mv.creation_timestamp / 1000, UTC),
        })
    return out


SETUP_PARAMS = {"horizon": "horizon", "backtest_windows": "windows", "backtest_step": "step",
                "calibration_windows": "calibration_windows", "freq": "freq",
                "reconciliation": "reconciliation"}


def version_setup(params: dict[str, str]) -> dict[str, str]:
    """What a version was trained with (horizon, backtest windows and step, the windows its
    bands were calibrated on, frequency)."""
    return {short: params[name] for name, short in SETUP_PARAMS.items() if name in params}


def class_figures(metrics: dict[str, float]) -> dict[str, dict[str, float]]:
    """The run's ``class.<name>.<metric>`` metrics as ``{class: {metric: value}}``."""
    out: dict[str, dict[str, float]] = {}
    for key, value in metrics.items():
        if key.startswith("class.") and np.isfinite(value):
            _, name, metric = key.split(".", 2)
            out.setdefault(name, {})[metric] = float(value)
    return out


def _aliases_by_version(aliases: dict[str, str] | None) -> dict[str, list[str]]:
    """{version: [alias, ...]} from the registered model's {alias: version}."""
    out: dict[str, list[str]] = {}
    for alias, version in (aliases or {}).items():
        out.setdefault(str(version), []).append(alias)
    return out
