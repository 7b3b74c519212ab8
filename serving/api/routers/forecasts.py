"""Champion forecasts with 80 and 95% intervals (DESIGN section 4), and what a planner must
know to read them: how long the series has been silent, and what an aggregate assumes."""

from __future__ import annotations

from typing import Any

import numpy as np
from fastapi import APIRouter, HTTPException, status

from core.geography import geo_covers
from core.taxonomy import substance_group
from serving.api.auth import Principal
from serving.api.deps import PrincipalDep, StateDep
from serving.api.model_store import SeriesData
from serving.api.routers.series import SeriesId, loaded_series, visible_series
from serving.api.schemas import Forecast, error_responses
from training.classes import MIN_REPORTED, too_few_reported

router = APIRouter(prefix="/v1/forecasts", tags=["forecasts"],
                   responses=error_responses(401, 403, 404, 503))

NO_FORECASTS = "no forecasts loaded; run `narcotrend train`"
#: a series (or an aggregate's country) silent this many periods at the end gets a note
SILENT_PERIODS = 3
NAMED_MEMBERS = 5
AGGREGATE_LEVELS = ("world", "region", "subregion")


@router.get("/{unique_id:path}", response_model=Forecast, summary="Forecast of one series")
def get_forecast(unique_id: SeriesId, state: StateDep, principal: PrincipalDep) -> Forecast:
    """The champion's forecast for the series, the model chosen for it and the version, the
    last period the series was reported, and notes on how to read it."""
    if state.forecasts is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, detail=NO_FORECASTS)
    row = visible_series(state, principal, unique_id)
    entry = state.forecasts.get(unique_id)
    if entry is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=(
            f"no forecast for {unique_id}: {too_few_reported(row['n_obs'])}"
            if row["n_obs"] < MIN_REPORTED else
            f"no forecast for {unique_id} in the champion's run"))
    from_model = (state.forecasts_source or "").startswith("model version")
    return Forecast(unique_id=unique_id, model=entry["model"],
                    model_version=(state.champion.version if state.champion and from_model
                                   else None),
                    source=state.forecasts_source or "", points=entry["points"],
                    last_reported=row.get("last_reported"),
                    notes=forecast_notes(loaded_series(state), state.forecasts, row, principal))


def forecast_notes(series: SeriesData, forecasts: dict[str, dict[str, Any]],
                   row: dict[str, Any], principal: Principal) -> list[str]:
    """What the numbers assume: a forecast is of periods reported in full, so a series silent
    at the end is forecast as if it reported again, and an aggregate is the sum of its
    countries' forecasts, each as if it reported (the countries silent at the end named), and
    a substance's forecast is its share of its group's there."""
    notes = []
    silent = int(row.get("silent_periods", 0))
    if silent >= SILENT_PERIODS:
        since = str(row["last_reported"])[:7] if row.get("last_reported") else "never"
        notes.append(f"not reported since {since} ({silent} periods): the forecast is of the "
                     "periods as if reported in full, not of a continued silence")
    if row.get("geo_level") in AGGREGATE_LEVELS:
        members = [m for m in _members(series, row) if m["unique_id"] in forecasts
                   and principal.sees(m["region"])]
        quiet = sorted((m for m in members if m["silent_periods"] >= SILENT_PERIODS),
                       key=lambda m: -_mean_forecast(forecasts[m["unique_id"]]))
        text = (f"the sum of the forecasts of its {len(members)} countries, each as if it "
                "reports in full")
        if quiet:
            named = ", ".join(f"{m['geo']} (since {str(m['last_reported'] or 'never')[:7]})"
                              for m in quiet[:NAMED_MEMBERS])
            more = f" and {len(quiet) - NAMED_MEMBERS} more" if len(quiet) > NAMED_MEMBERS else ""
            text += f"; silent for the last {SILENT_PERIODS} periods or more: {named}{more}"
        notes.append(text)
    if row.get("drug_level") == "substance":
        group = substance_group(row["drug"])
        share = _share_of_group(series, forecasts, row, group)
        if share is not None:
            part = "under 1%" if 0 < share < 0.005 else f"{share:.0%}"
            how = (f"the sum of its countries' shares of their {group} forecasts"
                   if row.get("geo_level") in AGGREGATE_LEVELS else
                   "its share of the group's forecast, in proportion to the substances' own "
                   "forecasts")
            notes.append(f"{part} of the {group} forecast here: {how}, so the substances add "
                         "up to the group")
    return notes


def _share_of_group(series: SeriesData, forecasts: dict[str, dict[str, Any]],
                    row: dict[str, Any], group: str) -> float | None:
    """A substance's share of its ``group``'s forecast at its place, when the forecasts of the
    group's substances there add up to the group's (as training.drug_trees makes them)."""
    parts = series.drug_parts.get((row["geo_level"], row["geo"], group, row["metric"]), {})
    tops, substances = parts.get("group", []), parts.get("substance", [])
    if len(tops) != 1 or tops[0] not in forecasts or row["unique_id"] not in forecasts:
        return None
    total = _mean_forecast(forecasts[tops[0]])
    summed = sum(_mean_forecast(forecasts[u]) for u in substances if u in forecasts)
    if total <= 0 or abs(summed - total) > 1e-6 * total:
        return None
    return _mean_forecast(forecasts[row["unique_id"]]) / total


def _members(series: SeriesData, row: dict[str, Any]) -> list[dict[str, Any]]:
    """The country series summed into an aggregate's series (same drug and metric)."""
    return [info for info in series.countries.get((row["drug_level"], row["drug"],
                                                   row["metric"]), [])
            if geo_covers(row["geo"], info)]


def _mean_forecast(entry: dict[str, Any]) -> float:
    values = [p["forecast"] for p in entry["points"] if p["forecast"] is not None]
    return float(np.mean(values)) if values else 0.0
