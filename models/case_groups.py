"""Case groups from scored pairs: clustering that a popular logo cannot chain, analysts' must- and
cannot-links, and group ids that stay put across runs (issue 21).

Connected components at a threshold chain: one lookalike that matches a member of batch A and
a member of batch B joins them. Here two groups merge only when the merge is supported across
them: at least `support` of the pairs between them were scored as strong links (pairs never
blocked count as unlinked), so a group of 20 does not take in another through one weak edge.
Edges are taken strongest first (average-linkage in spirit, with a fixed bar). Analysts'
decisions win: a must-link pair is one group from the start, a cannot-link pair never ends in
one group.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

import numpy as np
import pandas as pd

DEFAULT_THRESHOLD = 0.99  # match probability of a strong link
DEFAULT_SUPPORT = 0.5  # share of pairs between two groups that must be strong links to merge


class _Groups:
    """Union-find over seizures with, per group, its members and its strong-link counts to
    the other groups (merged small into large, so the work stays near-linear)."""

    def __init__(self, ids: Iterable[str]) -> None:
        self.parent: dict[str, str] = {i: i for i in ids}
        self.members: dict[str, list[str]] = {i: [i] for i in self.parent}
        self.links: dict[str, dict[str, int]] = {i: {} for i in self.parent}
        self.forbidden: dict[str, set[str]] = {i: set() for i in self.parent}

    def find(self, i: str) -> str:
        root = i
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[i] != root:
            self.parent[i], i = root, self.parent[i]
        return root

    def add_link(self, a: str, b: str) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.links[ra][rb] = self.links[ra].get(rb, 0) + 1
            self.links[rb][ra] = self.links[rb].get(ra, 0) + 1

    def forbid(self, a: str, b: str) -> None:
        ra, rb = self.find(a), self.find(b)
        self.forbidden[ra].add(rb)
        self.forbidden[rb].add(ra)

    def allowed(self, ra: str, rb: str) -> bool:
        return rb not in self.forbidden[ra]

    def supported(self, ra: str, rb: str, support: float) -> bool:
        pairs = len(self.members[ra]) * len(self.members[rb])
        return self.links[ra].get(rb, 0) >= support * pairs

    def union(self, ra: str, rb: str) -> None:
        if len(self.members[ra]) < len(self.members[rb]):
            ra, rb = rb, ra
        self.parent[rb] = ra
        self.members[ra] += self.members.pop(rb)
        for other, n in self.links.pop(rb).items():
            self.links[other].pop(rb, None)
            if other != ra:
                self.links[ra][other] = self.links[ra].get(other, 0) + n
                self.links[other][ra] = self.links[ra][other]
        self.links[ra].pop(ra, None)
        for other in self.forbidden.pop(rb):
            self.forbidden[other].discard(rb)
            self.forbidden[other].add(ra)
            self.forbidden[ra].add(other)


def strong_mask(pairs: pd.DataFrame, threshold: float) -> np.ndarray:
    """Which scored pairs are strong links: those a boolean `strong` column marks when there is
    one (a bar set by each pair's evidence, `models.linkage.strong_links`), else those at or
    above `threshold`."""
    if "strong" in pairs.columns:
        return pairs["strong"].to_numpy(bool)
    return (pairs["match_probability"] >= threshold).to_numpy(bool)


def cluster_links(ids: Iterable[str], pairs: pd.DataFrame, *,
                  threshold: float = DEFAULT_THRESHOLD, support: float = DEFAULT_SUPPORT,
                  must_link: Iterable[tuple[str, str]] = (),
                  cannot_link: Iterable[tuple[str, str]] = ()) -> dict[str, str]:
    """Seizure id -> the id of a member standing for its group (itself for a singleton).

    `pairs` has `id_l`, `id_r`, `match_probability` (scored pairs); only those at or above
    `threshold` are strong links, or, when it has a boolean `strong` column, those it marks
    (a bar set by the evidence of each pair: `models.linkage.strong_links`).
    """
    if not 0 < support <= 1:
        raise ValueError(f"`support` must be in (0, 1], got {support!r}")
    groups = _Groups(ids)
    known = groups.parent
    strong = pairs.loc[strong_mask(pairs, threshold)]
    strong = strong.sort_values("match_probability", ascending=False, kind="stable")
    edges = [(a, b) for a, b in zip(strong["id_l"], strong["id_r"], strict=True)
             if a in known and b in known]
    for a, b in cannot_link:
        if a in known and b in known:
            groups.forbid(a, b)
    for a, b in must_link:
        if a in known and b in known:
            ra, rb = groups.find(a), groups.find(b)
            if ra != rb and groups.allowed(ra, rb):
                groups.union(ra, rb)
    for a, b in edges:
        groups.add_link(a, b)
    for a, b in edges:
        ra, rb = groups.find(a), groups.find(b)
        if ra != rb and groups.allowed(ra, rb) and groups.supported(ra, rb, support):
            groups.union(ra, rb)
    return {i: groups.find(i) for i in known}


def stable_group_ids(members: pd.DataFrame, previous: pd.DataFrame | None = None) -> pd.Series:
    """The group id of each row of `members` (`seizure_id`, `cluster`, `date`).

    A group keeps the id it had while it keeps that group's earliest seizure; when a group now
    holds the earliest seizures of several earlier groups (a merge) it keeps the oldest one's id.
    A new group's id is a hash of its earliest seizure, so the same data give the same ids.
    `previous` has `seizure_id`, `group_id`, `date` of the last run's groups.
    """
    order = members.sort_values(["date", "seizure_id"], kind="stable")
    earliest = order.groupby("cluster", sort=False)["seizure_id"].first()
    ids = {c: "LG-" + hashlib.sha256(s.encode()).hexdigest()[:10] for c, s in earliest.items()}
    if previous is not None and len(previous):
        first = (previous.sort_values(["date", "seizure_id"], kind="stable")
                 .groupby("group_id", sort=False).head(1))
        cluster_of = dict(zip(members["seizure_id"], members["cluster"], strict=True))
        taken: set[str] = set()
        for gid, sid in zip(first["group_id"], first["seizure_id"], strict=True):  # oldest first
            cluster = cluster_of.get(sid)
            if cluster is not None and cluster not in taken:
                ids[cluster] = gid
                taken.add(cluster)
    return members["cluster"].map(ids)


def pairwise_scores(truth: dict[str, str], found: dict[str, str]) -> dict[str, float]:
    """Pairwise precision, recall, F1 and B-cubed precision, recall, F1 of a clustering.

    `truth` and `found` map seizure ids to cluster labels (singletons their own label); only
    ids in `truth` are scored.
    """
    ids = list(truth)
    t = pd.factorize(pd.Series([truth[i] for i in ids]))[0]
    f = pd.factorize(pd.Series([found.get(i, f"~{i}") for i in ids]))[0]
    both = pd.DataFrame({"t": t, "f": f})
    n_tf = both.groupby(["t", "f"]).size()
    n_t, n_f = both.groupby("t").size(), both.groupby("f").size()

    def pairs(counts: pd.Series) -> float:
        c = counts.to_numpy(float)
        return float((c * (c - 1) / 2).sum())

    tp, true_pairs, found_pairs = pairs(n_tf), pairs(n_t), pairs(n_f)
    precision = tp / found_pairs if found_pairs else 1.0
    recall = tp / true_pairs if true_pairs else 1.0
    overlap = both.join(n_tf.rename("tf"), on=["t", "f"])
    b_precision = float((overlap["tf"] / n_f.reindex(overlap["f"]).to_numpy()).mean())
    b_recall = float((overlap["tf"] / n_t.reindex(overlap["t"]).to_numpy()).mean())
    return {"precision": precision, "recall": recall, "f1": _f1(precision, recall),
            "bcubed_precision": b_precision, "bcubed_recall": b_recall,
            "bcubed_f1": _f1(b_precision, b_recall)}


def _f1(p: float, r: float) -> float:
    return float(2 * p * r / (p + r)) if p + r else 0.0


def members_frame(assignment: dict[str, str]) -> pd.DataFrame:
    """`seizure_id`, `cluster` from a clustering's mapping."""
    return pd.DataFrame({"seizure_id": list(assignment), "cluster": list(assignment.values())},
                        dtype=object)


__all__ = ["DEFAULT_SUPPORT", "DEFAULT_THRESHOLD", "cluster_links", "members_frame",
           "pairwise_scores", "stable_group_ids", "strong_mask"]
