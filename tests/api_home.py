"""A small seeded home for API tests and bench/api.py: series, route flows, forecasts, alerts,
keys and (optionally) a registered champion in a real MLflow SQLite store.

The world is made up and small, with countries in four regions so that region scopes can be
checked, gaps (not reporting) in the series, and an alert whose evidence holds HTML.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from core.settings import Settings
from serving.api.auth import create_key, revoke_key
from serving.db import Alert, session_scope

COUNTRIES = {  # ISO3 -> (UN region, UN subregion)
    "ESP": ("Europe", "Southern Europe"), "NLD": ("Europe", "Western Europe"),
    "BEL": ("Europe", "Western Europe"), "COL": ("Americas", "South America"),
    "ECU": ("Americas", "South America"), "USA": ("Americas", "Northern America"),
    "AFG": ("Asia", "Southern Asia"), "NGA": ("Africa", "Western Africa"),
}
DRUGS = {"cocaine": ["cocaine hydrochloride", "coca paste"], "cannabis": ["cannabis herb"]}
PYFUNC_FILE = Path(__file__).with_name("api_pyfunc.py")
EVIL = '<img src=x onerror="document.title=\'pwned\'">'


def make_series(n_periods: int = 36, start: str = "2021-01-01", seed: int = 0) -> pd.DataFrame:
    """Long-format series at country, subregion, region and world level, group and substance."""
    rng = np.random.default_rng(seed)
    ds = pd.date_range(start, periods=n_periods, freq="MS")
    rows = []
    for iso3, (region, subregion) in COUNTRIES.items():
        for group, substances in DRUGS.items():
            for drug_level, drug in [("group", group), *(("substance", s) for s in substances)]:
                base = rng.uniform(20, 200)
                trend = np.linspace(0, rng.uniform(0, 1.5) * base, n_periods)
                season = 0.2 * base * np.sin(2 * np.pi * np.arange(n_periods) / 12)
                kg = np.maximum(base + trend + season + rng.normal(0, 0.1 * base, n_periods), 0)
                if iso3 == "NGA":
                    kg[10:13] = np.nan  # not reporting
                counts = np.round(kg / 10)
                for metric, y in (("kg", kg), ("seizures", counts)):
                    rows.append(pd.DataFrame({
                        "ds": ds, "y": y, "geo_level": "country", "geo": iso3, "region": region,
                        "subregion": subregion, "drug_level": drug_level, "drug": drug,
                        "metric": metric}))
    countries = pd.concat(rows, ignore_index=True)
    keys = ["ds", "drug_level", "drug", "metric"]
    levels = [countries.assign(geo_level="subregion", geo=countries["subregion"]),
              countries.assign(geo_level="region", geo=countries["region"]),
              countries.assign(geo_level="world", geo="World", region="World")]
    aggregates = [part.groupby(["geo_level", "geo", "region", *keys], as_index=False)["y"]
                  .sum(min_count=1) for part in levels]
    frame = pd.concat([countries.drop(columns="subregion"), *aggregates], ignore_index=True)
    frame["unique_id"] = frame["geo"] + "/" + frame["drug"] + "/" + frame["metric"]
    cols = ["unique_id", "ds", "y", "geo_level", "geo", "region", "drug_level", "drug", "metric"]
    return frame[cols].sort_values(["unique_id", "ds"]).reset_index(drop=True)


# How each seizing country's seizures were hidden (each keeps its method: shares by country)
METHODS = {"ESP": "container_cargo", "NLD": "postal_parcel", "USA": "vehicle_compartment",
           "NGA": "body_carrier"}


def make_routes(n_periods: int = 36, start: str = "2021-01-01", seed: int = 1) -> pd.DataFrame:
    """Route flows (features.routes columns): cocaine to Europe shifting from BRA to ECU."""
    rng = np.random.default_rng(seed)
    rows = []
    for i, ds in enumerate(pd.date_range(start, periods=n_periods, freq="MS")):
        shift = i / max(n_periods - 1, 1)
        for dep, weight in (("ECU", 0.2 + 0.5 * shift), ("BRA", 0.6 - 0.5 * shift),
                            ("COL", 0.2), (None, 0.1)):
            for dest, dest_region, seen in (("ESP", "Europe", "ESP"), ("NLD", "Europe", "NLD"),
                                            ("USA", "Americas", "USA"), (None, None, "NGA")):
                kg = float(rng.uniform(50, 150) * weight)
                rows.append({"ds": ds, "drug_group": "cocaine",
                             "substance": "cocaine hydrochloride", "country": seen,
                             "region": COUNTRIES[seen][0], "origin_country": "COL",
                             "departure_country": dep,
                             "transit_countries": "PAN;NGA" if dep == "ECU" else None,
                             "destination_country": dest, "destination_region": dest_region,
                             "transport_mode": "sea" if dep else "unknown",
                             "concealment_method": METHODS[seen] if dep else None,
                             "seizures": int(1 + kg // 20), "kg": kg})
    return pd.DataFrame(rows)


def make_forecasts(series: pd.DataFrame, horizon: int = 6, scale: float = 1.0) -> pd.DataFrame:
    """A flat forecast at each series' last value (times `scale`), with symmetric intervals."""
    last = series.dropna(subset=["y"]).groupby("unique_id").agg(ds=("ds", "max"), y=("y", "last"))
    rows = []
    for uid, row in last.iterrows():
        for h in range(1, horizon + 1):
            value = float(row["y"]) * scale
            width = 0.1 * value * np.sqrt(h) + 1
            rows.append({"unique_id": uid, "ds": row["ds"] + pd.DateOffset(months=h),
                         "forecast": value, "lo_80": max(value - width, 0), "hi_80": value + width,
                         "lo_95": max(value - 2 * width, 0), "hi_95": value + 2 * width,
                         "model": "naive"})
    return pd.DataFrame(rows)


