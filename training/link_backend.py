"""Where the link stage's SQL runs: splink's DuckDB backend on this machine (the default), its
Spark backend beyond one (`NARCOTREND_LINK_BACKEND=spark`, `NARCOTREND_SPARK_MASTER`).

The model is the same on both (`models.linkage.link_settings` writes the one comparison that is
raw SQL, the profile's cosine, in each dialect). Spark needs pyspark (`pip install
'narcotrend[spark]'`) and a Java runtime; when either is missing, choosing it is one clear error
naming what is missing, before any work is done.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from typing import TYPE_CHECKING, Any

from core.errors import NarcotrendError

if TYPE_CHECKING:
    from core.settings import Settings


def spark_missing() -> str | None:
    """What the Spark backend lacks on this machine, in words, or None when it has all."""
    if importlib.util.find_spec("pyspark") is None:
        return "pyspark is not installed (pip install 'narcotrend[spark]')"
    java_home = os.environ.get("JAVA_HOME")
    if not shutil.which("java") and not (java_home and os.path.exists(
            os.path.join(java_home, "bin", "java"))):
        return "no Java runtime was found (no `java` on PATH and no JAVA_HOME)"
    return None


def database_api(settings: Settings) -> tuple[Any, str]:
    """The splink database API of the configured backend, and its SQL dialect's name."""
    if settings.link_backend == "duckdb":
        from splink import DuckDBAPI

        return DuckDBAPI(), "duckdb"
    missing = spark_missing()
    if missing:
        raise NarcotrendError(f"NARCOTREND_LINK_BACKEND=spark, but {missing}")
    from pyspark.sql import SparkSession
    from splink.backends.spark import SparkAPI, similarity_jar_location

    checkpoints = settings.paths.spark_checkpoints
    checkpoints.mkdir(parents=True, exist_ok=True)
    spark = (SparkSession.builder.master(settings.spark_master).appName("narcotrend link")
             .config("spark.jars", similarity_jar_location())
             .config("spark.ui.enabled", "false")
             .config("spark.sql.shuffle.partitions", "8")
             .getOrCreate())
    spark.sparkContext.setCheckpointDir(str(checkpoints))
    spark.sparkContext.setLogLevel("ERROR")
    return SparkAPI(spark_session=spark, num_partitions_on_repartition=8), "spark"


__all__ = ["database_api", "spark_missing"]
