"""`narcotrend serve` (the API, the dashboard and the e-mail scheduler) and
`narcotrend keys create|revoke|list`."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from core.errors import NarcotrendError
from core.settings import Settings
from serving.cli.app import app, console, keys_app, print_json, print_table, settings

RoleOption = typer.Option(help="viewer (read), analyst (also retrain, acknowledge, silence) or "
                               "admin (also keys and everyone's subscriptions).")


def check_port_free(host: str, port: int) -> None:
    """A one-line error now, rather than uvicorn's after the start-up messages, when another
    process already listens on `host:port`."""
    import socket

    family = socket.AF_INET6 if ":" in host else socket.AF_INET  # as uvicorn chooses
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            probe.bind((host, port))
        except socket.gaierror as err:
            raise NarcotrendError(f"cannot listen on {host}: {err.strerror}") from None
        except OSError as err:
            raise NarcotrendError(
                f"cannot listen on {host}:{port}: {err.strerror} (another server there?); stop "
                "it or choose another port with --port or NARCOTREND_PORT") from None


def serve_forever(settings: Settings, host: str, port: int, *, mail: bool = True) -> None:
    """Serve the API and dashboard with uvicorn until interrupted; e-mail digests meanwhile."""
    import uvicorn

    from serving.api.app import create_app

    check_port_free(host, port)
    stop_mail = None
    if mail:
        from serving.alerting.outbox import start_delivery_scheduler
        from serving.reports.dissemination import run_report_cycle

        stop_mail = start_delivery_scheduler(settings, run=run_report_cycle)
    console.print(f"serving the API on http://{host}:{port}/v1 (docs at /docs) and the dashboard "
                  f"at http://{host}:{port}/")
    try:
        uvicorn.run(create_app(settings), host=host, port=port, log_level="info",
                    server_header=False)  # no `server: uvicorn` telling what to attack
    finally:
        if stop_mail is not None:
            stop_mail()


@app.command("serve")
def serve(
    host: Annotated[str | None, typer.Option(help="Interface to bind (default: setting).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default: setting).")] = None,
    no_mail: Annotated[bool, typer.Option("--no-mail", help="Do not send e-mail digests.")] = False,
) -> None:
    """The HTTP API, the dashboard page and the e-mail scheduler, in one process."""
    cfg = settings()
    serve_forever(cfg, host or cfg.host, port or cfg.port, mail=not no_mail)


@keys_app.command("create")
def keys_create(
    role: Annotated[str, RoleOption],
    regions: Annotated[list[str] | None, typer.Option(
        "--regions", help="A UN region the key may see; repeat for several; all if none.")
    ] = None,
    name: Annotated[str, typer.Option(help="Who or what the key is for.")] = "",
    as_json: Annotated[bool, typer.Option("--json", help="Print the key as JSON.")] = False,
) -> None:
    """Create a key and print it once; only its hash is stored."""
    from serving.api.auth import create_key
    from serving.db import session_scope

    cfg = settings()
    with session_scope(cfg.service_database_url) as session:
        raw, row = create_key(session, role, regions, name)
        summary = {"key": raw, "id": row.id, "prefix": row.prefix, "role": row.role,
                   "regions": row.regions, "name": row.name}
    if as_json:
        print_json(summary)
        return
    scope = ", ".join(summary["regions"]) if summary["regions"] else "all regions"
    console.print(f"created {summary['role']} key {summary['id']} ({scope}); it is shown this "
                  "once only:")
    typer.echo(raw)


@keys_app.command("revoke")
def keys_revoke(
    key: Annotated[str, typer.Argument(metavar="KEY_ID_OR_PREFIX",
                                       help="The key's id or prefix (`keys list`).")],
) -> None:
    """Revoke a key: it is refused from the next request on."""
    from serving.api.auth import revoke_key
    from serving.db import session_scope

    with session_scope(settings().service_database_url) as session:
        row = revoke_key(session, key)
        console.print(f"revoked key {row.id} ({row.prefix}, {row.role})")


@keys_app.command("list")
def keys_list(
    as_json: Annotated[bool, typer.Option("--json", help="Print the keys as JSON.")] = False,
) -> None:
    """Every key: id, prefix, role, regions, when created and revoked (never the key)."""
    from serving.api.auth import key_summary, list_keys
    from serving.db import session_scope

    with session_scope(settings().service_database_url) as session:
        rows = [key_summary(row) for row in list_keys(session)]
    if as_json:
        print_json(rows)
        return
    table = Table("id", "prefix", "role", "regions", "name", "created", "revoked")
    for row in rows:
        table.add_row(str(row["id"]), str(row["prefix"]), str(row["role"]),
                      ", ".join(row["regions"] or []) or "all", str(row["name"]),
                      f"{row['created_at']:%Y-%m-%d %H:%M}",
                      f"{row['revoked_at']:%Y-%m-%d %H:%M}" if row["revoked_at"] else "")
    print_table(table)
