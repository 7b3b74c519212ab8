"""Case linkage on synthetic worlds: accuracy on the planted cases, time and peak memory.

For each world asked for, writes it into a temporary home, ingests it, then runs the link stage
(as `narcotrend link` does, MLflow included) in a child process, and prints one JSON list:
`[{world, seed, scale, records, candidates, seconds_link, seconds_child, peak_rss_mib,
precision, recall, f1, bcubed_*, cross_border_found, cross_border_real, ...}]`.

Worlds: `1x` (the built-in world), `70k` (about 70,000 seizures, every one signed), `10x` (the
built-in world at scale 10; only the signed records are candidates). Targets (issue 21):
pairwise F1 >= 0.9, cross-border found >= 0.9 and real >= 0.9; `70k` under 60 s and 3 GiB;
`10x` under 10 minutes.

    .venv/bin/python bench/link.py [--worlds 1x 70k 10x] [--seeds 7 11 23]
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

WORLDS = {"1x": (1.0, None), "70k": (0.5, 1.0), "10x": (10.0, None)}
TARGETS = {"f1": 0.9, "cross_border_found": 0.9, "cross_border_real": 0.9,
           "seconds_70k": 60.0, "peak_gib_70k": 3.0, "seconds_10x": 600.0}
CHILD = """
import json, resource, sys, time
sys.path.insert(0, {repo!r})
from core.settings import Settings
from training.link import link
began = time.perf_counter()
summary = link(Settings(home={home!r}))
summary["alerts"] = len(summary["alerts"])
summary["seconds_child"] = time.perf_counter() - began
summary["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps(summary, default=str))
"""


def prepare(home: Path, seed: int, scale: float, signed_share: float | None) -> dict:
    """World -> ingest in `home`; what it wrote and the seconds taken."""
    from core.settings import Settings
    from features.ingest import ingest_files
    from features.synthetic_world import write_world

    began = time.perf_counter()
    settings = Settings(home=home)
    settings.ensure_dirs()
    written = write_world(settings.demo_dir, seed=seed, scale=scale, signed_share=signed_share)
    report = ingest_files([settings.demo_dir / "seizures.csv"], "canonical", settings)
    return {"rows": written["records"], "accepted": report.accepted,
            "seconds_prepare": round(time.perf_counter() - began, 1)}


def run_link(home: Path) -> dict:
    """The link stage in a child process, so its peak memory is its own."""
    done = subprocess.run([sys.executable, "-c", CHILD.format(repo=str(REPO), home=str(home))],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-2000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


def bench_world(name: str, seed: int) -> dict:
    scale, signed_share = WORLDS[name]
    with tempfile.TemporaryDirectory(prefix=f"bench-link-{name}-") as tmp:
        prepared = prepare(Path(tmp), seed, scale, signed_share)
        summary = run_link(Path(tmp))
    truth = summary.pop("truth", {}) or {}
    return {"world": name, "seed": seed, "scale": scale, "signed_share": signed_share,
            **prepared, "records": summary["records"], "candidates": summary["candidates"],
            "pairs": summary["pairs"], "groups": summary["groups"],
            "cross_border_groups": summary["cross_border_groups"],
            "seconds_link": summary["seconds"],
            "seconds_child": round(summary["seconds_child"], 1),
            "peak_rss_mib": round(summary["peak_rss_mib"], 0),
            **{k: round(v, 4) if isinstance(v, float) else v for k, v in truth.items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worlds", nargs="+", default=["1x", "70k"], choices=sorted(WORLDS))
    parser.add_argument("--seeds", type=int, nargs="+", default=[7])
    args = parser.parse_args()
    results = [bench_world(name, seed) for name in args.worlds for seed in args.seeds]
    print(json.dumps({"targets": TARGETS, "runs": results}, indent=2))


if __name__ == "__main__":
    main()
