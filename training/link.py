"""The link stage: probabilistic record linkage of signed seizures into case groups (issue 21).

`link` reads the home's records, keeps those with any signature field (`models.linkage
.candidates`), estimates the splink model from the data (u by random sampling, m by EM on two
blocking rules, the prior from a strict deterministic rule), scores the blocked pairs, clusters
them with the chaining guard and the analysts' decisions (`models.case_groups`), keeps group
ids stable across runs, writes `data/links/links.parquet` and `groups.parquet`, logs the run to
MLflow (with figures on the synthetic truth when the home's events.json has cases) and returns
the `linked_cases` alerts for serving to store. It never touches the service database.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from core.errors import NarcotrendError
from core.home import read_stored, write_parquet_atomic
from models.case_alerts import linked_case_alerts
from models.case_groups import (
    DEFAULT_SUPPORT,
    DEFAULT_THRESHOLD,
    cluster_links,
    members_frame,
    stable_group_ids,
    strong_mask,
)
from models.linkage import (
    PROFILE_VETO,
    any_blocked_pair,
    candidates,
    link_settings,
    prior_rules,
    profile_cosine,
    strong_links,
    training_rules,
)
from training.link_backend import database_api

if TYPE_CHECKING:
    from core.settings import Settings

LINK_COLUMNS = ["seizure_id", "group_id", "strength"]
GROUP_COLUMNS = ["group_id", "drug", "drug_group", "countries", "regions", "first_date",
                 "last_date", "n_seizures", "total_kg", "logo", "colour", "shape",
                 "unit_weight_g", "purity_pct", "packaging", "profile_key", "strength",
                 "confirmed", "per_country"]
SHARED_FIELDS = ("logo", "colour", "shape", "unit_weight_g", "purity_pct", "packaging",
                 "profile_key")


@dataclass(frozen=True)
class LinkConfig:
    """How pairs are scored and clustered (logged to MLflow as parameters)."""

    threshold: float = DEFAULT_THRESHOLD
    # the bar of a pair whose evidence is chemistry agreeing closely, or a rare logo where a
    # profile is missing (`models.linkage.strong_links`)
    lenient_threshold: float = 0.9
    support: float = DEFAULT_SUPPORT
    u_max_pairs: float = 2e6
    em_max_pairs: float = 3e5
    seed: int = 1
    score_floor: float = 0.5  # pairs scored below this are not kept
    m_floor: float = 0.01  # least m of a level of agreement (`floor_m`)


@dataclass
class Decisions:
    """Analysts' decisions as pairs: honoured by every run (`serving` reads them from its DB)."""

    must_link: list[tuple[str, str]] = field(default_factory=list)
    cannot_link: list[tuple[str, str]] = field(default_factory=list)
    confirmed: set[str] = field(default_factory=set)  # group ids


def score_pairs(cand: pd.DataFrame, config: LinkConfig,
                backend: tuple[Any, str] | None = None) -> tuple[pd.DataFrame, Any]:
    """Train the splink model on `cand` and score its blocked pairs (`id_l`, `id_r`,
    `match_probability`, `match_weight`); also returns the linker (for its charts and m/u).
    `backend` is a splink database API and its dialect (`training.link_backend`; default
    DuckDB)."""
    from splink import DuckDBAPI, Linker, block_on
    from splink.internals.exceptions import EMTrainingException

    db_api, dialect = backend or (DuckDBAPI(), "duckdb")
    table = db_api.register(cand)
    linker = Linker(table, link_settings(dialect), log_level=None)
    for rule in prior_rules(block_on):  # the strictest rule that finds any pair
        linker.training.estimate_probability_two_random_records_match([rule], recall=0.6)
        if linker.misc.save_model_to_json()["probability_two_random_records_match"] > 0:
            break
    linker.training.estimate_u_using_random_sampling(max_pairs=config.u_max_pairs,
                                                     seed=config.seed)
    for session in training_rules(block_on):
        for rule in session:
            try:  # splink's EM refuses an m it drives to 0 (few pairs): the looser rule then
                linker.training.estimate_parameters_using_expectation_maximisation(
                    rule, max_pairs=config.em_max_pairs, estimate_without_term_frequencies=True)
                break
            except (ValueError, EMTrainingException):  # or no pairs at all
                continue
    linker = Linker(table, floor_m(linker.misc.save_model_to_json(), config.m_floor),
                    log_level=None)
    scored = linker.inference.predict(threshold_match_probability=config.score_floor)
    pairs = scored.as_pandas_dataframe()[["seizure_id_l", "seizure_id_r", "match_probability",
                                          "match_weight"]]
    pairs = pairs.rename(columns={"seizure_id_l": "id_l", "seizure_id_r": "id_r"})
    return pairs.assign(profile_cosine=profile_cosine(pairs, cand)), linker


