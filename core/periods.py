"""The one period vocabulary: `YYYY-MM` months, `YYYY-Www` ISO weeks, `YYYY-Qn` quarters,
`YYYY` years (DESIGN section 5), written wherever a period is shown."""

from __future__ import annotations

import pandas as pd

PERIOD_FORMATS: dict[str, str] = {"M": "YYYY-MM", "W": "YYYY-Www", "Q": "YYYY-Qn", "Y": "YYYY"}


def period_label(ds: str | pd.Timestamp, freq: str = "M") -> str:
    """The period starting at `ds` in the vocabulary: `2025-01`, `2025-W03`, `2025-Q1`, `2025`."""
    moment = pd.Timestamp(ds)
    if freq == "W":
        year, week, _ = moment.isocalendar()
        return f"{year}-W{week:02d}"
    if freq == "Q":
        return f"{moment.year}-Q{moment.quarter}"
    if freq == "Y":
        return f"{moment.year}"
    return f"{moment.year}-{moment.month:02d}"
