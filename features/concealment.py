"""Concealment methods: the reviewed concealment taxonomy
(`data/reference/concealment_taxonomy.csv`) applied to each record's concealment text.

A record's text is split into parts (`" | "`: UNODC IDS joins HIDING_PLACE | INSTALLATION |
ROUTING). A part equal to a taxonomy name takes that line; otherwise the taxonomy's hiding
terms are found in the part as whole words ("hidden in a false floor, truck" -> `truck`; place
terms such as `bar` or `court` only match a whole part, as free text uses them for other things).
Of the terms found, the method is decided by, in order:

1. kind: a `hiding` term (where the drug itself was) before a `place` term (where it was found,
   or what it was wrapped in): place terms decide only where no hiding term is present;
2. a named method before `other`, and `other` before `unknown`;
3. the first in the text.

Text with no term at all is `unknown` and its parts are counted (`unknown_parts`), so that the
ingest report can list what the taxonomy should learn. No text at all is null (not reported).
The original text is never changed: records keep `concealment` beside `concealment_method`.
Work is done once per distinct text.
"""

from __future__ import annotations

import re
from collections import Counter
from functools import lru_cache
from pathlib import Path

import pandas as pd

from core.taxonomy import REFERENCE_DIR
from features.normalise import map_unique

CONCEALMENT_FILE = REFERENCE_DIR / "concealment_taxonomy.csv"
METHODS: tuple[str, ...] = ("postal_parcel", "luggage", "body_carrier", "on_person",
                            "vehicle_compartment", "container_cargo", "vessel", "premises",
                            "other", "unknown")
UNKNOWN_METHOD = "unknown"
KINDS: tuple[str, ...] = ("hiding", "place")
PART_SEPARATOR = "|"


@lru_cache(maxsize=4)
def read_concealment_taxonomy(path: Path = CONCEALMENT_FILE) -> pd.DataFrame:
    """The table as reviewed: `name` (lower case), `method`, `kind`; checked on reading."""
    table = pd.read_csv(path, dtype=str, keep_default_na=False, comment="#")
    table["name"] = table["name"].str.strip().str.lower()
    bad_methods = sorted(set(table["method"]) - set(METHODS))
    bad_kinds = sorted(set(table["kind"]) - set(KINDS))
    twice = sorted(table.loc[table["name"].duplicated(), "name"])
    if bad_methods or bad_kinds or twice:
        raise ValueError(f"{path}: unknown methods {bad_methods}, unknown kinds {bad_kinds}, "
                         f"names listed twice {twice}")
    return table


class _Matcher:
    """Exact part lookup and one whole-word regex over the hiding terms (longest first)."""

    def __init__(self, table: pd.DataFrame):
        self.terms = {n: (m, k) for n, m, k in zip(table["name"], table["method"],
                                                    table["kind"], strict=True)}
        names = sorted((n for n, (_, k) in self.terms.items() if k == "hiding"),
                       key=lambda n: (-len(n), n))
        self.words = re.compile(r"(?<!\w)(" + "|".join(map(re.escape, names)) + r")(?!\w)")

    def terms_in(self, part: str) -> list[tuple[str, str]]:
        key = " ".join(part.lower().split())
        if key in self.terms:
            return [self.terms[key]]
        return [self.terms[m.group(1)] for m in self.words.finditer(key)]


@lru_cache(maxsize=4)
def _matcher(path: Path = CONCEALMENT_FILE) -> _Matcher:
    return _Matcher(read_concealment_taxonomy(path))


def _rank(term: tuple[str, str]) -> tuple[int, int]:
    method, kind = term
    return (KINDS.index(kind), 2 if method == UNKNOWN_METHOD else int(method == "other"))


def method_of(text: object, matcher: _Matcher | None = None) -> tuple[str | None, list[str]]:
    """The method of one concealment text (None without text) and its parts no term matched."""
    if not isinstance(text, str) or not text.strip():
        return None, []
    matcher = matcher or _matcher()
    found: list[tuple[str, str]] = []
    unmatched: list[str] = []
    for part in (p.strip() for p in text.split(PART_SEPARATOR)):
        if not part:
            continue
        terms = matcher.terms_in(part)
        found += terms
        if not terms:
            unmatched.append(" ".join(part.lower().split()))
    if not found:
        return UNKNOWN_METHOD, unmatched
    return min(found, key=_rank)[0], unmatched  # min keeps the first of equal rank


def classify_concealment(texts: pd.Series) -> pd.Series:
    """The method of every text (categorical; null where there is no text), computed once per
    distinct text."""
    matcher = _matcher()

    def _classify(uniques: pd.Series) -> pd.DataFrame:
        return pd.DataFrame({"method": [method_of(t, matcher)[0] for t in uniques]})

    return map_unique(texts.astype(object), _classify)["method"]


def unknown_parts(texts: pd.Series, top: int = 20) -> dict[str, int]:
    """The most frequent text parts no taxonomy term matched, with their row counts."""
    matcher = _matcher()
    counts: Counter[str] = Counter()
    for text, n in texts.dropna().astype(str).value_counts().items():
        for part in method_of(text, matcher)[1]:
            counts[part] += int(n)
    return dict(counts.most_common(top))


def known_method(methods: pd.Series) -> pd.Series:
    """Whether each method is known (a method other than `unknown`; null is not known)."""
    return methods.notna() & (methods.astype(object) != UNKNOWN_METHOD)
