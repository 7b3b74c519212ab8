"""Scoring an alert backtest against the planted truth of the built-in world (`events.json`).

How an alert matches a planted event (all must hold):

- type family: a `surge` or `emerging_trend` event is matched by a `surge` or `emerging_trend`
  alert (both say "rising"; which of the two fires depends on how abrupt the rise looks after a
  few months); a `decline` by a `decline`; a `new_drug` by a `new_drug` alert, or by a rising
  alert on the same series (a drug appearing is a rise of its series); a `route_shift` by a
  `route_shift` alert on the same attribute that names at least one of the event's gaining or
  losing entities on the right side; a `modus_operandi_shift` by a `modus_operandi_shift` alert
  naming one of its gaining methods as gaining.
- geography: the event's country, or an aggregate containing it (its UN subregion, region or the
  world), since a country's change is also a change of its region; route shifts: the same
  destination region. For precision, a `modus_operandi_shift` alert in a country or region of a
  planted `transport_mode` route shift's destination region, on its drug, is also a true
  statement (drugs that move by post are hidden in parcels).
- drug: the event's drug, or the same drug at the other level (the group of an event's
  substance; any substance of an event's group), since a group-level change moves its
  substances and a substance's change moves its group.
- metric: the event's metric, except that a `seizures` event also matches `kg` alerts (more
  seizures are more kilograms); a `kg` event (bigger consignments, same counts) does not match
  a `seizures` alert.
- time: `detected_at` in [onset, onset + `window`] (6 months) for recall and delay; any time at
  or after the onset for precision (a planted change persists).

Scores:

- recall: share of planted events with at least one matching alert in the window;
- delay: months from onset to the first matching alert (median over detected events);
- series-level precision: of the distinct alerted keys (type, geo, drug; plus the attribute for
  route shifts), the share with at least one alert matching an event. Substance/group and
  country/region duplicates of one event each count as matching it (they are true statements
  about the world, not false alarms), and a key that matched counts once however long it stays;
- distractor alerts: alerts an analyst would blame on a distractor: a `decline` on a reporting
  gap's country (or an aggregate containing it) whose periods (`period` .. `detected_at`) overlap
  the gap, a decline or a rising alert on a partial reporter's country (or an aggregate
  containing it) whose periods overlap its partial spell or the `window` months after it (the
  recovery), and a rising alert on a one-month outlier's country and drug (or their aggregates)
  whose periods include the outlier's month, unless the alert matches a planted event (a
  region's kg surge that a planted country surge explains is not blamed on an outlier in the
  same region), and a `modus_operandi_shift` alert on a completeness change's country (or an
  aggregate containing it) and drug from its onset on. These must be zero.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd

from core.errors import NarcotrendError

RISING = {"surge", "emerging_trend"}
FAMILIES: dict[str, set[str]] = {
    "emerging_trend": RISING, "surge": RISING, "decline": {"decline"},
    "new_drug": {"new_drug"} | RISING, "route_shift": {"route_shift"},
    "modus_operandi_shift": {"modus_operandi_shift"},
}
DISTRACTOR_TYPES = {"reporting_gap", "outlier", "completeness_change", "partial_reporting"}
WINDOW = 6


def load_events(path: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Planted events and distractors from an `events.json` (a list, or `events` and
    `distractors` lists; distractors are the entries typed `reporting_gap`, `outlier` or
    `partial_reporting`)."""
    try:
        doc = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise NarcotrendError(f"cannot read the events file {path}: {err}") from None
    if isinstance(doc, dict):
        entries = list(doc.get("events", [])) + list(doc.get("distractors", []))
    else:
        entries = list(doc)
    events = [e for e in entries if e.get("type") not in DISTRACTOR_TYPES]
    distractors = [e for e in entries if e.get("type") in DISTRACTOR_TYPES]
    return events, distractors


def months_between(start: str, end: str) -> int:
    return (pd.Period(end, "M") - pd.Period(start, "M")).n


