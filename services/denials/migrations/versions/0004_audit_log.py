"""the audit trail: audit_log (append-only: PHI reads and money movements, each linked into its
practice's hash chain by the chainer) and audit_chain_heads (each chain's tip and anchor), under
the practice policy of row-level security (openrcm_shared.audit)

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 09:00:00.000000
"""
from alembic import op

from openrcm_shared.audit.migrations import create_audit_log_v1, grant_audit_log_v1, drop_audit_log_v1


revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_audit_log_v1(op)
    grant_audit_log_v1(op, "denials")


def downgrade() -> None:
    drop_audit_log_v1(op)
