"""The `narcotrend` command line (DESIGN section 6).

Every command is a thin shell over a plain Python function: parse, call, print. Commands live in
one module per area (`cli_data`, `cli_models`, `cli_alerts`, `cli_mail`, `cli_service`); the heavy
stages are imported inside the commands so `narcotrend --help` stays fast.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Annotated

import typer

from core.errors import NarcotrendError
from serving.cli.app import app, cli_state, console, settings, styled

COMMAND_MODULES = ("data", "build", "models", "alerts", "incidents", "mail", "service", "link",
                   "report")


@app.callback()
def _root(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")] = False,
) -> None:
    cli_state["debug"] = debug


@app.command("demo-data")
def demo_data(
    out: Annotated[Path | None, typer.Option(
        help="Folder to write into (default: the home's data/demo).")] = None,
    seed: Annotated[int | None, typer.Option(
        help="Random seed; the same seed gives the same bytes.")] = None,
) -> None:
    """Write the built-in synthetic world and its planted events."""
    from features.synthetic_world import write_world

    cfg = settings()
    out_dir = out or cfg.demo_dir
    summary = write_world(out_dir, seed=cfg.demo_seed if seed is None else seed)
    console.print(f"wrote {summary['records']:,} seizure records and {summary['events']} planted "
                  f"events to {out_dir}")


@app.command("run")
def run(
    no_serve: Annotated[bool, typer.Option("--no-serve", help="Run the pipeline only.")] = False,
) -> None:
    """The main job: every stage on the configured data (the built-in world when none), then
    serve."""
    from serving.cli.service import check_port_free, serve_forever
    from serving.pipeline import run_pipeline

    cfg = settings()
    if not no_serve:
        check_port_free(cfg.host, cfg.port)  # before minutes of pipeline, not after
    run_pipeline(cfg, console=console)
    if not no_serve:
        serve_forever(cfg, host=cfg.host, port=cfg.port)


def register_commands() -> None:
    """Import every command module so its commands join the app."""
    for name in COMMAND_MODULES:
        importlib.import_module(f"serving.cli.{name}")


def quiet_libraries() -> None:
    """Keep the libraries' chatter (MLflow's progress bars and INFO lines) out of the command
    line's output; what the stages do is said by their own progress lines."""
    import logging
    import os

    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")  # read when mlflow is imported
    logging.getLogger("mlflow").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    # splink says why it could not train an m value of a level the data never shows; the link
    # stage's own summary and its MLflow run report what it estimated
    logging.getLogger("splink").setLevel(logging.ERROR)


def main() -> None:
    """Console entry point: one-line errors and a non-zero exit, tracebacks only with --debug."""
    quiet_libraries()
    register_commands()
    try:
        app(standalone_mode=False)
    except NarcotrendError as err:
        if cli_state["debug"]:
            raise
        console.print(styled("error:", "red", err), highlight=False, soft_wrap=True)
        sys.exit(err.exit_code)
    except KeyboardInterrupt:
        console.print("interrupted")
        sys.exit(130)
    except Exception as err:  # noqa: BLE001 - the last line of defence for a command line
        import click

        # Typer >= 0.2x raises its own vendored copies of click's exceptions
        if isinstance(err, click.exceptions.Exit | typer.Exit):
            sys.exit(err.exit_code)
        if isinstance(err, click.Abort | typer.Abort):
            console.print("aborted")
            sys.exit(130)
        if isinstance(err, click.ClickException | typer.TyperException) and hasattr(err, "show"):
            err.show()  # usage errors: the usage line, the reason, exit 2
            sys.exit(err.exit_code)
        if cli_state["debug"]:
            raise
        console.print(styled("error:", "red", f"{type(err).__name__}: {err} (rerun with --debug "
                             "for the traceback)"), highlight=False, soft_wrap=True)
        sys.exit(1)


if __name__ == "__main__":  # pragma: no cover
    main()
