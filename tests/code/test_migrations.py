"""Schema migrations of the service database, on SQLite and on PostgreSQL (the `db_url` fixture).

An empty database is upgraded to head; a database at the first revision, or one made before
migrations existed, keeps its rows through the upgrade; concurrent first use migrates once; the
revisions build exactly the tables serving/db.py declares.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from datetime import datetime
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect, pool, select

from serving.api.auth import PREFIX_LENGTH, hash_key, verify_key
from serving.db import Alert, ApiKey, AuditEntry, Base, Subscription, get_engine, session_scope
from serving.migrations import (
    INITIAL_REVISION,
    alembic_config,
    current_revisions,
    head_revisions,
    upgrade_database,
)

AUDIT_INDEX = "ix_audit_log_key_id_at"
AT = datetime(2024, 6, 1, 12, 30)

# The tables as the first revision made them (only the columns seeded here), so the seed stays
# right whatever later revisions add to serving/db.py.
ALERTS_V1 = sa.table(
    "alerts", *(sa.column(name) for name in (
        "id", "fingerprint", "type", "geo_level", "geo", "region", "drug_level", "drug", "metric",
        "period", "detected_at", "first_detected_at", "severity", "score", "status",
        "periods_absent", "created_at", "updated_at")),
    sa.column("route", sa.JSON), sa.column("evidence", sa.JSON))
API_KEYS_V1 = sa.table("api_keys", sa.column("id"), sa.column("prefix"), sa.column("key_hash"),
                       sa.column("role"), sa.column("regions", sa.JSON), sa.column("name"),
                       sa.column("created_at"))
SUBSCRIPTIONS_V1 = sa.table("subscriptions", sa.column("id"), sa.column("email"),
                            sa.column("geos", sa.JSON), sa.column("drugs", sa.JSON),
                            sa.column("min_severity"), sa.column("created_at"))
AUDIT_V1 = sa.table("audit_log", sa.column("at"), sa.column("key_id"), sa.column("role"),
                    sa.column("method"), sa.column("path"), sa.column("status"))
RAW_KEY = "nt_" + "k" * 43


def seed_first_revision(url: str) -> None:
    """Rows in every kind of column (strings, floats, JSON, datetimes) at the first revision."""
    engine = create_engine(url, poolclass=pool.NullPool)
    route = {"attribute": "departure_country", "gaining": ["ECU"], "losing": ["BRA"],
             "destination": "Europe"}
    with engine.begin() as conn:
        conn.execute(sa.insert(ALERTS_V1), [
            {"id": "a1", "fingerprint": "fp-1", "type": "route_shift", "geo_level": "region",
             "geo": "Europe", "region": "Europe", "drug_level": "group", "drug": "cocaine",
             "metric": "kg", "period": "2024-05", "detected_at": "2024-05",
             "first_detected_at": "2024-04", "severity": "high", "score": 4.25,
             "status": "open", "periods_absent": 0, "created_at": AT, "updated_at": AT,
             "route": route, "evidence": {"share": 0.62, "summary": "ECU up"}},
            {"id": "a2", "fingerprint": "fp-2", "type": "surge", "geo_level": "country",
             "geo": "NGA", "region": "Africa", "drug_level": "substance", "drug": "tramadol",
             "metric": "seizures", "period": "2024-05", "detected_at": "2024-05",
             "first_detected_at": "2024-05", "severity": "low", "score": 1.5,
             "status": "acknowledged", "periods_absent": 1, "created_at": AT,
             "updated_at": AT, "route": None, "evidence": {}},
        ])
        conn.execute(sa.insert(API_KEYS_V1), [
            {"id": "k1", "prefix": RAW_KEY[:PREFIX_LENGTH], "key_hash": hash_key(RAW_KEY),
             "role": "analyst", "regions": ["Europe", "Africa"], "name": "ops",
             "created_at": AT}])
        conn.execute(sa.insert(SUBSCRIPTIONS_V1), [
            {"id": "s1", "email": "p@example.org", "geos": ["ESP"], "drugs": ["cocaine"],
             "min_severity": "medium", "created_at": AT}])
        conn.execute(sa.insert(AUDIT_V1), [
            {"at": AT, "key_id": "k1", "role": "analyst", "method": "GET",
             "path": f"/v1/alerts?page={i}", "status": 200} for i in range(3)])
    engine.dispose()


def assert_seed_kept(url: str) -> None:
    with session_scope(url) as session:
        alerts = {a.id: a.to_dict() for a in session.scalars(select(Alert))}
        assert alerts["a1"]["route"]["gaining"] == ["ECU"]
        assert alerts["a1"]["evidence"] == {"share": 0.62, "summary": "ECU up"}
        assert alerts["a1"]["score"] == 4.25 and alerts["a2"]["status"] == "acknowledged"
        assert "route" not in alerts["a2"]
        assert session.get(ApiKey, "k1").regions == ["Europe", "Africa"]
        principal = verify_key(session, RAW_KEY)
        assert principal is not None and principal.role == "analyst"
        sub = session.get(Subscription, "s1")
        assert (sub.geos, sub.drugs, sub.min_severity) == (["ESP"], ["cocaine"], "medium")
        audit = session.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()
        assert [row.path for row in audit] == [f"/v1/alerts?page={i}" for i in range(3)]
        assert audit[0].at == AT


def revisions(url: str) -> set[str]:
    engine = create_engine(url, poolclass=pool.NullPool)
    with engine.connect() as conn:
        found = current_revisions(conn)
    engine.dispose()
    return found


def index_names(url: str, table: str) -> set[str]:
    engine = create_engine(url, poolclass=pool.NullPool)
    names = {ix["name"] for ix in inspect(engine).get_indexes(table)}
    engine.dispose()
    return names


def test_code_has_one_head_after_the_initial_revision():
    assert len(head_revisions()) == 1
    assert INITIAL_REVISION not in head_revisions()


def test_upgrade_of_empty_database_creates_every_declared_table(db_url):
    engine = get_engine(db_url)
    assert set(inspect(engine).get_table_names()) == set(Base.metadata.tables) | {
        "alembic_version"}
    assert revisions(db_url) == head_revisions()
    assert AUDIT_INDEX in index_names(db_url, "audit_log")


def test_migrations_build_exactly_the_declared_schema(db_url):
    """Fails when a table or column is changed in serving/db.py without a new revision."""
    with get_engine(db_url).connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}),
                                Base.metadata)
    assert diff == []


def test_upgrade_from_first_revision_keeps_rows(db_url):
    command.upgrade(alembic_config(db_url), INITIAL_REVISION)
    assert revisions(db_url) == {INITIAL_REVISION}
    assert AUDIT_INDEX not in index_names(db_url, "audit_log")
    seed_first_revision(db_url)

    get_engine(db_url)

    assert revisions(db_url) == head_revisions()
    assert AUDIT_INDEX in index_names(db_url, "audit_log")
    assert_seed_kept(db_url)


def test_database_made_before_migrations_is_stamped_then_upgraded(db_url):
    command.upgrade(alembic_config(db_url), INITIAL_REVISION)
    engine = create_engine(db_url, poolclass=pool.NullPool)
    with engine.begin() as conn:
        conn.execute(sa.text("DROP TABLE alembic_version"))
    engine.dispose()
    seed_first_revision(db_url)

    get_engine(db_url)

    assert revisions(db_url) == head_revisions()
    assert_seed_kept(db_url)


def test_downgrade_to_first_revision_and_back(db_url):
    get_engine(db_url)
    command.downgrade(alembic_config(db_url), INITIAL_REVISION)
    assert AUDIT_INDEX not in index_names(db_url, "audit_log")
    command.upgrade(alembic_config(db_url), "head")
    assert AUDIT_INDEX in index_names(db_url, "audit_log")


def test_concurrent_first_use_migrates_once(db_url):
    """Separate engines (as separate processes would have) upgrading one empty database at once."""
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def first_use() -> None:
        engine = create_engine(db_url, poolclass=pool.NullPool)
        try:
            barrier.wait()
            upgrade_database(engine)
        except BaseException as err:  # noqa: BLE001 - reported below
            errors.append(err)
        finally:
            engine.dispose()

    threads = [threading.Thread(target=first_use) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    engine = create_engine(db_url, poolclass=pool.NullPool)
    with engine.connect() as conn:
        versions = conn.execute(sa.text("SELECT version_num FROM alembic_version")).all()
    engine.dispose()
    assert [v for (v,) in versions] == sorted(head_revisions())


def test_migration_command_works_from_any_directory(home, tmp_path):
    """`python -m serving.migrations` needs no alembic.ini in the working directory."""
    url = f"sqlite:///{tmp_path / 'elsewhere.db'}"
    env = os.environ | {"NARCOTREND_DATABASE_URL": url, "NARCOTREND_HOME": str(home)}
    run = subprocess.run([sys.executable, "-m", "serving.migrations", "upgrade", "head"],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert Path(tmp_path / "elsewhere.db").exists()
    assert revisions(url) == head_revisions()
