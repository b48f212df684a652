"""tunnel: remotely managed ingress configurations

Revision ID: tunnel_0002
Revises: tunnel_0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "tunnel_0002"
down_revision: str | None = "tunnel_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "tunnel_configurations",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("tunnel_id", sa.String(length=36), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("config", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["tunnel_id"], ["tunnels.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("tunnel_id", "version"),
    )
    op.create_index("ix_tunnel_configurations_tunnel_id", "tunnel_configurations", ["tunnel_id"])


def downgrade() -> None:
    op.drop_table("tunnel_configurations")
