"""Shared fixtures: an isolated home per test, the path to ../shared/data, and the service
database on SQLite and on the PostgreSQL server of NARCOTREND_TEST_POSTGRES_URL."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # tests import the bench scripts' helpers (`bench.detect` ...)
    sys.path.insert(0, str(REPO))
SHARED_DATA = REPO.parent / "shared" / "data"
POSTGRES_URL_ENV = "NARCOTREND_TEST_POSTGRES_URL"


def narcotrend(home: Path, *args: str, env: dict[str, str] | None = None,
               timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """`narcotrend ARGS` in a fresh process on `home`, as a user runs it (exit codes, streams)."""
    environ = {**os.environ, "NARCOTREND_HOME": str(home), **(env or {})}
    return subprocess.run([sys.executable, "-m", "serving.cli", *args], capture_output=True,
                          text=True, env=environ, cwd=REPO, timeout=timeout)


@pytest.fixture
def run_cli():  # noqa: ANN201 - returns `narcotrend`
    """The command line in a fresh process: `run_cli(home, "ingest", path, env={...})`."""
    return narcotrend


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    """A fresh NARCOTREND_HOME so tests never touch each other or the working copy."""
    from core.settings import get_settings

    monkeypatch.setenv("NARCOTREND_HOME", str(tmp_path))
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data; skipped when absent, except under CI=true where absence fails."""
    if not SHARED_DATA.is_dir():
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true but the shared data folder {SHARED_DATA} is missing")
        pytest.skip(f"shared data not found at {SHARED_DATA}")
    return SHARED_DATA


IDS_FILE = "unodc_ids_2011_2016/drug-trafficking-unodc.csv"


@pytest.fixture(scope="session")
def ids_home(shared_data: Path, tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    """A home with the real UNODC IDS file ingested and built (monthly), once per session: the
    `Settings` of it. Tests read it and must not change its series; a test that writes to its
    service database owns what it writes (detect once, in a module fixture)."""
    from core.settings import Settings
    from features.build import build_all
    from features.ingest import ingest_files

    settings = Settings(home=tmp_path_factory.mktemp("ids-home"))
    settings.ensure_dirs()
    ingest_files([shared_data / IDS_FILE], "unodc-ids", settings)
    build_all(settings)
    return settings


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """The test PostgreSQL database (NARCOTREND_TEST_POSTGRES_URL, a SQLAlchemy URL such as
    postgresql+psycopg://user:pw@127.0.0.1:5432/db); skipped when unset, except under CI=true."""
    url = os.environ.get(POSTGRES_URL_ENV)
    if not url:
        if in_ci():
            pytest.fail(f"CI=true but {POSTGRES_URL_ENV} is not set (.ci/run starts PostgreSQL)")
        pytest.skip(f"{POSTGRES_URL_ENV} not set: no PostgreSQL to test against")
    return url


@pytest.fixture
def postgres_schema_url(postgres_url: str) -> Iterator[str]:
    """A URL whose search_path is a new, empty schema of the test database (dropped afterwards),
    so every test starts from nothing without the cost of a new database."""
    from sqlalchemy import create_engine, make_url, pool, text

    from serving.db import get_engine

    schema = f"test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(postgres_url, poolclass=pool.NullPool)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = (make_url(postgres_url).update_query_dict({"options": f"-csearch_path={schema}"})
           .render_as_string(hide_password=False))
    yield url
    get_engine(url).dispose()
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, home: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """The service database URL, once on SQLite in the test home and once on PostgreSQL; the
    settings (NARCOTREND_DATABASE_URL) point at it, so code that takes settings uses it too."""
    from core.settings import get_settings

    if request.param == "postgresql":
        url = request.getfixturevalue("postgres_schema_url")
        monkeypatch.setenv("NARCOTREND_DATABASE_URL", url)
        get_settings.cache_clear()
    else:
        get_settings().data_dir.mkdir(parents=True, exist_ok=True)
    return get_settings().service_database_url


WORLD_SEED = 7


@pytest.fixture(scope="session")
def built_world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The built-in world (seed 7) written, ingested, built, trained quickly (horizon 3, one
    backtest window), detected with a monthly replay from 2022-06 and linked, its alerts stored
    in the service database as `narcotrend run` stores them: a home that every slow
    test of a session shares read-only (about 3 minutes on this machine, once). Tests that
    write to the service database copy `data/narcotrend.db` first."""
    from bench.detect import prepare
    from core.settings import Settings
    from serving.alerting.detection import detect_and_store
    from serving.alerting.links import link_and_store
    from training.train import train

    home = tmp_path_factory.mktemp("built-world")
    prepare(home, WORLD_SEED)
    settings = Settings(home=home, horizon=3, backtest_windows=1, n_jobs=2)
    train(settings)
    detect_and_store(settings, since="2022-06")
    link_and_store(settings)
    return home
