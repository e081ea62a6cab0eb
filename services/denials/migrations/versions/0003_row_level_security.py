"""row-level security: each practice's rows visible to that practice's transactions only

Every table with practice data (denial_cases, the outbox, idempotency keys) gets forced
row-level security and the practice policy (openrcm_shared.row_security). The inbox holds no
practice data and has none. The app role (API, consumer) may use every practice table; the
system role's only work across practices here is the outbox relay.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-06 21:00:00.000000
"""
from alembic import op

from openrcm_shared.row_security import isolate_practices_v1, share_practices_v1


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

SERVICE = "denials"
PRACTICE_TABLES = ("denial_cases", "outbox", "idempotency_keys")
SYSTEM_PRIVILEGES = {"outbox": "SELECT, DELETE"}


def upgrade() -> None:
    isolate_practices_v1(op, SERVICE, practice_tables=PRACTICE_TABLES, system_privileges=SYSTEM_PRIVILEGES)


def downgrade() -> None:
    share_practices_v1(op, SERVICE, practice_tables=PRACTICE_TABLES)
