"""UNODC annual country x drug seizure tables (kilograms per year) -> yearly series.

Two layouts are read (../shared/data/unodc_annual_seizures):
- dataUNODC "Drug seizures" 2018-2022: Region, SubRegion, Country/Territory, msCode, Drug group,
  DrugSubGroup, Drug, Year, Kilograms;
- the kg-equivalent table 1970-2020: Region, country, ISO Code, Drug Group, Drug, Year,
  KG Equivalent.

Choices: a row is keyed by its whole content (an exact repeat is a duplicate); several rows for
one country, drug and year (different reporting forms) are summed. Rows that are totals of other
rows ("Total ... (including the above ...)", "Cocaine (total of the above ...)", "Any Illicit
drugs") are quarantined as `reported_total` so nothing is counted twice; a country that reported
only a total loses that figure. Where both tables cover a country-year, the dataUNODC table wins
(it is UNODC's own publication; the other is a third-party compilation). A country-year with any
row gives 0 for the country's other drugs that year; a year with no row at all is NaN (not
reporting), between the country's first and last reported year. Zero kilograms as reported are
kept (a reported zero). Drugs map through the taxonomy; series exist at drug levels `substance`
and `group`, geo level `country`, metric `kg`, yearly (`ds` = 1 January).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from core.errors import NarcotrendError
from features.importers import row_hashes
from features.normalise import classify_drugs, clean_text, countries_to_iso3, country_regions
from features.schema import SERIES_COLUMNS, Reason

SOURCE_PREFIX = "unodc-annual"
# layout name -> (country name, ISO code, drug, year, kilograms) columns; earlier wins overlaps
LAYOUTS: dict[str, tuple[str, str, str, str, str]] = {
    "dataunodc": ("Country/Territory", "msCode", "Drug", "Year", "Kilograms"),
    "kgeq": ("country", "ISO Code", "Drug", "Year", "KG Equivalent"),
}
_TOTAL_PATTERN = r"^total\b|\(total of|^any illicit drugs$|^reported total"


def detect_layout(raw: pd.DataFrame, path: Path) -> str:
    """Which annual layout a table has; NarcotrendError naming the columns when neither."""
    for name, columns in LAYOUTS.items():
        if all(c in raw.columns for c in columns):
            return name
    expected = " or ".join(", ".join(columns) for columns in LAYOUTS.values())
    raise NarcotrendError(f"{path}: not a UNODC annual seizure table for --format unodc-annual; "
                          f"expected columns {expected}; found {', '.join(raw.columns)}")


def source_rows(raw: pd.DataFrame, path: Path) -> tuple[pd.DataFrame, pd.Series]:
    """One normalised row per table row, with its key, and a quarantine reason per row."""
    layout = detect_layout(raw, path)
    name_col, iso_col, drug_col, year_col, kg_col = LAYOUTS[layout]
    source = f"{SOURCE_PREFIX}:{layout}"
    iso3 = countries_to_iso3(clean_text(raw[iso_col])).astype(object)
    by_name = countries_to_iso3(clean_text(raw[name_col])).astype(object)
    iso3 = iso3.where(iso3.notna(), by_name)
    drug_text = clean_text(raw[drug_col]).astype(object)
    drugs = classify_drugs(drug_text)
    year = pd.to_numeric(raw[year_col].astype(str).str.strip(), errors="coerce")
    valid_year = year.between(1900, 2100) & (year % 1 == 0)
    ds = pd.to_datetime({"year": year.where(valid_year, 2000), "month": 1, "day": 1}).where(
        valid_year.to_numpy())
    kg = pd.to_numeric(raw[kg_col].astype(str).str.strip(), errors="coerce").astype(float)
    rows = pd.DataFrame({
        "source": source,
        "key": f"{layout}-" + row_hashes(raw, list(raw.columns)),
        "ds": ds.to_numpy(),
        "geo": iso3,
        "parent": country_regions(iso3)["region"].astype(object),
        "drug_reported": drug_text,
        "substance": drugs["substance"].astype(object),
        "drug_group": drugs["drug_group"].astype(object),
        "seizures": np.nan,
        "kg": kg,
    }, index=raw.index)

    is_total = drug_text.fillna("").str.lower().str.contains(_TOTAL_PATTERN, regex=True)
    reasons = pd.Series(None, index=raw.index, dtype=object)
    checks = (
        (Reason.EMPTY_DRUG, drug_text.isna()),
        (Reason.UNPARSEABLE_PERIOD, rows["ds"].isna()),
        (Reason.UNKNOWN_COUNTRY, rows["geo"].isna()),
        (Reason.NON_FINITE_QUANTITY, ~np.isfinite(kg)),
        (Reason.NON_POSITIVE_QUANTITY, kg < 0),
        (Reason.REPORTED_TOTAL, is_total),
    )
    for reason, failed in checks:
        reasons[np.asarray(failed, dtype=bool) & reasons.isna().to_numpy()] = reason
    return rows, reasons


def series_from_rows(rows: pd.DataFrame) -> pd.DataFrame:
    """Yearly country series (kg) at drug levels substance and group, long format."""
    if rows.empty:
        return pd.DataFrame(columns=list(SERIES_COLUMNS))
    priority = {f"{SOURCE_PREFIX}:{name}": rank for rank, name in enumerate(LAYOUTS)}
    rows = rows.assign(priority=rows["source"].map(priority).fillna(len(priority)))
    best = rows.groupby(["geo", "ds"])["priority"].transform("min")
    rows = rows.loc[rows["priority"] == best]
    reporting = rows[["geo", "ds"]].drop_duplicates().assign(reported=True)
    span = rows.groupby("geo")["ds"].agg(["min", "max"])
    region = rows.drop_duplicates("geo").set_index("geo")["parent"]

    frames = []
    for drug_level, column in (("substance", "substance"), ("group", "drug_group")):
        sums = rows.groupby(["geo", column, "ds"], as_index=False)["kg"].sum()
        pairs = sums[["geo", column]].drop_duplicates()
        years = [(geo, ds) for geo, (first, last) in span.iterrows()
                 for ds in pd.date_range(first, last, freq="YS")]
        grid = pairs.merge(pd.DataFrame(years, columns=["geo", "ds"]), on="geo")
        grid = grid.merge(sums, on=["geo", column, "ds"], how="left")
        grid = grid.merge(reporting, on=["geo", "ds"], how="left")
        y = grid["kg"].to_numpy(dtype=float)
        y = np.where(np.isnan(y) & grid["reported"].eq(True).to_numpy(), 0.0, y)
        frames.append(pd.DataFrame({
            "unique_id": grid["geo"] + "/" + grid[column] + "/kg", "ds": grid["ds"], "y": y,
            "geo_level": "country", "geo": grid["geo"], "region": grid["geo"].map(region),
            "drug_level": drug_level, "drug": grid[column], "metric": "kg",
        }))
    out = pd.concat(frames, ignore_index=True)
    return out.sort_values(["unique_id", "ds"], ignore_index=True)[list(SERIES_COLUMNS)]
