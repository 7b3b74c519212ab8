"""Series classes (Syntetos-Boylan ADI / CV², plus too short and mostly missing) on series
whose class is known by construction, and the volume weights per unit."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models.base import to_panel
from training.classes import demand_class, demand_statistics, series_classes, volume_weights


def panel(values: dict[str, np.ndarray]):
    return to_panel(pd.concat([pd.DataFrame({"unique_id": uid, "y": y, "ds": pd.date_range(
        "2015-01-01", periods=len(y), freq="MS")}) for uid, y in values.items()]), freq="MS")


@pytest.mark.parametrize(("adi", "cv2", "expected"), [
    (1.0, 0.1, "smooth"), (1.31, 0.6, "erratic"), (1.32, 0.48, "intermittent"),
    (4.0, 0.49, "lumpy")])
def test_demand_class_cuts_at_adi_1_32_and_cv2_0_49(adi, cv2, expected):
    assert demand_class(adi, cv2) == expected


def test_adi_counts_observed_periods_per_demand_and_cv2_the_spread_of_sizes():
    y = np.array([np.nan, 0, 2, 0, 6, 0, np.nan, 4])  # from the first observation: 6 seen
    adi, cv2, n_obs, missing = demand_statistics(y)
    assert adi == pytest.approx(6 / 3)
    assert cv2 == pytest.approx(np.var([2, 6, 4]) / 4 ** 2)
    assert n_obs == 6 and missing == pytest.approx(1 / 7)


def test_each_kind_of_seizure_series_gets_its_class():
    rng = np.random.default_rng(0)
    n = 48
    lumpy = np.zeros(n)
    lumpy[::6] = [1, 500, 3, 80, 2, 900, 5, 40]
    gappy = np.full(2 * n, np.nan)  # 32 observed of 94 since the first report
    gappy[::3] = 5.0
    classes = series_classes(panel({
        "smooth": 100 + rng.normal(0, 5, n),
        "erratic": rng.choice([1.0, 200.0], n),
        "intermittent": np.tile([0, 0, 0, 10.0], n // 4),
        "lumpy": lumpy,
        "short": np.r_[np.full(n - 10, np.nan), np.full(10, 3.0)],
        "missing": gappy,
    }), min_observed=24).set_index("unique_id")["series_class"]
    assert classes.to_dict() == {"smooth": "smooth", "erratic": "erratic",
                                 "intermittent": "intermittent", "lumpy": "lumpy",
                                 "short": "too_short", "missing": "mostly_missing"}


def test_a_series_that_never_seizes_is_intermittent_not_smooth():
    classes = series_classes(panel({"zero": np.zeros(36)}), min_observed=24)
    assert classes["series_class"].tolist() == ["intermittent"]


def test_volume_weights_sum_to_one_per_unit_and_never_mix_units():
    weights = volume_weights(panel({"A/x/kg": np.full(24, 3.0), "B/x/kg": np.full(24, 1.0),
                                    "A/x/seizures": np.full(24, 50.0)}), window=12)
    assert weights["A/x/kg"] == pytest.approx(0.75) and weights["B/x/kg"] == pytest.approx(0.25)
    assert weights["A/x/seizures"] == pytest.approx(1.0)
