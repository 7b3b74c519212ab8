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
from fastapi import APIRouter, HTTPException, Query, status
from pydantic import BaseModel, Field

from core.errors import NarcotrendError
from core.home import HomePaths
from serving.alerting.links import record_decision
from serving.api.auth import Principal
from serving.api.deps import AnalystDep, PageDep, PrincipalDep, SessionDep, SettingsDep
from serving.api.schemas import Page, error_responses

router = APIRouter(prefix="/v1", tags=["links"], responses=error_responses(401, 403))

UNKNOWN_GROUP = "unknown case group"
MEMBER_COLUMNS = ["seizure_id", "date", "country", "region", "subregion", "substance", "kg",
                  "quantity", "unit", "transport_mode", "origin_country", "departure_country",
                  "transit_countries", "destination_country", "concealment", "logo", "colour",
                  "shape", "unit_weight_g", "purity_pct", "packaging", "profile"]


class CountryShare(BaseModel):
    """What every country concerned may know of a group: counts and months, no records."""

    country: str
    region: str | None
    seizures: int
    first_month: str
    last_month: str


class Signature(BaseModel):
    """The signature the group's seizures share (null where they do not agree)."""

    logo: str | None = None
    colour: str | None = None
    shape: str | None = None
    unit_weight_g: float | None = None
    purity_pct: float | None = None
    packaging: str | None = None
    profile: str | None = Field(None, description="The profile's two main compounds")


class CaseGroup(BaseModel):
    group_id: str
    drug: str | None
    drug_group: str | None
    countries: list[str]
    cross_border: bool
    n_seizures: int = Field(description="All seizures of the group, in scope or not")
    n_in_scope: int = Field(description="Seizures this key may see in full")
    kg_in_scope: float
    first_date_in_scope: str | None
    last_date_in_scope: str | None
    first_month: str
    last_month: str
    per_country: list[CountryShare]
    shared: Signature
    strength: float
    confirmed: bool


class Member(BaseModel):
    """One seizure of the group inside the key's regions."""

    seizure_id: str
    date: str
    country: str
    region: str | None
    strength: float
    record: dict[str, Any]


class TimelinePoint(BaseModel):
    month: str
    country: str
    seizures: int


class CaseGroupDetail(CaseGroup):
    members: list[Member]
    timeline: list[TimelinePoint] = Field(description="Seizures in scope by month and country")


class DecisionIn(BaseModel):
    kind: Literal["confirm", "detach", "join"]
    seizure_id: str | None = Field(None, max_length=128)
    other_group_id: str | None = Field(None, max_length=32)
    note: str | None = Field(None, max_length=2000)


class DecisionOut(BaseModel):
    id: str
    kind: str
    group_id: str
    members: int
    decided_by: str


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
    country: Annotated[str | None, Query(max_length=3, examples=["NLD"])] = None,
    drug: Annotated[str | None, Query(max_length=64, examples=["MDMA"])] = None,
    period: Annotated[str | None, Query(pattern=r"^\d{4}-\d{2}$", examples=["2024-03"])] = None,
    cross_border: bool | None = None,
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
def get_link(group_id: str, settings: SettingsDep, principal: PrincipalDep) -> CaseGroupDetail:
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
def decide(group_id: str, body: DecisionIn, settings: SettingsDep, session: SessionDep,
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
