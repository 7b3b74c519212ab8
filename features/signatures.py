"""Signature columns of a seizure: what its tablets or bricks look like and what they contain.

Physical marks (logo, colour, shape, the weight of one tablet or brick, packaging) and chemistry
(purity, an impurity profile written `compound=value;compound=value`) are what forensic drug
intelligence links seizures by (issue 21). They are all optional. `add_signatures` normalises
them at ingest so that two reporters writing the same mark write the same value, and names a
quarantine reason for the malformed ones (a weight that is no number, a purity outside 0-100, a
profile that does not parse, has a negative value or fewer than `MIN_COMPOUNDS` compounds).
Every function works on distinct values, like `features.normalise`.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd

from features.normalise import map_unique
from features.schema import SIGNATURE_COLUMNS, Reason

MIN_COMPOUNDS = 3
_WEIGHT_UNITS_G = {"": 1.0, "g": 1.0, "gr": 1.0, "gram": 1.0, "grams": 1.0, "mg": 1e-3,
                   "kg": 1e3, "kilo": 1e3, "kilos": 1e3, "kgs": 1e3}
_NUMBER_UNIT = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:e[-+]?[0-9]+)?)\s*([a-z]*)\s*$")
_COLOURS = {"gray": "grey", "rose": "pink", "rosa": "pink", "bleu": "blue", "blau": "blue",
            "rouge": "red", "rot": "red", "vert": "green", "gruen": "green", "grün": "green",
            "jaune": "yellow", "gelb": "yellow", "blanc": "white", "weiss": "white",
            "weiß": "white", "noir": "black", "schwarz": "black", "violet": "purple",
            "lila": "purple", "orange": "orange", "marron": "brown", "braun": "brown",
            "off-white": "white", "offwhite": "white", "light blue": "blue", "dark blue": "blue"}
_SHAPES = {"circle": "round", "circular": "round", "rond": "round", "rund": "round",
           "rectangular": "rectangle", "rectangle": "rectangle", "block": "brick",
           "bloc": "brick", "brick": "brick", "oval": "oval", "ovale": "oval",
           "triangular": "triangle", "heart-shaped": "heart", "coeur": "heart",
           "square": "square", "carré": "square", "pentagonal": "pentagon"}


def logo_key(text: pd.Series) -> pd.Series:
    """A logo as one key: lower case, letters and digits only ('Tesla ', 'TESLA', 't-e-s-l-a'
    -> 'tesla'); null when nothing is left."""
    def _key(uniques: pd.Series) -> pd.DataFrame:
        keys = [re.sub(r"[^0-9a-z]+", "", str(v).casefold()) or None for v in uniques]
        return pd.DataFrame({"key": pd.Series(keys, dtype=object)})
    return _mapped(text, _key)


def normalise_words(text: pd.Series, synonyms: dict[str, str]) -> pd.Series:
    """Lower-case words with their synonyms (other languages, spellings) replaced."""
    def _norm(uniques: pd.Series) -> pd.DataFrame:
        out = []
        for value in uniques:
            word = re.sub(r"\s+", " ", str(value).casefold().replace("_", " ")).strip()
            out.append(synonyms.get(word, word) or None)
        return pd.DataFrame({"word": pd.Series(out, dtype=object)})
    return _mapped(text, _norm)


def parse_weights(text: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Grams of one tablet or brick ('0.3', '300 mg', '1 kg'), and a mask of malformed values
    (no number, an unknown unit, zero or less)."""
    def _parse(uniques: pd.Series) -> pd.DataFrame:
        grams, bad = [], []
        for value in uniques:
            match = _NUMBER_UNIT.match(str(value).casefold().replace(",", "."))
            factor = _WEIGHT_UNITS_G.get(match.group(2)) if match else None
            g = round(float(match.group(1)) * factor, 6) if factor is not None else math.nan
            ok = math.isfinite(g) and g > 0
            grams.append(g if ok else math.nan)
            bad.append(not ok)
        return pd.DataFrame({"g": np.asarray(grams, float), "bad": np.asarray(bad, float)})
    parsed = map_unique(text, _parse)
    return parsed["g"], parsed["bad"].fillna(0).astype(bool)


