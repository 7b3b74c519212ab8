"""Every detector setting of a run, and its conversion to the periods of the build's frequency.

`DetectionConfig` states windows in months and volumes per month, whatever the build: a weekly
build detects over the same spans of time (a 24-month baseline is 104 weeks, a year is 52
periods) and with the same volume at stake per month. `DetectionPeriods` is that config in the
periods of one frequency (`MS`, `W-MON`, `YS`), what the detectors are called with. A yearly
build has no sub-year periods: the detectors that need them (`YEARLY_SKIPPED`) are not run on it,
and the run names them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

from core.settings import Settings
from models.panel import PERIODS_PER_YEAR

#: Build frequency -> the word for its periods (evidence, summaries).
PERIOD_UNITS: dict[str, str] = {"MS": "months", "W-MON": "weeks", "YS": "years"}
#: Detectors a yearly build cannot run, and why (named in the run's summary).
YEARLY_SKIPPED: dict[str, str] = {
    "emerging_trend": "needs an 8-month ramp and the same months a year before",
    "surge": "needs a level shift dated to a month within the last 9",
    "decline": "needs a level shift dated to a month within the last 9",
}


@dataclass(frozen=True)
class DetectionConfig:
    """Every detector setting of a run (logged with each evaluation). Windows are in months and
    volumes per month; `DetectionPeriods.of` converts them for the build's frequency."""

    false_discovery_rate: float = 0.05
    geo_levels: tuple[str, ...] = ("world", "region", "subregion", "country", "admin1")
    min_seizures: float = 10.0  # mean seizures per month at stake in a count series (a change of
    # a few seizures from a handful is Poisson noise)
    min_kg: float = 5.0  # mean kg per month at stake in a kg series
    min_kg_seizures: float = 20.0  # mean seizures a month behind a kg alert (heavy-tailed sizes)
    min_ratio: float = 1.5  # fold change a level alert needs (1 / it for a decline)
    baseline: int = 24  # months of history a level is compared with
    trend_window: int = 8
    trend_min_valid: int = 6
    trend_recent: int = 3
    trend_min_above: int = 2
    trend_k: float = 2.0
    trend_metrics: tuple[str, ...] = ("seizures",)  # kg sums move with a few big seizures
    shift_max_lag: int = 9
    shift_min_after: int = 3
    shift_min_persistence: float = 0.75
    new_drug_window: int = 6
    new_drug_min_history: int = 12
    new_drug_min_seizures: float = 5.0  # in total since first seen
    new_drug_min_periods: int = 2
    # months just before a first sighting in which the drug's absence must have been reported
    # (not a gap, not a low-reporting spell): a first sighting as reports come back (RUS NPS in
    # 2016-11, DNK's police districts in 2016-09, on IDS) is the reports, not the drug
    new_drug_seen_absent: int = 3
    route_recent: int = 6
    route_baseline: int = 24
    route_min_total: float = 30.0  # seizures in a window
    route_min_effect: float = 0.1  # Cramér's V
    route_min_share_change: float = 0.05
    mo_min_total: float = 30.0  # known-method seizures in each window (modus operandi shift)
    mo_min_share_change: float = 0.15  # a method gaining or losing share by at least this
    mo_min_effect: float = 0.2  # Cramér's V (0.1 raised a few short-lived noise shifts a seed)
    max_missing_share: float = 0.1  # aggregates with more of their usual volume unreported: unknown
    min_test_seizures: float = 2.0  # mean seizures a month (scan span) to be tested at all
    min_baseline_valid: int = 12  # reported months a baseline needs
    coverage_lookback: int = 36  # months over which a country's usual contribution is judged

    @classmethod
    def from_settings(cls, settings: Settings) -> DetectionConfig:
        """The config with every field the settings define (`false_discovery_rate`, ...)."""
        values = {f.name: getattr(settings, f.name) for f in fields(cls)
                  if hasattr(settings, f.name)}
        if "geo_levels" in values:
            values["geo_levels"] = tuple(values["geo_levels"])
        return cls(**values)

    def as_params(self) -> dict[str, Any]:
        """Flat parameters for MLflow."""
        return {k: (",".join(v) if isinstance(v, tuple) else v) for k, v in asdict(self).items()}


_MONTH_WINDOWS = ("baseline", "trend_window", "trend_min_valid", "trend_recent",
                  "trend_min_above", "shift_max_lag", "shift_min_after", "new_drug_window",
                  "new_drug_min_history", "new_drug_min_periods", "new_drug_seen_absent",
                  "route_recent",
                  "route_baseline", "min_baseline_valid", "coverage_lookback")
_MONTHLY_VOLUMES = ("min_seizures", "min_kg", "min_kg_seizures", "min_test_seizures")


@dataclass(frozen=True)
class DetectionPeriods:
    """A config's windows in periods of `freq` and its volumes per period (identical to the
    config on a monthly build)."""

    freq: str
    season: int  # periods in a year
    per_month: float  # periods in a month (volumes per period = per month / it)
    baseline: int
    trend_window: int
    trend_min_valid: int
    trend_recent: int
    trend_min_above: int
    shift_max_lag: int
    shift_min_after: int
    new_drug_window: int
    new_drug_min_history: int
    new_drug_min_periods: int
    new_drug_seen_absent: int
    route_recent: int
    route_baseline: int
    min_baseline_valid: int
    coverage_lookback: int
    min_seizures: float
    min_kg: float
    min_kg_seizures: float
    min_test_seizures: float

    @classmethod
    def of(cls, config: DetectionConfig, freq: str = "MS") -> DetectionPeriods:
        season = PERIODS_PER_YEAR[freq]
        per_month = season / 12
        windows = {name: max(1, round(getattr(config, name) * per_month))
                   for name in _MONTH_WINDOWS}
        volumes = {name: getattr(config, name) / per_month for name in _MONTHLY_VOLUMES}
        if freq == "MS":  # exactly the config's numbers (no float round trip)
            volumes = {name: getattr(config, name) for name in _MONTHLY_VOLUMES}
        return cls(freq=freq, season=season, per_month=per_month, **windows, **volumes)

    @property
    def unit(self) -> str:
        """`months`, `weeks` or `years`."""
        return PERIOD_UNITS[self.freq]

    @property
    def skipped(self) -> dict[str, str]:
        """Alert types this frequency cannot detect -> why."""
        return dict(YEARLY_SKIPPED) if self.freq == "YS" else {}

    def monthly(self, per_period: float) -> float:
        """A volume per period as a volume per month (what severity is graded on)."""
        return per_period if self.freq == "MS" else per_period * self.per_month
