"""Normalisation of reported values: countries, drug names, units, transport modes.

Every function here works on the *unique* values of a column and maps the result back by integer
codes, so 300k rows cost as much as their few hundred distinct spellings. The reference tables
(drug taxonomy, unit factors) live in `data/reference/` and are reviewed by people, not code.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from core.divisions import normalise_division
from core.geography import MISSING_TOKENS, country_table, match_countries
from core.taxonomy import TAXONOMY_FILE, UNCLASSIFIED, UNIT_FILE, read_taxonomy


# --- mapping over unique values --------------------------------------------------------------
def map_unique(values: pd.Series, func: Callable[[pd.Series], pd.DataFrame]) -> pd.DataFrame:
    """Apply `func` to the distinct non-null values of `values` and spread its rows back.

    `func` receives the uniques as a Series and returns a frame with one row per unique (same
    order); rows of `values` that are null get a row of nulls. Text results come back
    categorical (codes per row, one small table of values), numbers and dates as arrays.
    """
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    mapped = func(pd.Series(np.asarray(uniques, dtype=object), dtype=object))
    columns = {}
    for name in mapped.columns:
        column = mapped[name].to_numpy()
        if column.dtype.kind in "fM":
            null = np.array([np.nan if column.dtype.kind == "f" else "NaT"], dtype=column.dtype)
            columns[name] = np.append(column, null)[np.where(codes < 0, len(mapped), codes)]
        else:
            columns[name] = _spread_categorical(codes, column.astype(object))
    return pd.DataFrame(columns, index=values.index, copy=False)


def _spread_categorical(codes: np.ndarray, mapped: np.ndarray) -> pd.Categorical:
    """A categorical with row i = mapped[codes[i]] (null where codes[i] < 0 or the value is)."""
    mapped_codes, categories = pd.factorize(mapped, use_na_sentinel=True)
    row_codes = np.append(mapped_codes, -1)[np.where(codes < 0, len(mapped_codes), codes)]
    return pd.Categorical.from_codes(row_codes, categories=categories)


def fill_missing(values: pd.Series, value: str) -> pd.Series:
    """`values` with nulls replaced by `value`, categorical or not."""
    if isinstance(values.dtype, pd.CategoricalDtype) and value not in values.cat.categories:
        values = values.cat.add_categories([value])
    return values.fillna(value)


def _collapse(values: pd.Series):  # noqa: ANN202 - returns a pyarrow StringArray
    """Whitespace collapsed and stripped, by Arrow kernels (no per-value Python)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    array = pa.array(values.astype(str).to_numpy(dtype=object), type=pa.string())
    return pc.utf8_trim_whitespace(pc.replace_substring_regex(array, r"[\s\pZ]+", " "))


def _clean_array(values: pd.Series) -> pd.Series:
    import pyarrow as pa
    import pyarrow.compute as pc

    text = _collapse(values)
    missing = pc.is_in(pc.utf8_lower(text), value_set=pa.array(sorted(MISSING_TOKENS)))
    text = pc.if_else(missing, pa.scalar(None, pa.string()), text)
    return pd.Series(text.to_numpy(zero_copy_only=False), index=values.index, dtype=object)


def clean_text(values: pd.Series, distinct: bool = False) -> pd.Series:
    """Strip and collapse whitespace; the missing tokens ('', 'Unknown', 'N/A'...) become null.

    The result is categorical (one code per row), so later look-ups factorize in O(rows) integer
    work. `distinct=True` says the values are (nearly) all different, like identifiers: they are
    then cleaned in place, as plain text.
    """
    if distinct:
        return _clean_array(values.astype(object).fillna(""))
    return map_unique(values, lambda uniques: pd.DataFrame({"text": _clean_array(uniques)}))["text"]


def name_key(text: pd.Series) -> pd.Series:
    """The lookup key of a reported name: lower case, quotes dropped, whitespace collapsed."""
    import pyarrow.compute as pc

    unquoted = pc.replace_substring_regex(_collapse(text), "[\"\u201c\u201d]", "")
    lowered = pc.utf8_lower(pc.utf8_trim_whitespace(unquoted))
    return pd.Series(lowered.to_numpy(zero_copy_only=False), index=text.index, dtype=object)


