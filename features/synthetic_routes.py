"""Routes of the synthetic world's records: origin, departure, transit, destination and
transport mode drawn along the catalogue's trafficking flows, with the planted route shifts; and
the planted concealment shift and completeness distractor (`plant_concealment`)."""

from __future__ import annotations

import numpy as np

from features import synthetic_catalog as cat
from features.synthetic_base import N_MONTHS, World, choose, drug_mask, month_index
from features.synthetic_events import ConcealmentPlan, Plan

# --- routes ----------------------------------------------------------------------------------
# how often each role of a seizing country on a flow knows its route parts
_ROLE_KNOWN = {"destination": .65, "transit": .6, "departure": .5, "origin": .4}
_DEST_KNOWN = {"destination": 1.0, "transit": .8, "departure": .35, "origin": .35}
_GENERIC_MODES = (("land", .6), ("air", .2), ("sea", .1), ("mail", .08), ("rail", .02))


def _joined(weights: tuple) -> tuple[tuple[str, float], ...]:
    return tuple((";".join(option), w) for option, w in weights)


def _route_draw(rng: np.random.Generator, t: np.ndarray, before: tuple, after: tuple | None,
                t0: int, keep) -> np.ndarray:
    """One route attribute per record, from the flow's weights or, from `t0` on, the shifted
    ones; `keep` filters the labels allowed for the seizing country's role."""
    def draw(weights: tuple) -> np.ndarray:
        kept = tuple((lab, w) for lab, w in weights if keep(lab))
        return choose(rng, kept, len(t)) if kept else np.full(len(t), "", dtype=object)

    values = draw(before)
    return values if after is None else np.where(t >= t0, draw(after), values)


def _fill_flow(out: dict[str, np.ndarray], idx: np.ndarray, t: np.ndarray, flow: cat.Flow,
               geo: str, role: str, plan: Plan, rng: np.random.Generator) -> None:
    """Route fields of the records seized in `geo` on `flow`, consistent with `geo`'s role."""
    shifts = {e["attribute"]: e for e in plan.events if e.get("flow") == flow.name}

    def shifted(attribute: str, weights: tuple, join: bool = False) -> tuple:
        event = shifts.get(attribute)
        after = None if event is None else event["after"]
        if join:
            weights, after = _joined(weights), (None if after is None else _joined(after))
        return weights, after, (month_index(event["onset"]) if event else N_MONTHS)

    n = len(idx)
    known = rng.random(n) < _ROLE_KNOWN[role]
    not_geo = lambda lab: lab != geo  # noqa: E731
    b, a, t0 = shifted("origin_country", flow.origins)
    origin = (np.full(n, geo, dtype=object) if role == "origin"
              else _route_draw(rng, t, b, a, t0, not_geo))
    b, a, t0 = shifted("departure_country", flow.departures)
    departure = (np.full(n, geo, dtype=object) if role in ("departure", "origin")
                 else _route_draw(rng, t, b, a, t0, not_geo))
    b, a, t0 = shifted("transit_countries", flow.transits, join=True)
    if role == "transit" and not any(geo in lab.split(";") for lab, _ in b):
        b = ((geo, 1.0),)
    through = ((lambda lab: geo in lab.split(";")) if role == "transit"
               else (lambda lab: geo not in lab.split(";")))
    transit = _route_draw(rng, t, b, a, t0, through)
    destination = (np.full(n, geo, dtype=object) if role == "destination"
                   else _route_draw(rng, t, flow.destinations, None, N_MONTHS, not_geo))
    b, a, t0 = shifted("transport_mode", flow.modes)
    mode = _route_draw(rng, t, b, a, t0, lambda lab: True)
    u = rng.random((4, n))
    out["origin"][idx] = np.where(known & (u[0] < .75), origin, "")
    out["departure"][idx] = np.where(known & (u[1] < .85), departure, "")
    out["destination"][idx] = np.where(known & (u[2] < _DEST_KNOWN[role]), destination, "")
    out["transit"][idx] = np.where(known, _strip_transit(transit, departure, destination), "")
    out["mode"][idx] = np.where(u[3] < .9, mode, "")