class Geography:
    """Which aggregates contain a country: ISO3 -> {subregion, region, World}."""

    def __init__(self, containers: dict[str, set[str]]):
        self.containers = containers

    @classmethod
    def from_countries(cls, countries: Iterable[str]) -> Geography:
        from features.normalise import country_regions

        codes = pd.Series(sorted(set(countries)))
        table = country_regions(codes)
        return cls({c: {r, s, "World"} - {None}
                    for c, r, s in zip(codes, table["region"], table["subregion"], strict=True)})

    def covers(self, alert_geo: str, event_geo: str) -> bool:
        """The alert is on the event's place, an aggregate containing it, or one of its admin-1
        divisions (``ESP:ANDALUCIA`` shows an event planted in ``ESP``)."""
        return (alert_geo == event_geo or alert_geo in self.containers.get(event_geo, set())
                or alert_geo.startswith(f"{event_geo}:"))


def groups_of(routes: pd.DataFrame | None) -> dict[str, str]:
    """Substance -> group, from the route flows (every record is in one flow)."""
    if routes is None or routes.empty:
        return {}
    pairs = routes[["substance", "drug_group"]].dropna().drop_duplicates("substance")
    return dict(zip(pairs["substance"], pairs["drug_group"], strict=True))


def _same_drug(alert: dict, event: dict, group_of: dict[str, str]) -> bool:
    a, e = alert["drug"], event["drug"]
    return a == e or group_of.get(e) == a or group_of.get(a) == e


def _metric_ok(alert: dict, event: dict) -> bool:
    metric = event.get("metric")
    return metric is None or alert["metric"] == metric or metric == "seizures"


def matches(alert: dict, event: dict, geo: Geography, group_of: dict[str, str]) -> bool:
    """Whether `alert` states the change `event` planted (time aside; see the module doc)."""
    if alert["type"] not in FAMILIES.get(event["type"], set()):
        return False
    if event["type"] == "route_shift":
        route = alert.get("route") or {}
        return (alert["geo"] == event["destination_region"]
                and route.get("attribute") == event["attribute"]
                and _same_drug(alert, event, group_of)
                and bool(set(route.get("gaining", [])) & set(event.get("gaining", []))
                         or set(route.get("losing", [])) & set(event.get("losing", []))))
    if event["type"] == "modus_operandi_shift":
        route = alert.get("route") or {}
        return (geo.covers(alert["geo"], event["geo"]) and _same_drug(alert, event, group_of)
                and bool(set(route.get("gaining", [])) & set(event["gaining"])))
    return (geo.covers(alert["geo"], event["geo"]) and _same_drug(alert, event, group_of)
            and _metric_ok(alert, event))


def _explained(alert: dict, event: dict, geo: Geography, group_of: dict[str, str]) -> bool:
    """Whether `alert` states a change `event` planted, for precision: a match, or a concealment
    shift inside a planted transport-mode shift's destination region."""
    if matches(alert, event, geo, group_of):
        return True
    return (alert["type"] == "modus_operandi_shift" and event["type"] == "route_shift"
            and event.get("attribute") == "transport_mode"
            and (alert["geo"] == event["destination_region"]
                 or geo.covers(event["destination_region"], alert["geo"]))
            and _same_drug(alert, event, group_of))


def alert_key(alert: dict) -> tuple[str, ...]:
    """The series-level key of an alert: (type, geo, drug) (+ attribute for route shifts)."""
    key = (alert["type"], alert["geo"], alert["drug"])
    if alert.get("route"):
        key += (alert["route"].get("attribute", ""),)
    return key


def _blamed_on(alert: dict, distractor: dict, geo: Geography, group_of: dict[str, str]) -> bool:
    """Whether the distractor lies inside what the alert calls changed: the alert's periods (from
    its `period` to its `detected_at`) cover part of the gap or the outlier's month, on the
    distractor's country or an aggregate containing it."""
    start = distractor.get("start") or distractor.get("period") or distractor.get("onset")
    end = distractor.get("end") or start
    if distractor["type"] == "completeness_change":  # it lasts: any alert from its onset on
        end = alert["detected_at"]
    elif distractor["type"] == "partial_reporting":  # its recovery, read as a surge, counts too
        end = (pd.Period(end, "M") + WINDOW).strftime("%Y-%m")
    if months_between(alert["period"], end) < 0 or months_between(start, alert["detected_at"]) < 0:
        return False
    if not geo.covers(alert["geo"], distractor["geo"]):
        return False
    if distractor["type"] == "reporting_gap":
        return alert["type"] == "decline"
    if distractor["type"] == "completeness_change":
        return (alert["type"] == "modus_operandi_shift"
                and _same_drug(alert, distractor, group_of))
    if distractor["type"] == "partial_reporting":
        return alert["type"] == "decline" or alert["type"] in RISING
    drug = distractor.get("drug") or distractor.get("substance")
    return alert["type"] in RISING and (drug is None or _same_drug(alert, {"drug": drug},
                                                                    group_of))


