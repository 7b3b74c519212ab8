"""The synthetic world's truth as published in events.json: the planted events with what the
records really show, and the distractors."""

from __future__ import annotations

import numpy as np
import pandas as pd

from features import synthetic_catalog as cat
from features.concealment import classify_concealment, known_method
from features.synthetic_base import N_MONTHS, World, drug_mask, month_index
from features.synthetic_events import ConcealmentPlan, Plan


# --- truth -----------------------------------------------------------------------------------
def monthly(values: np.ndarray, t: np.ndarray) -> np.ndarray:
    return np.bincount(t, weights=values, minlength=N_MONTHS)


def _window_means(series: np.ndarray, t0: int) -> dict[str, float]:
    """Monthly means in the 12 months before the onset, the 12 from it, and months 6 to 17."""
    windows = {"before": series[max(t0 - 12, 0):t0], "after": series[t0:t0 + 12],
               "late": series[t0 + 6:t0 + 18]}
    return {k: round(float(v.mean()), 3) for k, v in windows.items()}


def _route_shares(world: World, s: np.ndarray, t: np.ndarray, routes: dict[str, np.ndarray],
                  dest_region: np.ndarray, event: dict) -> tuple[dict, float]:
    """Share of each gaining/losing entity among the records of the flow's substances bound for
    the region whose attribute is known, 12 months before and after the onset; and how much the
    share of records naming any gaining entity grew."""
    column = {"departure_country": "departure", "transit_countries": "transit",
              "transport_mode": "mode"}[event["attribute"]]
    t0 = month_index(event["onset"])
    flow = next(f for f in cat.FLOWS if f.name == event["flow"])
    on_flow = np.isin(np.array([sub.name for sub in world.subs])[s], flow.substances)
    base = on_flow & (dest_region == event["destination_region"]) & (routes[column] != "")
    shares: dict[str, dict[str, float]] = {}
    gaining: dict[str, float] = {}
    windows = (("before", (t >= t0 - 12) & (t < t0)), ("after", (t >= t0) & (t < t0 + 12)))
    for name, window in windows:
        parts = [set(v.split(";")) for v in routes[column][base & window]]
        total = max(len(parts), 1)
        shares[name] = {e: round(sum(e in p for p in parts) / total, 3)
                        for e in event["gaining"] + event["losing"]}
        gaining[name] = sum(bool(p & set(event["gaining"])) for p in parts) / total
    return shares, round(gaining["after"] - gaining["before"], 3)


def published_events(world: World, c: np.ndarray, s: np.ndarray, t: np.ndarray, kg: np.ndarray,
            routes: dict[str, np.ndarray], plan: Plan) -> list[dict]:
    """The planted events as published in events.json, with what the records really show."""
    dest_region = pd.Series(routes["destination"]).map(world.geo_region).to_numpy(object)
    out = []
    for spec in plan.events:
        event = {k: v for k, v in spec.items() if k not in ("after", "flow")}
        if spec["type"] == "route_shift":
            shares, moved = _route_shares(world, s, t, routes, dest_region, spec)
            substances = next(f for f in cat.FLOWS if f.name == spec["flow"]).substances
            event.update(geo_level="region", geo=spec["destination_region"],
                         region=spec["destination_region"], metric="seizures", flow=spec["flow"],
                         substances=list(substances),
                         magnitude=moved, observed_share=shares)
        else:
            hit = (c == world.iso3.index(spec["geo"])) & drug_mask(world, spec)[s]
            weights = kg[hit] if spec["metric"] == "kg" else np.ones(hit.sum())
            event.update(geo_level="country", region=world.geo_region[spec["geo"]],
                         observed_monthly=_window_means(monthly(weights, t[hit]),
                                                        month_index(spec["onset"])))
        out.append(event)
    return out


def published_distractors(world: World, plan: Plan, outliers: list[tuple],
                 outlier_ids: list[str]) -> list[dict]:
    """The reporting gaps and giant seizures, as published in events.json."""
    out: list[dict] = []
    for geo, start, end in plan.gaps:
        if geo not in world.iso3:
            continue
        out.append({"type": "reporting_gap", "geo_level": "country", "geo": geo,
                    "region": world.geo_region[geo], "start": start, "end": end,
                    "description": f"{geo} reports nothing from {start} to {end}: not a decline."})
    for geo, start, end, share in plan.partial:
        if geo not in world.iso3:
            continue
        out.append({"type": "partial_reporting", "geo_level": "country", "geo": geo,
                    "region": world.geo_region[geo], "start": start, "end": end,
                    "share": share,
                    "description": f"{geo} sends about {share:.0%} of its usual reports from "
                                   f"{start} to {end}: neither a decline nor, after, a surge."})
    for (geo, sub, reported, period, _, quantity, _, _), sid in zip(outliers, outlier_ids,
                                                                  strict=True):
        group = next(x.group for x in world.subs if x.name == sub)
        out.append({"type": "outlier", "geo_level": "country", "geo": geo,
                    "region": world.geo_region[geo], "drug_level": "substance", "drug": sub,
                    "group": group, "reported_drug": reported, "period": period,
                    "quantity": quantity, "unit": "kg", "seizure_id": sid,
                    "description": f"One giant seizure of {quantity:,.0f} kg of {sub} in {geo} "
                                   f"in {period}: not a trend."})
    return out


def published_concealment(world: World, c: np.ndarray, s: np.ndarray, t: np.ndarray,
                          concealment: np.ndarray, cplan: ConcealmentPlan) -> tuple[dict, dict]:
    """The concealment shift (an event) and the completeness distractor as published, with what
    the records show 12 months before and after each onset: the gaining method's share of the
    records with a known method (`observed_share`) and the share with a known method
    (`known_method_share`)."""
    methods = pd.Series(classify_concealment(pd.Series(concealment, dtype=object)
                                             .replace("", None)), dtype=object)
    known = known_method(methods).to_numpy()
    out = []
    for spec in (cplan.shift, cplan.distractor):
        entry = {k: v for k, v in spec.items() if k != "texts"}
        entry["region"] = world.geo_region[spec["geo"]]
        t0 = month_index(spec["onset"])
        here = (c == world.iso3.index(spec["geo"])) & drug_mask(world, spec)[s]
        observed, completeness = {}, {}
        for name, window in (("before", (t >= t0 - 12) & (t < t0)),
                             ("after", (t >= t0) & (t < t0 + 12))):
            rows = here & window
            completeness[name] = round(float(known[rows].mean()), 3) if rows.any() else None
            gaining = methods.to_numpy()[rows & known]
            if spec["type"] == "modus_operandi_shift" and len(gaining):
                observed[name] = round(float(np.isin(gaining, spec["gaining"]).mean()), 3)
        entry["known_method_share"] = completeness
        if observed:
            entry["observed_share"] = observed
        out.append(entry)
    return out[0], out[1]