def make_alerts(series: pd.DataFrame, n_extra: int = 0, seed: int = 2) -> list[dict]:
    """Alerts in several regions and of every type; one carries HTML in its evidence."""
    rng = np.random.default_rng(seed)
    keys = series.drop_duplicates("unique_id").query("geo_level != 'world'")
    picks = keys.sample(n=min(len(keys), 24 + n_extra), random_state=seed, replace=False)
    types = ["emerging_trend", "surge", "decline", "new_drug", "forecast_threshold"]
    severities = ["low", "medium", "high", "critical"]
    alerts = []
    for i, row in enumerate(picks.itertuples(index=False)):
        alerts.append({
            "fingerprint": f"fp-{i:05d}", "type": types[i % len(types)],
            "geo_level": row.geo_level, "geo": row.geo, "region": row.region,
            "drug_level": row.drug_level, "drug": row.drug, "metric": row.metric,
            "period": "2023-11", "detected_at": "2023-12", "first_detected_at": "2023-12",
            "severity": "critical" if i == 0 else severities[i % 4],
            "score": float(np.round(rng.uniform(0, 10), 3)),
            "evidence": {"summary": f"+{int(rng.uniform(20, 300))}% over 6 months",
                         "note": EVIL if i == 0 else "checked"},
            "status": "open"})
    alerts.append({
        "fingerprint": "fp-route", "type": "route_shift", "geo_level": "region", "geo": "Europe",
        "region": "Europe", "drug_level": "group", "drug": "cocaine", "metric": "seizures",
        "period": "2023-12", "detected_at": "2023-12", "first_detected_at": "2023-10",
        "severity": "high", "score": 7.5,
        "route": {"attribute": "departure_country", "gaining": ["ECU"], "losing": ["BRA"],
                  "destination": "Europe"},
        "evidence": {"share_ECU": "20% -> 70%"}, "status": "open"})
    return alerts


def register_champion(settings: Settings, forecasts: pd.DataFrame, *, alias: bool = True,
                      mase: float = 0.9) -> str:
    """Log the forecast table as a pyfunc version in the home's MLflow store; its version."""
    import mlflow

    path = settings.data_dir / "model-input" / f"forecasts-{mase}.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    forecasts.to_parquet(path)
    mlflow.set_tracking_uri(settings.tracking_uri)
    mlflow.set_registry_uri(settings.tracking_uri)
    if mlflow.get_experiment_by_name("narcotrend-api-tests") is None:
        mlflow.create_experiment("narcotrend-api-tests",
                                 artifact_location=settings.artifact_location)
    mlflow.set_experiment("narcotrend-api-tests")
    with mlflow.start_run():
        mlflow.log_metric("mase", mase)
        info = mlflow.pyfunc.log_model(name="model", python_model=str(PYFUNC_FILE),
                                       artifacts={"forecasts": str(path)},
                                       registered_model_name=settings.registered_model_name)
    version = str(info.registered_model_version)
    if alias:
        mlflow.MlflowClient().set_registered_model_alias(
            settings.registered_model_name, "champion", version)
    return version