# --- countries (core/geography.py reads country_converter) ------------------------------------
# The longest country name in use is ~55 characters; a longer "country" is unknown, and is not
# shown to the country patterns (each distinct long value costs them ~0.2 s per 1000 chars).
MAX_COUNTRY_CHARS = 80


def countries_to_iso3(names: pd.Series) -> pd.Series:
    """ISO3 codes for country names, ISO2/ISO3 codes or official names; null when unknown."""
    def _convert(uniques: pd.Series) -> pd.DataFrame:
        text = uniques.astype(str)
        short = (text.str.len() <= MAX_COUNTRY_CHARS).to_numpy()
        iso3 = np.full(len(text), None, dtype=object)
        iso3[short] = match_countries(text[short].tolist())
        return pd.DataFrame({"iso3": pd.Series(iso3, dtype=object)})

    return map_unique(names, _convert)["iso3"]


def country_regions(iso3: pd.Series) -> pd.DataFrame:
    """UN region and subregion of ISO3 codes (null for null codes)."""
    table = country_table()

    def _lookup(uniques: pd.Series) -> pd.DataFrame:
        rows = table.reindex(uniques.to_numpy())
        return pd.DataFrame({"region": rows["region"].to_numpy(dtype=object),
                             "subregion": rows["subregion"].to_numpy(dtype=object)})

    return map_unique(iso3, _lookup)


def divisions_of(iso3: pd.Series, names: pd.Series) -> pd.Series:
    """The normalised admin-1 name of each record (core/divisions.py), null where the record
    names none or one its country's reviewed table does not know; once per distinct pair."""
    pairs = pd.DataFrame({"iso3": iso3.astype(object), "name": names.astype(object)})
    pairs = pairs.where(pairs.notna(), None)
    known = pairs["name"].notna().to_numpy() & pairs["iso3"].notna().to_numpy()
    out = np.full(len(pairs), None, dtype=object)
    if known.any():
        codes, uniques = pd.factorize(pd.MultiIndex.from_frame(pairs.loc[known]))
        mapped = np.array([normalise_division(c, n) for c, n in uniques], dtype=object)
        out[known] = mapped[codes]
    return pd.Series(pd.Categorical(out), index=iso3.index)


def country_lists_to_iso3(lists: pd.Series, sep: str = ";") -> pd.Series:
    """`;`-separated country lists to `;`-joined ISO3 (unknown parts dropped, order kept)."""
    def _convert(uniques: pd.Series) -> pd.DataFrame:
        parts = uniques.astype(str).str.split(sep).explode().str.strip()
        iso3 = countries_to_iso3(parts[parts != ""])
        joined = iso3.dropna().groupby(level=0).agg(lambda s: ";".join(dict.fromkeys(s)))
        return pd.DataFrame({"iso3": joined.reindex(range(len(uniques))).to_numpy(dtype=object)})

    return map_unique(lists, _convert)["iso3"]


# --- drugs ---------------------------------------------------------------------------------
@lru_cache(maxsize=4)
def load_taxonomy(path: Path = TAXONOMY_FILE) -> pd.DataFrame:
    """The reviewed drug taxonomy, indexed by the name key: substance, group, kg_per_unit.
    A substance's own name is one of its spellings too (reported "poppy" is the substance
    poppy, in opioids, not an unclassified name that would share the poppy series with it)."""
    table = read_taxonomy(path)
    own = table.drop_duplicates("substance", keep="first").assign(name=lambda t: t["substance"])
    table = pd.concat([table, own], ignore_index=True)
    table["name"] = name_key(table["name"])
    return table.drop_duplicates("name", keep="first").set_index("name")


def classify_drugs(names: pd.Series, taxonomy: pd.DataFrame | None = None) -> pd.DataFrame:
    """Substance, drug group and kg per counted unit of reported drug names.

    Names the taxonomy does not know keep their cleaned text as the substance, in group
    `unclassified`, so nothing is lost and the report can list them for review.
    """
    table = load_taxonomy() if taxonomy is None else taxonomy

    def _classify(uniques: pd.Series) -> pd.DataFrame:
        key = name_key(uniques)
        rows = table.reindex(key.to_numpy())
        known = rows["substance"].notna().to_numpy()
        return pd.DataFrame({
            "substance": np.where(known, rows["substance"].to_numpy(dtype=object),
                                  key.to_numpy(dtype=object)),
            "drug_group": np.where(known, rows["group"].to_numpy(dtype=object), UNCLASSIFIED),
            "kg_per_unit": rows["kg_per_unit"].to_numpy(dtype=float),
        })

    return map_unique(names, _classify)


