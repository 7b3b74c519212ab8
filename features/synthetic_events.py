"""The planted truth of the built-in world, drawn per seed from the catalog's candidate pools.

Each seed plants different events (which countries and drugs, when, how strong) and different
distractors, so a detector tuned on some seeds is judged on events it has never seen. The draw
uses its own random stream (seeded by the world's seed only), so the plan does not depend on the
world's scale and the same seed always plans the same events. Pure: no I/O, no numpy arrays out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from features import synthetic_catalog as cat

_GROUP_OF = {s.name: s.group for s in cat.SUBSTANCES}
_PREFIX = {"emerging_trend": "E", "surge": "S", "decline": "D", "new_drug": "N",
           "route_shift": "R"}


@dataclass(frozen=True)
class Plan:
    """What a seed plants: events (as published, plus `after`/`flow`/`baseline` for the
    generator), reporting gaps (geo, first month, last month) and giant seizures (geo, substance,
    reported name, period, day, nominal kg, mode, origin)."""

    events: tuple[dict[str, Any], ...]
    gaps: tuple[tuple[str, str, str], ...]
    outliers: tuple[tuple[str, str, str, str, int, float, str, str], ...]
    # partial reporters: geo, first month, last month, share of the usual reports sent
    partial: tuple[tuple[str, str, str, float], ...] = ()


def _month(label: str) -> int:
    return int(label[:4]) * 12 + int(label[5:7]) - 1


def _label(month: int) -> str:
    return f"{month // 12:04d}-{month % 12 + 1:02d}"


def _draw_month(rng: np.random.Generator, bounds: tuple[str, str]) -> str:
    return _label(int(rng.integers(_month(bounds[0]), _month(bounds[1]) + 1)))


def _uniform(rng: np.random.Generator, bounds: tuple[float, float], digits: int = 3) -> float:
    return round(float(rng.uniform(*bounds)), digits)


def group_of(drug_level: str, drug: str) -> str:
    """The taxonomy group of an event's drug."""
    return drug if drug_level == "group" else _GROUP_OF[drug]


def _pick(rng: np.random.Generator, pool: tuple[cat.Candidate, ...], n: int,
          blocked_geo: set[str], used: set[tuple[str, str]]) -> list[cat.Candidate]:
    """Up to n candidates in random order, skipping blocked countries and (country, group) pairs
    already carrying an event or a distractor; the pairs picked are added to `used`."""
    out = []
    for i in rng.permutation(len(pool)):
        cand = pool[int(i)]
        pair = (cand.geo, group_of(cand.drug_level, cand.drug))
        if cand.geo in blocked_geo or pair in used:
            continue
        out.append(cand)
        used.add(pair)
        if len(out) == n:
            break
    return out


def _level_event(kind: str, cand: cat.Candidate, rng: np.random.Generator) -> dict[str, Any]:
    """One trend, surge or decline on a candidate series, with its size and description."""
    kg = cand.metric == "kg"
    base = _uniform(rng, cat.KG_BASELINE if kg else cat.BASELINE, 1)
    what = cand.drug if cand.drug_level == "substance" else f"{cand.drug} group"
    event: dict[str, Any] = {"type": kind, "geo": cand.geo, "drug_level": cand.drug_level,
                             "drug": cand.drug, "metric": cand.metric, "baseline": base}
    if kind == "emerging_trend":
        growth = _uniform(rng, cat.TREND_GROWTH)
        months = min(24, math.ceil(math.log(cat.TREND_MAX_FOLD) / math.log1p(growth)))
        event.update(magnitude=growth, duration_months=months,
                     description=f"{cand.story}: {what} seizures grow {growth:.0%} a month for "
                                 f"{months} months from about {base:.0f} a month.")
    elif kind == "surge":
        fold = _uniform(rng, cat.KG_SURGE_FOLD if kg else cat.SURGE_FOLD)
        event.update(magnitude=fold, description=(
            f"{cand.story}: kilograms of {what} seized rise {fold:.1f}-fold (seizure counts "
            f"unchanged, about {base:.0f} a month)." if kg else
            f"{cand.story}: {what} seizures rise {fold:.1f}-fold from about {base:.0f} a month."))
    else:
        fold = _uniform(rng, cat.DECLINE_FOLD)
        event.update(magnitude=fold, description=f"{cand.story}: {what} seizures fall to "
                                                 f"{fold:.0%} of about {base:.0f} a month.")
    return event


