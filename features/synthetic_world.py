"""The built-in synthetic seizure world: realistic canonical records with a known truth.

`generate_world` draws nine years of monthly seizure records (2016-01..2024-12) for real countries
with base rates that follow the real geography (tables in `features/synthetic_catalog.py`),
seasonality, slow drift, routes for the main trafficking flows, planted events (emerging trends,
surges, declines, new drugs, route shifts, a concealment shift) and distractors (reporting gaps,
giant seizures, a change of concealment completeness), all
drawn per seed (`features/synthetic_events.py`), and the dirt of real data (exact duplicates,
bad rows, names written as codes or names). Everything is
vectorised over records, so a million rows cost seconds. `write_world` writes `seizures.csv` and
`events.json`, byte-identical for the same seed.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd

from core.errors import NarcotrendError
from core.geography import country_table
from core.home import DEMO_EVENTS, DEMO_SEIZURES
from features import synthetic_catalog as cat
from features.synthetic_base import (
    END,
    N_MONTHS,
    START,
    World,
    choose,
    choose_rows,
    drug_mask,
    month_index,
    period_label,
)
from features.synthetic_cases import plant_cases
from features.synthetic_catalog import MODE_NAMES, REPORTED_NAMES, UNIT_NAMES
from features.synthetic_events import Plan, draw_concealment_plan, draw_plan
from features.synthetic_routes import draw_routes, plant_concealment
from features.synthetic_truth import (
    monthly,
    published_concealment,
    published_distractors,
    published_events,
)

__all__ = ["EVENTS_FILE", "MODE_NAMES", "REPORTED_NAMES", "SEIZURES_FILE", "UNIT_NAMES",
           "generate_world", "month_index", "write_world"]

SEIZURES_FILE, EVENTS_FILE = DEMO_SEIZURES, DEMO_EVENTS  # the names in a world folder
COLUMNS = ("seizure_id", "date", "country", "drug", "quantity", "unit", "transport_mode",
           "origin_country", "departure_country", "transit_countries", "destination_country",
           "concealment", "source", "admin1")
VOLUME = 0.54  # scales the catalog's base rates to a default world of ~130,000 records
_SEASON = {cat.CAN: (.2, 9), cat.COC: (.08, 11), cat.OPI: (.1, 7), cat.ATS: (.08, 12),
           cat.NPS: (.1, 7)}  # amplitude and peak month per group; others (.05, 6)
_TREND = {cat.COC: .05, cat.ATS: .04, cat.NPS: .02, cat.CAN: -.01}  # log-growth per year
_BAD_ROWS = {"negative_quantity": 40, "impossible_date": 25, "unknown_unit": 30,
             "unknown_country": 20, "empty_drug": 35, "future_date": 15}


# --- catalog ---------------------------------------------------------------------------------
def _split(group: str, keys: set[str]) -> dict[str, float]:
    for rule_group, selector, weights in cat.SUBSTANCE_SPLITS:
        if rule_group == group and ("*" in selector or selector & keys):
            return weights
    return {}


def _build_world(scale: float, rng: np.random.Generator) -> World:
    """Resolve the catalog: the default countries, widened at scale >= 3 with more countries and
    substances so that a large world has tens of thousands of series."""
    table = country_table()
    iso3 = list(cat.CORE_RATES)
    rates = [np.asarray(cat.CORE_RATES[c], float) for c in iso3]
    subs = list(cat.SUBSTANCES)
    extras: list[tuple[cat.Substance, frozenset[str]]] = []
    if scale >= 3:
        n_extra = min(70, round(25 * (scale - 1)))
        pool = table[table["member"] & table["region"].notna() & ~table.index.isin(iso3)]
        ranked = sorted(pool.index, key=lambda c: (math.sin(sum(map(ord, c)) * 7.3) % 1, c))
        for c in ranked[:n_extra]:
            iso3.append(c)
            rates.append(np.asarray(cat.GENERIC_RATES[table.at[c, "region"]])
                         * rng.lognormal(0, .4, len(cat.GROUPS)))
        extras = list(cat.extra_substances())
        subs += [s for s, _ in extras]
    region = table.loc[iso3, "region"].to_numpy(object)
    subregion = table.loc[iso3, "subregion"].to_numpy(object)
    sub_index = {s.name: i for i, s in enumerate(subs)}
    group_of = np.array([cat.GROUPS.index(s.group) for s in subs])
    base = np.zeros((len(iso3), len(subs)))
    size_mu = np.zeros_like(base)
    for i, c in enumerate(iso3):
        keys = {c, region[i], subregion[i]}
        for g, group in enumerate(cat.GROUPS):
            for name, w in _split(group, keys).items():
                base[i, sub_index[name]] = rates[i][g] * w
        for j, (_, common) in enumerate(extras, start=len(cat.SUBSTANCES)):
            if rng.random() < (.55 if region[i] in common else .15):
                base[i, j] = .04 * rng.lognormal(0, .7)
        for j, sub in enumerate(subs):
            size_mu[i, j] = (math.log(sub.median_kg) + cat.SIZE_OFFSETS.get((sub.group, c), 0)
                             + rng.normal(0, .25))
    spellings = []
    for c in iso3:
        iso2 = table.at[c, "iso2"]
        names = cat.COUNTRY_NAMES.get(c, (table.at[c, "name"],))
        # country_converter keeps a regex for a few ISO2 codes ("^GB$|^UK$"); "NA" (Namibia)
        # reads back as missing in most CSV readers: both are written as ISO3 or name only.
        plain = len(iso2) == 2 and iso2.isalpha() and iso2.isupper() and iso2 != "NA"
        forms = [(c, .72)] + ([(iso2, .14)] if plain else [])
        forms += [(n, .14 / len(names)) for n in names]
        spellings.append((tuple(f for f, _ in forms), tuple(w for _, w in forms)))
    geo_region = dict(zip(table.index, table["region"], strict=True))
    names = dict(zip(table.index, table["name"], strict=True))
    return World(iso3, region, subregion, spellings, subs, group_of, base, size_mu, names,
                  geo_region)


# --- volumes ---------------------------------------------------------------------------------
def _rates(world: World, scale: float, rng: np.random.Generator) -> np.ndarray:
    """Expected seizures per country x substance x month, before events."""
    n_c, n_g = len(world.iso3), len(cat.GROUPS)
    t = np.arange(N_MONTHS)
    month = t % 12 + 1
    season = np.ones((n_g, N_MONTHS))
    for g, group in enumerate(cat.GROUPS):
        amp, peak = _SEASON.get(group, (.05, 6))
        season[g] = 1 + amp * np.cos(2 * np.pi * (month - peak) / 12)
    trend = np.array([_TREND.get(g, 0.0) for g in cat.GROUPS])
    slope = trend[None, :] + rng.normal(0, .025, (n_c, n_g))
    years = (t - N_MONTHS / 2) / 12
    wave = (rng.uniform(0, .08, (n_c, n_g, 1))
            * np.sin(2 * np.pi * t / rng.uniform(48, 96, (n_c, n_g, 1))
                     + rng.uniform(0, 2 * np.pi, (n_c, n_g, 1))))
    drift = np.exp(slope[:, :, None] * years + wave)
    covid = np.ones(N_MONTHS)
    covid[month_index("2020-04"):month_index("2020-07")] = .75
    covid[month_index("2020-07"):month_index("2020-10")] = .9
    noise = rng.gamma(80, 1 / 80, (n_c, n_g, N_MONTHS))
    per_group = season[None] * drift * noise * covid
    return world.base[:, :, None] * VOLUME * scale * per_group[:, world.group_of, :]


def _applypublished_events(lam: np.ndarray, world: World, scale: float, plan: Plan) -> None:
    """Plant the level events (trend, surge, decline, new drug) and the reporting gaps.

    A level event's series is first raised, over its whole history, to the event's baseline (mean
    seizures a month in the year before the onset) where the catalog's rates are lower.
    """
    t = np.arange(N_MONTHS)
    for event in plan.events:
        if event["type"] == "route_shift":
            continue
        c, t0 = world.iso3.index(event["geo"]), month_index(event["onset"])
        drugs, after = drug_mask(world, event), t >= t0
        if "baseline" in event:
            level = lam[c, drugs, max(t0 - 12, 0):t0].sum(axis=0).mean()
            target = event["baseline"] * scale
            if 0 < level < target:
                lam[c, drugs] *= target / level
        if event["metric"] == "kg":
            continue
        if event["type"] == "emerging_trend":
            steps = np.clip(t - t0 + 1, 0, event["duration_months"])
            lam[c, drugs] *= (1 + event["magnitude"]) ** steps
        elif event["type"] in ("surge", "decline"):
            lam[c, drugs] *= np.where(after, event["magnitude"], 1.0)
        elif event["type"] == "new_drug":
            lam[c, drugs] = np.where(after, event["magnitude"] * scale, 0.0)
    for geo, start, end in plan.gaps:
        if geo in world.iso3:
            lam[world.iso3.index(geo), :, month_index(start):month_index(end) + 1] = 0
    for geo, start, end, share in plan.partial:
        if geo in world.iso3:
            lam[world.iso3.index(geo), :, month_index(start):month_index(end) + 1] *= share


# --- per-record attributes -------------------------------------------------------------------
def _sizes(world: World, c: np.ndarray, s: np.ndarray, t: np.ndarray, plan: Plan,
           rng: np.random.Generator) -> np.ndarray:
    """Kilogram-equivalents: lognormal per substance and country, kg surges planted."""
    sigma = np.array([sub.sigma for sub in world.subs])
    log_kg = world.size_mu[c, s] + sigma[s] * rng.standard_normal(len(c))
    for event in plan.events:
        if event.get("metric") == "kg" and event["type"] == "surge":
            hit = ((c == world.iso3.index(event["geo"])) & drug_mask(world, event)[s]
                   & (t >= month_index(event["onset"])))
            log_kg[hit] += math.log(event["magnitude"])
    return np.exp(log_kg)


def _units(world: World, s: np.ndarray, kg: np.ndarray,
           rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Quantity and unit as reporters write them: kg or g by size, tablets, litres."""
    form = np.array([sub.form for sub in world.subs], dtype=object)[s]
    tablet_kg = np.array([sub.tablet_kg for sub in world.subs])[s]
    u = rng.random(len(s))
    as_tablet = (form == "tablet") & (u < .85)
    as_litre = (form == "liquid") & (u < .8)
    p_gram = np.where(kg < .1, .85, np.where(kg < 1, .4, .05))
    as_gram = ~as_tablet & ~as_litre & (rng.random(len(s)) < p_gram)
    quantity = np.round(kg, 3).clip(.001)
    quantity = np.where(as_gram, np.round(kg * 1000, 1).clip(.1), quantity)
    quantity = np.where(as_litre, np.round(kg, 2).clip(.01), quantity)
    tablets = np.round(kg / np.where(tablet_kg > 0, tablet_kg, 1)).clip(1)
    quantity = np.where(as_tablet, tablets, quantity)
    n = len(s)
    unit = choose(rng, (("kg", .8), ("KG", .2)), n)
    unit = np.where(as_gram, choose(rng, (("g", .6), ("grams", .4)), n), unit)
    unit = np.where(as_litre, choose(rng, (("l", .75), ("litres", .25)), n), unit)
    unit = np.where(as_tablet, choose(rng, (("tablets", .55), ("tab", .2), ("pills", .25)), n),
                    unit)
    return quantity, unit