# --- units ---------------------------------------------------------------------------------
@lru_cache(maxsize=4)
def load_unit_factors(path: Path = UNIT_FILE) -> pd.DataFrame:
    """Unit spellings -> normalised unit, kind (mass, volume, count) and kg per unit."""
    table = pd.read_csv(path, dtype=str, keep_default_na=False, comment="#")
    table["kg"] = pd.to_numeric(table["kg"], errors="coerce")
    table["alias"] = name_key(table["alias"])
    return table.drop_duplicates("alias").set_index("alias")


def normalise_units(units: pd.Series, factors: pd.DataFrame | None = None) -> pd.DataFrame:
    """Normalised unit, its kind and its kg factor; nulls for spellings the table lacks.

    For count units (tablet, unit, dose...) `unit_kg` is the fallback weight used when the
    substance has no factor of its own in the taxonomy.
    """
    table = load_unit_factors() if factors is None else factors

    def _lookup(uniques: pd.Series) -> pd.DataFrame:
        key = name_key(uniques).str.rstrip(".")
        rows = table.reindex(key.to_numpy())
        singular = key.str.replace(r"(?<=[a-z])s$", "", regex=True)
        fallback = table.reindex(singular.to_numpy())
        missing = rows["unit"].isna().to_numpy()
        rows.iloc[missing] = fallback.iloc[missing].to_numpy()
        return pd.DataFrame({"unit": rows["unit"].to_numpy(dtype=object),
                             "unit_kind": rows["kind"].to_numpy(dtype=object),
                             "unit_kg": rows["kg"].to_numpy(dtype=float)})

    return map_unique(units, _lookup)


def kilogram_equivalents(quantity: np.ndarray, unit_kind: np.ndarray, unit_kg: np.ndarray,
                         substance_kg_per_unit: np.ndarray) -> np.ndarray:
    """kg-equivalents, UNODC practice: mass by its factor, 1 l = 1 kg, counts by bulk weight.

    Counted units use the substance's own weight per unit when the taxonomy has one, else the
    unit's default weight.
    """
    per_unit = np.where((unit_kind == "count") & np.isfinite(substance_kg_per_unit),
                        substance_kg_per_unit, unit_kg)
    with np.errstate(invalid="ignore", over="ignore"):
        return quantity * per_unit


# --- transport modes -----------------------------------------------------------------------
_TRANSPORT_PATTERNS: tuple[tuple[str, str], ...] = (
    ("mail", r"mail|post|postal|parcel|courier|express|letter|package"),
    ("rail", r"rail|railway|train|metro|tram"),
    ("air", r"air|aircraft|airplane|plane|flight|airport|aviation|helicopter|drone|air cargo"),
    ("sea", r"sea|maritime|marine|ship|vessel|boat|ferry|yacht|river|submarine|"
            r"semi-submersible|seaport|fishing|go-fast|speedboat|canoe"),
    ("land", r"land|road|vehicle|car|truck|lorry|bus|van|motorcycle|pedestrian|foot|walking|"
             r"bicycle|taxi|highway|tunnel"),
)


def normalise_transport(modes: pd.Series) -> pd.Series:
    """Reported transport to air, land, sea, mail, rail or unknown (missing and 'Other' too).

    UNODC IDS values: Commercial/Private air -> air; Land, Commercial/Private road, Pedestrian ->
    land; Commercial/Private sea, River -> sea (inland waterways count as sea); Mail; Rail;
    Other, None, Unknown -> unknown.
    """
    def _map(uniques: pd.Series) -> pd.DataFrame:
        key = name_key(uniques)
        mode = pd.Series("unknown", index=uniques.index, dtype=object)
        decided = np.zeros(len(key), dtype=bool)
        for name, pattern in _TRANSPORT_PATTERNS:
            words = rf"\b(?:{pattern})(?:s|es)?\b"
            hit = key.str.contains(words, regex=True).to_numpy() & ~decided
            mode[hit] = name
            decided |= hit
        return pd.DataFrame({"mode": mode.to_numpy(dtype=object)})

    return fill_missing(map_unique(modes, _map)["mode"], "unknown")

