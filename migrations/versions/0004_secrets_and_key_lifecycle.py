"""secrets and key lifecycle: key expiry and hash key id, tenant return origins, per-tenant
random callback secrets

Revision ID: 0004_secrets
Revises: 0003
Create Date: 2026-12-04 03:10:00

``api_keys.hash_kid`` names the server key (SECRET_KEYS) a key's hash was made with (NULL: the
hash predates key ids; it is re-hashed on its next use). ``api_keys.expires_at``: keys may
expire. ``tenants.return_origins``: where top-up return URLs may point. ``callback_secrets``:
random, rotatable callback signing secrets (see core/keys.py and docs/runbook.md).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import core.db

revision = "0004_secrets"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.add_column(sa.Column("hash_kid", sa.String(length=16), nullable=True))
        batch_op.add_column(
            sa.Column("expires_at", core.db.UTCDateTime(timezone=True), nullable=True)
        )
    with op.batch_alter_table("tenants", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "return_origins",
                sa.JSON().with_variant(sa.dialects.postgresql.JSONB(), "postgresql"),
                nullable=True,
            )
        )
    op.create_table(
        "callback_secrets",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("tenant_id", sa.String(length=36), nullable=False),
        sa.Column("kid", sa.String(length=16), nullable=False),
        sa.Column("nonce", sa.String(length=64), nullable=False),
        sa.Column("created_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", core.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("callback_secrets", schema=None) as batch_op:
        batch_op.create_index(
            "ix_callback_secrets_tenant", ["tenant_id", "created_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("callback_secrets", schema=None) as batch_op:
        batch_op.drop_index("ix_callback_secrets_tenant")
    op.drop_table("callback_secrets")
    with op.batch_alter_table("tenants", schema=None) as batch_op:
        batch_op.drop_column("return_origins")
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.drop_column("expires_at")
        batch_op.drop_column("hash_kid")
