"""The case-linkage model: the candidates' table and the splink settings (issue 21).

A linkage model is declarative, as splink has it: blocking rules (which pairs are compared at
all), one comparison per field with its levels, term-frequency adjustment where a value's
popularity matters (a Tesla logo is pressed by many unrelated labs, so agreeing on it says
little). `link_settings` returns that object; `candidates` turns stored records into the
table it reads. Estimation, prediction and clustering are the stage's (`training/link.py`).

Fields: the logo (as a key, Jaro-Winkler for reporters' slips, term-frequency adjusted), the
impurity profile as a centred-log-ratio vector (scale-free: labs report on any scale) compared
by cosine similarity, tablet or brick weight and purity as relative differences, colour, shape,
packaging, concealment and route agreement, and the gap between dates. Blocking keeps the work
about linear: pairs of one substance that share the logo, or the three main compounds of the
profile, or the tablet weight and colour.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from features.signatures import has_signature, logo_key, parse_profile

PROFILE_COSINE = (0.99, 0.9, 0.7)  # levels of the profile comparison (DuckDB list function)
# Below this cosine two profiles contradict: the pair is never a strong link, however well its
# physical marks agree (a lookalike's logo, colour and weight are copied; its chemistry is not).
PROFILE_VETO = 0.7
PROFILE_CONTRADICTS_M = 0.002  # share of one batch's pairs whose profiles differ (lab error)
# A logo is popular (pressed by several unrelated labs) when the seizures of one substance that
# carry it show at least this many different chemistries (main compounds of the profile); one
# lab's batch shows one, two or three (noise can swap its third and fourth compound).
POPULAR_CHEMISTRIES = 5
LINK_COLUMNS = ("seizure_id", "substance", "drug_group", "country", "region", "date", "kg",
                "logo_key", "logo_popular", "colour", "shape", "unit_weight_g", "purity_pct",
                "packaging", "concealment", "route", "profile_vec", "profile_key", "weight_key")


def clr_vectors(profiles: pd.Series, substances: pd.Series) -> tuple[list[Any], np.ndarray]:
    """Each profile as a centred-log-ratio vector over one shared compound list (None when
    missing), and its key: the three most abundant compounds, in name order.

    The clr is taken over the compounds a profile reports (amount > 0); the other positions are
    0, so two profiles compare on the chemistry they report, not on what both leave out, and
    every vector has the same length (random pairs of different substances compare too).
    """
    parsed = [parse_profile(p) if isinstance(p, str) else None for p in profiles]
    vocabulary = sorted({c for p in parsed if p for c in p})
    position = {c: i for i, c in enumerate(vocabulary)}
    vectors: list[Any] = []
    keys = np.full(len(parsed), None, dtype=object)
    for i, p in enumerate(parsed):
        present = {c: v for c, v in (p or {}).items() if v > 0}
        if len(present) < 2:
            vectors.append(None)
            continue
        logs = np.log(list(present.values()))
        vector = np.zeros(len(vocabulary))
        vector[[position[c] for c in present]] = logs - logs.mean()
        vectors.append(vector.round(6).tolist())
        top = sorted(present, key=lambda c: -present[c])[:3]
        keys[i] = "+".join(sorted(top))
    return vectors, keys


def candidates(records: pd.DataFrame) -> pd.DataFrame:
    """The records that carry any signature field, as the linkage model reads them."""
    signed = records.loc[has_signature(records)].reset_index(drop=True)
    vectors, keys = clr_vectors(signed["profile"], signed["substance"])
    route = (signed["origin_country"].astype(object).fillna("?") + ">"
             + signed["destination_country"].astype(object).fillna("?"))
    weight = signed["unit_weight_g"].to_numpy(float)
    weight_bin = np.where(np.isfinite(weight) & (weight > 0),
                          np.round(np.log(np.where(weight > 0, weight, 1)) / math.log(1.05)),
                          np.nan)
    weight_key = pd.Series(weight_bin).map(lambda b: None if pd.isna(b) else f"{b:.0f}")
    logos = logo_key(signed["logo"].astype(object)).astype(object)
    out = pd.DataFrame({
        "seizure_id": signed["seizure_id"].astype(str),
        "substance": signed["substance"].astype(object),
        "drug_group": signed["drug_group"].astype(object),
        "country": signed["country"].astype(object),
        "region": signed["region"].astype(object),
        "date": pd.to_datetime(signed["date"]).dt.date,
        "kg": signed["kg"].astype(float),
        "logo_key": logos,
        "logo_popular": popular_logos(signed["substance"].astype(object), logos, keys),
        "colour": signed["colour"].astype(object),
        "shape": signed["shape"].astype(object),
        "unit_weight_g": weight,
        "purity_pct": signed["purity_pct"].astype(float),
        "packaging": signed["packaging"].astype(object),
        "concealment": signed["concealment"].astype(object).str.lower(),
        "route": route.where(route != "?>?", None),
        "profile_vec": vectors,
        "profile_key": keys,
        "weight_key": weight_key.to_numpy(object),
    })
    return out.where(out.notna(), None).astype({"kg": float, "unit_weight_g": float,
                                                 "purity_pct": float, "logo_popular": bool})


def popular_logos(substance: pd.Series, logos: pd.Series, profile_keys: np.ndarray) -> np.ndarray:
    """Whether each seizure's logo is a popular one: within its substance, the seizures with
    that logo show `POPULAR_CHEMISTRIES` or more different chemistries (several labs press it,
    so agreeing on it says little on its own). A seizure with no logo: False."""
    frame = pd.DataFrame({"substance": substance.to_numpy(object),
                          "logo": logos.to_numpy(object), "chemistry": profile_keys})
    chemistries = frame.groupby(["substance", "logo"])["chemistry"].transform("nunique")
    return (chemistries.fillna(0) >= POPULAR_CHEMISTRIES).to_numpy(bool)


def profile_cosine(pairs: pd.DataFrame, cand: pd.DataFrame) -> np.ndarray:
    """The cosine of the two profiles of each pair (`id_l`, `id_r`); NaN when one is missing."""
    ids = cand["seizure_id"].to_numpy(object)
    has = np.array([v is not None for v in cand["profile_vec"]])
    width = next((len(v) for v in cand["profile_vec"] if v is not None), 0)
    matrix = np.zeros((len(cand), width))
    if has.any():
        matrix[has] = np.array([v for v in cand["profile_vec"] if v is not None], float)
    norms = np.linalg.norm(matrix, axis=1)
    row = pd.Series(np.arange(len(ids)), index=ids)
    left, right = row.reindex(pairs["id_l"]).to_numpy(), row.reindex(pairs["id_r"]).to_numpy()
    out = np.full(len(pairs), np.nan)
    ok = ~np.isnan(left) & ~np.isnan(right)
    li, ri = left[ok].astype(int), right[ok].astype(int)
    both = has[li] & has[ri]
    dots = np.einsum("ij,ij->i", matrix[li[both]], matrix[ri[both]])
    cos = dots / np.maximum(norms[li[both]] * norms[ri[both]], 1e-12)
    idx = np.flatnonzero(ok)[both]
    out[idx] = cos
    return out


# The cosine of two profile vectors in each backend's SQL: DuckDB has a list function; Spark
# SQL builds it from its higher-order array functions.
_SPARK_SUM = "aggregate({}, 0D, (acc, v) -> acc + v)"
COSINE_SQL = {
    # cast: a home whose candidates report no profile at all registers the column as NULL
    "duckdb": "list_cosine_similarity(profile_vec_l::DOUBLE[], profile_vec_r::DOUBLE[])",
    "spark": (_SPARK_SUM.format("zip_with(profile_vec_l, profile_vec_r, (x, y) -> x * y)")
              + " / (sqrt(" + _SPARK_SUM.format("transform(profile_vec_l, x -> x * x)")
              + ") * sqrt(" + _SPARK_SUM.format("transform(profile_vec_r, x -> x * x)")
              + "))"),
}


def strong_links(pairs: pd.DataFrame, cand: pd.DataFrame, threshold: float,
                 lenient: float) -> np.ndarray:
    """Whether each scored pair (`id_l`, `id_r`, `match_probability`, `profile_cosine`) is a
    strong link, with a bar set by the evidence it rests on.

    The model's prior is spread over every pair of signed seizures, so a pair that agrees on all
    it reports but reports less stays below `threshold` though it is no weaker forensically. The
    `lenient` bar holds for two kinds of evidence: profiles that agree closely (cosine at the top
    level: one lab's batch, whatever logo it wears), and a pair where a profile is missing that
    shares a logo which is not popular (one lab's press). A pair that shares a popular logo and
    lacks a profile is never a strong link: its logo, colour, shape and weight are what the
    lookalikes copy. Every other pair needs `threshold`; a contradicting profile never links
    (the caller's veto, `PROFILE_VETO`).
    """
    if not len(pairs):
        return np.zeros(0, bool)
    rows = pd.Series(np.arange(len(cand)), index=cand["seizure_id"].to_numpy(object))
    left = rows.reindex(pairs["id_l"]).to_numpy()
    right = rows.reindex(pairs["id_r"]).to_numpy()
    known = ~(np.isnan(left) | np.isnan(right))
    li, ri = np.where(known, left, 0).astype(int), np.where(known, right, 0).astype(int)
    has_profile = np.array([v is not None for v in cand["profile_vec"]], bool)
    logo = cand["logo_key"].to_numpy(object)
    popular = cand["logo_popular"].to_numpy(bool)
    same_logo = pd.notna(logo[li]) & (logo[li] == logo[ri])
    no_chemistry = ~(has_profile[li] & has_profile[ri])
    chemistry = pairs["profile_cosine"].to_numpy(float) >= PROFILE_COSINE[0]
    physical = same_logo & ~popular[li] & ~popular[ri] & no_chemistry
    lookalike = same_logo & (popular[li] | popular[ri]) & no_chemistry
    bar = np.where(known & (chemistry | physical), lenient, threshold)
    return (pairs["match_probability"].to_numpy(float) >= bar) & ~(known & lookalike)


def link_settings(dialect: str = "duckdb") -> Any:
    """The splink settings: blocking rules, comparisons, term-frequency adjustment on logo.
    `dialect` (`duckdb` or `spark`) names the backend the profile's cosine is written for."""
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl
    from splink import SettingsCreator, block_on

    def relative(col: str, steps: tuple[float, ...], label: str) -> Any:
        return cl.CustomComparison(
            [cll.NullLevel(col),
             *[cll.PercentageDifferenceLevel(col, s) for s in steps],
             cll.ElseLevel()],
            output_column_name=col, comparison_description=label)

    return SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="seizure_id",
        blocking_rules_to_generate_predictions=blocking_rules(block_on),
        comparisons=[
            cl.JaroWinklerAtThresholds("logo_key", [0.9]).configure(
                term_frequency_adjustments=True),
            cl.CustomComparison(
                [cll.NullLevel("profile_vec"),
                 *[cll.CustomLevel(f"{COSINE_SQL[dialect]} >= {t}", f"profile cosine >= {t}")
                   for t in PROFILE_COSINE],
                 # other chemistry is (nearly) never one batch: fixed, not left to EM, which
                 # would learn it from the lookalikes that popular logos put in its blocks
                 cll.ElseLevel().configure(m_probability=PROFILE_CONTRADICTS_M,
                                           fix_m_probability=True)],
                output_column_name="profile_vec",
                comparison_description="impurity profile (clr vector, cosine)"),
            relative("unit_weight_g", (0.03, 0.08, 0.2), "weight of one tablet or brick"),
            relative("purity_pct", (0.05, 0.15), "purity"),
            cl.ExactMatch("colour"),
            cl.ExactMatch("shape"),
            cl.ExactMatch("packaging"),
            cl.ExactMatch("concealment"),
            cl.ExactMatch("route"),
            cl.AbsoluteDateDifferenceAtThresholds(
                "date", input_is_string=False, metrics=["day", "day", "day"],
                thresholds=[45, 180, 400]),
        ],
        retain_intermediate_calculation_columns=False,
        retain_matching_columns=False,
        max_iterations=20,
        em_convergence=0.001,
    )


def blocking_rules(block_on: Any) -> list[Any]:
    """Pairs are compared only within one substance, and only when they share the logo, the
    profile's three main compounds, or the tablet weight and colour."""
    return [
        block_on("substance", "logo_key"),
        block_on("substance", "profile_key"),
        block_on("substance", "weight_key", "colour"),
    ]


def any_blocked_pair(cand: pd.DataFrame) -> bool:
    """Whether the blocking rules pair any two candidates (two of one substance sharing a logo,
    main compounds, or weight and colour): a home whose signatures are only packaging, say,
    has none, and nothing to estimate or score."""
    for keys in (["logo_key"], ["profile_key"], ["weight_key", "colour"]):
        rows = cand[["substance", *keys]].dropna()
        if rows.duplicated().any():
            return True
    return False


def prior_rules(block_on: Any) -> list[Any]:
    """Deterministic rules for the prior (the share of pairs that match), strictest first: the
    stage takes the first that finds any pair (a home without profiles has none of the first)."""
    return [block_on("substance", "logo_key", "profile_key"),
            block_on("substance", "logo_key", "weight_key"),
            block_on("substance", "logo_key")]


def training_rules(block_on: Any) -> list[Any]:
    """The EM sessions' blocking rules: each leaves the other fields' m to be estimated, and
    each is strict enough that its pairs are mostly matches (with u fixed by random sampling,
    EM then learns m from how one batch's seizures agree; when nearly all its pairs are
    non-matches it finds another latent class instead, such as "similar chemistry", as in a
    world where every seizure is signed and popular logos fill the logo blocks). The first
    pairs seizures sharing a logo that is not popular (which marks one lab's press), the
    second seizures sharing the profile's main compounds, tablet weight and colour. Each
    session is a list: its rule, then a looser one for when EM fails on the first (too few
    pairs, say, in a small home)."""
    return [["l.substance = r.substance AND l.logo_key = r.logo_key AND NOT l.logo_popular",
             block_on("substance", "logo_key", "weight_key")],
            [block_on("substance", "profile_key", "weight_key", "colour"),
             block_on("substance", "profile_key", "colour")]]


__all__ = ["COSINE_SQL", "LINK_COLUMNS", "POPULAR_CHEMISTRIES", "PROFILE_VETO", "any_blocked_pair",
           "blocking_rules", "candidates", "clr_vectors", "link_settings", "popular_logos",
           "prior_rules", "profile_cosine", "strong_links", "training_rules"]
