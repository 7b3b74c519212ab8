"""How well the link stage found the planted cases, and its MLflow run (issue 21).

The truth is the synthetic world's `events.json` key `cases`: each batch names its seizures.
Pairwise and B-cubed scores come from `models.case_groups.pairwise_scores`; a true cross-border
batch counts as *found* when one reported group holds at least half of its (candidate) seizures
in two or more of its countries, and a reported cross-border group is *real* when at least half
of its seizures belong to one batch whose seizures in the group lie in two or more countries.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

import pandas as pd

from models.case_groups import pairwise_scores

if TYPE_CHECKING:
    from core.settings import Settings


def truth_labels(cases: dict[str, Any], ids: pd.Series) -> dict[str, str]:
    """Seizure id -> its batch (or itself for a seizure in none), over `ids`."""
    labels = {str(i): str(i) for i in ids}
    for batch in cases.get("batches", []):
        for sid in batch["seizures"]:
            if sid in labels:
                labels[sid] = batch["case_id"]
    return labels


def cross_border_scores(truth: dict[str, str], members: pd.DataFrame) -> dict[str, float]:
    """`cross_border_found` (share of true cross-border batches found) and
    `cross_border_real` (share of reported cross-border groups that are real).

    `members` has `seizure_id`, `group_id`, `country` for every candidate in a group, plus the
    candidates' countries for the truth (`truth_country`: a Series by seizure id).
    """
    frame = members.assign(batch=members["seizure_id"].map(truth))
    country = members.attrs["candidate_country"]
    batch_of = pd.Series(truth)
    in_batch = batch_of[batch_of != batch_of.index]
    true_countries = pd.DataFrame({"batch": in_batch, "country": country.reindex(in_batch.index)})
    spans = true_countries.groupby("batch")["country"].nunique()
    sizes = true_countries.groupby("batch").size()
    cross_batches = spans.index[spans >= 2]
    overlap = frame.groupby(["batch", "group_id"]).agg(n=("seizure_id", "size"),
                                                      countries=("country", "nunique"))
    found = 0
    for batch in cross_batches:
        if batch in overlap.index.get_level_values(0):
            hit = overlap.loc[batch]
            found += bool(((hit["n"] * 2 >= sizes[batch]) & (hit["countries"] >= 2)).any())
    reported = frame.groupby("group_id")["country"].nunique()
    reported = reported.index[reported >= 2]
    real = 0
    for gid in reported:
        g = frame.loc[frame["group_id"] == gid]
        top = g["batch"].value_counts()
        batch = top.index[0]
        real += bool(batch in sizes.index and top.iloc[0] * 2 >= len(g)
                     and g.loc[g["batch"] == batch, "country"].nunique() >= 2)
    return {"cross_border_batches": len(cross_batches), "cross_border_reported": len(reported),
            "cross_border_found": found / len(cross_batches) if len(cross_batches) else 1.0,
            "cross_border_real": real / len(reported) if len(reported) else 1.0}


def score_on_truth(cases: dict[str, Any], cand: pd.DataFrame,
                   members: pd.DataFrame) -> dict[str, float]:
    """Pairwise, B-cubed and cross-border scores of one run on the planted cases."""
    truth = truth_labels(cases, cand["seizure_id"])
    found = dict(zip(members["seizure_id"], members["group_id"], strict=True))
    scored = members[["seizure_id", "group_id", "country"]].copy()
    scored.attrs["candidate_country"] = cand.set_index("seizure_id")["country"]
    return {**pairwise_scores(truth, found), **cross_border_scores(truth, scored)}


def read_cases(settings: Settings) -> dict[str, Any] | None:
    """The planted cases of the home's synthetic world, when it has them."""
    path = settings.paths.demo_events
    if not path.exists():
        return None
    cases = json.loads(path.read_text(encoding="utf-8")).get("cases")
    return cases or None


def log_link_run(settings: Settings, config: Any, summary: dict[str, Any], linker: Any,
                 members: pd.DataFrame, groups: pd.DataFrame, cand: pd.DataFrame,
                 pairs: pd.DataFrame) -> str:
    """Log one link run to MLflow (experiment `linkage`): parameters, counts, the model's m and
    u, the match weights chart, and on a synthetic home the scores and figures on its truth."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import mlflow

    mlflow.set_tracking_uri(settings.tracking_uri)
    settings.mlruns_dir.mkdir(parents=True, exist_ok=True)
    client = mlflow.MlflowClient()
    exp = client.get_experiment_by_name("linkage")
    exp_id = exp.experiment_id if exp else client.create_experiment(
        "linkage", artifact_location=settings.artifact_location)
    counts = {k: summary[k] for k in ("records", "candidates", "pairs", "groups",
                                      "cross_border_groups", "linked_seizures", "seconds")}
    with mlflow.start_run(experiment_id=exp_id, run_name=f"link {summary['detected_at']}") as run:
        mlflow.log_params(asdict(config))
        mlflow.log_metrics({k: float(v) for k, v in counts.items()})
        if linker is not None:
            model = linker.misc.save_model_to_json()
            mlflow.log_dict(model, "linkage_model.json")
            mlflow.log_dict(linker.visualisations.match_weights_chart().chart_dict,
                            "match_weights_chart.vl.json")
        cases = read_cases(settings)
        if cases is not None and len(cand):
            scores = score_on_truth(cases, cand, members)
            summary["truth"] = scores
            mlflow.log_metrics({f"truth_{k}": float(v) for k, v in scores.items()})
            truth = truth_labels(cases, cand["seizure_id"])
            same = (pairs["id_l"].map(truth) == pairs["id_r"].map(truth))
            fig, ax = plt.subplots(figsize=(6, 3.5))
            ax.hist([pairs.loc[same, "match_weight"], pairs.loc[~same, "match_weight"]],
                    bins=40, label=["same planted batch", "different"], stacked=True)
            ax.set_xlabel("match weight")
            ax.set_ylabel("scored pairs")
            ax.legend()
            mlflow.log_figure(fig, "truth_match_weights.png")
            plt.close(fig)
    return run.info.run_id


__all__ = ["cross_border_scores", "log_link_run", "read_cases", "score_on_truth",
           "truth_labels"]
