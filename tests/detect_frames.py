"""Small hand-made series and route-flow frames with known answers, for the detector tests."""

from __future__ import annotations

import numpy as np
import pandas as pd

START = "2019-01-01"


def series_frame(values: dict[str, list[float]], *, geo_level: str = "country",
                 region: str = "Europe", metric: str = "seizures", freq: str = "MS",
                 start: str = START) -> pd.DataFrame:
    """Long series frame from {geo: values} (drug `cocaine`, group level, periods of `freq`
    from 2019)."""
    parts = []
    for geo, ys in values.items():
        ds = pd.date_range(start, periods=len(ys), freq=freq)
        level = geo_level if not isinstance(geo_level, dict) else geo_level[geo]
        parts.append(pd.DataFrame({
            "unique_id": f"{geo}/cocaine/{metric}", "ds": ds, "y": np.asarray(ys, float),
            "geo_level": level, "geo": geo, "region": region, "drug_level": "group",
            "drug": "cocaine", "metric": metric}))
    return pd.concat(parts, ignore_index=True)


def noisy(level: float, n: int, seed: int) -> list[float]:
    return list(np.random.default_rng(seed).poisson(level, n).astype(float))


def route_frame(shares_before: dict[str, int], shares_after: dict[str, int], *,
                attribute: str = "departure_country", freq: str = "MS", before: int = 24,
                after: int = 6) -> pd.DataFrame:
    """Route flows: `before` periods of `freq` with `shares_before` seizures a period, then
    `after` with `shares_after`."""
    rows = []
    for k, ds in enumerate(pd.date_range(START, periods=before + after, freq=freq)):
        for entity, n in (shares_before if k < before else shares_after).items():
            rows.append({"ds": ds, "drug_group": "cocaine", "substance": "cocaine hydrochloride",
                         "destination_region": "Europe", "departure_country": None,
                         "transit_countries": None, "transport_mode": "unknown",
                         attribute: entity, "seizures": n, "kg": 10.0 * n})
    return pd.DataFrame(rows)
