"""The command line (`narcotrend`): one module per area, each calling stage functions only."""

from serving.cli.app import app
from serving.cli.main import main, quiet_libraries, register_commands

__all__ = ["app", "main", "quiet_libraries", "register_commands"]