def draw_plan(seed: int, names: dict[str, str] | None = None) -> Plan:
    """The events and distractors of the world at `seed`; `names` (ISO3 -> name) words the
    descriptions of new drugs."""
    rng = np.random.default_rng([int(seed), 5])
    names = names or {}
    n_gaps = len(cat.GAP_MONTHS)
    gap_geos = [cat.GAP_COUNTRIES[int(i)] for i in rng.choice(len(cat.GAP_COUNTRIES), n_gaps,
                                                                replace=False)]
    gaps = []
    for geo in gap_geos:
        first = _month(_draw_month(rng, cat.GAP_RANGE))
        length = int(rng.integers(cat.GAP_MONTHS[0], cat.GAP_MONTHS[1] + 1))
        gaps.append((geo, _label(first), _label(first + length - 1)))
    blocked = set(gap_geos)
    used: set[tuple[str, str]] = set()
    outliers = []
    for i in rng.permutation(len(cat.OUTLIER_CANDIDATES)):
        geo, sub, reported, kg, mode, origin = cat.OUTLIER_CANDIDATES[int(i)]
        if geo in blocked or any(o[0] == geo for o in outliers):
            continue
        period = _draw_month(rng, cat.OUTLIER_RANGE)
        outliers.append((geo, sub, reported, period, int(rng.integers(1, 29)), kg, mode, origin))
        used.add((geo, _GROUP_OF[sub]))
        if len(outliers) == 2:
            break

    lo, hi = cat.EVENTS_PER_TYPE
    events: list[dict[str, Any]] = []
    trends = _pick(rng, cat.EMERGING_CANDIDATES, int(rng.integers(lo, hi + 1)), blocked, used)
    events += [_level_event("emerging_trend", c, rng) for c in trends]
    n_surges = int(rng.integers(lo, hi + 1))
    kg_pool = tuple(c for c in cat.SURGE_CANDIDATES if c.metric == "kg")
    count_pool = tuple(c for c in cat.SURGE_CANDIDATES if c.metric != "kg")
    surges = _pick(rng, kg_pool, 1, blocked, used) if rng.random() < cat.KG_SURGE_CHANCE else []
    surges += _pick(rng, count_pool, n_surges - len(surges), blocked, used)
    events += [_level_event("surge", c, rng) for c in surges]
    declines = _pick(rng, cat.DECLINE_CANDIDATES, int(rng.integers(lo, hi + 1)), blocked, used)
    events += [_level_event("decline", c, rng) for c in declines]
    for sub, countries in cat.NEW_DRUG_CANDIDATES.items():
        pool = tuple(cat.Candidate(g, "substance", sub, cat.NEW_DRUG_STORIES[sub])
                     for g in countries)
        (cand,) = _pick(rng, pool, 1, blocked, used)
        rate = _uniform(rng, cat.NEW_DRUG_RATE, 1)
        events.append({"type": "new_drug", "geo": cand.geo, "drug_level": "substance",
                       "drug": sub, "metric": "seizures", "magnitude": rate,
                       "description": f"{cand.story} in {names.get(cand.geo, cand.geo)}: about "
                                      f"{rate:.0f} seizures a month."})
    flows: set[str] = set()
    n_routes = int(rng.integers(lo, hi + 1))
    for i in rng.permutation(len(cat.ROUTE_CANDIDATES)):
        spec = cat.ROUTE_CANDIDATES[int(i)]
        if spec["flow"] in flows:
            continue
        flows.add(spec["flow"])
        events.append({"type": "route_shift", **spec})
        if len(flows) == n_routes:
            break
    for event in events:
        event["onset"] = _draw_month(rng, cat.ONSET_RANGE)
    ordered = sorted(events, key=lambda e: (list(_PREFIX).index(e["type"]), e["onset"],
                                            e.get("geo", ""), e["drug"]))
    counters: dict[str, int] = {}
    for event in ordered:
        prefix = _PREFIX[event["type"]]
        counters[prefix] = counters.get(prefix, 0) + 1
        event["id"] = f"{prefix}{counters[prefix]:02d}"
    return Plan(tuple(ordered), tuple(gaps), tuple(outliers),
                _draw_partial(seed, ordered, gap_geos, outliers))


