"""usage indexes: captures per tenant by time, ended tasks across tenants by time

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29 12:00:00

``GET /v1/usage`` reads a tenant's captures in a time window: (tenant_id, kind, created_at)
makes that an exact index range instead of every ledger entry of the tenant in the window
(holds and releases outnumber captures). ``GET /v1/admin/usage`` reads the tasks that ended in
a window across tenants: (finished_at). See docs/usage.md.
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("ledger_entries", schema=None) as batch_op:
        batch_op.create_index(
            "ix_ledger_tenant_kind_created", ["tenant_id", "kind", "created_at"], unique=False
        )
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.create_index("ix_tasks_finished", ["finished_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.drop_index("ix_tasks_finished")
    with op.batch_alter_table("ledger_entries", schema=None) as batch_op:
        batch_op.drop_index("ix_ledger_tenant_kind_created")
