"""Report generation time on the built-in world: the target is under 20 s for one PDF.

Uses `--home` (already built, trained and detected, e.g. by `narcotrend run --no-serve`) or
prepares the world at `--seed` in a temporary home (ingest, build, a quick train with horizon 3
and one backtest window, detection replayed from 2022-06). Each report is made as the command
line makes it (`serving.reports.documents.write_report`: read, build, charts, HTML, PDF in a
child process) and timed; one JSON document is printed:
`{seed, seconds_prepare, target_seconds, reports: [{geo, period, kind, seconds, bytes, pages}],
max_seconds, within_target}`.

    .venv/bin/python bench/report.py [--home DIR | --seed 7]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

TARGET_SECONDS = 20.0
REPORTS = [("ESP", "2024-Q4", "strategic"), ("ESP", "2024-12", "tactical"),
           ("Europe", "2024", "strategic"), ("COL", "2024-Q4", "strategic")]


def prepare_trained(home: Path, seed: int) -> float:
    """World -> ingest -> build -> quick train -> detection replay; seconds taken."""
    from bench.detect import prepare
    from core.settings import Settings
    from training.detect import detect
    from training.train import train

    began = time.perf_counter()
    prepare(home, seed)
    settings = Settings(home=home, horizon=3, backtest_windows=1, n_jobs=2)
    train(settings)
    detect(settings, since="2022-06")
    return time.perf_counter() - began


def pages(path: Path) -> int:
    info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True).stdout
    return next((int(line.split()[-1]) for line in info.splitlines()
                 if line.startswith("Pages:")), 0)


def run(home: Path) -> list[dict]:
    from core.settings import Settings
    from serving.reports.documents import write_report

    settings = Settings(home=home)
    out = []
    with tempfile.TemporaryDirectory(prefix="narcotrend-bench-report-") as tmp:
        for geo, period, kind in REPORTS:
            path = Path(tmp) / f"{geo}-{period}-{kind}.pdf"
            began = time.perf_counter()
            write_report(settings, geo, period, kind, path)
            out.append({"geo": geo, "period": period, "kind": kind,
                        "seconds": round(time.perf_counter() - began, 2),
                        "bytes": path.stat().st_size, "pages": pages(path)})
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--home", type=Path, default=None, help="an already built home")
    args = parser.parse_args()
    import logging

    logging.disable(logging.WARNING)
    if args.home is not None:
        seed, prepared, reports = None, 0.0, run(args.home)
    else:
        with tempfile.TemporaryDirectory(prefix="narcotrend-bench-report-home-") as tmp:
            seed, prepared = args.seed, prepare_trained(Path(tmp), args.seed)
            reports = run(Path(tmp))
    worst = max(r["seconds"] for r in reports)
    print(json.dumps({"seed": seed, "seconds_prepare": round(prepared, 1),
                      "target_seconds": TARGET_SECONDS, "reports": reports,
                      "max_seconds": worst, "within_target": worst < TARGET_SECONDS}, indent=1))


if __name__ == "__main__":
    main()
