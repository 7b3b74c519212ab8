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
about linear: pairs of one substance that share the logo, or the two main compounds of the
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
LINK_COLUMNS = ("seizure_id", "substance", "drug_group", "country", "region", "date", "kg",
                "logo_key", "colour", "shape", "unit_weight_g", "purity_pct", "packaging",
                "concealment", "route", "profile_vec", "profile_key", "weight_key")


def clr_vectors(profiles: pd.Series, substances: pd.Series) -> tuple[list[Any], np.ndarray]:
    """Each profile as a centred-log-ratio vector over one shared compound list (None when
    missing), and its key: the two most abundant compounds, in name order.

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
        top = sorted(present, key=lambda c: -present[c])[:2]
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
    out = pd.DataFrame({
        "seizure_id": signed["seizure_id"].astype(str),
        "substance": signed["substance"].astype(object),
        "drug_group": signed["drug_group"].astype(object),
        "country": signed["country"].astype(object),
        "region": signed["region"].astype(object),
        "date": pd.to_datetime(signed["date"]).dt.date,
        "kg": signed["kg"].astype(float),
        "logo_key": logo_key(signed["logo"].astype(object)).astype(object),
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
                                                 "purity_pct": float})


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


def link_settings() -> Any:
    """The splink settings: blocking rules, comparisons, term-frequency adjustment on logo."""
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
                 *[cll.CustomLevel(f"list_cosine_similarity(profile_vec_l, profile_vec_r) >= {t}",
                                   f"profile cosine >= {t}") for t in PROFILE_COSINE],
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
    profile's two main compounds, or the tablet weight and colour."""
    return [
        block_on("substance", "logo_key"),
        block_on("substance", "profile_key"),
        block_on("substance", "weight_key", "colour"),
    ]


def training_rules(block_on: Any) -> list[Any]:
    """The EM sessions' blocking rules: each leaves the other fields' m to be estimated."""
    return [block_on("substance", "logo_key"), block_on("substance", "profile_key")]


__all__ = ["PROFILE_VETO", "blocking_rules", "LINK_COLUMNS", "candidates", "clr_vectors",
           "link_settings", "profile_cosine",
           "training_rules"]