def _strip_transit(transit: np.ndarray, departure: np.ndarray,
                   destination: np.ndarray) -> np.ndarray:
    """Transit lists without the record's own departure and destination countries."""
    keys = transit + "|" + departure + "|" + destination
    uniques, inverse = np.unique(keys.astype(str), return_inverse=True)
    cleaned = np.empty(len(uniques), dtype=object)
    for i, key in enumerate(uniques):
        option, dep, dest = key.split("|")
        cleaned[i] = ";".join(x for x in option.split(";") if x and x not in (dep, dest))
    return cleaned[inverse]


def draw_routes(world: World, c: np.ndarray, s: np.ndarray, t: np.ndarray, plan: Plan,
            rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Origin, departure, transit, destination (ISO3, "" when unknown) and transport mode."""
    n, n_s = len(c), len(world.subs)
    out = {k: np.full(n, "", dtype=object)
           for k in ("origin", "departure", "transit", "destination", "mode")}
    sub_index = {sub.name: j for j, sub in enumerate(world.subs)}
    shares: dict[int, list[tuple[int, float]]] = {}
    for f, flow in enumerate(cat.FLOWS):
        for geo, (_, share) in flow.seized_at.items():
            for name in flow.substances:
                key = world.iso3.index(geo) * n_s + sub_index[name]
                shares.setdefault(key, []).append((f, share))
    pair = c * n_s + s
    order = np.argsort(pair, kind="stable")
    bounds = np.searchsorted(pair[order], np.array(sorted(shares))[:, None] + [0, 1])
    flow_of = np.full(n, -1)
    for key, (lo, hi) in zip(sorted(shares), bounds, strict=True):
        entries = shares[key]
        pick = np.searchsorted(np.cumsum([w for _, w in entries]), rng.random(hi - lo), "right")
        flow_of[order[lo:hi]] = np.array([f for f, _ in entries] + [-1])[pick]
    for f, flow in enumerate(cat.FLOWS):
        members = np.flatnonzero(flow_of == f)
        for geo, (role, _) in flow.seized_at.items():
            idx = members[c[members] == world.iso3.index(geo)]
            if len(idx):
                _fill_flow(out, idx, t[idx], flow, geo, role, plan, rng)
    rest = np.flatnonzero(flow_of < 0)
    known = rest[rng.random(len(rest)) < .5]
    out["mode"][known] = choose(rng, _GENERIC_MODES, len(known))
    local = [sub_index[x] for x in ("cannabis herb", "khat")]
    domestic = rest[np.isin(s[rest], local) & (rng.random(len(rest)) < .3)]
    out["origin"][domestic] = np.asarray(world.iso3, dtype=object)[c[domestic]]
    return out


def plant_concealment(world: World, c: np.ndarray, s: np.ndarray, t: np.ndarray,
                      concealment: np.ndarray, cplan: ConcealmentPlan, seed: int) -> np.ndarray:
    """The concealment texts with the seed's modus operandi shift and completeness distractor
    planted, drawn on a stream of their own (`[seed, 21]`) so that no other draw moves.

    Shift: from the onset, a share of the country's records of the drug ramping up to the
    event's magnitude over `CONCEALMENT_RAMP_MONTHS` is rewritten with the gaining method's texts
    (counts unchanged). Distractor: from its onset, a share of its records loses its text."""
    rng = np.random.default_rng([int(seed), 21])
    out = concealment.copy()
    u = rng.random(len(c))
    shift, distractor = cplan.shift, cplan.distractor
    if shift["geo"] in world.iso3:
        t0 = month_index(shift["onset"])
        ramp = np.clip((t - t0 + 1) / cat.CONCEALMENT_RAMP_MONTHS, 0.0, 1.0)
        hit = ((c == world.iso3.index(shift["geo"])) & drug_mask(world, shift)[s]
               & (u < shift["magnitude"] * ramp))
        texts = np.array(shift["texts"], dtype=object)
        out[hit] = texts[rng.integers(len(texts), size=int(hit.sum()))]
    if distractor["geo"] in world.iso3:
        hit = ((c == world.iso3.index(distractor["geo"])) & drug_mask(world, distractor)[s]
               & (t >= month_index(distractor["onset"])) & (u < distractor["blanked"]))
        out[hit] = ""
    return out
