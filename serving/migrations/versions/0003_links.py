"""Analysts' decisions on linked-case groups (issue 21): confirm, detach, join.

Revision ID: 0003_links
Revises: 0002_audit_log_key_index
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_links"
down_revision: str | Sequence[str] | None = "0002_audit_log_key_index"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "link_decisions",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("group_id", sa.String(32), nullable=False),
        sa.Column("other_group_id", sa.String(32), nullable=True),
        sa.Column("seizure_id", sa.String(128), nullable=True),
        sa.Column("members", sa.JSON(), nullable=False),
        sa.Column("decided_by", sa.String(64), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("decided_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_link_decisions_group_id", "link_decisions", ["group_id"])


def downgrade() -> None:
    op.drop_index("ix_link_decisions_group_id", table_name="link_decisions")
    op.drop_table("link_decisions")
