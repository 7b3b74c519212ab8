"""Linked cases: case groups across countries, need to know (issue 21).

A region-scoped key sees a group when any of its seizures lies in its regions. Of its own
regions it sees the seizures in full; of the others only the countries, their seizure counts and
first/last month (what lets the countries concerned ask for a meeting), never their records: no
ids, places, quantities, routes or dates. Kilograms and dates of a group are therefore those of
the seizures in scope. A group the key may not see is "unknown" (404), like one that does not
exist. Analysts (unscoped, or scoped and seeing the group) record decisions; they are kept with
who took them and audited like every call.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

import pandas as pd
from fastapi import APIRouter, HTTPException, Path, Query, status
from pydantic import BaseModel, Field

from core.errors import NarcotrendError
from core.home import HomePaths
from serving.alerting.links import record_decision
from serving.api.auth import Principal
from serving.api.deps import AnalystDep, PageDep, PrincipalDep, SessionDep, SettingsDep
from serving.api.schemas import Page, error_responses

router = APIRouter(prefix="/v1", tags=["links"], responses=error_responses(401, 403))

UNKNOWN_GROUP = "unknown case group"
GroupId = Annotated[str, Path(description="The case group's id")]
MEMBER_COLUMNS = ["seizure_id", "date", "country", "region", "subregion", "substance", "kg",
                  "quantity", "unit", "transport_mode", "origin_country", "departure_country",
                  "transit_countries", "destination_country", "concealment", "logo", "colour",
                  "shape", "unit_weight_g", "purity_pct", "packaging", "profile"]


class CountryShare(BaseModel):
    """What every country concerned may know of a group: counts and months, no records."""

    country: str = Field(description="ISO3 of a country concerned")
    region: str | None = Field(description="Its UN region")
    seizures: int = Field(description="Seizures of the group there")
    first_month: str = Field(description="First month with one (`YYYY-MM`)")
    last_month: str = Field(description="Last month with one (`YYYY-MM`)")


class Signature(BaseModel):
    """The signature the group's seizures share (null where they do not agree)."""

    logo: str | None = Field(None, description="Logo shared by the seizures")
    colour: str | None = Field(None, description="Colour shared")
    shape: str | None = Field(None, description="Tablet or brick shape shared")
    unit_weight_g: float | None = Field(None, description="Unit weight shared, grams")
    purity_pct: float | None = Field(None, description="Purity shared, percent")
    packaging: str | None = Field(None, description="Packaging shared")
    profile: str | None = Field(None, description="The profile's two main compounds")


class CaseGroup(BaseModel):
    group_id: str = Field(description="The case group's id")
    drug: str | None = Field(description="The substance seized")
    drug_group: str | None = Field(description="Its drug group")
    countries: list[str] = Field(description="ISO3 of every country concerned")
    cross_border: bool = Field(description="Seized in two or more countries")
    n_seizures: int = Field(description="All seizures of the group, in scope or not")
    n_in_scope: int = Field(description="Seizures this key may see in full")
    kg_in_scope: float = Field(description="Kilograms seized in the key's regions")
    first_date_in_scope: str | None = Field(description="First seizure in scope (ISO date)")
    last_date_in_scope: str | None = Field(description="Last seizure in scope (ISO date)")
    first_month: str = Field(description="First month of the group (`YYYY-MM`)")
    last_month: str = Field(description="Last month of the group (`YYYY-MM`)")
    per_country: list[CountryShare] = Field(description="Counts and months per country concerned")
    shared: Signature = Field(description="The signature the seizures share")
    strength: float = Field(description="How strongly the seizures link, 0 to 1")
    confirmed: bool = Field(description="An analyst confirmed the group")


class Member(BaseModel):
    """One seizure of the group inside the key's regions."""

    seizure_id: str = Field(description="The seizure's id")
    date: str = Field(description="Date of seizure (ISO date)")
    country: str = Field(description="ISO3 of the seizing country")
    region: str | None = Field(description="Its UN region")
    strength: float = Field(description="How strongly it links to the group, 0 to 1")
    record: dict[str, Any] = Field(description="The seizure record (in-scope members only)")


class TimelinePoint(BaseModel):
    month: str = Field(description="The month (`YYYY-MM`)")
    country: str = Field(description="ISO3 of the country")
    seizures: int = Field(description="Seizures that month there")


