"""`narcotrend incidents`: the active alerts grouped into incidents, as the API and the
dashboard show them, with the one summary line."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from serving.cli.app import app, console, print_json, print_table, settings


def incident_dict(incident: Any) -> dict[str, Any]:
    """An incident in the API's shape (DESIGN section 5), members as full alerts."""
    from serving.alerting.evidence import describe

    alerts = [{**a, **describe(a)} for a in incident.alerts]
    return {"id": incident.id, "type": incident.lead["type"], "period": incident.lead["period"],
            "status": incident.status, "severity": incident.severity, "score": incident.score,
            "headline": incident.title, "summary": alerts[0]["summary"],
            "regions": incident.regions, "members": [a["id"] for a in alerts],
            "geos": list(dict.fromkeys(a["geo"] for a in alerts)),
            "drugs": list(dict.fromkeys(a["drug"] for a in alerts)), "alerts": alerts}


@app.command("incidents")
def incidents_command(
    as_json: Annotated[bool, typer.Option("--json", help="Print the incidents as JSON.")] = False,
    region: Annotated[list[str] | None, typer.Option(
        "--region", help="UN region (repeatable); an incident keeps its members there.")] = None,
    limit: Annotated[int, typer.Option(min=1, help="At most this many.")] = 50,
) -> None:
    """The active alerts (open and acknowledged) as incidents, most severe first."""
    from serving.alerting.picture import list_incidents, store_picture
    from serving.db import session_scope

    with session_scope(settings().service_database_url) as session:
        found = list_incidents(session, regions=region)
        _, line = store_picture(session, regions=region)
    rows = [incident_dict(i) for i in found[:limit]]
    if as_json:
        print_json(rows)
        return
    from rich.table import Table

    table = Table(title=line)
    for col in ("severity", "status", "incident", "period", "alerts", "summary"):
        table.add_column(col)
    for row in rows:
        table.add_row(row["severity"], row["status"], row["headline"], row["period"],
                      str(len(row["members"])), row["summary"])
    print_table(table)
    if not rows:
        console.print("no active incident", highlight=False)
