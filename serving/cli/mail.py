"""Commands for alert e-mail: `alerts send` and `subscriptions add|list|remove`."""

from __future__ import annotations

from typing import Annotated

import typer

from core.errors import NarcotrendError
from serving.cli.app import alerts_app, console, print_json, settings, subscriptions_app

EXIT_DEFERRED = 3


class DeliveryDeferred(NarcotrendError):
    """Digests stayed in the outbox because the SMTP server could not take them."""

    exit_code = EXIT_DEFERRED


@alerts_app.command("send")
def send(
    as_json: Annotated[bool, typer.Option("--json", help="Print the counts as JSON.")] = False,
) -> None:
    """One e-mail delivery cycle: apply silences, queue due reports and digests, deliver
    (exit 3 if deferred)."""
    from serving.reports.dissemination import run_report_cycle

    cfg = settings()
    counts = run_report_cycle(cfg, force=True)
    if as_json:
        print_json(counts)
    else:
        where = (f"SMTP {cfg.smtp_host}:{cfg.smtp_port}" if cfg.smtp_host
                 else f".eml files in {cfg.outbox_dir}")
        console.print(f"queued {counts['enqueued']} digest(s) and {counts['reports_enqueued']} "
                      f"report(s); sent {counts['sent']}, written "
                      f"{counts['written']}, deferred {counts['deferred']}, failed "
                      f"{counts['failed']} via {where}", highlight=False, soft_wrap=True)
    if counts["deferred"]:
        raise DeliveryDeferred(
            f"{counts['deferred']} digest(s) deferred: SMTP server {cfg.smtp_host}:"
            f"{cfg.smtp_port} did not take them; they stay in the outbox ({counts['pending']} "
            "pending) and go out on the next cycle")


@subscriptions_app.command("add")
def add(
    email: Annotated[str, typer.Option("--email", help="Recipient address.")],
    geo: Annotated[list[str] | None, typer.Option(
        "--geo", help="ISO3, country, UN region or subregion (repeatable; none: all).")] = None,
    drug: Annotated[list[str] | None, typer.Option(
        "--drug", help="Drug group or substance (repeatable; none: all).")] = None,
    min_severity: Annotated[str, typer.Option(
        "--min-severity", help="low, medium, high or critical.")] = "low",
    report: Annotated[str | None, typer.Option(
        "--report", help="tactical-monthly or strategic-quarterly: get that report of the "
                         "places (as PDF) instead of alert digests.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print it as JSON.")] = False,
) -> None:
    """Subscribe an address to alert digests (or, with --report, to scheduled reports)."""
    import pandas as pd

    from serving.alerting.subscriptions import add_subscription, subscription_to_dict
    from serving.db import session_scope

    cfg = settings()
    series_path = cfg.paths.series
    series_drugs = (pd.read_parquet(series_path, columns=["drug"])["drug"].unique()
                    if drug and series_path.exists() else ())
    with session_scope(cfg.service_database_url) as session:
        out = subscription_to_dict(add_subscription(session, email, geo or [], drug or [],
                                                    min_severity, series_drugs=series_drugs,
                                                    report=report))
    if as_json:
        print_json(out)
    else:
        console.print(f"subscription {out['id']}: {out['email']} gets "
                      f"{_describe(out['geos'], out['drugs'], out['min_severity'])}"
                      + (f"; report {out['report']}" if out["report"] else ""),
                      highlight=False, soft_wrap=True)


@subscriptions_app.command("list")
def list_(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")] = False,
) -> None:
    """The subscriptions."""
    from serving.alerting.subscriptions import list_subscriptions, subscription_to_dict
    from serving.db import session_scope

    with session_scope(settings().service_database_url) as session:
        subs = [subscription_to_dict(s) for s in list_subscriptions(session)]
    if as_json:
        print_json(subs)
        return
    if not subs:
        console.print("no subscriptions")
    for sub in subs:
        typer.echo(f"{sub['id']}  {sub['email']}  "
                   f"{_describe(sub['geos'], sub['drugs'], sub['min_severity'])}")


@subscriptions_app.command("remove")
def remove(subscription_id: Annotated[str, typer.Argument(help="The id `list` shows.")]) -> None:
    """Delete a subscription."""
    from serving.alerting.subscriptions import remove_subscription
    from serving.db import session_scope

    with session_scope(settings().service_database_url) as session:
        removed = remove_subscription(session, subscription_id)
    if not removed:
        raise NarcotrendError(f"subscription {subscription_id!r} does not exist; "
                              "`narcotrend subscriptions list` shows the ids")
    console.print(f"removed subscription {subscription_id}")


def _describe(geos: list[str], drugs: list[str], min_severity: str) -> str:
    return (f"{', '.join(drugs) or 'all drugs'} in {', '.join(geos) or 'all places'}, "
            f"severity {min_severity} and above")