class CaseGroupDetail(CaseGroup):
    members: list[Member] = Field(description="The seizures in the key's regions")
    timeline: list[TimelinePoint] = Field(description="Seizures in scope by month and country")


class DecisionIn(BaseModel):
    kind: Literal["confirm", "detach", "join"] = Field(
        description="`confirm` the group, `detach` a seizure, or `join` another group")
    seizure_id: str | None = Field(None, max_length=128, description="The seizure to detach")
    other_group_id: str | None = Field(None, max_length=32, description="The group to join")
    note: str | None = Field(None, max_length=2000, description="Why, for the others")


class DecisionOut(BaseModel):
    id: str = Field(description="The decision's id")
    kind: str = Field(description="What was decided")
    group_id: str = Field(description="The case group")
    members: int = Field(description="Seizures in the group after it")
    decided_by: str = Field(description="The key id that decided")


def load_links(paths: HomePaths) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The groups and their members (links joined with the members' records); empty frames
    before the first `narcotrend link`."""
    if not paths.groups.exists() or not paths.links.exists():
        return pd.DataFrame(), pd.DataFrame(columns=["group_id", "seizure_id", "strength"])
    groups = pd.read_parquet(paths.groups)
    links = pd.read_parquet(paths.links)
    ids = links["seizure_id"].astype(str).tolist()
    records = pd.read_parquet(paths.records, filters=[("seizure_id", "in", ids)]) if ids else \
        pd.DataFrame(columns=MEMBER_COLUMNS)
    records = records.drop_duplicates("seizure_id")
    present = [c for c in MEMBER_COLUMNS if c in records.columns]
    return groups, links.merge(records[present], on="seizure_id", how="left")


def visible(members: pd.DataFrame, principal: Principal) -> pd.Series:
    """Rows of `members` inside the key's regions."""
    if principal.regions is None:
        return pd.Series(True, index=members.index)
    return members["region"].isin(sorted(principal.regions))


def group_view(group: pd.Series, members: pd.DataFrame, principal: Principal) -> dict[str, Any]:
    """A group as this key may see it (module docstring)."""
    mine = members.loc[visible(members, principal)]
    per_country = json.loads(group["per_country"])
    dates = pd.to_datetime(mine["date"])
    shared = {k: _plain(group.get(k)) for k in ("logo", "colour", "shape", "unit_weight_g",
                                                "purity_pct", "packaging")}
    shared["profile"] = _plain(group.get("profile_key"))
    countries = str(group["countries"]).split(";") if group["countries"] else []
    return {
        "group_id": group["group_id"], "drug": group["drug"], "drug_group": group["drug_group"],
        "countries": countries, "cross_border": len(countries) >= 2,
        "n_seizures": int(group["n_seizures"]), "n_in_scope": len(mine),
        "kg_in_scope": round(float(mine["kg"].sum()), 3),
        "first_date_in_scope": dates.min().strftime("%Y-%m-%d") if len(mine) else None,
        "last_date_in_scope": dates.max().strftime("%Y-%m-%d") if len(mine) else None,
        "first_month": min(c["first_month"] for c in per_country),
        "last_month": max(c["last_month"] for c in per_country),
        "per_country": per_country, "shared": shared,
        "strength": round(float(group["strength"]), 4), "confirmed": bool(group["confirmed"])}


def visible_groups(settings: Any, principal: Principal) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The groups with at least one seizure in the key's regions, and all their members."""
    groups, members = load_links(settings.paths)
    if not len(groups):
        return groups, members
    seen = members.loc[visible(members, principal), "group_id"].unique()
    return groups.loc[groups["group_id"].isin(seen)], members


@router.get("/links", response_model=Page[CaseGroup], summary="Linked-case groups")
def list_links(
    settings: SettingsDep, principal: PrincipalDep, page: PageDep,
    country: Annotated[str | None, Query(max_length=3, examples=["NLD"],
                                         description="A country concerned (ISO3)")] = None,
    drug: Annotated[str | None, Query(max_length=64, examples=["MDMA"],
                                      description="A substance or drug group")] = None,
    period: Annotated[str | None, Query(pattern=r"^\d{4}-\d{2}$", examples=["2024-03"],
                                        description="A month the group was active in")] = None,
    cross_border: Annotated[bool | None, Query(
        description="Only groups seized in two or more countries (or only in one)")] = None,
) -> Page[CaseGroup]:
    """Groups any of whose seizures lies in the key's regions; filters: a country concerned,
    drug (substance or group), a month in which the group was active, cross-border or not."""
    groups, members = visible_groups(settings, principal)
    if not len(groups):
        return Page[CaseGroup](total=0, limit=page.limit, offset=page.offset, items=[])
    keep = pd.Series(True, index=groups.index)
    if country is not None:
        keep &= groups["countries"].str.split(";").map(lambda cs: country.upper() in cs)
    if drug is not None:
        wanted = drug.strip().lower()
        keep &= (groups["drug"].str.lower() == wanted) | (groups["drug_group"].str.lower()
                                                           == wanted)
    if period is not None:
        month = pd.Period(period, "M")
        keep &= (groups["first_date"].dt.to_period("M") <= month) & (
            groups["last_date"].dt.to_period("M") >= month)
    if cross_border is not None:
        keep &= (groups["countries"].str.count(";") >= 1) == cross_border
    chosen = groups.loc[keep].sort_values(["last_date", "group_id"], ascending=[False, True])
    by_group = dict(tuple(members.groupby("group_id")))
    items = [CaseGroup.model_validate(group_view(g, by_group[g["group_id"]], principal))
             for _, g in chosen.iloc[page.offset:page.offset + page.limit].iterrows()]
    return Page[CaseGroup](total=len(chosen), limit=page.limit, offset=page.offset, items=items)


@router.get("/links/{group_id}", response_model=CaseGroupDetail,
            responses=error_responses(404), summary="One linked-case group")
def get_link(group_id: GroupId, settings: SettingsDep, principal: PrincipalDep) -> CaseGroupDetail:
    """The group, its seizures inside the key's regions in full, and their timeline."""
    groups, members = visible_groups(settings, principal)
    chosen = groups.loc[groups["group_id"] == group_id] if len(groups) else groups
    if not len(chosen):
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=UNKNOWN_GROUP)
    own = members.loc[members["group_id"] == group_id]
    view = group_view(chosen.iloc[0], own, principal)
    mine = own.loc[visible(own, principal)].sort_values(["date", "seizure_id"])
    months = pd.to_datetime(mine["date"]).dt.strftime("%Y-%m")
    timeline = (mine.assign(month=months).groupby(["month", "country"], observed=True).size()
                .rename("seizures").reset_index())
    view["members"] = [
        {"seizure_id": r["seizure_id"], "date": pd.Timestamp(r["date"]).strftime("%Y-%m-%d"),
         "country": r["country"], "region": r["region"], "strength": float(r["strength"]),
         "record": {k: _plain(r.get(k)) for k in MEMBER_COLUMNS
                    if k not in ("seizure_id", "date", "country", "region")}}
        for _, r in mine.iterrows()]
    view["timeline"] = timeline.to_dict("records")
    return CaseGroupDetail.model_validate(view)


