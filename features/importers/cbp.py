"""CBP monthly Nationwide Drug Seizures -> series (already aggregated: no seizure records).

Input columns: FY, Month (abbv), Component, Region, Land Filter, Area of Responsibility,
Drug Type, Count of Event, Sum Qty (lbs). One row = events and pounds of one drug type seized by
one component (Field Operations or Border Patrol) in one area of responsibility in one month.

Choices, for the reader of the series:
- US fiscal year N runs Oct N-1 .. Sep N, so OCT/NOV/DEC of FY N are calendar year N-1;
  "2025 (FYTD)" is FY2025.
- The files overlap (FY2022 is in both): a row is keyed by its period and its label columns, and
  a key seen before is a duplicate, not a second count.
- Geographies: `region` = CBP's region label as published ("Southwest Border", "Northern Border",
  "Coastal/Interior"), `area` = the area of responsibility ("TUCSON SECTOR"...), and
  `country` = "USA" (all rows). `region` (the UN region column) is "Americas" for all of them.
- Drugs: drug level `substance`, CBP's drug types mapped through the taxonomy (Methamphetamine ->
  methamphetamine, Fentanyl -> fentanyl, Marijuana -> cannabis herb, Ecstasy -> MDMA, Khat ->
  khat; Cocaine -> "cocaine hydrochloride", the taxonomy's reading of unqualified "cocaine",
  although CBP's figure also holds some base and crack; "Other Drugs**" -> "other drugs").
- Zero versus missing: CBP publishes only non-zero cells of a complete national count, so a
  month that CBP region reported anything in gives 0 for the drugs absent that month, for the
  region and for each of its areas (an area with no row at all that month had no seizures, not
  no reporting). A month in which the whole CBP region has no row would be NaN (not reporting);
  in the published files every region reports every month, so CBP series have no gaps inside
  their span (first to last published month).
- Metrics: `seizures` = Count of Event, `kg` = Sum Qty (lbs) x 0.45359237.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from features.importers import read_table, require_columns, row_hashes
from features.normalise import classify_drugs, clean_text
from features.schema import SERIES_COLUMNS, Reason

SOURCE = "cbp"
KG_PER_LB = 0.45359237
COLUMNS: tuple[str, ...] = ("FY", "Month (abbv)", "Component", "Region", "Land Filter",
                            "Area of Responsibility", "Drug Type", "Count of Event",
                            "Sum Qty (lbs)")
_LABELS = ("Component", "Region", "Land Filter", "Area of Responsibility", "Drug Type")
_MONTHS = {name: number for number, name in enumerate(
    ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"), 1)}
UN_REGION = "Americas"
COUNTRY = "USA"


def fiscal_month_start(fy: pd.Series, month: pd.Series) -> pd.Series:
    """Calendar month start of a US fiscal year and month abbreviation (FY N Oct = N-1-10)."""
    year = pd.to_numeric(fy.astype(str).str.extract(r"^\s*(\d{4})")[0], errors="coerce")
    number = month.astype(str).str.strip().str.upper().str[:3].map(_MONTHS).astype(float)
    calendar_year = year - (number >= 10)
    valid = year.notna() & number.notna()
    stamps = pd.to_datetime(
        {"year": calendar_year.where(valid, 2000), "month": number.where(valid, 1), "day": 1})
    return stamps.where(valid.to_numpy())


def source_rows(raw: pd.DataFrame, path: Path) -> tuple[pd.DataFrame, pd.Series]:
    """One normalised row per CBP row, with its key, and a quarantine reason per row."""
    require_columns(path, raw, COLUMNS, "cbp")
    labels = pd.DataFrame({c: clean_text(raw[c]).astype(object) for c in _LABELS},
                          index=raw.index)
    ds = fiscal_month_start(raw["FY"], raw["Month (abbv)"])
    seizures = pd.to_numeric(raw["Count of Event"].astype(str).str.strip(), errors="coerce")
    pounds = pd.to_numeric(raw["Sum Qty (lbs)"].astype(str).str.strip(), errors="coerce")
    drugs = classify_drugs(labels["Drug Type"])
    rows = pd.DataFrame({
        "source": SOURCE,
        "ds": ds.to_numpy(),
        "geo": labels["Area of Responsibility"],
        "parent": labels["Region"],
        "drug_reported": labels["Drug Type"],
        "substance": drugs["substance"].astype(object),
        "drug_group": drugs["drug_group"].astype(object),
        "seizures": seizures.astype(float),
        "kg": pounds.astype(float) * KG_PER_LB,
    }, index=raw.index)
    key_frame = labels.assign(ds=rows["ds"])
    rows.insert(1, "key", "cbp-" + row_hashes(key_frame, ["ds", *_LABELS]))

    reasons = pd.Series(None, index=raw.index, dtype=object)
    checks = (
        (Reason.MISSING_REQUIRED_FIELD,
         labels[["Region", "Area of Responsibility"]].isna().any(axis=1)
         | raw["Count of Event"].isna() | raw["Sum Qty (lbs)"].isna()),
        (Reason.EMPTY_DRUG, labels["Drug Type"].isna()),
        (Reason.UNPARSEABLE_PERIOD, rows["ds"].isna()),
        (Reason.NON_FINITE_QUANTITY, ~np.isfinite(rows["seizures"]) | ~np.isfinite(rows["kg"])),
        (Reason.NON_POSITIVE_QUANTITY, (rows["seizures"] < 0) | (rows["kg"] < 0)),
    )
    for reason, failed in checks:
        reasons[failed.to_numpy() & reasons.isna().to_numpy()] = reason
    return rows, reasons


def series_from_rows(rows: pd.DataFrame) -> pd.DataFrame:
    """CBP series, long format, at geo levels country (USA), region (CBP region) and area."""
    if rows.empty:
        return pd.DataFrame(columns=list(SERIES_COLUMNS))
    months = pd.date_range(rows["ds"].min(), rows["ds"].max(), freq="MS")
    levels = (
        ("country", rows.assign(level_geo=COUNTRY, reporter=COUNTRY)),
        ("region", rows.assign(level_geo=rows["parent"], reporter=rows["parent"])),
        ("area", rows.assign(level_geo=rows["geo"], reporter=rows["parent"])),
    )
    frames = []
    for geo_level, frame in levels:
        sums = frame.groupby(["level_geo", "substance", "ds"], as_index=False, observed=True)[
            ["seizures", "kg"]].sum()
        reporting = frame[["reporter", "ds"]].drop_duplicates().assign(reported=True)
        pairs = frame[["level_geo", "reporter", "substance"]].drop_duplicates()
        grid = pairs.merge(pd.DataFrame({"ds": months}), how="cross")
        grid = grid.merge(sums, on=["level_geo", "substance", "ds"], how="left")
        grid = grid.merge(reporting, on=["reporter", "ds"], how="left")
        reported = grid["reported"].eq(True).to_numpy()
        for metric in ("seizures", "kg"):
            y = grid[metric].to_numpy(dtype=float)
            y = np.where(np.isnan(y) & reported, 0.0, y)
            frames.append(pd.DataFrame({
                "unique_id": grid["level_geo"] + "/" + grid["substance"] + "/" + metric,
                "ds": grid["ds"], "y": y, "geo_level": geo_level, "geo": grid["level_geo"],
                "region": UN_REGION, "drug_level": "substance", "drug": grid["substance"],
                "metric": metric,
            }))
    out = pd.concat(frames, ignore_index=True)
    return out.sort_values(["unique_id", "ds"], ignore_index=True)[list(SERIES_COLUMNS)]


def load_cbp_series(paths: list[Path]) -> pd.DataFrame:
    """The CBP files as series (long format), overlapping months counted once. Pure reader."""
    accepted = []
    for path in paths:
        table = read_table(Path(path))
        rows, reasons = source_rows(table.frame, table.path)
        accepted.append(rows.loc[reasons.isna().to_numpy()])
    rows = pd.concat(accepted, ignore_index=True)
    return series_from_rows(rows.drop_duplicates("key", keep="first"))
