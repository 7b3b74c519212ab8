"""One settings object for the whole project (DESIGN section 9).

Every path derives from one home, ``NARCOTREND_HOME`` (default: the working directory), so two
homes never touch each other. Values come from ``NARCOTREND_*`` environment variables; secrets
(SMTP password) come only from the environment.
"""

from __future__ import annotations

from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from core.home import HomePaths


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="NARCOTREND_", extra="ignore")

    home: Path = Field(default_factory=Path.cwd,
                       description="Root of data/, mlruns/ and the database")
    data_files: list[Path] = Field(
        default_factory=list,
        description="Seizure files `narcotrend run` ingests; empty: the built-in synthetic world",
    )
    data_format: Literal["canonical", "unodc-ids", "cbp", "unodc-annual",
                         "pnc-colombia"] = "canonical"
    demo_seed: int = 7

    # series
    frequency: Literal["MS", "W-MON", "YS"] = "MS"

    # training
    horizon: int = Field(default=6, ge=1)
    backtest_windows: int = Field(default=3, ge=1)
    backtest_step: int = Field(default=3, ge=1)
    calibration_windows: int | None = Field(
        default=None, ge=1, description="Backtest windows the interval bands are calibrated on "
        "(the newest `backtest_windows` of them also choose the models); default twice "
        "`backtest_windows`")
    n_jobs: int = -1
    dask_scheduler: str | None = Field(default=None,
                                       description="tcp://host:port of a Dask scheduler")
    registered_model_name: str = "narcotrend-forecaster"

    # detection
    false_discovery_rate: float = Field(default=0.05, gt=0, lt=1)
    min_seizures: float = Field(default=10.0, ge=0, description="Mean seizures a period a count "
                                "series needs at stake before it can alert")
    min_kg: float = Field(default=5.0, ge=0, description="The same for kilogram series")
    min_ratio: float = Field(default=1.5, gt=1, description="Fold change a surge, decline or "
                             "trend needs (its inverse for a decline)")
    trend_window: int = Field(default=8, ge=6, description="Periods of the Mann-Kendall window")
    route_recent: int = Field(default=6, ge=1, description="Recent window of route shifts")
    route_baseline: int = Field(default=24, ge=3, description="Baseline window of route shifts")
    alert_resolve_after_periods: int = Field(default=3, ge=1)
    run_replay_periods: int = Field(
        default=24, ge=0, description="On a home with no alerts yet, `narcotrend run` replays "
        "monthly detection over this many periods before the last, so the store starts with the "
        "history a monthly run would have built (0: detect at the last period only)")
    alert_thresholds_file: Path | None = Field(
        default=None, description="Planner thresholds CSV (unique_id or geo/drug/metric, "
        "threshold, level 80|95); default data/reference/thresholds.csv in the home if present")

    # tracking and service database
    mlflow_tracking_uri: str | None = None
    database_url: str | None = None

    # service
    host: str = "127.0.0.1"
    port: int = 8000
    dashboard_url: str | None = None

    # api
    model_poll_seconds: float = Field(
        default=30.0, gt=0, description="How often the service checks the champion alias and the "
        "series/forecast files on disk, reloading what changed")
    audit_flush_seconds: float = Field(
        default=0.5, gt=0, description="How often buffered audit rows are written to the database")
    key_cache_seconds: float = Field(
        default=2.0, ge=0, description="How long a verified API key is trusted without a database "
        "look-up (0: every request); a key revoked by another process is refused within this")

    # e-mail
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_user: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = False
    smtp_ssl: bool = False
    mail_from: str = "narcotrend@localhost"
    send_interval_seconds: int = Field(default=300, ge=1)
    outbox_lease_seconds: float = Field(
        default=120.0, gt=0, description="How long a claimed outbox row is reserved for the "
        "sender that claimed it, counted from the claim and renewed while it sends; a row whose "
        "lease ran out (its sender died) is sent again")

    # bounds (issue 18: one writer per home, bounded inputs, a bounded API)
    lock_timeout_seconds: float = Field(
        default=600.0, ge=0, description="How long a stage that writes the home waits for "
        "another writer (ingest, build, train, detect) before it fails")
    max_decompressed_bytes: int = Field(
        default=512 << 20, gt=0, description="Largest size a compressed input may inflate to")
    max_columns: int = Field(default=1000, gt=0, description="Most columns an input file may have")
    max_cell_chars: int = Field(
        default=1000, gt=0, description="Longest text cell; a row with a longer one is "
        "quarantined as cell_too_long")
    date_floor: date = Field(
        default=date(1950, 1, 1), description="Seizures dated before this day are quarantined "
        "as date_before_floor")
    max_body_bytes: int = Field(
        default=1 << 20, gt=0, description="Largest request body the API reads (413 beyond)")

    # linked cases (issue 21): the link stage's splink backend
    link_backend: Literal["duckdb", "spark"] = Field(
        default="duckdb", description="splink backend of `narcotrend link`: duckdb on this "
        "machine, spark (needs pyspark and a Java runtime) beyond one")
    spark_master: str = Field(
        default="local[*]", description="Spark master the spark link backend connects to "
        "(local[*], spark://host:7077, yarn)")

    @field_validator("home", mode="after")
    @classmethod
    def _absolute_home(cls, value: Path) -> Path:
        return value.expanduser().resolve()

    # --- every path derives from the home (core/home.py names them) ---------------------------
    @property
    def paths(self) -> HomePaths:
        """Every folder and file of this home."""
        return HomePaths(self.home)

    @property
    def data_dir(self) -> Path:
        return self.paths.data_dir

    @property
    def demo_dir(self) -> Path:
        return self.paths.demo_dir

    @property
    def warehouse_dir(self) -> Path:
        return self.paths.warehouse_dir

    @property
    def series_dir(self) -> Path:
        return self.paths.series_dir

    @property
    def forecasts_dir(self) -> Path:
        return self.paths.forecasts_dir

    @property
    def outbox_dir(self) -> Path:
        return self.paths.outbox_dir

    @property
    def mlruns_dir(self) -> Path:
        return self.paths.mlruns_dir

    @property
    def tracking_uri(self) -> str:
        if self.mlflow_tracking_uri:
            return self.mlflow_tracking_uri
        return f"sqlite:///{self.paths.mlflow_db}"

    @property
    def artifact_location(self) -> str | None:
        """Artifact root of new experiments: under the home, except with a tracking server
        (http/https), whose own artifact store (proxied or not) is used (None), because the
        home may not be reachable from the server or from other clients."""
        if (self.mlflow_tracking_uri or "").lower().startswith(("http://", "https://")):
            return None
        return self.paths.mlflow_artifacts.as_uri()

    @property
    def service_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.paths.service_db}"

    def ensure_dirs(self) -> None:
        self.paths.ensure_dirs()


@lru_cache
def get_settings() -> Settings:
    """The cached settings; tests call ``get_settings.cache_clear()`` after changing the env."""
    return Settings()
