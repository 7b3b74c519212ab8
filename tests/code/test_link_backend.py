"""The link stage's backend setting: DuckDB by default, Spark by NARCOTREND_LINK_BACKEND, and a
clear one-line error when Spark is chosen on a machine that cannot run it."""

from __future__ import annotations

import importlib.util

import pytest

from core.errors import NarcotrendError
from core.settings import Settings
from training.link_backend import database_api, spark_missing


def _without_java(monkeypatch, tmp_path) -> None:
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    monkeypatch.delenv("JAVA_HOME", raising=False)


def test_link_backend_is_duckdb_unless_set(tmp_path, monkeypatch):
    monkeypatch.delenv("NARCOTREND_LINK_BACKEND", raising=False)
    assert Settings(home=tmp_path).link_backend == "duckdb"
    assert database_api(Settings(home=tmp_path))[1] == "duckdb"
    monkeypatch.setenv("NARCOTREND_LINK_BACKEND", "spark")
    assert Settings(home=tmp_path).link_backend == "spark"


def test_spark_backend_without_java_is_one_error_naming_what_is_missing(tmp_path, monkeypatch):
    _without_java(monkeypatch, tmp_path)
    missing = "pyspark" if importlib.util.find_spec("pyspark") is None else "Java runtime"
    assert missing in (spark_missing() or "")
    with pytest.raises(NarcotrendError, match=f"NARCOTREND_LINK_BACKEND=spark, but .*{missing}"):
        database_api(Settings(home=tmp_path, link_backend="spark"))


def test_narcotrend_link_on_spark_without_java_says_so_in_one_line(home, run_cli, tmp_path):
    empty = tmp_path / "bin"
    empty.mkdir()
    done = run_cli(home, "link", env={"NARCOTREND_LINK_BACKEND": "spark", "PATH": str(empty),
                                      "JAVA_HOME": ""})
    assert done.returncode == 2
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "NARCOTREND_LINK_BACKEND=spark" in lines[0]
