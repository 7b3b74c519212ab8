"""Linked cases planted in the synthetic world: batches, lookalikes, singletons (issue 21).

A *batch* is one consignment or lab batch: seizures of one substance spread over one to several
countries and weeks to months that share their logo, colour, shape, tablet or brick weight,
purity, packaging and chemical profile, up to measurement noise, reporters' spellings and missing
fields. A *lookalike* carries a popular logo (Tesla, Mitsubishi...) pressed by many unrelated
labs, with chemistry of its own; a *singleton* has a signature nobody shares. Only the signature
columns are written: the world's other columns, and the events of every other kind, stay what
they were, because the cases draw from their own random stream (`[seed, 21]`) over records that
already exist. `plant_cases` returns the frame with the signature columns and the truth (events
key `cases`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.schema import SIGNATURE_COLUMNS
from features.synthetic_base import World

CASES_STREAM = 21  # the issue number: the cases' random stream is default_rng([seed, 21])
# substance -> (kind, unit weight range in grams, purity range in percent)
CASE_SUBSTANCES: dict[str, tuple[str, tuple[float, float], tuple[float, float]]] = {
    "MDMA": ("tablet", (.2, .5), (20, 60)),
    "captagon": ("tablet", (.15, .25), (5, 30)),
    "methamphetamine tablets": ("tablet", (.08, .12), (10, 35)),
    "cocaine hydrochloride": ("brick", (1000, 1250), (55, 92)),
    "heroin": ("brick", (350, 1000), (30, 75)),
}
POPULAR_LOGOS = {"tablet": ("Tesla", "Mitsubishi", "Rolex", "Superman", "Red Bull",
                            "Playstation"),
                 "brick": ("Scorpion", "Crown", "999", "Horse")}
_WORDS_A = ("blue", "red", "gold", "black", "white", "green", "pink", "silver", "royal", "wild",
            "happy", "dark", "crazy", "lucky", "iron", "cosmic", "magic", "little", "big", "hot")
_WORDS_B = ("punisher", "dragon", "skull", "diamond", "rabbit", "tiger", "eagle", "rocket",
            "angel", "cherry", "panda", "shark", "phoenix", "lion", "star", "crown", "dolphin",
            "ghost", "bull", "cobra")
COLOURS = {"tablet": ("pink", "blue", "yellow", "green", "orange", "purple", "white", "red"),
           "brick": ("white", "off-white", "brown", "beige")}
COLOUR_SPELLINGS = {"pink": ("Pink", "rose"), "blue": ("Blue", "bleu"), "white": ("White", "blanc"),
                    "grey": ("Gray",), "red": ("Red", "rouge"), "green": ("Green", "vert")}
SHAPES = {"tablet": ("round", "oval", "rectangle", "triangle", "heart", "pentagon"),
          "brick": ("brick", "rectangle")}
PACKAGING = {"tablet": ("zip bag", "vacuum bag", "blister", "plastic tub", "loose"),
             "brick": ("black tape", "yellow tape, scorpion sticker", "cling film, wax",
                       "green tape, stamp", "vacuum pack, coffee", "red tape, crown stamp")}
COMPOUNDS = {"tablet": tuple(f"t{i:02d}" for i in range(16)),
             "brick": tuple(f"b{i:02d}" for i in range(16))}
N_BATCHES = 90
N_SINGLETONS = 4000
LOOKALIKE_SHARE = .35  # of singletons, carry a popular logo
MISSING = {"logo": .1, "colour": .15, "shape": .15, "unit_weight_g": .15, "purity_pct": .3,
           "packaging": .3, "profile": .15}
MISSPELT_LOGO = .08


def _chemistry(rng: np.random.Generator, kind: str) -> dict[str, float]:
    """A lab's impurity profile: 6 to 9 compounds of its kind's pool, lognormal amounts."""
    pool = COMPOUNDS[kind]
    names = rng.choice(pool, size=int(rng.integers(6, 10)), replace=False)
    return {str(n): float(v) for n, v in zip(names, rng.lognormal(0, 1.2, len(names)),
                                              strict=True)}


def _signature(rng: np.random.Generator, kind: str, weights: tuple[float, float],
               purity: tuple[float, float], popular: bool) -> dict[str, object]:
    logo = (str(rng.choice(POPULAR_LOGOS[kind])) if popular
            else f"{rng.choice(_WORDS_A)} {rng.choice(_WORDS_B)} {rng.integers(1, 100)}".title())
    return {"logo": logo, "colour": str(rng.choice(COLOURS[kind])),
            "shape": str(rng.choice(SHAPES[kind])),
            "unit_weight_g": float(rng.uniform(*weights)),
            "purity_pct": float(rng.uniform(*purity)),
            "packaging": str(rng.choice(PACKAGING[kind])), "profile": _chemistry(rng, kind)}


def _misspell(rng: np.random.Generator, text: str) -> str:
    """One reporter's slip: a letter dropped or two swapped, or spacing and case."""
    letters = list(text)
    i = int(rng.integers(1, max(len(letters) - 1, 2)))
    how = rng.integers(3)
    if how == 0 and len(letters) > 4:
        del letters[i]
    elif how == 1 and i < len(letters) - 1:
        letters[i - 1], letters[i] = letters[i], letters[i - 1]
    else:
        return " ".join(text.upper())
    return "".join(letters)