def seed_home(settings: Settings, *, with_model: bool = True, n_extra_alerts: int = 0,
              n_periods: int = 36) -> dict[str, str]:
    """Write the seeded home; returns raw API keys by name (admin, analyst, viewer, europe,
    revoked)."""
    settings.ensure_dirs()
    series = make_series(n_periods)
    series.to_parquet(settings.series_dir / "series.parquet")
    make_routes(n_periods).to_parquet(settings.series_dir / "routes.parquet")
    forecasts = make_forecasts(series)
    forecasts.to_parquet(settings.forecasts_dir / "forecasts.parquet")
    keys: dict[str, str] = {}
    with session_scope(settings.service_database_url) as session:
        session.add_all(Alert(**a) for a in make_alerts(series, n_extra_alerts))
        keys["admin"], _ = create_key(session, "admin", name="test admin")
        keys["analyst"], _ = create_key(session, "analyst", name="test analyst")
        keys["viewer"], _ = create_key(session, "viewer", name="test viewer")
        keys["europe"], _ = create_key(session, "analyst", ["Europe"], name="Europe desk")
        keys["revoked"], row = create_key(session, "admin", name="revoked")
        revoke_key(session, row.id)
    if with_model:
        register_champion(settings, forecasts)
    return keys


# Linked cases (seed_links): ecstasy tablets of one signature. G1: NLD + COL + BRA, G2: COL only.
LINKED_SEIZURES = [  # seizure_id, date, country, group, tablets
    ("NL-1", "2023-10-10", "NLD", "G1", "120"), ("NL-2", "2023-11-03", "NLD", "G1", "80"),
    ("CO-1", "2023-10-20", "COL", "G1", "3000"), ("BR-1", "2023-12-15", "BRA", "G1", "700"),
    ("CO-2", "2023-11-02", "COL", "G2", "50"), ("CO-3", "2023-11-09", "COL", "G2", "60")]
LINKED_TABLET = {"drug": "ecstasy", "unit": "tablets", "logo": "Tesla", "colour": "pink",
                 "shape": "round", "unit_weight_g": "0.35", "profile": "t01=10;t02=5;t03=1"}


def seed_links(settings: Settings) -> None:
    """Write seizure records, links and case groups of LINKED_SEIZURES into the home (what
    `narcotrend link` leaves), for `/v1/links` and the reports' linked-cases section."""
    write_linked_seizures(settings, LINKED_SEIZURES)


def write_linked_seizures(settings: Settings, seizures: list[tuple[str, ...]]) -> pd.Series:
    """Records of `seizures` (`seizure_id, date, country, group, tablets`, all with
    LINKED_TABLET's signature), their links (each to its group) and the case groups, as
    `narcotrend link` leaves them; the normaliser's reason per row (NaN: accepted)."""
    from core.home import write_parquet_atomic
    from features.ingest import normalise_records
    from models.linkage import candidates
    from training.link import LINK_COLUMNS, summarise_groups

    canonical = pd.DataFrame([{"seizure_id": s, "date": d, "country": c, "quantity": q,
                               **LINKED_TABLET} for s, d, c, _, q in seizures], dtype=object)
    records, reasons = normalise_records(canonical, "cases.csv", pd.Timestamp("2025-01-01"))
    paths = settings.paths
    write_parquet_atomic(records.astype({"file": str}), paths.records)
    group_of = {s: g for s, _, _, g, _ in seizures}
    members = candidates(records).assign(strength=0.999)
    members["group_id"] = members["seizure_id"].map(group_of)
    write_parquet_atomic(members[LINK_COLUMNS], paths.links)
    write_parquet_atomic(summarise_groups(members), paths.groups)
    return reasons


# --- serving and fixtures shared by the API test modules --------------------------------------

@dataclass
class Seeded:
    settings: Settings
    keys: dict[str, str]

    def auth(self, name: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[name]}"}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serve_in_thread(app: Any, port: int | None = None, **config: Any) -> Iterator[str]:
    """Run `app` under a real uvicorn server on loopback (`config`: more uvicorn.Config
    options); yields its base URL."""
    import uvicorn

    port = port or free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                           **{"log_level": "warning", **config}))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Seeded:
    """A seeded home with a registered champion, shared by the tests of one module."""
    settings = Settings(home=tmp_path_factory.mktemp("api-home"), model_poll_seconds=0.5,
                        audit_flush_seconds=0.2)
    return Seeded(settings, seed_home(settings))


@pytest.fixture(scope="module")
def client(seeded: Seeded) -> Iterator[Any]:
    """A TestClient on the seeded home's app, lifespan started."""
    from fastapi.testclient import TestClient

    from serving.api.app import create_app

    with TestClient(create_app(seeded.settings)) as test_client:
        yield test_client


def _worker_pid(value: int) -> tuple[int, int]:
    import os

    return abs(value), os.getpid()


def train_with_joblib_workers(settings: Settings) -> dict[str, object]:
    """A stand-in retrain target that, like the real one, leaves joblib's reusable loky worker
    processes idling behind it; it reports their pids."""
    from joblib import Parallel, delayed

    out = Parallel(n_jobs=2, backend="loky")(delayed(_worker_pid)(i) for i in range(-4, 0))
    return {"total": sum(v for v, _ in out), "worker_pids": sorted({pid for _, pid in out})}