# --- the written records ---------------------------------------------------------------------
def _written(world: World, c: np.ndarray, s: np.ndarray, day_str: np.ndarray, kg: np.ndarray,
             routes: dict[str, np.ndarray], rng: np.random.Generator) -> dict[str, np.ndarray]:
    """The canonical columns as reporters write them: codes or names, spelling variants."""
    n = len(c)
    quantity, unit = _units(world, s, kg, rng)
    modes = list(cat.MODES)
    mode_code = np.full(n, len(modes))
    for i, m in enumerate(modes):
        mode_code[routes["mode"] == m] = i
    mode_forms = [(tuple(x for x, _ in cat.MODE_SPELLINGS[m]), tuple(w for _, w in
                   cat.MODE_SPELLINGS[m])) for m in modes] + [(("", "unknown"), (.8, .2))]
    concealment_forms = [(cat.CONCEALMENT[m], (1,) * len(cat.CONCEALMENT[m])) for m in modes]
    concealment_forms.append((("", "premises", "on person"), (.6, .25, .15)))
    origin = routes["origin"].copy()
    as_name = (origin != "") & (rng.random(n) < .1)
    origin[as_name] = [world.names.get(x, x) for x in origin[as_name]]
    return {
        "date": day_str,
        "country": choose_rows(rng, world.spellings, c),
        "drug": choose_rows(rng, [(tuple(x for x, _ in sub.names), tuple(w for _, w in sub.names))
                                   for sub in world.subs], s),
        "quantity": quantity,
        "unit": unit,
        "transport_mode": choose_rows(rng, mode_forms, mode_code),
        "origin_country": origin,
        "departure_country": routes["departure"],
        "transit_countries": routes["transit"],
        "destination_country": routes["destination"],
        "concealment": choose_rows(rng, concealment_forms, mode_code),
        "source": choose(rng, tuple((x, 1.0) for x in cat.SOURCES), n),
    }


