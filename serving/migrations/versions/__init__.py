"""Alembic revisions of the service database (a package so that installs carry them)."""
