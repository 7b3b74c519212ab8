"""Every chart of Narcotrend as one Vega-Lite specification, built with Altair.

The dashboard fetches these specs from the API (`/v1/charts/...`) and draws them with the
vendored vega, vega-lite, vega-embed and vega-interpreter builds; the e-mail digest renders the
same specs to PNG with vl-convert (`to_png`); reports reuse them for their PDFs. So a series'
chart in an e-mail and on the dashboard are the same data and the same marks.

Specs carry their data inline (no URL to fetch) and name their layers (`history`, `band95`,
`band80`, `forecast`, `alert_period`, `shares`, `severity`, `trends`): Vega gives each drawn
mark group that name as a CSS class, which the browser tests look for.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import altair as alt
import pandas as pd
import vl_convert

from core.geography import geo_name

HISTORY_PERIODS = 60
SMOOTH_PERIODS = 3
SEVERITY_COLOURS = {"low": "#6f9bc9", "medium": "#d9a21b", "high": "#e0702b",
                    "critical": "#c81d32"}
HISTORY_COLOUR, FORECAST_COLOUR, MARK_COLOUR = "#1f4e79", "#e76f51", "#c0392b"
WIDTH, HEIGHT = 560, 220


def _dates(frame: pd.DataFrame, column: str = "ds") -> pd.DataFrame:
    out = frame.copy()
    out[column] = pd.to_datetime(out[column]).dt.strftime("%Y-%m-%d")
    return out


def _x(title: str = "") -> alt.X:
    return alt.X("ds:T", title=title, axis=alt.Axis(format="%Y", tickCount="year"))


def series_title(geo: str, drug: str, metric: str) -> str:
    """`Hong Kong: cocaine (seizures)`, the title of a series' chart everywhere."""
    return f"{geo_name(geo)}: {drug} ({metric})"


def series_spec(history: pd.DataFrame, forecast: pd.DataFrame | None = None, *,
                title: str = "", metric: str = "", mark_period: str | None = None
                ) -> dict[str, Any]:
    """History (`ds, y`, last `HISTORY_PERIODS`), the forecast with its 80/95% band, and a
    rule at `mark_period` (`YYYY-MM`, the alert's period) when given. Gaps stay gaps."""
    hist = _dates(history[["ds", "y"]].sort_values("ds").tail(HISTORY_PERIODS))
    y_title = metric or "value"
    layers = [alt.Chart(hist, name="history").mark_line(color=HISTORY_COLOUR, strokeWidth=1.6)
              .encode(x=_x(), y=alt.Y("y:Q", title=y_title),
                      tooltip=[alt.Tooltip("ds:T", format="%Y-%m", title="period"),
                               alt.Tooltip("y:Q", format=",.0f", title=y_title)])]
    if forecast is not None and not forecast.empty:
        fc = _dates(forecast.sort_values("ds").drop_duplicates("ds")[
            ["ds", "forecast", "lo_80", "hi_80", "lo_95", "hi_95"]])
        base = alt.Chart(fc)
        layers += [
            base.mark_area(color=FORECAST_COLOUR, opacity=0.2).encode(
                x=_x(), y="lo_95:Q", y2="hi_95:Q").properties(name="band95"),
            base.mark_area(color=FORECAST_COLOUR, opacity=0.35).encode(
                x=_x(), y="lo_80:Q", y2="hi_80:Q").properties(name="band80"),
            base.mark_line(color=FORECAST_COLOUR, strokeDash=[5, 3], strokeWidth=1.4).encode(
                x=_x(), y="forecast:Q",
                tooltip=[alt.Tooltip("ds:T", format="%Y-%m", title="period"),
                         alt.Tooltip("forecast:Q", format=",.0f")]).properties(name="forecast"),
        ]
    if mark_period:
        start = pd.Period(mark_period, "M").start_time.strftime("%Y-%m-%d")
        marked = pd.DataFrame({"ds": [start], "label": [f"alert from {mark_period}"]})
        layers.append(alt.Chart(marked, name="alert_period")
                      .mark_rule(color=MARK_COLOUR, strokeDash=[2, 2], strokeWidth=1.5)
                      .encode(x=_x(), tooltip=["label:N"]))
    chart = alt.layer(*layers).properties(width=WIDTH, height=HEIGHT,
                                          title=alt.TitleParams(title, anchor="start"))
    return chart.to_dict()