def _written(rng: np.random.Generator, sig: dict[str, object], noisy: bool) -> dict[str, object]:
    """A signature as one seizure's report gives it: noise, spellings, missing fields."""
    out: dict[str, object] = {}
    for col, value in sig.items():
        if noisy and rng.random() < MISSING[col]:
            continue
        if col == "logo" and noisy and rng.random() < MISSPELT_LOGO:
            value = _misspell(rng, str(value))
        elif col == "colour" and noisy and value in COLOUR_SPELLINGS and rng.random() < .3:
            value = str(rng.choice(COLOUR_SPELLINGS[str(value)]))
        elif col == "unit_weight_g":
            value = f"{float(value) * rng.normal(1, .01 if noisy else 0):.3g}"
        elif col == "purity_pct":
            value = f"{float(value) + (rng.normal(0, 1.5) if noisy else 0):.1f}"
        elif col == "profile":
            scale = 10 ** rng.uniform(-1, 2)  # labs report on any scale
            amounts = {k: v * scale * rng.lognormal(0, .08) for k, v in value.items()}
            value = ";".join(f"{k}={v:.4g}" for k, v in amounts.items())
        out[col] = value
    return out


def plant_cases(frame: pd.DataFrame, world: World, seed: int, scale: float = 1.0,
                signed_share: float | None = None) -> tuple[pd.DataFrame, dict]:
    """`frame` with the signature columns filled for the planted cases, and their truth.

    `signed_share` (for benchmarks) gives that share of every other record a singleton
    signature too, whatever its substance; by default `N_SINGLETONS * scale` records of the
    case substances carry one. Exact duplicate rows (same seizure_id) get the same signature.
    """
    rng = np.random.default_rng([seed, CASES_STREAM])
    name_of = {name: sub.name for sub in world.subs for name, _ in sub.names}
    first = ~frame["seizure_id"].duplicated().to_numpy()
    ids = frame["seizure_id"].to_numpy(object)[first]
    substance = frame["drug"].map(name_of).to_numpy(object)[first]
    country = frame["country"].to_numpy(object)[first]
    dates = pd.to_datetime(frame["date"], errors="coerce").to_numpy()[first]
    iso = _country_iso3(world, country)
    free = ~pd.isna(dates) & pd.notna(iso)
    signature: dict[str, dict[str, object]] = {}
    batches = []
    subs = [s for s in CASE_SUBSTANCES if (substance == s).sum() > 50]
    for b in range(round(N_BATCHES * scale)):
        sub = str(rng.choice(subs))
        kind, weights, purity = CASE_SUBSTANCES[sub]
        pool = np.flatnonzero(free & (substance == sub))
        anchor = int(rng.choice(pool))
        n_countries = int(rng.choice([1, 2, 3, 4, 5], p=[.4, .3, .15, .1, .05]))
        others = pd.unique(iso[pool][iso[pool] != iso[anchor]])
        countries = [iso[anchor], *rng.choice(others, size=min(n_countries - 1, len(others)),
                                              replace=False)]
        span = np.timedelta64(int(rng.integers(21, 240)), "D")
        window = (dates >= dates[anchor]) & (dates <= dates[anchor] + span)
        candidates = np.flatnonzero(free & (substance == sub) & window & np.isin(iso, countries))
        size = min(len(candidates), int(rng.integers(2, 30)))
        members = rng.choice(candidates, size=size, replace=False) if size >= 2 else []
        if len(members) < 2:
            continue
        sig = _signature(rng, kind, weights, purity, popular=rng.random() < .3)
        for m in members:
            signature[ids[m]] = _written(rng, sig, noisy=True)
        free[members] = False
        batches.append({"case_id": f"case-{b + 1:03d}", "substance": sub,
                        "logo": sig["logo"], "countries": sorted(set(iso[members])),
                        "first": str(pd.Timestamp(dates[members].min()).date()),
                        "last": str(pd.Timestamp(dates[members].max()).date()),
                        "seizures": sorted(str(ids[m]) for m in members)})
    singles = _singletons(rng, free, substance, scale, signed_share)
    lookalikes = 0
    for k in singles:
        sub = str(substance[k]) if substance[k] in CASE_SUBSTANCES else None
        kind, weights, purity = CASE_SUBSTANCES.get(sub, ("brick", (1, 1000), (5, 95)))
        popular = sub is not None and rng.random() < LOOKALIKE_SHARE
        lookalikes += popular
        signature[ids[k]] = _written(rng, _signature(rng, kind, weights, purity, popular), False)
    table = pd.DataFrame.from_dict(signature, orient="index", columns=list(SIGNATURE_COLUMNS))
    table = table.reindex(frame["seizure_id"].to_numpy(object))
    out = frame.copy()
    for col in SIGNATURE_COLUMNS:
        out[col] = table[col].to_numpy(object)
    truth = {"batches": batches, "singletons": len(singles), "lookalikes": int(lookalikes),
             "popular_logos": sorted({x for v in POPULAR_LOGOS.values() for x in v})}
    return out, truth


def _singletons(rng: np.random.Generator, free: np.ndarray, substance: np.ndarray,
                scale: float, signed_share: float | None) -> np.ndarray:
    if signed_share is not None:
        pool = np.flatnonzero(free)
        return np.sort(rng.choice(pool, size=round(signed_share * len(pool)), replace=False))
    pool = np.flatnonzero(free & np.isin(substance, list(CASE_SUBSTANCES)))
    return np.sort(rng.choice(pool, size=min(len(pool), round(N_SINGLETONS * scale)),
                              replace=False))


def _country_iso3(world: World, written: np.ndarray) -> np.ndarray:
    """The ISO3 of each written country (codes, ISO2 or names), None for the bad rows."""
    lookup: dict[str, str] = {}
    for iso3, (forms, _) in zip(world.iso3, world.spellings, strict=True):
        for form in forms:
            lookup[form] = iso3
    return np.array([lookup.get(x) for x in written], dtype=object)


__all__ = ["CASES_STREAM", "CASE_SUBSTANCES", "POPULAR_LOGOS", "plant_cases"]
