"""Route flows: counts per route, unknowns kept unknown, one row per transit country."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.routes import ROUTE_COLUMNS, build_route_flows, explode_transit

ROUTE_PARTS = ["origin_country", "departure_country", "transit_countries", "destination_country",
               "destination_region", "transport_mode"]


def make_records(rows: list[tuple]) -> pd.DataFrame:
    """Records from (date, country, substance, kg, origin, departure, transit, destination,
    destination region, transport mode) tuples; every seizure here is of cocaine."""
    frame = pd.DataFrame(rows, columns=["date", "country", "substance", "kg", *ROUTE_PARTS])
    frame["date"] = pd.to_datetime(frame["date"])
    frame["region"] = "Europe"
    frame["drug_group"] = "cocaine"
    frame["concealment_method"] = np.where(frame["transport_mode"] == "sea", "container_cargo",
                                           None)
    return frame


RECORDS = [
    ("2024-01-05", "ESP", "cocaine hydrochloride", 10.0, "COL", "ECU", "BRA;PRT", "ESP", "Europe",
     "sea"),
    ("2024-01-25", "ESP", "cocaine hydrochloride", 30.0, "COL", "ECU", "BRA;PRT", "ESP", "Europe",
     "sea"),
    ("2024-02-02", "ESP", "cocaine hydrochloride", 2.0, "COL", "ECU", "BRA;PRT", "ESP", "Europe",
     "sea"),
    ("2024-01-07", "ESP", "crack cocaine", 1.0, None, None, None, None, None, None),
    ("2024-01-09", "ESP", "crack cocaine", 4.0, None, None, None, None, None, None),
    ("2024-01-10", "NLD", "cocaine hydrochloride", 5.0, None, "ECU", "", "NLD", "Europe", "air"),
    ("2024-01-11", "NLD", "cocaine hydrochloride", 6.0, "PER", None, "PAN", None, None, "unknown"),
]


@pytest.fixture(scope="module")
def flows() -> pd.DataFrame:
    return build_route_flows(make_records(RECORDS))


def flow(flows: pd.DataFrame, **where: object) -> pd.DataFrame:
    mask = pd.Series(True, index=flows.index)
    for col, value in where.items():
        mask &= flows[col].isna() if value is None else flows[col] == value
    return flows[mask]


def test_route_flows_count_and_sum_each_route_per_period(flows: pd.DataFrame) -> None:
    assert list(flows.columns) == ROUTE_COLUMNS
    january = flow(flows, ds=pd.Timestamp("2024-01-01"), departure_country="ECU",
                   transit_countries="BRA;PRT", country="ESP")
    assert january[["seizures", "kg"]].values.tolist() == [[2, 40.0]]
    february = flow(flows, ds=pd.Timestamp("2024-02-01"), country="ESP")
    assert february[["seizures", "kg"]].values.tolist() == [[1, 2.0]]


def test_route_flows_keep_unknown_parts_unknown(flows: pd.DataFrame) -> None:
    unknown = flow(flows, substance="crack cocaine")
    assert unknown[["seizures", "kg"]].values.tolist() == [[2, 5.0]]
    row = unknown.iloc[0]
    for col in ROUTE_PARTS[:-1]:
        assert row[col] is None, col
    assert row["transport_mode"] == "unknown"
    # An unknown origin is not filled from the departure, nor a destination from the seizing
    # country, nor a region from a missing destination.
    peru = flow(flows, origin_country="PER").iloc[0]
    assert peru["departure_country"] is None and peru["destination_country"] is None
    assert peru["destination_region"] is None and peru["transit_countries"] == "PAN"
    ecuador_air = flow(flows, transport_mode="air").iloc[0]
    assert ecuador_air["origin_country"] is None


def test_route_flows_read_blank_text_as_unknown(flows: pd.DataFrame) -> None:
    assert flow(flows, transport_mode="air").iloc[0]["transit_countries"] is None


def test_route_flows_carry_the_concealment_method(flows: pd.DataFrame) -> None:
    assert set(flow(flows, transport_mode="sea")["concealment_method"]) == {"container_cargo"}
    assert flow(flows, transport_mode="air").iloc[0]["concealment_method"] is None


def test_route_flow_seizures_add_up_to_the_records(flows: pd.DataFrame) -> None:
    assert flows["seizures"].sum() == len(RECORDS)
    assert flows["kg"].sum() == pytest.approx(sum(row[3] for row in RECORDS))


def test_route_flows_at_yearly_frequency_merge_the_months() -> None:
    flows = build_route_flows(make_records(RECORDS), "YS")
    ecuador_sea = flow(flows, transport_mode="sea")
    assert ecuador_sea[["ds", "seizures", "kg"]].values.tolist() == [
        [pd.Timestamp("2024-01-01"), 3, 42.0]]


def test_explode_transit_gives_one_row_per_transit_country_in_order(
        flows: pd.DataFrame) -> None:
    exploded = explode_transit(flows)
    sea = exploded[exploded["transport_mode"] == "sea"].sort_values(["ds", "transit_order"])
    assert sea["transit_country"].tolist() == ["BRA", "PRT", "BRA", "PRT"]
    assert sea["transit_order"].tolist() == [0, 1, 0, 1]
    assert sea["weight"].tolist() == [0.5, 0.5, 0.5, 0.5]
    assert sea["seizures"].tolist() == [2, 2, 1, 1]  # each country saw the whole consignment


def test_explode_transit_counts_crossings_per_country(flows: pd.DataFrame) -> None:
    exploded = explode_transit(flows)
    crossings = exploded.dropna(subset=["transit_country"]).groupby("transit_country")[
        "seizures"].sum()
    assert crossings.to_dict() == {"BRA": 3, "PAN": 1, "PRT": 3}


def test_explode_transit_weights_add_back_to_the_flows(flows: pd.DataFrame) -> None:
    exploded = explode_transit(flows)
    weighted = (exploded["seizures"] * exploded["weight"]).sum()
    assert weighted == pytest.approx(flows["seizures"].sum())


def test_explode_transit_keeps_an_unknown_transit_as_one_null_row(flows: pd.DataFrame) -> None:
    exploded = explode_transit(flows)
    unknown = exploded[exploded["substance"] == "crack cocaine"]
    assert len(unknown) == 1
    assert unknown.iloc[0]["transit_country"] is None
    assert (unknown.iloc[0]["n_transit"], unknown.iloc[0]["weight"]) == (0, 1.0)


def test_explode_transit_of_no_flows_is_empty(flows: pd.DataFrame) -> None:
    exploded = explode_transit(flows.iloc[:0])
    assert exploded.empty and "transit_country" in exploded.columns