def floor_m(model: dict[str, Any], floor: float) -> dict[str, Any]:
    """A trained splink model (its JSON) with every m probability EM left below `floor` raised
    to it, the comparison's other levels scaled down to keep the sum.

    EM on pairs that are mostly one batch's learns m = 0 for a level no batch pair in its
    sample showed (a colour that disagrees, a weight 20% off), which would make one reporter's
    slip veto a link whatever else agrees (or, a level never seen, weigh as 1e-6). The profile's
    comparison, with its fixed contradiction level, is left as EM has it: one batch's profiles
    agree closely, so a middling cosine rightly counts against a link.
    """
    for comparison in model["comparisons"]:
        levels = [lv for lv in comparison["comparison_levels"] if not lv.get("is_null_level")]
        for lv in levels:  # an m of 0 (EM saw none) as splink weighs a level it never saw
            if lv.get("m_probability") == 0:
                lv["m_probability"] = 1e-6
        if any(lv.get("m_probability") is None for lv in levels):
            continue  # not trained: splink's defaults stand
        if any(lv.get("fix_m_probability") for lv in levels):
            continue  # the profile: its levels below a close match are evidence against
        # splink writes a level EM never saw as text (and weighs it as m = 1e-6)
        seen = [0.0 if isinstance(lv["m_probability"], str) else lv["m_probability"]
                for lv in levels]
        raised = np.maximum(seen, floor)
        for lv, m in zip(levels, raised / raised.sum(), strict=True):
            lv["m_probability"] = float(m)
    return model


def group_members(cand: pd.DataFrame, pairs: pd.DataFrame, config: LinkConfig,
                  decisions: Decisions, previous: pd.DataFrame | None) -> pd.DataFrame:
    """The candidates in groups of two or more, with `group_id` and `strength` (the mean match
    probability of a seizure's strong links inside its group). Pairs whose profiles contradict
    (cosine below `PROFILE_VETO`) are never strong links; the others are when they clear the
    bar their evidence sets (`models.linkage.strong_links`)."""
    if "profile_cosine" in pairs.columns:
        pairs = pairs.loc[~(pairs["profile_cosine"] < PROFILE_VETO)]
        pairs = pairs.assign(strong=strong_links(pairs, cand, config.threshold,
                                                 config.lenient_threshold))
    assignment = cluster_links(cand["seizure_id"], pairs, threshold=config.threshold,
                               support=config.support, must_link=decisions.must_link,
                               cannot_link=decisions.cannot_link)
    members = members_frame(assignment).merge(cand, on="seizure_id")
    size = members.groupby("cluster")["seizure_id"].transform("size")
    members = members.loc[size >= 2].reset_index(drop=True)
    members["group_id"] = stable_group_ids(members, previous)
    cluster_of = dict(zip(members["seizure_id"], members["cluster"], strict=True))
    inside = pairs.loc[strong_mask(pairs, config.threshold)]
    same = inside["id_l"].map(cluster_of)
    inside = inside.loc[same.notna() & (same == inside["id_r"].map(cluster_of))]
    ends = pd.concat([inside[["id_l", "match_probability"]].set_axis(["id", "p"], axis=1),
                      inside[["id_r", "match_probability"]].set_axis(["id", "p"], axis=1)])
    strength = ends.groupby("id")["p"].mean()
    members["strength"] = members["seizure_id"].map(strength).fillna(config.threshold)
    return members.drop(columns="cluster")


def summarise_groups(members: pd.DataFrame, confirmed: Iterable[str] = ()) -> pd.DataFrame:
    """One row per group: drug, countries, dates, size, kg, the shared signature, strength.

    A field is shared when at least half the members that report it agree on one value (the
    median for weights and purity); otherwise it is null.
    """
    confirmed = set(confirmed)
    rows = []
    for gid, g in members.groupby("group_id", sort=True):
        row: dict[str, Any] = {
            "group_id": gid, "drug": _mode(g["substance"]), "drug_group": _mode(g["drug_group"]),
            "countries": ";".join(sorted(g["country"].dropna().unique())),
            "regions": ";".join(sorted(g["region"].dropna().unique())),
            "first_date": pd.Timestamp(min(g["date"])), "last_date": pd.Timestamp(max(g["date"])),
            "n_seizures": len(g), "total_kg": float(g["kg"].sum()),
            "strength": float(g["strength"].mean()), "confirmed": gid in confirmed,
            "per_country": json.dumps(_per_country(g))}
        for name in SHARED_FIELDS:
            values = g["logo_key" if name == "logo" else name].dropna()
            if name in ("unit_weight_g", "purity_pct"):
                row[name] = float(round(values.median(), 3)) if len(values) else None
            else:
                top = values.value_counts()
                row[name] = top.index[0] if len(top) and top.iloc[0] * 2 >= len(values) else None
        rows.append(row)
    frame = pd.DataFrame(rows, columns=GROUP_COLUMNS)
    return frame.astype({"n_seizures": "int64", "total_kg": float, "strength": float,
                         "confirmed": bool})