def parse_purity(text: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Purity in percent ('78', '78 %', '78.5%'), and a mask of values not in [0, 100]."""
    def _parse(uniques: pd.Series) -> pd.DataFrame:
        values = pd.to_numeric(uniques.astype(str).str.replace("%", "", regex=False)
                               .str.strip(), errors="coerce").to_numpy(float)
        ok = np.isfinite(values) & (values >= 0) & (values <= 100)
        return pd.DataFrame({"pct": np.where(ok, values, np.nan), "bad": (~ok).astype(float)})
    parsed = map_unique(text, _parse)
    return parsed["pct"], parsed["bad"].fillna(0).astype(bool)


def parse_profile(value: str) -> dict[str, float] | None:
    """`compound=value;...` as {compound: value} (lower-case names), or None when malformed:
    a part without '=', a value that is no finite non-negative number, a compound named twice,
    or fewer than MIN_COMPOUNDS compounds."""
    out: dict[str, float] = {}
    for part in str(value).split(";"):
        if not part.strip():
            continue
        name, sep, number = part.partition("=")
        name = re.sub(r"\s+", " ", name.strip().casefold())
        try:
            amount = float(number.strip())
        except ValueError:
            return None
        if not sep or not name or name in out or not math.isfinite(amount) or amount < 0:
            return None
        out[name] = amount
    return out if len(out) >= MIN_COMPOUNDS else None


def format_profile(profile: dict[str, float]) -> str:
    """The stored form: compounds in name order, values in their shortest form."""
    return ";".join(f"{name}={amount:g}" for name, amount in sorted(profile.items()))


def normalise_profiles(text: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Profiles in their stored form, and a mask of the malformed ones."""
    def _parse(uniques: pd.Series) -> pd.DataFrame:
        parsed = [parse_profile(v) for v in uniques]
        return pd.DataFrame({
            "profile": pd.Series([format_profile(p) if p else None for p in parsed], dtype=object),
            "bad": np.asarray([p is None for p in parsed], float)})
    parsed = map_unique(text, _parse)
    return parsed["profile"], parsed["bad"].fillna(0).astype(bool)


def add_signatures(records: pd.DataFrame, text: dict[str, pd.Series], reasons: pd.Series,
                   ) -> tuple[pd.DataFrame, pd.Series]:
    """`records` with the normalised signature columns, and `reasons` with the signature
    reasons filled in for rows that passed every other check (the first failing check wins).

    `text` holds the cleaned input text per canonical column (null when empty or 'Unknown').
    """
    index = records.index
    column = {c: text.get(c, pd.Series(None, index=index, dtype=object)) for c in
              SIGNATURE_COLUMNS}
    weight, bad_weight = parse_weights(column["unit_weight_g"])
    purity, bad_purity = parse_purity(column["purity_pct"])
    profile, bad_profile = normalise_profiles(column["profile"])
    out = records.assign(
        logo=_plain(normalise_words(column["logo"], {})),
        colour=_plain(normalise_words(column["colour"], _COLOURS)),
        shape=_plain(normalise_words(column["shape"], _SHAPES)),
        unit_weight_g=weight.to_numpy(float),
        purity_pct=purity.to_numpy(float),
        packaging=_plain(normalise_words(column["packaging"], {})),
        profile=_plain(profile),
    )
    reasons = reasons.copy()
    for reason, bad in ((Reason.MALFORMED_UNIT_WEIGHT, bad_weight),
                        (Reason.MALFORMED_PURITY, bad_purity),
                        (Reason.MALFORMED_PROFILE, bad_profile)):
        reasons[reasons.isna().to_numpy() & bad.to_numpy()] = reason
    return out, reasons


def has_signature(records: pd.DataFrame) -> np.ndarray:
    """Rows that carry at least one signature field (the candidates for linkage)."""
    present = [c for c in SIGNATURE_COLUMNS if c in records.columns]
    if not present:
        return np.zeros(len(records), dtype=bool)
    return records[present].notna().any(axis=1).to_numpy()


def _mapped(text: pd.Series, func) -> pd.Series:  # noqa: ANN001 - a map_unique function
    result = map_unique(text, func)
    return result[result.columns[0]]


def _plain(values: pd.Series) -> np.ndarray:
    return values.astype(object).where(values.notna(), None).to_numpy(dtype=object)


__all__ = ["MIN_COMPOUNDS", "add_signatures", "format_profile", "has_signature", "logo_key",
           "normalise_profiles", "normalise_words", "parse_profile", "parse_purity",
           "parse_weights"]
