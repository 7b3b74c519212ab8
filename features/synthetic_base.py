"""What the synthetic world's modules share: its months, the resolved world (countries,
substances, rates) and the weighted draws."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from features import synthetic_catalog as cat

START, END = "2016-01", "2024-12"
N_MONTHS = 108


def month_index(period: str) -> int:
    """Months since 2016-01 of a "YYYY-MM" period."""
    year, month = int(period[:4]), int(period[5:7])
    return (year - 2016) * 12 + month - 1


def period_label(t: int) -> str:
    return f"{2016 + t // 12:04d}-{t % 12 + 1:02d}"


@dataclass
class World:
    """The world's catalog resolved to arrays: countries (C), substances (S), rates (C x S)."""

    iso3: list[str]
    region: np.ndarray
    subregion: np.ndarray
    spellings: list[tuple[tuple[str, ...], tuple[float, ...]]]
    subs: list[cat.Substance]
    group_of: np.ndarray
    base: np.ndarray
    size_mu: np.ndarray
    names: dict[str, str]
    geo_region: dict[str, str]


def drug_mask(world: World, event: dict) -> np.ndarray:
    if event["drug_level"] == "group":
        return world.group_of == cat.GROUPS.index(event["drug"])
    return np.array([s.name == event["drug"] for s in world.subs])


def choose(rng: np.random.Generator, weights: cat.Weights | tuple, n: int) -> np.ndarray:
    """n labels drawn from (label, weight) pairs, as an object array."""
    labels = np.empty(len(weights), dtype=object)
    labels[:] = [lab for lab, _ in weights]
    p = np.asarray([w for _, w in weights], float)
    return labels[rng.choice(len(labels), size=n, p=p / p.sum())]


def choose_rows(rng: np.random.Generator, forms: list[tuple[tuple, tuple]],
                 row: np.ndarray) -> np.ndarray:
    """For each record, one spelling of its row (country, substance, mode) by that row's weights."""
    width = max(len(f) for f, _ in forms)
    labels = np.full((len(forms), width), "", dtype=object)
    cum = np.full((len(forms), width), 2.0)
    for i, (f, w) in enumerate(forms):
        labels[i, :len(f)] = f
        cum[i, :len(w)] = np.cumsum(np.asarray(w) / sum(w))
    u = rng.random(len(row))
    pick = np.minimum((u[:, None] >= cum[row]).sum(axis=1), width - 1)
    return labels[row, pick]
