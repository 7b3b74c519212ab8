"""Detection commands: `narcotrend detect`, `alerts list` and `alerts backtest`.

Thin shells over `training.detect.detect`, `serving.alerting.alerts_store.list_alerts` and
`training.alert_backtest.backtest_alerts`; heavy modules are imported inside the commands.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from core.errors import NarcotrendError
from serving.cli.app import (
    alerts_app,
    app,
    console,
    print_json,
    print_table,
    progress_status,
    settings,
)

if TYPE_CHECKING:
    from core.settings import Settings


@app.command("detect")
def detect_command(
    as_of: Annotated[str | None, typer.Option(
        "--as-of", help="Detect as of this month (YYYY-MM); default: the last period of data.")]
        = None,
    since: Annotated[str | None, typer.Option(
        "--since", help="First replay month by month from this month (YYYY-MM), each month "
        "seeing only its data, storing alerts as monthly runs would have.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Raise or update alerts as of a period (trends, surges, declines, new drugs, route shifts,
    forecast thresholds)."""
    from training.detect import detect

    cfg = settings()
    if as_json:
        print_json(detect(cfg, as_of, since=since))
        return
    with progress_status("detecting") as say:
        summary = detect(cfg, as_of, since=since, progress=say)
    kinds = ", ".join(f"{n} {t}" for t, n in sorted(summary["by_type"].items())) or "none"
    if summary["replayed"]:
        console.print(f"replayed {summary['replayed']} months of monthly detection",
                      highlight=False)
    console.print(f"as of {summary['detected_at']}: {summary['alerts']} alerts ({kinds}); "
                  f"{summary['created']} new, {summary['updated']} updated, "
                  f"{summary['reopened']} re-opened, {summary['resolved']} resolved "
                  f"in {summary['seconds']:.1f}s", highlight=False, soft_wrap=True)


@alerts_app.command("list")
def list_command(
    as_json: Annotated[bool, typer.Option("--json", help="Print the alerts as JSON.")] = False,
    status: Annotated[list[str] | None, typer.Option(
        "--status", help="open, acknowledged, resolved, silenced (repeatable; default: all but "
        "resolved).")] = None,
    type_: Annotated[str | None, typer.Option("--type", help="Alert type.")] = None,
    geo: Annotated[str | None, typer.Option(help="ISO3 or region/subregion name.")] = None,
    drug: Annotated[str | None, typer.Option(help="Drug group or substance.")] = None,
    severity: Annotated[list[str] | None, typer.Option(
        "--severity", help="low, medium, high, critical (repeatable).")] = None,
    region: Annotated[list[str] | None, typer.Option(
        "--region", help="UN region (repeatable).")] = None,
    limit: Annotated[int, typer.Option(min=1, help="At most this many.")] = 100,
) -> None:
    """The alerts now, most severe first."""
    from models.alerts import ALERT_TYPES, SEVERITIES, STATUSES
    from serving.alerting.alerts_store import list_alerts
    from serving.db import session_scope

    statuses = status or [s for s in STATUSES if s != "resolved"]
    _check_choices("--status", statuses, STATUSES)
    _check_choices("--severity", severity or [], SEVERITIES)
    _check_choices("--type", [type_] if type_ else [], ALERT_TYPES)
    cfg = settings()
    with session_scope(cfg.service_database_url) as session:
        rows, total = list_alerts(session, type=type_, geo=geo, drug=drug, severity=severity,
                                  status=statuses, regions=region, limit=limit)
        alerts = [row.to_dict() for row in rows]
        stored = total or list_alerts(session, status=list(STATUSES), limit=1)[1]
    if as_json:
        print_json(alerts)
        return
    if not stored:
        console.print(f"no alerts in the home {cfg.home} (NARCOTREND_HOME, else the working "
                      "directory): run `narcotrend detect` there, or point NARCOTREND_HOME at "
                      "the home you ran it in", highlight=False)
        return
    if not alerts:
        console.print("no alert matches" + ("" if status else
                      " (resolved alerts are hidden: `--status resolved` shows them)"))
        return
    _print_alerts(alerts, total)


