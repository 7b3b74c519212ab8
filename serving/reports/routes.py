"""The routes section: flows into and out of the place (a map), the top departure and transit
countries and their change, and the transport and concealment mix with its shift.

Flows come from `routes.parquet` (features/routes.py): inbound = seized in the place's
countries with a known departure elsewhere; outbound = departing from the place's countries and
seized or bound elsewhere. Concealment is not a route-flow column, so its mix is read from the
place's records.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from core.geography import geo_name
from serving.reports.inputs import Period, Place, ReportInputs
from serving.reports.sections import MAX_ROWS


def _in(frame: pd.DataFrame, window: Period, column: str = "ds") -> pd.DataFrame:
    if frame.empty:
        return frame
    ds = frame[column]
    if column != "ds":
        ds = ds.dt.to_period("M").dt.to_timestamp()
    return frame[window.contains(ds)]


def ranked_change(now: pd.DataFrame, before: pd.DataFrame, column: str,
                  metric: str = "kg", exclude: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """Top values of `column` by `metric` in the window, with their share now and before
    (transit countries in `exclude`, the place's own, are left out)."""
    def shares(frame: pd.DataFrame) -> pd.Series:
        if frame.empty:
            return pd.Series(dtype=float)
        values = frame[column]
        if column == "transit_countries":
            frame = frame.assign(**{column: values.str.split(";")}).explode(column)
        frame = frame.dropna(subset=[column])
        if column == "transit_countries" and exclude:
            frame = frame[~frame[column].isin(exclude)]
        totals = frame.groupby(column)[metric].sum()
        return totals / totals.sum() if totals.sum() > 0 else totals

    a, b = shares(now), shares(before)
    rows = []
    for key in a.sort_values(ascending=False).index[:MAX_ROWS]:
        name = geo_name(str(key)) if len(str(key)) == 3 else str(key)
        rows.append({"key": str(key), "name": name, "share": float(a[key]),
                     "before": float(b.get(key, 0.0)),
                     "change": float(a[key]) - float(b.get(key, 0.0))})
    return rows


def mix_table(now: pd.DataFrame, before: pd.DataFrame, column: str, metric: str,
              label: str) -> pd.DataFrame:
    """`key, share, window` rows of a mix (top values) for `charts.mix_chart`."""
    rows = ranked_change(now, before, column, metric)
    out = [{"key": r["name"], "share": r["share"], "window": label} for r in rows[:8]]
    out += [{"key": r["name"], "share": r["before"], "window": "before"} for r in rows[:8]]
    return pd.DataFrame(out, columns=["key", "share", "window"])


def flow_lines(flows: pd.DataFrame) -> pd.DataFrame:
    """`from, to, kg, seizures` between departure and seizing country, largest first."""
    known = flows.dropna(subset=["departure_country"])
    if known.empty:
        return pd.DataFrame(columns=["from", "to", "kg", "seizures"])
    to = known["destination_country"].where(known["destination_country"].notna(),
                                             known["country"])
    lines = (known.assign(**{"from": known["departure_country"], "to": to})
             .groupby(["from", "to"], as_index=False)[["kg", "seizures"]].sum())
    return lines[lines["from"] != lines["to"]].sort_values("kg", ascending=False,
                                                          ignore_index=True)


def routes_section(place: Place, window: Period, inputs: ReportInputs) -> dict[str, Any]:
    flows, before_window = inputs.routes, window.previous()
    if flows.empty:
        return {"inbound": [], "outbound": [], "departures": [], "transits": [], "modes": [],
                "concealments": [], "lines": pd.DataFrame(columns=["from", "to", "kg"]),
                "mode_mix": pd.DataFrame(), "concealment_mix": pd.DataFrame()}
    seized_here = flows["country"].isin(place.countries)
    inbound = seized_here & ~flows["departure_country"].isin(place.countries)
    outbound = flows["departure_country"].isin(place.countries) & ~seized_here
    now, before = _in(flows, window), _in(flows, before_window)
    lines = flow_lines(_in(flows[inbound | outbound], window))
    records = inputs.records
    rec_now, rec_before = _in(records, window, "date"), _in(records, before_window, "date")
    if not rec_now.empty:
        rec_now, rec_before = rec_now.assign(n=1), rec_before.assign(n=1)
    in_now, in_before = now[now.index.isin(flows.index[inbound])], \
        before[before.index.isin(flows.index[inbound])]
    return {
        "inbound": _line_rows(lines[lines["to"].isin(place.countries)]),
        "outbound": _line_rows(lines[lines["from"].isin(place.countries)]),
        "departures": ranked_change(in_now, in_before, "departure_country"),
        "transits": ranked_change(in_now, in_before, "transit_countries",
                                  exclude=place.countries),
        "modes": ranked_change(now[now.index.isin(flows.index[seized_here])],
                               before[before.index.isin(flows.index[seized_here])],
                               "transport_mode", "seizures"),
        "concealments": (ranked_change(rec_now, rec_before, "concealment", "n")
                         if not rec_now.empty else []),
        "lines": lines,
        "mode_mix": mix_table(now[now.index.isin(flows.index[seized_here])],
                              before[before.index.isin(flows.index[seized_here])],
                              "transport_mode", "seizures", window.label),
        "concealment_mix": (mix_table(rec_now, rec_before, "concealment", "n", window.label)
                            if not rec_now.empty else pd.DataFrame()),
    }


def _line_rows(lines: pd.DataFrame) -> list[dict[str, Any]]:
    return [{"from": geo_name(r["from"]), "to": geo_name(r["to"]), "kg": float(r["kg"]),
             "seizures": int(r["seizures"])} for r in lines.head(MAX_ROWS).to_dict("records")]
