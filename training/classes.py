"""Series classes: which kind of demand a seizure series is, so that candidates, interval
calibration and every reported figure can be judged per kind instead of one pooled mean.

Syntetos, Boylan & Croston (2005) split demand series by the average inter-demand interval (ADI,
periods per non-zero period) and the squared coefficient of variation of the non-zero sizes
(CV²), at ADI 1.32 and CV² 0.49:

| class        | ADI    | CV²    | typical seizure series                         |
|--------------|--------|--------|------------------------------------------------|
| smooth       | < 1.32 | < 0.49 | a big border's monthly cocaine counts          |
| erratic      | < 1.32 | >= 0.49| seized every month, weights swinging with hauls|
| intermittent | >= 1.32| < 0.49 | a few similar seizures a year                  |
| lumpy        | >= 1.32| >= 0.49| rare seizures of very different sizes          |

Two more classes come first, because no demand statistic means much there: ``too_short``
(fewer observed periods than a backtest needs) and ``mostly_missing`` (more than half of the
periods since the first report are unknown: NaN is "not reporting", never zero).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from models.base import Panel

ADI_CUT = 1.32
CV2_CUT = 0.49
MISSING_CUT = 0.5
# A series reported in fewer periods is not forecast at all (training.fit): one or two values
# show neither a level nor a spread (a single 4,400 kg seizure forecast as 4,400 kg a month
# "with certainty")
MIN_REPORTED = 3


def too_few_reported(n: int) -> str:
    """Why a series reported in ``n`` < ``MIN_REPORTED`` periods gets no forecast."""
    return "no reported period" if n == 0 else (
        f"{n} reported period{'s' * (n > 1)}, fewer than the {MIN_REPORTED} a forecast needs")
CLASSES = ("smooth", "erratic", "intermittent", "lumpy", "too_short", "mostly_missing")
CLASS_COLUMNS = ["unique_id", "series_class", "adi", "cv2", "n_observed", "missing_share"]


def demand_class(adi: float, cv2: float) -> str:
    """The Syntetos-Boylan class of an (ADI, CV²) pair."""
    if adi < ADI_CUT:
        return "smooth" if cv2 < CV2_CUT else "erratic"
    return "intermittent" if cv2 < CV2_CUT else "lumpy"


def demand_statistics(y: np.ndarray) -> tuple[float, float, int, float]:
    """ADI, CV², number of observed periods and share of unknown periods of one series.

    Counted on the observed periods from the first observation on; a series with no non-zero
    period has an infinite ADI (and CV² 0): it is intermittent, not smooth."""
    observed = np.flatnonzero(~np.isnan(y))
    if observed.size == 0:
        return float("inf"), 0.0, 0, 1.0
    span = y[observed[0]:]
    seen = span[~np.isnan(span)]
    missing_share = 1.0 - seen.size / span.size
    sizes = seen[seen > 0]
    if sizes.size == 0:
        return float("inf"), 0.0, int(seen.size), float(missing_share)
    adi = seen.size / sizes.size
    mean = sizes.mean()
    cv2 = float(sizes.var() / mean ** 2) if sizes.size > 1 and mean > 0 else 0.0
    return float(adi), cv2, int(seen.size), float(missing_share)


def series_classes(panel: Panel, min_observed: int) -> pd.DataFrame:
    """``unique_id, series_class, adi, cv2, n_observed, missing_share`` for every series of
    ``panel`` (classify the history the forecasts are fit on, never held-out periods)."""
    rows = []
    for uid, y in zip(panel.ids, panel.y, strict=True):
        adi, cv2, n_obs, missing = demand_statistics(np.asarray(y, float))
        if n_obs < min_observed:
            label = "too_short"
        elif missing > MISSING_CUT:
            label = "mostly_missing"
        else:
            label = demand_class(adi, cv2)
        rows.append((str(uid), label, adi, cv2, n_obs, missing))
    return pd.DataFrame(rows, columns=CLASS_COLUMNS)


def metric_unit(unique_id: str) -> str:
    """The unit of a series (``kg``, ``seizures``...): the last part of ``geo/drug/metric``."""
    return str(unique_id).rsplit("/", 1)[-1]


def volume_weights(panel: Panel, window: int) -> pd.Series:
    """M5-style weights: each series' volume over its last ``window`` observed periods, as a
    share of the total of the series of the same unit, so kg and seizure counts are never
    mixed (the weights of each unit sum to 1). Series with no volume weigh 0."""
    volume = pd.Series({str(uid): float(np.nansum(np.abs(y[~np.isnan(y)][-window:])))
                        for uid, y in zip(panel.ids, panel.y, strict=True)}, dtype=float)
    units = volume.index.map(metric_unit)
    total = volume.groupby(units).transform("sum")
    return (volume / total.where(total > 0)).fillna(0.0).rename("weight")