def score_alerts(alerts: list[dict[str, Any]], events: list[dict[str, Any]],
                 distractors: list[dict[str, Any]], geo: Geography,
                 group_of: dict[str, str]) -> dict[str, Any]:
    """Recall, delay, series-level precision and distractor alerts (see the module doc)."""
    per_event = []
    for event in events:
        hits = [a for a in alerts if matches(a, event, geo, group_of)
                and 0 <= months_between(event["onset"], a["detected_at"]) <= WINDOW]
        delay = min((months_between(event["onset"], a["detected_at"]) for a in hits),
                    default=None)
        per_event.append({"id": event.get("id"), "type": event["type"],
                          "geo": event.get("geo", event.get("destination_region")),
                          "drug": event["drug"], "onset": event["onset"],
                          "detected": delay is not None, "delay": delay,
                          "alerts": len(hits)})
    keys: dict[tuple[str, ...], bool] = {}
    for alert in alerts:
        key = alert_key(alert)
        ok = any(_explained(alert, e, geo, group_of)
                 and months_between(e["onset"], alert["detected_at"]) >= 0 for e in events)
        keys[key] = keys.get(key, False) or ok
    explained = {id(a) for a in alerts if any(
        _explained(a, e, geo, group_of) and months_between(e["onset"], a["detected_at"]) >= 0
        for e in events)}
    blamed = [a for a in alerts if id(a) not in explained
              and any(_blamed_on(a, d, geo, group_of) for d in distractors)]
    delays = [e["delay"] for e in per_event if e["delay"] is not None]
    unmatched = sorted("/".join(k) for k, ok in keys.items() if not ok)
    return {
        "events": len(events),
        "detected": sum(e["detected"] for e in per_event),
        "recall": (sum(e["detected"] for e in per_event) / len(events)) if events else None,
        "median_delay": statistics.median(delays) if delays else None,
        "alert_keys": len(keys),
        "matched_keys": sum(keys.values()),
        "precision": (sum(keys.values()) / len(keys)) if keys else None,
        "alerts": len(alerts),
        "distractor_alerts": len(blamed),
        "distractor_alert_keys": sorted({"/".join(alert_key(a)) for a in blamed}),
        "unmatched_keys": unmatched,
        "per_event": per_event,
    }


def log_detection_run(settings: Any, run_name: str, params: dict[str, Any],
                      metrics: dict[str, float], artifacts: dict[str, Any] | None = None,
                      experiment: str = "detection") -> str:
    """Log one run to MLflow in `experiment`; returns the run id."""
    import mlflow

    mlflow.set_tracking_uri(settings.tracking_uri)
    settings.mlruns_dir.mkdir(parents=True, exist_ok=True)
    client = mlflow.MlflowClient()
    exp = client.get_experiment_by_name(experiment)
    exp_id = exp.experiment_id if exp else client.create_experiment(
        experiment, artifact_location=settings.artifact_location)
    with mlflow.start_run(experiment_id=exp_id, run_name=run_name) as run:
        mlflow.log_params(params)
        mlflow.log_metrics({k: float(v) for k, v in metrics.items() if v is not None})
        for name, obj in (artifacts or {}).items():
            mlflow.log_dict(obj, name)
        return run.info.run_id


def evaluation_metrics(scores: dict[str, Any]) -> dict[str, float]:
    """The numeric scores, for MLflow."""
    names = ("recall", "precision", "median_delay", "distractor_alerts", "alerts", "alert_keys",
             "detected", "events")
    return {n: float(scores[n]) for n in names if scores.get(n) is not None}
