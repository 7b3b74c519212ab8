"""Alert episodes (`alerts.episodes`, each existing alert given its one known episode) and the
`notices` table (data-quality notices such as `reporting_change`).

Revision ID: 0005_alert_episodes_notices
Revises: 0004_reports
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_alert_episodes_notices"
down_revision: str | Sequence[str] | None = "0004_reports"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("alerts") as batch:
        batch.add_column(sa.Column("episodes", sa.JSON(), nullable=True))
    alerts = sa.table("alerts", sa.column("id", sa.String), sa.column("period", sa.String),
                      sa.column("detected_at", sa.String),
                      sa.column("first_detected_at", sa.String),
                      sa.column("severity", sa.String), sa.column("status", sa.String),
                      sa.column("evidence", sa.JSON), sa.column("route", sa.JSON),
                      sa.column("episodes", sa.JSON))
    connection = op.get_bind()
    for row in connection.execute(sa.select(alerts)).mappings().all():
        episode = {"opened": row["first_detected_at"],
                   "resolved": row["detected_at"] if row["status"] == "resolved" else None,
                   "period": row["period"], "detected_at": row["detected_at"],
                   "severity": row["severity"], "evidence": row["evidence"] or {},
                   "route": row["route"]}
        connection.execute(alerts.update().where(alerts.c.id == row["id"])
                           .values(episodes=[episode]))
    op.create_table(
        "notices",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("geo", sa.String(64), nullable=False),
        sa.Column("region", sa.String(32), nullable=False),
        sa.Column("periods", sa.JSON(), nullable=False),
        sa.Column("drugs", sa.JSON(), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("detected_at", sa.String(10), nullable=False),
        sa.Column("first_detected_at", sa.String(10), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("resolved_at", sa.DateTime(), nullable=True),
    )
    op.create_index("ix_notices_fingerprint", "notices", ["fingerprint"], unique=True)
    op.create_index("ix_notices_geo", "notices", ["geo"])
    op.create_index("ix_notices_region", "notices", ["region"])
    op.create_index("ix_notices_status", "notices", ["status"])


def downgrade() -> None:
    op.drop_table("notices")
    with op.batch_alter_table("alerts") as batch:
        batch.drop_column("episodes")