def smoothed_shares(shares: pd.DataFrame, periods: int = SMOOTH_PERIODS) -> pd.DataFrame:
    """`ds, key, share` with each key's share averaged over `periods` months (trailing)."""
    if shares.empty:
        return shares[["ds", "key", "share"]].copy()
    wide = (shares.pivot_table(index="ds", columns="key", values="share", aggfunc="sum")
            .sort_index().fillna(0.0))
    smooth = wide.rolling(periods, min_periods=1).mean()
    smooth = smooth.div(smooth.sum(axis=1).where(lambda s: s > 0, 1.0), axis=0)
    return (smooth.reset_index().melt(id_vars="ds", var_name="key", value_name="share")
            .sort_values(["ds", "key"]))


def route_shares_spec(shares: pd.DataFrame, keys: Sequence[str], *, title: str = ""
                      ) -> dict[str, Any]:
    """Stacked shares of route values over time, smoothed over 3 months, yearly ticks."""
    data = _dates(smoothed_shares(shares))
    chart = (alt.Chart(data, name="shares").mark_area()
             .encode(x=_x(), y=alt.Y("share:Q", stack="normalize", title="share",
                                      axis=alt.Axis(format="%")),
                     color=alt.Color("key:N", sort=list(keys), title=None),
                     tooltip=[alt.Tooltip("ds:T", format="%Y-%m", title="period"), "key:N",
                              alt.Tooltip("share:Q", format=".0%",
                                          title="share (3-month average)")])
             .properties(width=WIDTH, height=HEIGHT,
                         title=alt.TitleParams(title or "route shares (3-month average)",
                                               anchor="start")))
    return chart.to_dict()


def severity_counts_spec(counts: Mapping[str, int], *, title: str = "") -> dict[str, Any]:
    """Bars of counts per severity, low to critical, in the severity colours."""
    order = list(SEVERITY_COLOURS)
    data = pd.DataFrame({"severity": order, "count": [int(counts.get(s, 0)) for s in order]})
    chart = (alt.Chart(data, name="severity").mark_bar()
             .encode(x=alt.X("severity:N", sort=order, title=None, axis=alt.Axis(labelAngle=0)),
                     y=alt.Y("count:Q", title="alerts", axis=alt.Axis(tickMinStep=1)),
                     color=alt.Color("severity:N", sort=order, legend=None,
                                     scale=alt.Scale(domain=order,
                                                     range=list(SEVERITY_COLOURS.values()))),
                     tooltip=["severity:N", "count:Q"])
             .properties(width=260, height=160, title=alt.TitleParams(title, anchor="start")))
    return chart.to_dict()


def ranked_bars_spec(rows: Sequence[Mapping[str, Any]], *, title: str = "") -> dict[str, Any]:
    """Horizontal bars of `label, value, severity` (top trends), largest first."""
    data = pd.DataFrame(list(rows), columns=["label", "value", "severity"])
    order = list(SEVERITY_COLOURS)
    chart = (alt.Chart(data, name="trends").mark_bar()
             .encode(y=alt.Y("label:N", sort="-x", title=None),
                     x=alt.X("value:Q", title="score"),
                     color=alt.Color("severity:N", legend=None,
                                     scale=alt.Scale(domain=order,
                                                     range=list(SEVERITY_COLOURS.values()))),
                     tooltip=["label:N", "severity:N", alt.Tooltip("value:Q", format=".2f")])
             .properties(width=320, height=alt.Step(18),
                         title=alt.TitleParams(title, anchor="start")))
    return chart.to_dict()


def layer_names(spec: Mapping[str, Any]) -> list[str]:
    """The named layers of a spec, in drawing order (what a reader sees: its marks)."""
    layers = spec.get("layer", [spec])
    return [str(layer.get("name", "")) for layer in layers]


def to_png(spec: Mapping[str, Any], scale: float = 1.0) -> bytes:
    """The chart as PNG (for e-mail), rendered by vl-convert without a browser."""
    return vl_convert.vegalite_to_png(dict(spec), scale=scale)