def _divisions(world: World, c: np.ndarray, seed: int) -> np.ndarray:
    """The admin-1 division each record names ("" for none), for the countries of
    `cat.DIVISIONS`. Its own random stream, so every other draw of the world stays as it was."""
    rng = np.random.default_rng([int(seed), 19])
    out = np.full(len(c), "", dtype=object)
    for iso3, divisions in cat.DIVISIONS.items():
        if iso3 not in world.iso3:
            continue
        rows = np.flatnonzero(c == world.iso3.index(iso3))
        rows = rows[rng.random(len(rows)) < cat.DIVISION_SHARE[iso3]]
        which = choose(rng, tuple((k, w) for k, (_, w) in enumerate(divisions)), len(rows))
        forms = [(names, (1.0,) * len(names)) for names, _ in divisions]
        out[rows] = choose_rows(rng, forms, which.astype(np.int64))
    return out


# --- dirt ------------------------------------------------------------------------------------
def _dirty(records: dict[str, np.ndarray], pool: np.ndarray, scale: float,
           rng: np.random.Generator) -> tuple[dict[str, np.ndarray], dict]:
    """Append exact duplicates and one-defect bad rows; each sits next to the row it copies."""
    n = len(records["seizure_id"])
    n_dup = min(3000, max(10, round(300 * scale)))
    counts = {k: min(300, max(3, round(v * scale))) for k, v in _BAD_ROWS.items()}
    picks = rng.choice(pool, size=n_dup + sum(counts.values()), replace=False)
    rows = np.concatenate([np.arange(n), picks])
    out = {k: v[rows].copy() for k, v in records.items()}
    key = np.concatenate([np.arange(n, dtype=float), picks + .5])
    width = len(records["seizure_id"][0]) - 4
    pos = n + n_dup
    for kind, k in counts.items():
        sl = slice(pos, pos + k)
        out["seizure_id"][sl] = [f"SYN-{n + i + 1:0{width}d}" for i in range(pos - n_dup - n,
                                                                          pos - n_dup - n + k)]
        dates = out["date"][sl]
        if kind == "negative_quantity":
            out["quantity"][sl] = -out["quantity"][sl]
        elif kind == "impossible_date":
            patterns = ("{y}-02-30", "{y}-13-{d}", "{y}-04-31", "{y}-00-{d}", "{y}-{m}-32")
            which = rng.integers(len(patterns), size=k)
            out["date"][sl] = [patterns[w].format(y=x[:4], m=x[5:7], d=x[8:10])
                               for w, x in zip(which, dates, strict=True)]
        elif kind == "future_date":
            years = rng.integers(2030, 2034, size=k)
            out["date"][sl] = [f"{y}-{x[5:7]}-{min(int(x[8:10]), 28):02d}"
                               for y, x in zip(years, dates, strict=True)]
            key[sl] = n + 1e6
        elif kind == "unknown_unit":
            out["unit"][sl] = choose(rng, tuple((u, 1.0) for u in cat.UNKNOWN_UNITS), k)
        elif kind == "unknown_country":
            out["country"][sl] = choose(rng, tuple((u, 1.0) for u in cat.UNKNOWN_COUNTRIES), k)
        elif kind == "empty_drug":
            out["drug"][sl] = ""
        pos += k
    order = np.argsort(key, kind="stable")
    out = {k: v[order] for k, v in out.items()}
    dirt = {"duplicates": n_dup, "bad_rows": counts,
            "values": {"unknown_unit": list(cat.UNKNOWN_UNITS),
                       "unknown_country": list(cat.UNKNOWN_COUNTRIES)}}
    return out, dirt


