"""Benchmark: `narcotrend ingest` of the real UNODC IDS file against a bare pandas.read_csv.

Both are timed as fresh processes (interpreter start and imports included), alternately, and
the best of `--repeat` runs of each is kept, so a busy machine hurts both alike. Each ingest gets
a new empty home. Prints one JSON object: {seconds, pandas_seconds, ratio, rows}.

    python bench/ingest.py [--file PATH] [--repeat N]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_FILE = (REPO.parent / "shared" / "data" / "unodc_ids_2011_2016"
                / "drug-trafficking-unodc.csv")


def _timed(command: list[str], env: dict[str, str]) -> tuple[float, str]:
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=REPO, check=False)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{command[:4]}... failed ({done.returncode}): {done.stderr.strip()}")
    return seconds, done.stdout


def run(file: Path, repeat: int) -> dict[str, float | int]:
    """Best-of-`repeat` wall times of the ingest and of pandas.read_csv on the same file."""
    ingest_times: list[float] = []
    pandas_times: list[float] = []
    rows = 0
    pandas_code = f"import pandas; pandas.read_csv({str(file)!r}, sep=';')"
    for _ in range(repeat):
        with tempfile.TemporaryDirectory(prefix="narcotrend-bench-") as home:
            env = {**os.environ, "NARCOTREND_HOME": home}
            seconds, out = _timed([sys.executable, "-m", "serving.cli", "ingest", str(file),
                                   "--format", "unodc-ids", "--json"], env)
            ingest_times.append(seconds)
            rows = int(json.loads(out)["rows_read"])
        seconds, _ = _timed([sys.executable, "-c", pandas_code], dict(os.environ))
        pandas_times.append(seconds)
    best, best_pandas = min(ingest_times), min(pandas_times)
    return {"seconds": round(best, 3), "pandas_seconds": round(best_pandas, 3),
            "ratio": round(best / best_pandas, 2), "rows": rows}


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
