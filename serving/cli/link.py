"""Linked-case commands: `narcotrend link` and `narcotrend links confirm|detach|join|decisions`.

Thin shells over `training.link.link` (the stage) and `serving.alerting.links` (storing its
alerts, analysts' decisions); `narcotrend export links` is in cli_data.
"""

from __future__ import annotations

from typing import Annotated

import typer

from serving.cli.app import app, console, print_json, progress_status, settings

links_app = typer.Typer(help="Linked-case groups: analysts' decisions.", no_args_is_help=True)
app.add_typer(links_app, name="links")


@app.command("link")
def link_command(
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Link seizures that share a source into case groups, across countries, and raise a
    linked_cases alert in each country a cross-border group concerns."""
    from serving.alerting.links import link_and_store

    cfg = settings()
    if as_json:
        summary = link_and_store(cfg)
    else:
        with progress_status("linking") as say:
            summary = link_and_store(cfg, progress=say)
    if as_json:
        print_json(summary)
        return
    console.print(f"linked {summary['linked_seizures']:,} of {summary['candidates']:,} signed "
                  f"seizures into {summary['groups']:,} groups ({summary['cross_border_groups']} "
                  f"cross-border); {summary['alerts']} linked_cases alerts: "
                  f"{summary['created']} new, {summary['updated']} updated, "
                  f"{summary['resolved']} resolved in {summary['seconds']:.1f}s",
                  highlight=False, soft_wrap=True)


def _decide(kind: str, group_id: str, by: str, **extra: str | None) -> None:
    from serving.alerting.links import record_decision
    from serving.db import session_scope

    cfg = settings()
    with session_scope(cfg.service_database_url) as session:
        row = record_decision(session, cfg.paths, kind, group_id, decided_by=by, **extra)
        console.print(f"{kind} of {group_id} kept ({len(row.members)} seizures); the next "
                      "`narcotrend link` applies it", highlight=False)


By = Annotated[str, typer.Option("--by", help="Who decides (kept with the decision).")]
Note = Annotated[str | None, typer.Option("--note", help="Why.")]


@links_app.command("confirm")
def confirm(group_id: str, by: By, note: Note = None) -> None:
    """Confirm a group: its seizures stay linked in later runs."""
    _decide("confirm", group_id, by, note=note)


@links_app.command("detach")
def detach(group_id: str, seizure_id: str, by: By, note: Note = None) -> None:
    """Detach a seizure from a group: later runs never link it to the group's other seizures."""
    _decide("detach", group_id, by, seizure_id=seizure_id, note=note)


@links_app.command("join")
def join(group_id: str, other_group_id: str, by: By, note: Note = None) -> None:
    """Join two groups: later runs keep their seizures in one group (the older id)."""
    _decide("join", group_id, by, other_group_id=other_group_id, note=note)


@links_app.command("decisions")
def decisions(group_id: Annotated[str | None, typer.Argument()] = None) -> None:
    """The decisions kept (all, or those on one group), oldest first, as JSON."""
    from serving.alerting.links import decisions_frame, list_decisions
    from serving.db import session_scope

    with session_scope(settings().service_database_url) as session:
        print_json(decisions_frame(list_decisions(session, group_id)).to_dict("records"))
