"""Band labels: the series class a band is calibrated for, at one level of the geography.

Conformal bands (:mod:`training.selection`) are set per label and lead time from the
backtest errors of the series with that label. The label is a series class
(:mod:`training.classes`) at a geography level, ``erratic@country``; a label with too few
backtest points takes its class's bands, and a class too few takes the pooled ones.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

STRATUM = "@"  # a band label "<class>@<stratum>": a class at one level of the hierarchy
MIN_STRATUM_SERIES = 30  # series a class needs at a level to be calibrated apart there


def class_part(label: str) -> str:
    """The series class of a band label (:func:`band_strata`)."""
    return label.partition(STRATUM)[0]


def label_classes(labels: pd.Series) -> pd.Series:
    """The series class of each band label in ``labels`` (a missing label stays missing)."""
    return labels.map({label: class_part(str(label)) for label in labels.dropna().unique()})


def quantile_table(quantiles: dict[str, dict[int, np.ndarray]], label: str
                   ) -> dict[int, np.ndarray]:
    """The bands of ``label``: its own, else its class's, else the pooled ones."""
    return quantiles.get(label) or quantiles.get(class_part(label)) or quantiles["pooled"]


def grouped_labels(labels, every=None) -> str:
    """Band labels grouped by class: ``erratic (at admin1, country), smooth``; a class whose
    labels in ``every`` are all in ``labels`` is named alone."""
    levels: dict[str, list[str]] = {}
    for label in sorted(map(str, labels)):
        name, _, level = label.partition(STRATUM)
        levels.setdefault(name, [])
        if level:
            levels[name].append(level)
    whole = {name for name in levels if every is not None and {
        str(label) for label in every if class_part(str(label)) == name} <= set(map(str, labels))
        | {name}}
    return ", ".join(f"{name} (at {', '.join(at)})" if at and name not in whole else name
                     for name, at in levels.items())


def describe_bands(quantiles: dict[str, dict[int, np.ndarray]], error_classes: set[str],
                   widened: list[str]) -> str:
    """The train log's account of the bands: the classes with bands of their own, each with
    the levels calibrated apart, the classes drawn in backtest-error units (a unit is a
    class's, at every level of it) and the labels the older windows widened."""
    own = [label for label, tables in quantiles.items() if label != "pooled" and (
        label == class_part(label) or any(not np.array_equal(t, quantiles[class_part(label)][lvl])
                                          for lvl, t in tables.items()))]
    every = [label for label in quantiles if label != "pooled"]
    per = "class, geography level" if any(STRATUM in label for label in every) else "class"
    return (f"bands conformal per {per} and lead time "
            f"({grouped_labels(own) or 'pooled'}; in backtest-error units: "
            f"{grouped_labels(error_classes, every) or 'none'}; widened by the older windows: "
            f"{grouped_labels(widened, every) or 'none'})")


def band_strata(classes: pd.Series, series: pd.DataFrame) -> pd.Series:
    """Band labels per series: its class at its geography level (``erratic@country``, from
    ``series``' ``geo_level`` column), or its class where it has none. A class's bands pool
    the errors of every series in it, and series at different levels of one hierarchy err
    differently in one class: on the IDS holdout the 1,603 intermittent admin-1 series
    (covering 90% at 80%) set the band of the 68 intermittent countries (76%), and lumpy
    admin-1 series covered 98% against their countries' 83%. Calibrated apart, the countries'
    intermittent class covers 85% (bench/forecast.py).

    A level with fewer than ``MIN_STRATUM_SERIES`` series of the class keeps the class label:
    a series' errors across lead times and overlapping windows move together, so a handful of
    series is a handful of samples however many points they make (CBP's 3 nationwide erratic
    series are 108 backtest points). One with too few backtest points takes its class's bands
    (:func:`error_quantiles`)."""
    if "geo_level" not in series:
        return classes
    levels = series.drop_duplicates("unique_id")
    level = pd.Series(levels["geo_level"].to_numpy(), index=levels["unique_id"].astype(str)
                      ).reindex(classes.index.astype(str))
    level.index = classes.index
    label = pd.Series(np.where(level.notna(), classes.astype(str) + STRATUM + level.astype(str),
                               classes.astype(str)), index=classes.index)
    few = label.map(label.value_counts()) < MIN_STRATUM_SERIES
    return label.where(~few, classes.astype(str))