def _draw_partial(seed: int, events: list[dict[str, Any]], gap_geos: list[str],
                  outliers: list[tuple]) -> tuple[tuple[str, str, str, float], ...]:
    """One partial reporter, from its own random stream (the other draws stay as they were):
    a large reporter carrying no gap, outlier or event."""
    rng = np.random.default_rng([int(seed), 6])
    taken = set(gap_geos) | {o[0] for o in outliers} | {e.get("geo") for e in events}
    pool = [g for g in cat.PARTIAL_COUNTRIES if g not in taken]
    if not pool:
        return ()
    geo = pool[int(rng.integers(len(pool)))]
    first = _month(_draw_month(rng, cat.PARTIAL_RANGE))
    length = int(rng.integers(cat.PARTIAL_MONTHS[0], cat.PARTIAL_MONTHS[1] + 1))
    share = _uniform(rng, cat.PARTIAL_SHARE, 2)
    return ((geo, _label(first), _label(first + length - 1), share),)


@dataclass(frozen=True)
class ConcealmentPlan:
    """The planted concealment shift (an event as published, plus `texts`, the reporters' words
    for the gaining method) and the completeness-only distractor (`blanked`: share of records
    losing their concealment text from `onset`)."""

    shift: dict[str, Any]
    distractor: dict[str, Any]


def draw_concealment_plan(seed: int, plan: Plan) -> ConcealmentPlan:
    """The seed's concealment shift and completeness distractor, on their own random stream
    (the world's other draws do not move), away from the plan's reporting gaps."""
    rng = np.random.default_rng([int(seed), 20])
    blocked = {geo for geo, _, _ in plan.gaps}
    shifts = [c for c in cat.CONCEALMENT_SHIFT_CANDIDATES if c[0] not in blocked]
    geo, level, drug, method, texts, story = shifts[int(rng.integers(len(shifts)))]
    share = _uniform(rng, cat.CONCEALMENT_SHARE)
    shift = {"type": "modus_operandi_shift", "id": "M01", "geo_level": "country", "geo": geo,
             "drug_level": level, "drug": drug, "metric": "seizures",
             "attribute": "concealment", "gaining": [method], "losing": [], "magnitude": share,
             "onset": _draw_month(rng, cat.ONSET_RANGE), "texts": list(texts),
             "description": f"{story}: {method.replace('_', ' ')} grows to about {share:.0%} of "
                            f"the {drug} seizures over {cat.CONCEALMENT_RAMP_MONTHS} months, "
                            "their number unchanged."}
    others = [c for c in cat.CONCEALMENT_DISTRACTOR_CANDIDATES
              if c[0] not in blocked and c[0] != geo]
    d_geo, d_level, d_drug = others[int(rng.integers(len(others)))]
    blanked = _uniform(rng, cat.CONCEALMENT_BLANKED)
    distractor = {"type": "completeness_change", "geo_level": "country", "geo": d_geo,
                  "drug_level": d_level, "drug": d_drug, "attribute": "concealment",
                  "onset": _draw_month(rng, cat.ONSET_RANGE), "blanked": blanked,
                  "description": f"{d_geo} stops filling in how {d_drug} was hidden on about "
                                 f"{blanked:.0%} of its records: fewer known methods, the same "
                                 "mix, not a modus operandi shift."}
    return ConcealmentPlan(shift, distractor)
