"""UNODC Individual Drug Seizures (IDS) exports -> canonical seizure records.

The export (../shared/data/unodc_ids_2011_2016) is `;`-separated with quoted newlines, uses
'Unknown' and '' for missing values, and has no seizure identifier: the id is a hash of the whole
raw row, so the ~44k exact duplicate rows of the export are found as duplicates while the same
seizure reported twice with a different TRANSPORT or ROUTING stays two records (it differs).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from features.importers import require_columns, row_hashes

IDS_COLUMNS: tuple[str, ...] = (
    "REGION", "SUBREGION", "COUNTRY", "ADMINISTRATIVE_DIVISION", "PLACE", "SEIZURE_DATE",
    "DRUG_NAME", "AMOUNT", "DRUG_UNIT", "HIDING_PLACE", "INSTALLATION", "TRANSPORT",
    "PRODUCING_COUNTRY", "DEPARTURE_COUNTRY", "DESTINATION_COUNTRY", "ROUTING",
)
REQUIRED: tuple[str, ...] = ("COUNTRY", "SEIZURE_DATE", "DRUG_NAME", "AMOUNT", "DRUG_UNIT")
SOURCE = "UNODC IDS"

# canonical column <- IDS column
_RENAME = {
    "date": "SEIZURE_DATE", "country": "COUNTRY", "drug": "DRUG_NAME", "quantity": "AMOUNT",
    "unit": "DRUG_UNIT", "transport_mode": "TRANSPORT", "origin_country": "PRODUCING_COUNTRY",
    "departure_country": "DEPARTURE_COUNTRY", "destination_country": "DESTINATION_COUNTRY",
    # below the country: the division (normalised into `admin1`) and the place (city, port,
    # border crossing) as the record's municipality
    "admin1": "ADMINISTRATIVE_DIVISION", "municipality": "PLACE",
}
# Where and how it was hidden, and the border situation (ROUTING: inbound, outbound, domestic,
# transit zone, international waters) are kept together as the concealment text.
_CONCEALMENT_PARTS = ("HIDING_PLACE", "INSTALLATION", "ROUTING")
# Signature columns (issue 21): of the physical marks forensic linkage uses, IDS has only what
# the drug was wrapped in, as three of HIDING_PLACE's 37 values (the others are places: postal,
# baggage, body, vehicle, container...). It has no logo, colour, shape, purity or impurity
# profile, and no weight of one tablet or brick (DRUG_UNIT 'Tablet', 'Pill', 'Capsule' counts
# units; the AMOUNT is their number, not their weight).
_PACKAGING = {"plastic bags": "plastic bag", "package": "package", "sack": "sack"}
_MISSING = frozenset({"", "unknown", "none", "other"})


def join_parts(frame: pd.DataFrame, columns: tuple[str, ...], sep: str = " | ") -> pd.Series:
    """The non-missing values of `columns` joined with `sep`, computed once per distinct combo."""
    parts = frame[list(columns)]
    key = np.zeros(len(parts), dtype=np.int64)
    for column in columns:
        codes, uniques = pd.factorize(parts[column])
        key = key * (len(uniques) + 1) + (codes + 1)
    combo, first = np.unique(key, return_index=True)
    inverse = np.searchsorted(combo, key)
    texts = []
    for record in parts.iloc[first].itertuples(index=False):
        kept = [str(v).strip() for v in record
                if isinstance(v, str) and v.strip().lower() not in _MISSING]
        texts.append(sep.join(kept) if kept else None)
    return pd.Series(np.asarray(texts, dtype=object)[inverse], index=frame.index, dtype=object)


def to_canonical(raw: pd.DataFrame, path: Path) -> pd.DataFrame:
    """The canonical text columns of an IDS export, with seizure_id = hash of the raw row."""
    require_columns(path, raw, REQUIRED, "unodc-ids")
    present = [c for c in IDS_COLUMNS if c in raw.columns]
    out = pd.DataFrame(index=raw.index)
    out["seizure_id"] = "ids-" + row_hashes(raw, present)
    for canonical, column in _RENAME.items():
        out[canonical] = raw[column] if column in raw.columns else None
    parts = tuple(c for c in _CONCEALMENT_PARTS if c in raw.columns)
    out["concealment"] = join_parts(raw, parts) if parts else None
    hiding = (raw["HIDING_PLACE"] if "HIDING_PLACE" in raw.columns
              else pd.Series(None, index=raw.index, dtype=object))
    out["packaging"] = hiding.astype(object).str.strip().str.casefold().map(_PACKAGING)
    out["source"] = SOURCE
    return out
