"""Benchmark: `narcotrend ingest` of the real UNODC IDS file against a bare pandas.read_csv.

Both are timed as fresh processes (interpreter start and imports included), alternately, and
the best of `--repeat` runs of each is kept, so a busy machine hurts both alike. Each ingest gets
a new empty home. Prints one JSON object: {seconds, pandas_seconds, ratio, rows}, plus the same
comparison in CPU seconds (user + system of the child process, best run), which a machine shared
with other work distorts less than wall time.

    python bench/ingest.py [--file PATH] [--repeat N]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_FILE = (REPO.parent / "shared" / "data" / "unodc_ids_2011_2016"
                / "drug-trafficking-unodc.csv")


def _timed(command: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """Wall and CPU seconds of one child process, and its stdout."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=REPO, check=False)
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if done.returncode != 0:
        raise SystemExit(f"{command[:4]}... failed ({done.returncode}): {done.stderr.strip()}")
    return seconds, cpu, done.stdout


def run(file: Path, repeat: int) -> dict[str, float | int]:
    """Best-of-`repeat` wall and CPU times of the ingest and of pandas.read_csv on the file."""
    ingest_wall: list[float] = []
    ingest_cpu: list[float] = []
    pandas_wall: list[float] = []
    pandas_cpu: list[float] = []
    rows = 0
    pandas_code = f"import pandas; pandas.read_csv({str(file)!r}, sep=';')"
    for _ in range(repeat):
        with tempfile.TemporaryDirectory(prefix="narcotrend-bench-") as home:
            env = {**os.environ, "NARCOTREND_HOME": home}
            wall, cpu, out = _timed([sys.executable, "-m", "serving.cli", "ingest", str(file),
                                     "--format", "unodc-ids", "--json"], env)
            ingest_wall.append(wall)
            ingest_cpu.append(cpu)
            rows = int(json.loads(out)["rows_read"])
        wall, cpu, _ = _timed([sys.executable, "-c", pandas_code], dict(os.environ))
        pandas_wall.append(wall)
        pandas_cpu.append(cpu)
    return {"seconds": round(min(ingest_wall), 3), "pandas_seconds": round(min(pandas_wall), 3),
            "ratio": round(min(ingest_wall) / min(pandas_wall), 2), "rows": rows,
            "cpu_seconds": round(min(ingest_cpu), 3),
            "pandas_cpu_seconds": round(min(pandas_cpu), 3),
            "cpu_ratio": round(min(ingest_cpu) / min(pandas_cpu), 2), "repeat": repeat}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--file", type=Path, default=DEFAULT_FILE)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    if not args.file.is_file():
        raise SystemExit(f"--file {args.file}: not found (the UNODC IDS export)")
    print(json.dumps(run(args.file, max(1, args.repeat))))


if __name__ == "__main__":
    main()
