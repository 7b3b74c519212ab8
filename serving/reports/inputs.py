"""What a report is about and what it reads: the place, the period, the reader's scope and the
stored frames (DESIGN section 5b).

`Place`, `Period` and `ReportInputs` are plain values, so every section function is a pure
function of them; `load_inputs` is the one place that reads a home's files.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from core.errors import NarcotrendError
from core.geography import WORLD, country_region, country_table, geo_name, normalise_geo
from core.home import HomePaths

KINDS = ("strategic", "tactical")
TACTICAL_MONTHS = 3  # a tactical report looks at the last months up to its period's end
RECORD_COLUMNS = ["seizure_id", "date", "country", "region", "substance", "drug_group", "kg",
                  "transport_mode", "departure_country", "destination_country",
                  "transit_countries", "concealment"]
_PERIOD = re.compile(r"^(\d{4})(?:-(\d{2})|-Q([1-4]))?$")


@dataclass(frozen=True)
class Place:
    """A country (ISO3), a UN subregion or a UN region, with the countries it holds."""

    geo: str
    level: str
    name: str
    region: str
    countries: tuple[str, ...]

    def holds(self, iso3: Any) -> bool:
        return isinstance(iso3, str) and iso3 in self.countries


def resolve_place(geo: str) -> Place:
    """The place of a report; the world is not one (its countries are not "concerned")."""
    value = normalise_geo(geo)
    if value == WORLD:
        raise NarcotrendError("a report is for a country, a UN subregion or a UN region, "
                              "not the world")
    table = country_table().dropna(subset=["region"])
    if len(value) == 3 and value.isupper() and value in table.index:
        return Place(value, "country", geo_name(value), country_region(value) or "",
                     (value,))
    for level in ("region", "subregion"):
        rows = table[table[level] == value]
        if len(rows):
            return Place(value, level, value, str(rows["region"].iloc[0]),
                         tuple(sorted(rows.index)))
    raise NarcotrendError(f"geo {geo!r} has no countries to report on")


@dataclass(frozen=True)
class Period:
    """A month (`2024-12`), a quarter (`2024-Q4`) or a year (`2024`): its months, inclusive."""

    label: str
    start: pd.Timestamp
    end: pd.Timestamp  # the first day of the last month

    @property
    def months(self) -> int:
        return (self.end.year - self.start.year) * 12 + self.end.month - self.start.month + 1

    def previous(self) -> Period:
        """The period of the same length just before (the comparison base)."""
        start = self.start - pd.DateOffset(months=self.months)
        return Period(f"previous {self.months} months", start,
                      self.start - pd.DateOffset(months=1))

    def contains(self, ds: pd.Series) -> pd.Series:
        return (ds >= self.start) & (ds <= self.end)


def parse_period(text: str) -> Period:
    """`2024-12`, `2024-Q4` or `2024`; anything else is a one-line error."""
    match = _PERIOD.match(str(text).strip())
    if not match or (match.group(2) and not 1 <= int(match.group(2)) <= 12):
        raise NarcotrendError(f"period {text!r} is not a month (2024-12), a quarter (2024-Q4) "
                              "or a year (2024)")
    year, month, quarter = int(match.group(1)), match.group(2), match.group(3)
    if month:
        start = pd.Timestamp(year=year, month=int(month), day=1)
        return Period(str(text).strip(), start, start)
    if quarter:
        start = pd.Timestamp(year=year, month=3 * int(quarter) - 2, day=1)
        return Period(str(text).strip(), start, start + pd.DateOffset(months=2))
    return Period(str(year), pd.Timestamp(year=year, month=1, day=1),
                  pd.Timestamp(year=year, month=12, day=1))


def window(period: Period, kind: str) -> Period:
    """The months a report's sections look at: the period for a strategic report; the last
    `TACTICAL_MONTHS` up to the period's end (or the period, if longer) for a tactical one."""
    if kind not in KINDS:
        raise NarcotrendError(f"kind {kind!r} is unknown; use strategic or tactical")
    if kind == "strategic" or period.months >= TACTICAL_MONTHS:
        return period
    start = period.end - pd.DateOffset(months=TACTICAL_MONTHS - 1)
    return Period(period.label, start, period.end)


@dataclass
class ReportInputs:
    """The frames and alert dicts a report is made of (any may be empty)."""

    series: pd.DataFrame
    routes: pd.DataFrame
    forecasts: pd.DataFrame
    records: pd.DataFrame
    quarantine: pd.DataFrame
    alerts: list[dict[str, Any]]
    groups: pd.DataFrame = field(default_factory=pd.DataFrame)
    links: pd.DataFrame = field(default_factory=pd.DataFrame)
    data_end: pd.Timestamp | None = None
    built_at: str | None = None


def _read(path, place: Place | None = None, column: str | None = None,
          columns: list[str] | None = None) -> pd.DataFrame:
    if not path.exists():
        return pd.DataFrame()
    filters = None
    if place is not None and column is not None:
        filters = [(column, "in", list(place.countries))]
    present = None
    if columns is not None:
        import pyarrow.parquet as pq

        present = [c for c in columns if c in pq.read_schema(path).names]
    return pd.read_parquet(path, columns=present, filters=filters)


def _series_of(paths: HomePaths, place: Place) -> pd.DataFrame:
    """The place's own series and those of its countries (not the whole catalogue)."""
    if not paths.series.exists():
        return pd.DataFrame()
    geos = sorted({place.geo, *place.countries})
    return pd.read_parquet(paths.series, filters=[("geo", "in", geos)])


def load_inputs(paths: HomePaths, place: Place, alerts: list[dict[str, Any]]) -> ReportInputs:
    """The stored frames a report of `place` needs: its series (and forecasts of them), the
    route flows seized in, leaving or bound for its countries, its records and quarantine, the
    case groups and links if `narcotrend link` wrote them. Missing files give empty frames."""
    series = _series_of(paths, place)
    forecasts = pd.DataFrame()
    if paths.forecasts.exists() and not series.empty:
        forecasts = pd.read_parquet(paths.forecasts, filters=[
            ("unique_id", "in", sorted(series["unique_id"].unique()))])
    routes = _read(paths.routes)
    if not routes.empty:
        routes = routes[routes["country"].isin(place.countries)
                        | routes["departure_country"].isin(place.countries)
                        | routes["destination_country"].isin(place.countries)]
    manifest = {}
    if paths.build_manifest.exists():
        manifest = json.loads(paths.build_manifest.read_text(encoding="utf-8"))
    return ReportInputs(
        series=series, routes=routes.reset_index(drop=True), forecasts=forecasts,
        records=_read(paths.records, place, "country", RECORD_COLUMNS),
        quarantine=_read(paths.quarantine, columns=["country", "reason"]),
        alerts=alerts, groups=_read(paths.groups), links=_read(paths.links),
        data_end=pd.Timestamp(manifest["end"]) if manifest.get("end") else None,
        built_at=manifest.get("built_at"))
