"""Detection commands: `narcotrend detect`, `alerts list` and `alerts backtest`.

Thin shells over `serving.alerting.detection.detect_and_store` (`training.detect.detect`, then
the store), `serving.alerting.alerts_store.list_alerts` and `training.alert_backtest.run_backtest`;
heavy modules are imported inside the commands.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

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
    pass


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
    forecast thresholds), at the frequency the series were built at."""
    from serving.alerting.detection import detect_and_store
    from serving.alerting.picture import detect_summary_line
    from training.detect import skipped_summary

    cfg = settings()
    if as_json:
        print_json(detect_and_store(cfg, as_of, since=since))
        return
    with progress_status("detecting") as say:
        summary = detect_and_store(cfg, as_of, since=since, progress=say)
    if summary["replayed"]:
        console.print(f"replayed {summary['replayed']} months of monthly detection",
                      highlight=False)
    console.print(detect_summary_line(cfg, summary), highlight=False, soft_wrap=True)
    if summary["skipped"]:
        console.print(skipped_summary(summary["skipped"]), highlight=False, soft_wrap=True)


@alerts_app.command("list")
def list_command(
    as_json: Annotated[bool, typer.Option("--json", help="Print the alerts as JSON.")] = False,
    status: Annotated[list[str] | None, typer.Option(
        "--status", help="open, acknowledged, resolved, silenced (repeatable; default: the "
        "active ones, open and acknowledged).")] = None,
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
    from serving.alerting.evidence import describe
    from serving.alerting.incidents import ACTIVE_STATUSES
    from serving.db import session_scope

    statuses = status or list(ACTIVE_STATUSES)
    _check_choices("--status", statuses, STATUSES)
    _check_choices("--severity", severity or [], SEVERITIES)
    _check_choices("--type", [type_] if type_ else [], ALERT_TYPES)
    cfg = settings()
    with session_scope(cfg.service_database_url) as session:
        rows, total = list_alerts(session, type=type_, geo=geo, drug=drug, severity=severity,
                                  status=statuses, regions=region, limit=limit)
        alerts = [{**row.to_dict(), **describe(row.to_dict())} for row in rows]
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
                      " (only active alerts are shown: `--status silenced` or `--status "
                      "resolved` show the others)"))
        return
    _print_alerts(alerts, total)


@app.command("notices")
def notices_command(
    as_json: Annotated[bool, typer.Option("--json", help="Print the notices as JSON.")] = False,
    status: Annotated[list[str] | None, typer.Option(
        "--status", help="open, resolved (repeatable; default: both).")] = None,
    limit: Annotated[int, typer.Option(min=1, help="At most this many.")] = 100,
) -> None:
    """Data-quality notices (a country sending a fraction of its usual reports): why a series
    was not alerted on."""
    from serving.alerting.notices_store import list_notices
    from serving.db import session_scope

    _check_choices("--status", status or [], ("open", "resolved"))
    with session_scope(settings().service_database_url) as session:
        notices = [row.to_dict() for row in list_notices(session, status=status, limit=limit)]
    if as_json:
        print_json(notices)
        return
    if not notices:
        console.print("no notices", highlight=False)
        return
    from rich.table import Table

    table = Table(title=f"{len(notices)} notices")
    for col in ("type", "geo", "first", "detected", "status", "evidence"):
        table.add_column(col)
    for n in notices:
        table.add_row(n["type"], n["geo"], n["first_detected_at"], n["detected_at"], n["status"],
                      str(n["evidence"].get("summary", "")))
    print_table(table)


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
    from training.alert_backtest import run_backtest

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
                      a["detected_at"], a["status"], a["summary"])
    print_table(table)
