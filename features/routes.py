"""Route flows from canonical records (DESIGN section 3, ARCHITECTURE "Route flows").

A route flow counts the seizures and kilograms of one period that share a drug, a seizing
country and the same (origin, departure, transit, destination, destination region, transport
mode, concealment method). Unknown parts stay unknown: a null in the records is a null in the
flow (transport mode ``"unknown"``), never filled from another column, so the shares a
route-shift detector computes over the *known* values are honest and the unknown share stays
visible.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.series import check_columns, check_frequency, period_start

#: The key of a flow, in output order (``ds`` is the period start).
ROUTE_KEYS: list[str] = ["ds", "drug_group", "substance", "country", "region", "origin_country",
                         "departure_country", "transit_countries", "destination_country",
                         "destination_region", "transport_mode", "concealment_method"]
ROUTE_COLUMNS: list[str] = [*ROUTE_KEYS, "seizures", "kg"]
ROUTE_RECORD_COLUMNS: list[str] = ["date", "kg", *ROUTE_KEYS[1:]]
UNKNOWN_MODE = "unknown"


def build_route_flows(records: pd.DataFrame, freq: str = "MS") -> pd.DataFrame:
    """One row per period and route of a drug, with ``seizures`` (records) and ``kg`` (sum).

    Columns, in order:

    - ``ds``: period start at ``freq`` (``"MS"``, ``"W-MON"`` or ``"YS"``).
    - ``drug_group``, ``substance``: the taxonomy group and substance (sum over substances for
      a group-level view).
    - ``country``, ``region``: the seizing country (ISO3) and its UN region: where the flow was
      seen, a known point on every route.
    - ``origin_country``, ``departure_country``, ``destination_country``: ISO3 or null (unknown).
    - ``transit_countries``: ``;``-joined ISO3 in reported order, or null (unknown); see
      :func:`explode_transit` for one row per transit country.
    - ``destination_region``: UN region of the destination or null.
    - ``transport_mode``: air, land, sea, mail, rail or ``"unknown"``.
    - ``concealment_method``: the method of `features.concealment` (``postal_parcel``,
      ``luggage``... ``other``, ``"unknown"`` for text that says nothing), or null (no text).
    - ``seizures``: number of records; ``kg``: sum of kilogram-equivalents.

    Summing ``seizures`` over all flows gives the number of records: flows with every route
    part unknown are kept, so the known share of a route attribute can be computed.
    """
    check_columns(records, ROUTE_RECORD_COLUMNS, "records")
    check_frequency(freq)
    keys = ROUTE_KEYS[1:]
    frame = pd.DataFrame({col: _as_category(records[col]) for col in keys})
    frame["transport_mode"] = _as_category(
        records["transport_mode"].astype(object).where(records["transport_mode"].notna(),
                                                       UNKNOWN_MODE))
    frame.insert(0, "ds", period_start(records["date"], freq).to_numpy())
    frame["kg"] = pd.to_numeric(records["kg"], errors="coerce").to_numpy()
    flows = (frame.groupby(ROUTE_KEYS, dropna=False, observed=True, sort=True)["kg"]
             .agg(seizures="size", kg="sum").reset_index())
    for col in keys:
        flows[col] = flows[col].astype(object).where(flows[col].notna(), None)
    flows["seizures"] = flows["seizures"].astype(np.int64)
    return flows[ROUTE_COLUMNS]


def _as_category(values: pd.Series) -> pd.Categorical:
    """Values as a categorical, empty or blank strings read as unknown (null)."""
    cat = pd.Categorical(values)
    blank = [c for c in cat.categories if isinstance(c, str) and not c.strip()]
    return cat.remove_categories(blank) if blank else cat


def explode_transit(flows: pd.DataFrame) -> pd.DataFrame:
    """Flows with one row per transit country, for counting how often each country is crossed.

    Adds ``transit_country`` (ISO3, null when the transit is unknown), ``transit_order`` (0 for
    the first country crossed), ``n_transit`` (countries on the flow's transit list, 0 when
    unknown) and ``weight`` (``1 / n_transit``, 1 when unknown). Each row keeps the full
    ``seizures`` and ``kg`` of its flow, since every country on the list saw the whole
    consignment; ``seizures * weight`` sums back to the flows' total when attribution must not
    double count.
    """
    check_columns(flows, ["transit_countries", "seizures", "kg"], "flows")
    # Split each distinct transit string once, then expand by integer codes.
    cat = pd.Categorical(flows["transit_countries"])
    lists = [_split_transit(value) for value in cat.categories]
    per_category = np.array([len(countries) for countries in lists] + [0], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(per_category[:-1])])
    flat = np.array([c for countries in lists for c in countries] + [None], dtype=object)
    codes = np.where(cat.codes >= 0, cat.codes, len(lists)).astype(np.int64)  # null -> last

    n_transit = per_category[codes]
    repeats = np.maximum(n_transit, 1)
    source = np.repeat(np.arange(len(flows)), repeats)
    order = np.arange(len(source)) - np.repeat(np.cumsum(repeats) - repeats, repeats)
    known = n_transit[source] > 0
    country = np.where(known, flat[np.where(known, offsets[codes[source]] + order, -1)], None)

    out = flows.iloc[source].reset_index(drop=True)
    out["transit_country"] = country
    out["transit_order"] = order
    out["n_transit"] = n_transit[source]
    out["weight"] = np.where(known, 1.0 / repeats[source], 1.0)
    return out


def _split_transit(value: object) -> list[str]:
    """``"TUR; BGR;"`` -> ``["TUR", "BGR"]``."""
    return [part.strip() for part in str(value).split(";") if part.strip()]
