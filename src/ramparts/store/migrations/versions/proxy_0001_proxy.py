"""proxy: endpoints, tokens, browser sessions, edge listeners, request log

Revision ID: proxy_0001
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "proxy_0001"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = ("proxy",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "proxy_endpoints",
        sa.Column("id", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("networks", sa.JSON(), nullable=False),
        sa.Column("allow_private_destinations", sa.Boolean(), nullable=False),
        sa.Column("connect_ports", sa.JSON(), nullable=False),
        sa.Column("tls_inspection", sa.Boolean(), nullable=False),
        sa.Column("pac", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    with op.batch_alter_table("proxy_endpoints", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_proxy_endpoints_created_at"), ["created_at"], unique=False
        )

    op.create_table(
        "proxy_tokens",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("endpoint_id", sa.String(length=16), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["endpoint_id"], ["proxy_endpoints.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("digest"),
    )
    with op.batch_alter_table("proxy_tokens", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_proxy_tokens_endpoint_id"), ["endpoint_id"])
        batch_op.create_index(batch_op.f("ix_proxy_tokens_created_at"), ["created_at"])

    op.create_table(
        "proxy_sessions",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("endpoint_id", sa.String(length=16), nullable=False),
        sa.Column("src_ip", sa.Text(), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("groups", sa.JSON(), nullable=False),
        sa.Column("idp", sa.String(length=64), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["endpoint_id"], ["proxy_endpoints.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("proxy_sessions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_proxy_sessions_expires_at"), ["expires_at"])
        batch_op.create_index("ix_proxy_sessions_endpoint_src", ["endpoint_id", "src_ip"])

    op.create_table(
        "proxy_listeners",
        sa.Column("edge_id", sa.String(length=36), nullable=False),
        sa.Column("addresses", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("edge_id"),
    )
    with op.batch_alter_table("proxy_listeners", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_proxy_listeners_updated_at"), ["updated_at"])

    op.create_table(
        "proxy_requests",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("edge", sa.String(length=128), nullable=False),
        sa.Column("endpoint_id", sa.String(length=16), nullable=True),
        sa.Column("endpoint_name", sa.String(length=64), nullable=False),
        sa.Column("src_ip", sa.String(length=45), nullable=False),
        sa.Column("user_email", sa.String(length=254), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("method", sa.String(length=32), nullable=False),
        sa.Column("host", sa.String(length=253), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("decision", sa.String(length=16), nullable=False),
        sa.Column("policy_id", sa.String(length=64), nullable=False),
        sa.Column("policy_name", sa.String(length=64), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("bytes_up", sa.BigInteger(), nullable=False),
        sa.Column("bytes_down", sa.BigInteger(), nullable=False),
        sa.Column("duration_us", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("proxy_requests", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_proxy_requests_at"), ["at"])
        batch_op.create_index(batch_op.f("ix_proxy_requests_decision"), ["decision"])
        batch_op.create_index("ix_proxy_requests_endpoint_at", ["endpoint_id", "at"])


def downgrade() -> None:
    with op.batch_alter_table("proxy_requests", schema=None) as batch_op:
        batch_op.drop_index("ix_proxy_requests_endpoint_at")
        batch_op.drop_index(batch_op.f("ix_proxy_requests_decision"))
        batch_op.drop_index(batch_op.f("ix_proxy_requests_at"))
    op.drop_table("proxy_requests")
    with op.batch_alter_table("proxy_listeners", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_proxy_listeners_updated_at"))
    op.drop_table("proxy_listeners")
    with op.batch_alter_table("proxy_sessions", schema=None) as batch_op:
        batch_op.drop_index("ix_proxy_sessions_endpoint_src")
        batch_op.drop_index(batch_op.f("ix_proxy_sessions_expires_at"))
    op.drop_table("proxy_sessions")
    with op.batch_alter_table("proxy_tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_proxy_tokens_created_at"))
        batch_op.drop_index(batch_op.f("ix_proxy_tokens_endpoint_id"))
    op.drop_table("proxy_tokens")
    with op.batch_alter_table("proxy_endpoints", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_proxy_endpoints_created_at"))
    op.drop_table("proxy_endpoints")
