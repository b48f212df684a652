"""dns: locations, upstreams, settings, edge endpoints, query log

Revision ID: dns_0001
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "dns_0001"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = ("dns",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "dns_locations",
        sa.Column("id", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("networks", sa.JSON(), nullable=False),
        sa.Column("is_default", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    with op.batch_alter_table("dns_locations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_dns_locations_created_at"), ["created_at"], unique=False
        )

    op.create_table(
        "dns_upstreams",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("address", sa.String(length=300), nullable=False),
        sa.Column("bootstrap", sa.JSON(), nullable=False),
        sa.Column("tls_name", sa.String(length=253), nullable=False),
        sa.Column("tls_ca_pem", sa.Text(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "dns_settings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("unmatched_plain", sa.String(length=16), nullable=False),
        sa.Column("unmatched_encrypted", sa.String(length=16), nullable=False),
        sa.Column("cache_min_ttl", sa.Integer(), nullable=False),
        sa.Column("cache_max_ttl", sa.Integer(), nullable=False),
        sa.Column("negative_max_ttl", sa.Integer(), nullable=False),
        sa.Column("block_page_ipv4", sa.String(length=45), nullable=False),
        sa.Column("block_page_ipv6", sa.String(length=45), nullable=False),
        sa.Column("query_log", sa.Boolean(), nullable=False),
        sa.Column("log_retention_days", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "dns_endpoints",
        sa.Column("edge_id", sa.String(length=36), nullable=False),
        sa.Column("addresses", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("edge_id"),
    )
    op.create_table(
        "dns_queries",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("edge", sa.String(length=128), nullable=False),
        sa.Column("location_id", sa.String(length=16), nullable=True),
        sa.Column("location_name", sa.String(length=64), nullable=False),
        sa.Column("protocol", sa.String(length=8), nullable=False),
        sa.Column("src_ip", sa.String(length=45), nullable=False),
        sa.Column("qname", sa.String(length=253), nullable=False),
        sa.Column("qtype", sa.String(length=16), nullable=False),
        sa.Column("decision", sa.String(length=16), nullable=False),
        sa.Column("policy_id", sa.String(length=64), nullable=False),
        sa.Column("policy_name", sa.String(length=64), nullable=False),
        sa.Column("upstream", sa.String(length=64), nullable=False),
        sa.Column("rcode", sa.String(length=12), nullable=False),
        sa.Column("cached", sa.Boolean(), nullable=False),
        sa.Column("latency_us", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("dns_queries", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_dns_queries_at"), ["at"], unique=False)
        batch_op.create_index(batch_op.f("ix_dns_queries_decision"), ["decision"], unique=False)
        batch_op.create_index("ix_dns_queries_location_at", ["location_id", "at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("dns_queries", schema=None) as batch_op:
        batch_op.drop_index("ix_dns_queries_location_at")
        batch_op.drop_index(batch_op.f("ix_dns_queries_decision"))
        batch_op.drop_index(batch_op.f("ix_dns_queries_at"))
    op.drop_table("dns_queries")
    op.drop_table("dns_endpoints")
    op.drop_table("dns_settings")
    op.drop_table("dns_upstreams")
    with op.batch_alter_table("dns_locations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_dns_locations_created_at"))
    op.drop_table("dns_locations")