@alerts_app.command("backtest")
def backtest_command(
    start: Annotated[str, typer.Option(help="First month replayed (YYYY-MM).")],
    end: Annotated[str, typer.Option(help="Last month replayed (YYYY-MM).")],
    json_file: Annotated[Path, typer.Option("--json", help="Write the alerts to this JSON file.")],
    events: Annotated[Path | None, typer.Option(
        help="Score against this events.json (default: the home's data/demo/events.json when "
        "present).")] = None,
    no_mlflow: Annotated[bool, typer.Option("--no-mlflow", help="Do not log the evaluation.")]
        = False,
) -> None:
    """Replay detection month by month, each month seeing only the data up to it; write every
    alert with its detected_at, and score the alerts against planted events when known."""
    cfg = settings()
    with progress_status("backtesting") as say:
        result = run_backtest(cfg, start, end, events=events, progress=say,
                              log_mlflow=not no_mlflow)
    json_file.parent.mkdir(parents=True, exist_ok=True)
    json_file.write_text(json.dumps(result, indent=1, default=str))
    console.print(f"{len(result['alerts'])} alerts from {start} to {end} in "
                  f"{result['seconds']:.1f}s written to {json_file}", highlight=False,
                  soft_wrap=True)
    scores = result.get("evaluation")
    if scores:
        delay = scores["median_delay"]
        console.print(
            f"against {scores['events_file']}: recall {scores['recall']:.2f} "
            f"({scores['detected']}/{scores['events']}), series-level precision "
            f"{scores['precision']:.2f} ({scores['matched_keys']}/{scores['alert_keys']}), "
            f"median delay {delay if delay is not None else '-'} months, "
            f"{scores['distractor_alerts']} alerts on distractors", highlight=False,
            soft_wrap=True)


def run_backtest(cfg: Settings, start: str, end: str, *, events: Path | None = None,
                 progress: Any = None, log_mlflow: bool = True) -> dict[str, Any]:
    """Backtest on the home's built series and routes; scored when an events file is known."""
    from training.alert_backtest import backtest_alerts
    from training.detect import DetectionConfig, check_month, load_inputs

    start, end = check_month(start, "--start"), check_month(end, "--end")
    series, routes = load_inputs(cfg)
    config = DetectionConfig.from_settings(cfg)
    began = time.perf_counter()
    alerts = backtest_alerts(series, routes, start, end, config, progress=progress)
    result: dict[str, Any] = {"start": start, "end": end, "config": config.as_params(),
                              "seconds": round(time.perf_counter() - began, 2),
                              "alerts": alerts, "evaluation": None}
    events_file = events or cfg.demo_dir / "events.json"
    if events is not None and not events.exists():
        raise NarcotrendError(f"the events file {events} does not exist")
    if events_file.exists():
        result["evaluation"] = evaluate_file(cfg, alerts, events_file, series, routes, config,
                                             (start, end), log_mlflow=log_mlflow)
    return result


def evaluate_file(cfg: Settings, alerts: list[dict], events_file: Path, series: Any,
                  routes: Any, config: Any, span: tuple[str, str], *,
                  log_mlflow: bool) -> dict[str, Any]:
    """Score alerts against an events file; log scores and detector settings to MLflow."""
    from training.detection_eval import (
        Geography,
        evaluation_metrics,
        groups_of,
        load_events,
        log_detection_run,
        score_alerts,
    )

    events, distractors = load_events(events_file)
    countries = series.loc[series["geo_level"] == "country", "geo"].unique()
    scores = score_alerts(alerts, events, distractors, Geography.from_countries(countries),
                          groups_of(routes))
    scores["events_file"] = str(events_file)
    if log_mlflow:
        params = {**config.as_params(), "start": span[0], "end": span[1],
                  "events_file": str(events_file)}
        scores["mlflow_run_id"] = log_detection_run(
            cfg, f"backtest {span[0]}..{span[1]}", params, evaluation_metrics(scores),
            {"evaluation.json": scores})
    return scores


def _check_choices(option: str, values: list[str], allowed: tuple[str, ...]) -> None:
    bad = [v for v in values if v not in allowed]
    if bad:
        raise NarcotrendError(f"`{option}` must be one of {', '.join(allowed)}, got {bad[0]!r}")


def _print_alerts(alerts: list[dict], total: int) -> None:
    from rich.table import Table

    table = Table(title=f"{len(alerts)} of {total} alerts")
    for col in ("severity", "type", "geo", "drug", "metric", "period", "detected", "status",
                "evidence"):
        table.add_column(col)
    for a in alerts:
        table.add_row(a["severity"], a["type"], a["geo"], a["drug"], a["metric"], a["period"],
                      a["detected_at"], a["status"], str(a["evidence"].get("summary", "")))
    print_table(table)
