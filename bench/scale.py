"""Bench: how time and peak memory of ingest, build, train and detect grow with the data.

For each size (multiples of the default synthetic world: `write_world(dir, seed, scale)`) a
fresh home gets the world, then every stage runs as its own `narcotrend` command in its own
process, exactly as a user runs it, so that each stage's memory is measured alone:

    .venv/bin/python bench/scale.py [--sizes 1,3,10] [--seed 7] [--work DIR] [--out FILE]

Prints one JSON document: per size the world (records, series, route flows) and per stage
`seconds` (wall), `cpu_seconds` (user + system of the stage and its worker processes),
`peak_mb` (largest resident set of any one process of the stage, from wait4) and
`tree_peak_mb` (peak of the summed resident sets of the stage's process tree, sampled every
0.2 s: what the machine must hold); then `growth`: per stage the wall and CPU time ratios
between the largest and the smallest size next to the size ratios (nominal scale, records,
series, series rows), whether it grew no worse than linearly, and whether memory stayed under
8 GiB. `--regrowth FILE` recomputes `growth` from a saved report.

The environment is passed on (NARCOTREND_DASK_SCHEDULER, NARCOTREND_DATABASE_URL,
NARCOTREND_MLFLOW_TRACKING_URI bench real infrastructure); only NARCOTREND_HOME is set here.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from core.home import DEMO_SEIZURES, HomePaths  # noqa: E402 - after the path is set

NARCOTREND = Path(sys.executable).with_name("narcotrend")
STAGES = ("ingest", "build", "train", "detect")
LINEAR_SLACK = 1.1  # timing noise on a shared machine: 10% over linear still counts as linear
MIB = 1024 * 1024


def stage_command(stage: str, world: Path) -> list[str]:
    """The `narcotrend` command line of one stage."""
    if stage == "ingest":
        return [str(NARCOTREND), "ingest", str(world / DEMO_SEIZURES), "--json"]
    return [str(NARCOTREND), stage]


def tree_rss(pid: int) -> int:
    """Summed resident set (bytes) of a process and its descendants; 0 once it is gone."""
    import psutil

    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0
    total = 0
    for proc in procs:
        try:
            total += proc.memory_info().rss
        except psutil.Error:
            continue
    return total


def run_stage(command: list[str], env: dict[str, str], log: Path) -> dict[str, float]:
    """Run one stage to completion; its wall and CPU time and peak memory."""
    peak_tree = 0
    done = threading.Event()
    started = time.perf_counter()
    with open(log, "wb") as out:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)

        def sample() -> None:
            nonlocal peak_tree
            while not done.is_set():
                peak_tree = max(peak_tree, tree_rss(process.pid))
                done.wait(0.2)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        done.set()
        sampler.join()
    if process.returncode != 0:
        tail = log.read_text(errors="replace")[-2000:]
        raise SystemExit(f"{' '.join(command[1:3])} failed ({process.returncode}):\n{tail}")
    return {"seconds": round(seconds, 2),
            "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 2),
            "peak_mb": round(usage.ru_maxrss / 1024, 1),  # Linux reports KiB
            "tree_peak_mb": round(peak_tree / MIB, 1)}


def bench_size(scale: float, seed: int, work: Path) -> dict[str, Any]:
    """Generate the world of one size and run every stage on it in a fresh home.

    The world is generated in a child process too: a stage started from a parent that had
    grown large would inherit the parent's resident-set high-water mark in its `ru_maxrss`.
    """
    home = work / f"home-{scale:g}x"
    world = work / f"world-{scale:g}x"
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    t0 = time.perf_counter()
    generate = (f"import json; from features.synthetic_world import write_world; "
                f"print(json.dumps(write_world({str(world)!r}, seed={seed}, scale={scale})))")
    written = json.loads(subprocess.run([sys.executable, "-c", generate], check=True,
                                        capture_output=True, text=True).stdout.splitlines()[-1])
    result: dict[str, Any] = {"world": {"records": written["records"],
                                        "generate_seconds": round(time.perf_counter() - t0, 2)}}
    env = os.environ | {"NARCOTREND_HOME": str(home)}
    for stage in STAGES:
        print(f"  {scale:g}x {stage} ...", file=sys.stderr, flush=True)
        result[stage] = run_stage(stage_command(stage, world), env, home / f"{stage}.log")
        print(f"  {scale:g}x {stage}: {result[stage]}", file=sys.stderr, flush=True)
    built = json.loads(HomePaths(home).build_manifest.read_text())
    result["world"].update(series=built["series"], series_rows=built["rows"],
                           route_flows=built["routes"], accepted_records=built["records"])
    return result


# What each stage's work is proportional to: ingest and build read records; train and detect
# read series (their rows: series x periods).
STAGE_DATA = {"ingest": "records", "build": "records", "train": "series_rows",
              "detect": "series_rows"}


def growth(results: dict[str, dict[str, Any]], scales: list[float]) -> dict[str, Any]:
    """Time ratios between the largest and the smallest size, against the size ratios.

    `within_nominal`: time ratio <= the nominal scale ratio (10 for 1x to 10x);
    `linear_in_data`: time ratio <= the ratio of the data the stage reads, which grows faster
    than the nominal scale for records (the larger worlds have more countries). Both allow 10%
    for timing noise on a shared machine.
    """
    low, high = f"{min(scales):g}x", f"{max(scales):g}x"
    nominal = max(scales) / min(scales)
    small, large = results[low]["world"], results[high]["world"]
    data = {key: large[key] / small[key] for key in ("records", "series", "series_rows")}
    out: dict[str, Any] = {"between": [low, high], "scale_ratio": round(nominal, 2),
                           **{f"{key}_ratio": round(value, 2) for key, value in data.items()}}
    for stage in STAGES:
        a, b = results[low][stage], results[high][stage]
        ratio = b["seconds"] / max(a["seconds"], 1e-9)
        cpu_ratio = b["cpu_seconds"] / max(a["cpu_seconds"], 1e-9)
        out[stage] = {"time_ratio": round(ratio, 2), "cpu_ratio": round(cpu_ratio, 2),
                      "within_nominal": ratio <= nominal * LINEAR_SLACK,
                      "linear_in_data": ratio <= data[STAGE_DATA[stage]] * LINEAR_SLACK,
                      "peak_mb_at_largest": b["peak_mb"],
                      "tree_peak_mb_at_largest": b["tree_peak_mb"],
                      "under_8_gib": max(b["peak_mb"], b["tree_peak_mb"]) < 8 * 1024}
    return out


def parse_sizes(text: str) -> list[float]:
    try:
        sizes = sorted({float(part) for part in text.split(",") if part.strip()})
    except ValueError:
        raise SystemExit(f"--sizes must be numbers separated by commas, got {text!r}") from None
    if len(sizes) < 1 or any(not 0 < s <= 50 for s in sizes):
        raise SystemExit(f"--sizes must be in (0, 50], got {text!r}")
    return sizes


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="1,3,10", help="multiples of the default world")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--work", type=Path, default=None,
                        help="keep worlds and homes here (default: a temporary folder)")
    parser.add_argument("--out", type=Path, default=None, help="also write the JSON here")
    parser.add_argument("--regrowth", type=Path, default=None,
                        help="recompute `growth` of a saved report and print it")
    args = parser.parse_args(argv)
    if args.regrowth:
        saved = json.loads(args.regrowth.read_text())
        sizes = [float(k.removesuffix("x")) for k in saved if k.endswith("x")]
        saved["growth"] = growth(saved, sizes)
        print(json.dumps(saved["growth"], indent=2))
        return saved
    scales = parse_sizes(args.sizes)
    work = args.work or Path(tempfile.mkdtemp(prefix="narcotrend-scale-"))
    results: dict[str, Any] = {}
    try:
        for scale in scales:
            results[f"{scale:g}x"] = bench_size(scale, args.seed, work)
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    report: dict[str, Any] = {**results, "machine": {"cpus": os.cpu_count()}}
    if len(scales) > 1:
        report["growth"] = growth(results, scales)
    text = json.dumps(report, indent=2)
    if args.out:
        args.out.write_text(text + "\n")
    print(text)
    return report


if __name__ == "__main__":
    main()
