"""tunnel: public hostnames and live connector connections

Revision ID: tunnel_0001
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "tunnel_0001"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = ("tunnel",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "tunnel_hostnames",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("hostname", sa.String(length=253), nullable=False),
        sa.Column("tunnel_id", sa.String(length=36), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["tunnel_id"], ["tunnels.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("hostname"),
    )
    op.create_index("ix_tunnel_hostnames_tunnel_id", "tunnel_hostnames", ["tunnel_id"])
    op.create_table(
        "tunnel_connections",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("tunnel_id", sa.String(length=36), nullable=False),
        sa.Column("edge_id", sa.String(length=36), nullable=False),
        sa.Column("edge_name", sa.String(length=128), nullable=False),
        sa.Column("connector_id", sa.String(length=36), nullable=False),
        sa.Column("connection_index", sa.Integer(), nullable=False),
        sa.Column("origin_ip", sa.String(length=64), nullable=False),
        sa.Column("client_version", sa.String(length=64), nullable=False),
        sa.Column("protocol", sa.String(length=16), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["tunnel_id"], ["tunnels.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_tunnel_connections_tunnel_id", "tunnel_connections", ["tunnel_id"])
    op.create_index("ix_tunnel_connections_edge_id", "tunnel_connections", ["edge_id"])


def downgrade() -> None:
    op.drop_table("tunnel_connections")
    op.drop_table("tunnel_hostnames")
