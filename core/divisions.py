"""Administrative divisions below the country (admin-1: departments, provinces, states).

A division's geography is ``ISO3:NAME`` (``COL:ANTIOQUIA``). NAME is normalised: upper case,
accents stripped, whitespace collapsed, and ``/`` and ``:`` (which would break ``unique_id`` and
the geo itself) read as spaces. Where a reviewed code list exists (`DIVISION_TABLES`, in
`data/reference/`), the reporters' spellings map to its names ("Valle", "VALLE DEL CAUCA" ->
``VALLE DEL CAUCA``) and a name the list does not know is no division at all (the IDS file
names foreign countries as Colombian "divisions"); elsewhere the normalised name is kept as
reported.
"""

from __future__ import annotations

import csv
import re
import unicodedata
from functools import cache

from core.taxonomy import REFERENCE_DIR

#: ISO3 -> the reviewed table of its divisions (columns code, name, geo_name, aliases).
DIVISION_TABLES: dict[str, str] = {"COL": "colombia_departments.csv"}
SEPARATOR = ":"
# Reporters write these where they mean "no division"; never a division's name.
_MISSING = frozenset({"", "UNKNOWN", "N/A", "NA", "NONE", "NULL", "-", "?", "NOT KNOWN",
                      "UNK", "NOT AVAILABLE", "NO DEFINIDO", "SIN DEFINIR", "DESCONOCIDO"})


def _strip_accents(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def division_name(text: object) -> str | None:
    """A reported division name normalised by the general rule; None for a missing value."""
    if not isinstance(text, str):
        return None
    name = " ".join(_strip_accents(text).upper().replace("/", " ").replace(":", " ").split())
    return None if name in _MISSING or any(ch in name for ch in "\r\n\0") else name


def _match_key(text: str) -> str:
    """Letters and digits only, for matching spellings against a reviewed table."""
    return " ".join(re.sub(r"[^0-9A-Z]+", " ", _strip_accents(text).upper()).split())


@cache
def division_table(iso3: str) -> tuple[dict[str, str], dict[str, str]]:
    """A reviewed country's (match key -> division name, code -> division name); empty dicts for
    a country without a table."""
    file = DIVISION_TABLES.get(iso3)
    if file is None:
        return {}, {}
    names: dict[str, str] = {}
    codes: dict[str, str] = {}
    with (REFERENCE_DIR / file).open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            geo_name = row["geo_name"].strip()
            codes[row["dane_code"].strip()] = geo_name
            spellings = [row["name"], geo_name, *(row["aliases"] or "").split("|")]
            for spelling in spellings:
                if spelling.strip():
                    names[_match_key(spelling)] = geo_name
    return names, codes


def normalise_division(iso3: object, text: object) -> str | None:
    """The division name a record of `iso3` carries for the reported `text` (None: none)."""
    name = division_name(text)
    if name is None or not isinstance(iso3, str):
        return None
    names, _ = division_table(iso3)
    if not names:
        return name
    return names.get(_match_key(name))


def admin1_geo(iso3: str, name: str) -> str:
    """The geography of a division: ``ISO3:NAME``."""
    return f"{iso3}{SEPARATOR}{name}"


def split_admin1(geo: object) -> tuple[str, str] | None:
    """(ISO3, NAME) of an admin-1 geography, None for anything else."""
    if not isinstance(geo, str) or SEPARATOR not in geo:
        return None
    iso3, _, name = geo.partition(SEPARATOR)
    return (iso3, name) if len(iso3) == 3 and iso3.isalpha() and name else None