def signature_of(group: pd.Series | Any) -> dict[str, Any]:
    """A group row's shared signature as a dict (`profile` = the profile's main compounds)."""
    get = group.get if hasattr(group, "get") else lambda k: getattr(group, k, None)
    out = {k: get(k) for k in SHARED_FIELDS if k != "profile_key"}
    out["profile"] = get("profile_key")
    return {k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in out.items()}


def link(settings: Settings, *, decisions: Decisions | None = None,
         config: LinkConfig | None = None, progress: Callable[[str], None] | None = None,
         log_mlflow: bool = True) -> dict[str, Any]:
    """Run the stage; returns a summary with the `alerts` for serving to store."""
    say = progress or (lambda message: None)
    config = config or LinkConfig()
    decisions = decisions or Decisions()
    started = time.perf_counter()
    backend = database_api(settings)  # a missing Spark runtime fails here, before any work
    paths = settings.paths
    records = read_stored(paths.records, "narcotrend ingest", "records")
    if not len(records):
        raise NarcotrendError(f"no records in {paths.records}: run `narcotrend ingest` first")
    detected_at = pd.Timestamp(records["date"].max()).strftime("%Y-%m")
    cand = candidates(records)
    say(f"linking {len(cand):,} of {len(records):,} records that carry a signature")
    timings: dict[str, float] = {}
    if len(cand) >= 2 and any_blocked_pair(cand):
        pairs, linker = score_pairs(cand, config, backend)
    else:
        pairs, linker = pd.DataFrame(columns=["id_l", "id_r", "match_probability"]), None
    timings["score_s"] = time.perf_counter() - started
    previous = _previous_links(paths, records)
    members = group_members(cand, pairs, config, decisions, previous)
    groups = summarise_groups(members, decisions.confirmed)
    write_parquet_atomic(members[LINK_COLUMNS].reset_index(drop=True), paths.links)
    write_parquet_atomic(groups, paths.groups)
    groups_for_alerts = groups.assign(signature=[signature_of(r) for _, r in groups.iterrows()])
    alerts = linked_case_alerts(groups_for_alerts, members, detected_at)
    cross = int((groups["countries"].str.count(";") >= 1).sum())
    summary: dict[str, Any] = {
        "detected_at": detected_at, "records": len(records), "candidates": len(cand),
        "pairs": len(pairs), "groups": len(groups), "cross_border_groups": cross,
        "linked_seizures": len(members), "alerts": alerts,
        "seconds": round(time.perf_counter() - started, 2)}
    if log_mlflow:
        from training.link_eval import log_link_run

        summary["mlflow_run_id"] = log_link_run(settings, config, summary, linker, members,
                                                groups, cand, pairs)
    return summary


def _previous_links(paths: Any, records: pd.DataFrame) -> pd.DataFrame | None:
    """The last run's links with each seizure's date (for stable group ids), or None."""
    if not paths.links.exists():
        return None
    previous = pd.read_parquet(paths.links, columns=["seizure_id", "group_id"])
    dates = records.drop_duplicates("seizure_id").set_index("seizure_id")["date"]
    previous["date"] = previous["seizure_id"].map(dates)
    return previous.dropna(subset=["date"])


def _per_country(members: pd.DataFrame) -> list[dict[str, Any]]:
    """What every country concerned may know of a group: its seizure counts and months."""
    months = pd.to_datetime(members["date"]).dt.strftime("%Y-%m")
    out = []
    for country, rows in members.assign(month=months).groupby("country", sort=True):
        out.append({"country": country, "region": rows["region"].iloc[0],
                    "seizures": len(rows), "first_month": rows["month"].min(),
                    "last_month": rows["month"].max()})
    return out


def _mode(values: pd.Series) -> Any:
    top = values.dropna().value_counts()
    return top.index[0] if len(top) else None


__all__ = ["Decisions", "GROUP_COLUMNS", "LINK_COLUMNS", "LinkConfig",
           "floor_m", "group_members", "link", "score_pairs", "signature_of", "summarise_groups"]
