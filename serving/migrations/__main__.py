"""`python -m serving.migrations <alembic command>` against the configured service database."""

from __future__ import annotations

import sys

from alembic.config import CommandLine

from core.settings import get_settings
from serving.migrations import alembic_config


def main(argv: list[str] | None = None) -> None:
    """Run one Alembic command with the in-code configuration and the settings' database URL."""
    cli = CommandLine(prog="python -m serving.migrations")
    options = cli.parser.parse_args(sys.argv[1:] if argv is None else argv)
    if not hasattr(options, "cmd"):
        cli.parser.error("too few arguments")
    cli.run_cmd(alembic_config(get_settings().service_database_url), options)


if __name__ == "__main__":
    main()
