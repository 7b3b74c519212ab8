"""The Typer applications every command module registers on, and small shared CLI helpers.

Command modules (`cli_data`, `cli_models`, `cli_alerts`, `cli_mail`, `cli_service`) import the
apps from here and add their commands; `serving.cli` imports them all and runs the app.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import typer
from rich.console import Console
from rich.text import Text

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
# markup=False everywhere: text from data (a drug named `[/red]`, a header, an error naming a
# file) is printed as it is, never parsed as rich markup; styles are given as `Text` styles.
console = Console(stderr=True, markup=False)
cli_state: dict[str, bool] = {"debug": False}


def settings() -> Settings:
    return get_settings()


def print_table(table: Any) -> None:
    """A command's result table on stdout, so it can be piped or saved; 200 columns wide when
    stdout is not a terminal (rich would otherwise assume 80 and cut the evidence short)."""
    out = Console(width=None if sys.stdout.isatty() else 200, markup=False)
    out.print(table)


def styled(label: str, style: str, message: Any) -> Text:
    """`label` in `style`, then `message` as plain text (no markup parsed)."""
    return Text.assemble((label, style), " ", str(message))


@contextmanager
def progress_status(initial: str) -> Iterator[Callable[[str], None]]:
    """A spinner line showing each progress message as plain text (rich's spinner would
    parse markup in a plain string); yields the function that updates it."""
    with console.status(Text(initial)) as status:
        yield lambda message: status.update(Text(str(message)))


def print_json(obj: Any) -> None:
    """Write one JSON document to stdout."""
    sys.stdout.write(json.dumps(obj, indent=2, default=str) + "\n")
    sys.stdout.flush()
