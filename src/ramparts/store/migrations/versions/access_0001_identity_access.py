"""access: users, groups, identity providers, service tokens, signing keys, PIN challenges,
Access applications and policies

Revision ID: access_0001
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "access_0001"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = ("access",)
depends_on: str | Sequence[str] | None = None


def _ts(name: str, nullable: bool = False) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "identity_users",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("email", sa.String(254), nullable=False, unique=True),
        sa.Column("name", sa.String(256), nullable=False),
        sa.Column("last_idp_id", sa.String(36), nullable=False),
        _ts("created_at"),
        _ts("last_login_at", True),
        _ts("sessions_revoked_at", True),
    )
    op.create_index("ix_identity_users_created_at", "identity_users", ["created_at"])
    op.create_table(
        "identity_groups",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("name", sa.String(64), nullable=False, unique=True),
        sa.Column("description", sa.String(1000), nullable=False),
        _ts("created_at"),
    )
    op.create_index("ix_identity_groups_created_at", "identity_groups", ["created_at"])
    op.create_table(
        "identity_group_members",
        sa.Column(
            "group_id",
            sa.String(36),
            sa.ForeignKey("identity_groups.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("email", sa.String(254), primary_key=True),
    )
    op.create_table(
        "identity_providers",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("name", sa.String(64), nullable=False, unique=True),
        sa.Column("type", sa.String(16), nullable=False),
        sa.Column("config", sa.JSON(), nullable=False),
        sa.Column("secret", sa.Text(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        _ts("created_at"),
        _ts("updated_at"),
    )
    op.create_index("ix_identity_providers_created_at", "identity_providers", ["created_at"])
    op.create_table(
        "service_tokens",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("name", sa.String(64), nullable=False, unique=True),
        sa.Column("client_id", sa.String(80), nullable=False, unique=True),
        sa.Column("secret_hash", sa.String(64), nullable=False),
        _ts("created_at"),
        _ts("expires_at", True),
    )
    op.create_index("ix_service_tokens_created_at", "service_tokens", ["created_at"])
    op.create_table(
        "access_signing_keys",
        sa.Column("kid", sa.String(64), primary_key=True),
        sa.Column("private_pem", sa.Text(), nullable=False),
        sa.Column("public_jwk", sa.JSON(), nullable=False),
        _ts("created_at"),
        _ts("retired_at", True),
    )
    op.create_table(
        "identity_otp_challenges",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("idp_id", sa.String(36), nullable=False),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("code_hash", sa.String(64), nullable=False),
        sa.Column("deliverable", sa.Boolean(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        _ts("created_at"),
        _ts("expires_at"),
        _ts("used_at", True),
    )
    op.create_index("ix_identity_otp_challenges_email", "identity_otp_challenges", ["email"])
    op.create_index(
        "ix_identity_otp_challenges_created_at", "identity_otp_challenges", ["created_at"]
    )
    op.create_table(
        "access_applications",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("name", sa.String(64), nullable=False, unique=True),
        sa.Column("domain", sa.String(253), nullable=False),
        sa.Column("path", sa.String(1024), nullable=False),
        sa.Column("aud", sa.String(64), nullable=False, unique=True),
        sa.Column("session_seconds", sa.Integer(), nullable=False),
        sa.Column("allowed_idps", sa.JSON(), nullable=False),
        sa.Column("same_site", sa.String(8), nullable=False),
        sa.Column("launcher_visible", sa.Boolean(), nullable=False),
        _ts("created_at"),
        _ts("updated_at"),
        sa.UniqueConstraint("domain", "path", name="uq_access_app_location"),
    )
    op.create_index("ix_access_applications_created_at", "access_applications", ["created_at"])
    op.create_table(
        "access_policies",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column(
            "app_id",
            sa.String(36),
            sa.ForeignKey("access_applications.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("precedence", sa.Integer(), nullable=False),
        sa.Column("include", sa.JSON(), nullable=False),
        sa.Column("require", sa.JSON(), nullable=False),
        sa.Column("exclude", sa.JSON(), nullable=False),
        _ts("created_at"),
        _ts("updated_at"),
        sa.UniqueConstraint("app_id", "name", name="uq_access_policy_name"),
        sa.UniqueConstraint("app_id", "precedence", name="uq_access_policy_order"),
    )
    op.create_index("ix_access_policies_app_id", "access_policies", ["app_id"])


def downgrade() -> None:
    for table in (
        "access_policies",
        "access_applications",
        "identity_otp_challenges",
        "access_signing_keys",
        "service_tokens",
        "identity_providers",
        "identity_group_members",
        "identity_groups",
        "identity_users",
    ):
        op.drop_table(table)