# --- the world -------------------------------------------------------------------------------
def _check(seed: int, scale: float) -> None:
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise NarcotrendError(f"`seed` must be a non-negative integer, got {seed!r}")
    if isinstance(scale, bool) or not isinstance(scale, int | float) or not 0 < scale <= 50:
        raise NarcotrendError(f"`scale` must be a number in (0, 50], got {scale!r}")


def generate_world(seed: int = 7, scale: float = 1.0, *, signed_share: float | None = None,
                   ) -> tuple[pd.DataFrame, dict]:
    """The synthetic seizure records (canonical columns, reporters' spellings, dirt included)
    and the truth: planted events, distractors, the exact dirt counts and the linked cases
    (`signed_share`: see `plant_cases`). No I/O."""
    _check(seed, scale)
    rng = np.random.default_rng(seed)
    world = _build_world(scale, rng)
    plan = draw_plan(seed, world.names)
    lam = _rates(world, scale, rng)
    _applypublished_events(lam, world, scale, plan)
    counts = rng.poisson(lam)
    c, s, t = np.unravel_index(np.repeat(np.arange(counts.size), counts.ravel()), counts.shape)
    sub_index = {sub.name: j for j, sub in enumerate(world.subs)}
    outliers = [o for o in plan.outliers if o[0] in world.iso3]
    n_genuine = len(c)
    c = np.concatenate([c, [world.iso3.index(o[0]) for o in outliers]]).astype(np.int64)
    s = np.concatenate([s, [sub_index[o[1]] for o in outliers]]).astype(np.int64)
    t = np.concatenate([t, [month_index(o[3]) for o in outliers]]).astype(np.int64)
    n = len(c)

    days_in = np.array([pd.Period(period_label(m)).days_in_month for m in range(N_MONTHS)])
    day = (rng.random(n) * days_in[t]).astype(np.int64) + 1
    day[n_genuine:] = [o[4] for o in outliers]
    kg = _sizes(world, c, s, t, plan, rng)
    for k, o in enumerate(outliers, start=n_genuine):  # at least 5x the series' biggest month
        same = np.flatnonzero((c[:n_genuine] == c[k]) & (s[:n_genuine] == s[k]))
        top = monthly(kg[same], t[same]).max(initial=0.0)
        kg[k] = max(o[5], math.ceil(5 * top / 100) * 100)
    outliers = [o[:5] + (float(kg[k]),) + o[6:] for k, o in enumerate(outliers, start=n_genuine)]
    routes = draw_routes(world, c, s, t, plan, rng)
    for k, o in enumerate(outliers, start=n_genuine):
        routes["mode"][k], routes["origin"][k], routes["destination"][k] = o[6], o[7], o[0]
        routes["departure"][k] = routes["transit"][k] = ""
    date_table = np.array([[f"{period_label(m)}-{d:02d}" for d in range(32)]
                           for m in range(N_MONTHS)], dtype=object)
    records = _written(world, c, s, date_table[t, day], kg, routes, rng)
    cplan = draw_concealment_plan(seed, plan)
    records["concealment"] = plant_concealment(world, c, s, t, records["concealment"], cplan,
                                               seed)
    concealment_event, concealment_distractor = published_concealment(
        world, c, s, t, records["concealment"], cplan)
    for k, o in enumerate(outliers, start=n_genuine):
        records["drug"][k], records["unit"][k], records["quantity"][k] = o[2], "kg", o[5]

    order = np.lexsort((rng.random(n), day, t))
    records = {k: v[order] for k, v in records.items()}
    width = max(6, len(str(n + 10_000)))
    records["seizure_id"] = np.array([f"SYN-{i:0{width}d}" for i in range(1, n + 1)], dtype=object)
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n)
    outlier_ids = [records["seizure_id"][rank[k]] for k in range(n_genuine, n)]

    records["admin1"] = _divisions(world, c[order], seed)
    gap_c = [world.iso3.index(g) for g, _, _ in plan.gaps if g in world.iso3]
    pool = np.flatnonzero(~np.isin(c[order], gap_c) & (order < n_genuine))
    records, dirt = _dirty(records, pool, scale, rng)
    frame = pd.DataFrame({col: records[col] for col in COLUMNS})
    for col in COLUMNS:
        if frame[col].dtype == object:
            frame[col] = frame[col].where(frame[col] != "", None)
    frame, cases = plant_cases(frame, world, seed, scale, signed_share)  # own random stream
    truth = {"seed": int(seed), "scale": float(scale), "start": START, "end": END,
             "countries": len(world.iso3), "substances": len(world.subs),
             "events": [*published_events(world, c, s, t, kg, routes, plan), concealment_event],
             "distractors": [*published_distractors(world, plan, outliers, outlier_ids),
                             concealment_distractor], "dirt": dirt, "cases": cases}
    return frame, truth


