"""Load on the API: `/v1/alerts` and `/v1/forecasts/{id}` against `/health` of the same server.

Starts the real service (uvicorn, in a subprocess, loopback only) on a seeded home (or on
`--home`), then for each endpoint in turn runs `--concurrency` async clients for at most
`--seconds` or `--max-requests`, and prints one JSON document:
`{endpoint: {rps, p50_ms, p99_ms, errors, requests}, "alerts_to_health": ratio, ...}`.
The target is `/v1/alerts` at >= 0.3 of `/health`'s throughput, with no errors.

    .venv/bin/python bench/api.py [--home DIR] [--seconds 5] [--concurrency 16]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests")]

TARGET_RATIO = 0.3


def prepare_home(home: Path | None) -> tuple[Path, str, str, str | None]:
    """(home, admin key, a series id with a forecast, id of a key to revoke afterwards)."""
    from core.settings import Settings
    from serving.api.auth import create_key
    from serving.db import session_scope

    if home is None:
        from api_home import seed_home

        home = Path(tempfile.mkdtemp(prefix="narcotrend-bench-api-"))
        settings = Settings(home=home)
        keys = seed_home(settings, n_extra_alerts=150)
        return home, keys["admin"], "ESP/cocaine/kg", None
    settings = Settings(home=home)
    import pandas as pd

    forecasts = pd.read_parquet(settings.paths.forecasts, columns=["unique_id"])
    with session_scope(settings.service_database_url) as session:
        raw, row = create_key(session, "admin", name="bench/api.py (revoked at the end)")
    return home, raw, str(forecasts["unique_id"].iloc[0]), row.id


def start_server(home: Path, port: int) -> subprocess.Popen:
    env = {**os.environ, "NARCOTREND_HOME": str(home), "PYTHONPATH": str(REPO)}
    return subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--factory", "serving.api.app:create_app",
         "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning",
         "--no-access-log"], env=env, cwd=str(REPO))


def wait_ready(base: str, server: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"the server exited with code {server.returncode}")
        try:
            if httpx.get(f"{base}/ready", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.25)
    raise SystemExit(f"the server at {base} was not ready after {timeout:.0f} s")


async def load(base: str, path: str, headers: dict[str, str], concurrency: int, seconds: float,
               max_requests: int) -> dict[str, float]:
    """Requests per second, p50 and p99 latency (ms), errors, for one endpoint."""
    latencies: list[float] = []
    errors = 0
    issued = 0
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, headers=headers, limits=limits,
                                 timeout=30) as client:
        for _ in range(min(20, max_requests)):  # warm-up: connections, caches
            await client.get(path)
        stop_at = time.perf_counter() + seconds

        async def worker() -> None:
            nonlocal errors, issued
            while time.perf_counter() < stop_at and issued < max_requests:
                issued += 1
                started = time.perf_counter()
                try:
                    response = await client.get(path)
                    ok = response.status_code == 200
                except httpx.HTTPError:
                    ok = False
                latencies.append(time.perf_counter() - started)
                errors += not ok

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - began
    ms = np.asarray(latencies) * 1000
    return {"rps": round(len(latencies) / elapsed, 1),
            "p50_ms": round(float(np.percentile(ms, 50)), 2),
            "p99_ms": round(float(np.percentile(ms, 99)), 2), "errors": errors,
            "requests": len(latencies)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, default=None,
                        help="A built home to serve (default: a seeded temporary one)")
    parser.add_argument("--seconds", type=float, default=5.0, help="Load time per endpoint")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--max-requests", type=int, default=20_000, help="Cap per endpoint")
    parser.add_argument("--port", type=int, default=0, help="0 = a free loopback port")
    args = parser.parse_args(argv)

    from api_home import free_port

    home, key, series_id, revoke_id = prepare_home(args.home)
    port = args.port or free_port()
    base = f"http://127.0.0.1:{port}"
    server = start_server(home, port)
    try:
        wait_ready(base, server)
        auth = {"Authorization": f"Bearer {key}"}
        endpoints = {"/health": ("/health", {}),
                     "/v1/alerts": ("/v1/alerts?limit=50", auth),
                     "/v1/forecasts/{id}": (f"/v1/forecasts/{series_id}", auth)}
        results = {name: asyncio.run(load(base, path, headers, args.concurrency, args.seconds,
                                          args.max_requests))
                   for name, (path, headers) in endpoints.items()}
    finally:
        server.terminate()
        server.wait(timeout=30)
        if revoke_id:
            from core.settings import Settings
            from serving.api.auth import revoke_key
            from serving.db import session_scope

            with session_scope(Settings(home=home).service_database_url) as session:
                revoke_key(session, revoke_id)
    ratio = results["/v1/alerts"]["rps"] / results["/health"]["rps"]
    errors = sum(r["errors"] for r in results.values())
    report = {**results, "alerts_to_health": round(ratio, 3), "target_ratio": TARGET_RATIO,
              "concurrency": args.concurrency, "seconds_per_endpoint": args.seconds,
              "cpus": os.cpu_count(), "ok": ratio >= TARGET_RATIO and errors == 0}
    print(json.dumps(report, indent=2))
    out = REPO / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "api.json").write_text(json.dumps(report, indent=2))
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
