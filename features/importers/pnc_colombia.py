"""Colombian National Police (PNC) seizure exports -> canonical seizure records.

The layout of datos.gov.co's "Incautación estupefacientes" (../shared/data/
colombia_pnc_incautaciones_2019, read its SOURCE.txt): one row per seizure with the drug
(CLASE_BIEN), department and municipality (the department read from the DANE code where it
has one), the date as ``MM/DD/YYYY 12:00:00 AM``, the kind of place, urban or rural, the DANE
municipality code, the unit (GRAMO) and the quantity with ',' as thousands separator ("16,780" =
16780). The export ends with a "TOTAL" row summing the
quantities: it is quarantined as `reported_total`, so it is counted and never read as a seizure.

The file has no seizure identifier: the id is a hash of the whole raw row, numbered within
identical rows (two identical lines are two seizures of one day and place), so re-ingesting
the file, or a later export repeating its rows, adds nothing.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import numpy as np
import pandas as pd

from core.divisions import division_table
from core.errors import NarcotrendError
from features.importers import require_columns, row_hashes
from features.schema import IMPORTER_REASON_COLUMN, Reason

SOURCE = "Policía Nacional de Colombia"
COUNTRY = "COL"
REQUIRED: tuple[str, ...] = ("CLASE_BIEN", "DEPTO_HECHO", "FECHA_HECHO", "BIEN_UNIDAD_MEDIDA")
# canonical column <- PNC column (quantity is found by name, see `_quantity_column`)
_RENAME = {"drug": "CLASE_BIEN", "admin1": "DEPTO_HECHO", "municipality": "MUNICIPIO_HECHO",
           "unit": "BIEN_UNIDAD_MEDIDA"}
_DATE_FORMAT = "%m/%d/%Y %I:%M:%S %p"
_THOUSANDS = re.compile(r"^\d{1,3}(,\d{3})+(\.\d+)?$")
# CLASE_SITIO values that say nothing about where the drug was
_NO_PLACE = frozenset({"NO DEFINIDO", "OTRO", "SIN DEFINIR"})


def _key(name: object) -> str:
    text = unicodedata.normalize("NFKD", str(name))
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).upper()
    return re.sub(r"[^0-9A-Z]", "", text)


def _quantity_column(path: Path, columns: pd.Index) -> str:
    """The quantity column: "Droga Incautada/ Cantidad" in the 2019 export, any header holding
    CANTIDAD in others."""
    found = [c for c in columns if "CANTIDAD" in _key(c)]
    if len(found) != 1:
        raise NarcotrendError(
            f"{path}: expected one quantity column (its header holding 'Cantidad') for --format "
            f"pnc-colombia; found {', '.join(map(str, columns))}")
    return str(found[0])


def parse_dates(text: pd.Series) -> pd.Series:
    """``MM/DD/YYYY hh:mm:ss AM`` (or plain ``MM/DD/YYYY``) -> ISO ``YYYY-MM-DD``; text that
    is neither is kept as it is, so the ingest quarantines it as an unparseable date."""
    codes, uniques = pd.factorize(text.astype(object), use_na_sentinel=True)
    stripped = pd.Series(uniques, dtype=object).astype(str).str.strip()
    parsed = pd.to_datetime(stripped, format=_DATE_FORMAT, errors="coerce")
    parsed = parsed.fillna(pd.to_datetime(stripped, format="%m/%d/%Y", errors="coerce"))
    iso = np.where(parsed.notna(), parsed.dt.strftime("%Y-%m-%d"), stripped).astype(object)
    return pd.Series(np.append(iso, None)[np.where(codes < 0, len(iso), codes)],
                     index=text.index, dtype=object)


def parse_quantities(text: pd.Series) -> pd.Series:
    """Thousands separators removed where the text is a number written with them ("16,780");
    anything else ("1,5") is kept, for the ingest to quarantine as unparseable."""
    values = text.astype(object)
    stripped = values.where(values.isna(), values.astype(str).str.strip())
    grouped = stripped.str.match(_THOUSANDS).fillna(False).astype(bool)
    return stripped.where(~grouped, stripped.str.replace(",", "", regex=False))


def departments_of_dane_codes(codes: pd.Series) -> pd.Series:
    """The department of each DANE municipality code ("11,001,000": its first two of eight
    digits, 11 = Bogotá D.C.), null where the code is missing or names no department.

    The code wins over DEPTO_HECHO: the 2019 export files Bogotá's seizures (code 11001000) under
    CUNDINAMARCA, the department around the capital district."""
    _, by_code = division_table("COL")
    digits = codes.astype(object).where(codes.notna(), "").astype(str).str.replace(",", "")
    valid = digits.str.fullmatch(r"\d{7,8}")
    prefix = digits.str.zfill(8).str[:2]
    return prefix.map(by_code).where(valid, None).astype(object)


def _seizure_ids(raw: pd.DataFrame) -> pd.Series:
    hashes = row_hashes(raw, list(raw.columns))
    occurrence = hashes.groupby(hashes, sort=False).cumcount()
    suffix = np.where(occurrence > 0, "-" + occurrence.astype(str), "")
    return "pnc-" + hashes + suffix


def to_canonical(raw: pd.DataFrame, path: Path) -> pd.DataFrame:
    """The canonical text columns of a PNC export; the TOTAL row carries `reported_total` in
    the importer's reason column."""
    require_columns(path, raw, REQUIRED, "pnc-colombia")
    quantity = _quantity_column(path, raw.columns)
    out = pd.DataFrame(index=raw.index)
    out["seizure_id"] = _seizure_ids(raw)
    out["date"] = parse_dates(raw["FECHA_HECHO"])
    out["country"] = COUNTRY
    for canonical, column in _RENAME.items():
        out[canonical] = raw[column].astype(object) if column in raw.columns else None
    if "CODIGO_DANE" in raw.columns:
        by_code = departments_of_dane_codes(raw["CODIGO_DANE"])
        out["admin1"] = by_code.where(by_code.notna(), out["admin1"])
    out["quantity"] = parse_quantities(raw[quantity])
    if "CLASE_SITIO" in raw.columns:
        place = raw["CLASE_SITIO"].astype(object)
        said = place.notna() & ~place.astype(str).str.strip().str.upper().isin(_NO_PLACE)
        out["concealment"] = place.where(said, None)
    out["source"] = SOURCE
    drug = raw["CLASE_BIEN"].astype(object).astype(str).str.strip().str.upper()
    total = (drug == "TOTAL") & raw["DEPTO_HECHO"].isna()
    out[IMPORTER_REASON_COLUMN] = np.where(total, Reason.REPORTED_TOTAL, None)
    return out
