"""The Typer applications every command module registers on, and small shared CLI helpers.

Command modules (`cli_data`, `cli_models`, `cli_alerts`, `cli_mail`, `cli_service`) import the
apps from here and add their commands; `serving.cli` imports them all and runs the app.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import typer
from rich.console import Console

from core.settings import Settings, get_settings

app = typer.Typer(
    name="narcotrend",
    help="Forecasts, emerging trends and route shifts from drug-seizure reports.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
alerts_app = typer.Typer(help="Alerts: list, backtest, send.", no_args_is_help=True)
models_app = typer.Typer(help="Registered model versions and the champion alias.",
                         no_args_is_help=True)
keys_app = typer.Typer(help="API keys (printed once, stored hashed).", no_args_is_help=True)
subscriptions_app = typer.Typer(help="Who gets which alert e-mails.", no_args_is_help=True)
app.add_typer(alerts_app, name="alerts")
app.add_typer(models_app, name="models")
app.add_typer(keys_app, name="keys")
app.add_typer(subscriptions_app, name="subscriptions")

# Messages and progress go to stderr so that `--json` output on stdout stays machine-readable.
# Not a terminal (a log, a pipe): lines are never wrapped at 80 columns.
console = Console(stderr=True, soft_wrap=not sys.stderr.isatty())
cli_state: dict[str, bool] = {"debug": False}


def settings() -> Settings:
    return get_settings()


def print_table(table: Any) -> None:
    """A command's result table on stdout, so it can be piped or saved; 200 columns wide when
    stdout is not a terminal (rich would otherwise assume 80 and cut the evidence short)."""
    out = Console(width=None if sys.stdout.isatty() else 200)
    out.print(table)


def print_json(obj: Any) -> None:
    """Write one JSON document to stdout."""
    sys.stdout.write(json.dumps(obj, indent=2, default=str) + "\n")
    sys.stdout.flush()
