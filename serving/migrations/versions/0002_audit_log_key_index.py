"""An index on audit_log (key_id, at): "what did this key do, most recent first".

Revision ID: 0002_audit_log_key_index
Revises: 0001_initial
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0002_audit_log_key_index"
down_revision: str | Sequence[str] | None = "0001_initial"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_audit_log_key_id_at", "audit_log", ["key_id", "at"])


def downgrade() -> None:
    op.drop_index("ix_audit_log_key_id_at", table_name="audit_log")
