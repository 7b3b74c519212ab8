"""The reviewed drug taxonomy (`data/reference/drug_taxonomy.csv`) and the drug matchers that
subscriptions, silences, alert filters and digests share.

A substance never has the name of a group (the group "cocaine" holds "cocaine hydrochloride"...),
so a filter drug names either a group, which covers its substances, or one substance.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

import pandas as pd

from core.errors import NarcotrendError

REFERENCE_DIR = Path(__file__).resolve().parents[1] / "data" / "reference"
TAXONOMY_FILE = REFERENCE_DIR / "drug_taxonomy.csv"
UNIT_FILE = REFERENCE_DIR / "unit_factors.csv"

DRUG_GROUPS: tuple[str, ...] = (
    "cannabis", "cocaine", "opioids", "amphetamine-type stimulants", "NPS", "sedatives",
    "precursors", "other",
)
UNCLASSIFIED = "unclassified"  # group of names the taxonomy does not know (kept, reported)

FORBIDDEN_CHARS = ("\r", "\n", "\0")


@lru_cache(maxsize=4)
def read_taxonomy(path: Path = TAXONOMY_FILE) -> pd.DataFrame:
    """The taxonomy as reviewed: `name` (as reporters write it), `substance`, `group`,
    `kg_per_unit` (NaN where the substance has no weight per counted unit)."""
    table = pd.read_csv(path, dtype={"name": str, "substance": str, "group": str},
                        keep_default_na=False, comment="#")
    table["kg_per_unit"] = pd.to_numeric(table["kg_per_unit"], errors="coerce")
    unknown_groups = sorted(set(table["group"]) - set(DRUG_GROUPS))
    if unknown_groups:
        raise ValueError(f"{path}: unknown drug groups {unknown_groups}; allowed: {DRUG_GROUPS}")
    return table


@cache
def substance_groups() -> dict[str, str]:
    """Lower-case substance -> its drug group."""
    table = read_taxonomy()
    return {str(s).lower(): str(g) for s, g in zip(table["substance"], table["group"],
                                                    strict=True)}


def substance_group(substance: str, groups: dict[str, str] | None = None) -> str:
    """The drug group of a substance series' drug: the taxonomy's, else ``unclassified`` (a
    name the taxonomy does not know is kept as reported, in that group: features.normalise; one
    the build renamed ``... (substance)`` is such a name: features.series)."""
    return (substance_groups() if groups is None else groups).get(str(substance).lower(),
                                                                   UNCLASSIFIED)


def series_group(drug_level: str, drug: str, groups: dict[str, str] | None = None) -> str:
    """The drug group a series belongs to: a group series' own name, a substance's group."""
    return drug if drug_level == "group" else substance_group(drug, groups)


@cache
def known_drugs() -> dict[str, str]:
    """Lower-case name -> the drug as series name it: the groups first (`cocaine` is the group),
    then the taxonomy's substances, then its reported spellings (`ecstasy` -> `MDMA`)."""
    table = read_taxonomy()
    names: dict[str, str] = {}
    for spelling, substance in zip(table["name"], table["substance"], strict=True):
        names.setdefault(" ".join(str(spelling).replace('"', "").lower().split()), str(substance))
    names.update({str(s).lower(): str(s) for s in table["substance"]})
    names.update({g.lower(): g for g in (*DRUG_GROUPS, UNCLASSIFIED)})
    return names


def normalise_drugs(drugs: Iterable[str], series_drugs: Iterable[str] = ()) -> list[str]:
    """Each filter drug as the group or substance series name it; unknown names refused (a
    misspelt filter would silently never match). `series_drugs`, the drugs of the built
    series, adds the names the taxonomy does not know but the data has (unclassified ones)."""
    known = {**{str(d).lower(): str(d) for d in series_drugs}, **known_drugs()}
    out: list[str] = []
    for drug in drugs:
        text = " ".join(str(drug).split())
        if not text or len(text) > 64 or any(ch in str(drug) for ch in FORBIDDEN_CHARS):
            raise NarcotrendError(f"drug {drug!r} must be a group or substance name of 1 to 64 "
                                  "characters without line breaks, e.g. cocaine")
        name = known.get(text.lower())
        if name is None:
            raise NarcotrendError(f"unknown drug {text!r}: give a drug group (cocaine, opioids, "
                                  "cannabis, amphetamine-type stimulants, NPS, ...) or a "
                                  "substance of data/reference/drug_taxonomy.csv")
        if name not in out:
            out.append(name)
    return out


def drug_covers(drug: str, alert: Mapping[str, Any],
                groups: Mapping[str, str] | None = None) -> bool:
    """True when a filter drug names the alert's drug, or the group of the alert's substance.

    `groups` (lower-case substance -> group) defaults to the reviewed taxonomy.
    """
    wanted = drug.lower()
    alert_drug = str(alert.get("drug", ""))
    if wanted == alert_drug.lower():
        return True
    if alert.get("drug_level") != "substance":
        return False
    group = (substance_groups() if groups is None else groups).get(alert_drug.lower())
    return group is not None and wanted == group.lower()
