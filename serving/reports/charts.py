"""The report's charts as Vega-Lite specifications (Altair), drawn to SVG by vl-convert.

The series-with-forecast chart is `serving.charts.series_spec`, the one spec the dashboard, the
digest and the report share. Here, the report's own kinds: `mix_chart` draws a
share-by-category bar chart; `flow_map` the route flows on the vendored world-atlas TopoJSON
(countries-110m), with one line per flow between country centroids computed from the same file.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import altair as alt
import pandas as pd

from core.geography import iso_numeric

WORLD_ATLAS = (Path(__file__).resolve().parents[1] / "dashboard" / "vendor" / "world-atlas"
               / "countries-110m.json")
WIDTH, HEIGHT = 520, 170
MAX_FLOWS = 25


def mix_chart(table: pd.DataFrame, title: str) -> dict[str, Any]:
    """Horizontal bars of `share` by `key`, one colour per `window` (this period / before)."""
    values = [{"key": str(r.key), "share": round(float(r.share), 4), "window": str(r.window)}
              for r in table.itertuples(index=False)]
    chart = alt.Chart(alt.Data(values=values)).mark_bar().encode(
        y=alt.Y("key:N", title=None, sort="-x"), x=alt.X("share:Q", title="share",
                                                        axis=alt.Axis(format="%")),
        yOffset="window:N",
        color=alt.Color("window:N", scale=alt.Scale(range=["#1f4e79", "#a8c5e2"]),
                        legend=alt.Legend(title=None, orient="bottom")))
    return chart.properties(width=WIDTH - 120, height=alt.Step(9),
                            title=alt.Title(title, anchor="start", fontSize=12)).to_dict()


@cache
def _topology() -> dict[str, Any]:
    return json.loads(WORLD_ATLAS.read_text(encoding="utf-8"))


@cache
def centroids() -> dict[str, tuple[float, float]]:
    """ISO3 -> (lon, lat): the mean point of each country's largest ring in the TopoJSON."""
    topo = _topology()
    scale, translate = topo["transform"]["scale"], topo["transform"]["translate"]
    arcs = []
    for arc in topo["arcs"]:
        x = y = 0
        points = []
        for dx, dy in arc:
            x, y = x + dx, y + dy
            points.append((x * scale[0] + translate[0], y * scale[1] + translate[1]))
        arcs.append(points)
    by_numeric: dict[str, tuple[float, float]] = {}
    for geometry in topo["objects"]["countries"]["geometries"]:
        polygons = geometry.get("arcs") or []
        if geometry.get("type") == "Polygon":
            polygons = [polygons]
        rings = [[p for i in polygon[0] for p in arcs[i if i >= 0 else ~i]]
                 for polygon in polygons if polygon]
        if rings and geometry.get("id"):
            ring = max(rings, key=len)
            by_numeric[str(geometry["id"])] = (sum(p[0] for p in ring) / len(ring),
                                               sum(p[1] for p in ring) / len(ring))
    return {iso3: by_numeric[num] for iso3, num in iso_numeric().items() if num in by_numeric}


def flow_map(flows: pd.DataFrame, highlight: tuple[str, ...], title: str,
             topology_url: str | None = None) -> dict[str, Any]:
    """A world map with one line per flow (`from`, `to` ISO3, `kg`), thicker for more kg.

    The report inlines the TopoJSON (vl-convert reads no URL); the dashboard passes
    `topology_url` (/static/vendor/world-atlas/countries-110m.json) for the same map.
    """
    points = centroids()
    lines = []
    for rec in flows.head(MAX_FLOWS).to_dict("records"):
        a, b = points.get(rec["from"]), points.get(rec["to"])
        if a and b and rec["from"] != rec["to"]:
            lines.append({"from": rec["from"], "to": rec["to"], "kg": round(float(rec["kg"]), 1),
                          "lon": a[0], "lat": a[1], "lon2": b[0], "lat2": b[1]})
    numeric = iso_numeric()
    marked = sorted(numeric[c] for c in highlight if c in numeric)
    topo_format = alt.DataFormat(type="topojson", feature="countries")
    data = alt.Data(url=topology_url or WORLD_ATLAS.name, format=topo_format)
    land = alt.Chart(data, name="land").mark_geoshape(stroke="white", strokeWidth=0.3).encode(
        color=alt.condition(alt.FieldOneOfPredicate(field="id", oneOf=marked),
                            alt.value("#f4a261"), alt.value("#d9dee4")))
    # the lines as one named dataset, as every other spec: a reader (the dashboard) tells an
    # empty map by its datasets
    flows_data = alt.NamedData(name="flows")
    flow = alt.Chart(flows_data, name="flows").mark_rule(
        color="#1f4e79", opacity=0.7).encode(
        longitude="lon:Q", latitude="lat:Q", longitude2="lon2:Q", latitude2="lat2:Q",
        strokeWidth=alt.StrokeWidth("kg:Q", scale=alt.Scale(range=[0.6, 5]), legend=None),
        tooltip=["from:N", "to:N", "kg:Q"])
    ends = alt.Chart(flows_data, name="ends").mark_circle(
        color="#c0392b", size=18).encode(
        longitude="lon:Q", latitude="lat:Q")
    chart = alt.layer(land, flow, ends).project(type="equalEarth").properties(
        width=WIDTH, height=270, title=alt.Title(title, anchor="start", fontSize=12))
    spec = chart.to_dict()
    spec["datasets"] = {"flows": lines}
    if topology_url is None:  # inlined after Altair: its validation would copy 100 kB deeply
        spec["layer"][0]["data"] = {"values": _topology(),
                                    "format": {"type": "topojson", "feature": "countries"}}
    return spec


def to_svg(spec: dict[str, Any]) -> str:
    """The SVG of a Vega-Lite spec (vl-convert: the Vega runtime in-process, no browser)."""
    import vl_convert as vlc

    return vlc.vegalite_to_svg(spec)
