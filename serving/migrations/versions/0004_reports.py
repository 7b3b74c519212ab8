"""Reports: a subscription's report schedule, an attachment on outbox rows, the reports queued.

Revision ID: 0004_reports
Revises: 0003_links
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_reports"
down_revision: str | Sequence[str] | None = "0003_links"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("subscriptions", sa.Column("report", sa.String(32), nullable=True))
    op.add_column("outbox", sa.Column("attachment", sa.LargeBinary(), nullable=True))
    op.add_column("outbox", sa.Column("attachment_name", sa.String(255), nullable=True))
    op.create_table(
        "report_deliveries",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("recipient", sa.String(254), nullable=False),
        sa.Column("report_key", sa.String(128), nullable=False),
        sa.Column("outbox_id", sa.String(32), nullable=False),
        sa.Column("queued_at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("recipient", "report_key"),
    )


def downgrade() -> None:
    op.drop_table("report_deliveries")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("attachment_name")
        batch.drop_column("attachment")
    with op.batch_alter_table("subscriptions") as batch:
        batch.drop_column("report")
