"""A count of seizures is never certain: a band of zero width around a non-zero count forecast
takes the Poisson quantiles of that forecast (training.selection.count_floor)."""

from __future__ import annotations

import pandas as pd

from training.selection import count_floor


def frame(rows: dict[str, tuple[float, float, float, float, float]]) -> pd.DataFrame:
    """One forecast row per id: (forecast, lo_80, hi_80, lo_95, hi_95)."""
    return pd.DataFrame([{"unique_id": uid, "ds": pd.Timestamp("2017-01-01"), "forecast": r[0],
                          "lo_80": r[1], "hi_80": r[2], "lo_95": r[3], "hi_95": r[4],
                          "model": "snaive (fallback)"} for uid, r in rows.items()])


def test_a_flat_band_of_one_seizure_a_month_becomes_its_poisson_band_and_nothing_else_moves():
    before = frame({"SVK/methamphetamine/seizures": (1.0, 1.0, 1.0, 1.0, 1.0),
                    "SVK/methamphetamine/kg": (1.0, 1.0, 1.0, 1.0, 1.0),  # not a count
                    "ITA/diazepam/seizures": (0.0, 0.0, 0.0, 0.0, 0.0),  # nothing forecast
                    "NZL/MDMA/seizures": (40.0, 30.0, 52.0, 24.0, 61.0)})  # calibrated
    after = count_floor(before).set_index("unique_id")
    # Poisson(1): P(0) = 0.37, P(<= 2) = 0.92, P(<= 3) = 0.98
    assert after.loc["SVK/methamphetamine/seizures", ["lo_80", "hi_80", "lo_95", "hi_95"]
                     ].tolist() == [0.0, 2.0, 0.0, 3.0]
    untouched = ["SVK/methamphetamine/kg", "ITA/diazepam/seizures", "NZL/MDMA/seizures"]
    pd.testing.assert_frame_equal(after.loc[untouched], before.set_index("unique_id").loc[
        untouched])
