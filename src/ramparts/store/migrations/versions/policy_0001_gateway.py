"""policy: Gateway policies, lists, list contents and staged list uploads

Revision ID: policy_0001
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "policy_0001"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = ("policy",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "gateway_policies",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("phase", sa.String(length=16), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("precedence", sa.Integer(), nullable=False),
        sa.Column("expression", sa.Text(), nullable=False),
        sa.Column("identity", sa.Text(), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("settings", sa.JSON(), nullable=False),
        sa.Column("description", sa.String(length=1000), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
        sa.UniqueConstraint("phase", "precedence", name="uq_gateway_policy_order"),
    )
    op.create_index("ix_gateway_policies_created_at", "gateway_policies", ["created_at"])
    op.create_table(
        "gateway_lists",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("description", sa.String(length=1000), nullable=False),
        sa.Column("source", sa.String(length=8), nullable=False),
        sa.Column("url", sa.String(length=2048), nullable=False),
        sa.Column("format", sa.String(length=8), nullable=False),
        sa.Column("refresh_seconds", sa.Integer(), nullable=False),
        sa.Column("entry_count", sa.Integer(), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("last_refresh_status", sa.String(length=16), nullable=False),
        sa.Column("last_refresh_error", sa.String(length=1000), nullable=False),
        sa.Column("last_refresh_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_index("ix_gateway_lists_created_at", "gateway_lists", ["created_at"])
    op.create_table(
        "gateway_list_contents",
        sa.Column("list_id", sa.String(length=36), nullable=False),
        sa.Column("encoding", sa.String(length=16), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["list_id"], ["gateway_lists.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("list_id"),
    )
    op.create_table(
        "gateway_list_uploads",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("list_id", sa.String(length=36), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["list_id"], ["gateway_lists.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_gateway_list_uploads_list_id", "gateway_list_uploads", ["list_id"])
    op.create_index("ix_gateway_list_uploads_created_at", "gateway_list_uploads", ["created_at"])
    op.create_table(
        "gateway_list_upload_parts",
        sa.Column("upload_id", sa.String(length=36), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["upload_id"], ["gateway_list_uploads.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("upload_id", "seq"),
    )


def downgrade() -> None:
    op.drop_table("gateway_list_upload_parts")
    op.drop_index("ix_gateway_list_uploads_created_at", table_name="gateway_list_uploads")
    op.drop_index("ix_gateway_list_uploads_list_id", table_name="gateway_list_uploads")
    op.drop_table("gateway_list_uploads")
    op.drop_table("gateway_list_contents")
    op.drop_index("ix_gateway_lists_created_at", table_name="gateway_lists")
    op.drop_table("gateway_lists")
    op.drop_index("ix_gateway_policies_created_at", table_name="gateway_policies")
    op.drop_table("gateway_policies")