def _quantity_text(quantity: pd.Series) -> pd.Series:
    """Whole numbers without a decimal point, others in their shortest exact form."""
    q = quantity.to_numpy(float)
    whole = q == np.floor(q)
    return pd.Series(np.where(whole, np.floor(q).astype(np.int64).astype(str), q.astype(str)),
                     index=quantity.index)


def write_world(out_dir: Path, seed: int = 7, scale: float = 1.0, *,
                signed_share: float | None = None) -> dict:
    """Write seizures.csv and events.json into `out_dir`; the same seed gives the same bytes."""
    out_dir = Path(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise NarcotrendError(f"cannot create the output folder {out_dir}: {err.strerror}") from err
    frame, truth = generate_world(seed, scale, signed_share=signed_share)
    seizures_path, events_path = out_dir / SEIZURES_FILE, out_dir / EVENTS_FILE
    frame.assign(quantity=_quantity_text(frame["quantity"])).to_csv(
        seizures_path, index=False, lineterminator="\n", encoding="utf-8")
    events_path.write_text(json.dumps(truth, indent=2, sort_keys=True, ensure_ascii=False) + "\n",
                           encoding="utf-8")
    return {"records": len(frame), "events": len(truth["events"]),
            "distractors": len(truth["distractors"]), "seizures_path": str(seizures_path),
            "events_path": str(events_path)}