@router.post("/links/{group_id}/decisions", response_model=DecisionOut, status_code=201,
             responses=error_responses(400, 404), summary="Decide on a group (analyst)")
def decide(group_id: GroupId, body: DecisionIn, settings: SettingsDep, session: SessionDep,
           principal: AnalystDep) -> DecisionOut:
    """Confirm the group, detach one of its seizures (in the key's regions) or join it with
    another group the key sees; the next `narcotrend link` honours it."""
    groups, members = visible_groups(settings, principal)
    seen = set(groups["group_id"]) if len(groups) else set()
    if group_id not in seen or (body.other_group_id and body.other_group_id not in seen):
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=UNKNOWN_GROUP)
    if body.kind == "detach":
        mine = members.loc[(members["group_id"] == group_id) & visible(members, principal)]
        if body.seizure_id not in set(mine["seizure_id"]):
            raise HTTPException(status.HTTP_404_NOT_FOUND, detail="unknown seizure")
    try:
        row = record_decision(session, settings.paths, body.kind, group_id,
                              decided_by=principal.key_id, seizure_id=body.seizure_id,
                              other_group_id=body.other_group_id, note=body.note)
    except NarcotrendError as err:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, detail=str(err)) from err
    return DecisionOut(id=row.id, kind=row.kind, group_id=row.group_id,
                       members=len(row.members), decided_by=row.decided_by)


def _plain(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, float) and pd.isna(value):
        return None
    if isinstance(value, pd.Timestamp):
        return value.strftime("%Y-%m-%d")
    if hasattr(value, "item"):
        return value.item()
    return value
