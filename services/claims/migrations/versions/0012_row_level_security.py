"""row-level security: each practice's rows visible to that practice's transactions only

Every table with practice data gets forced row-level security and the practice policy
(openrcm_shared.row_security). The two child tables without a practice get one, filled from their
claim: claim_submissions (which claim went out in which file) and filing_deadline_alerts.
clearinghouse_deliveries (raw 999/277CA bodies, stored before anyone knows whose claims they
name; one 277CA may name several practices' claims) is the system role's alone: forced RLS and
no policy. The inbox holds no practice data and has none.

The app role (API, consumer) may use every practice table; the system role only what its work
across practices touches: the 837 batcher (ready claims, their lines and payer names, scrub
results of claims the generator refuses, the files and which claims they carry), the deadline
watch (alerts, submissions), the clearinghouse's webhooks (deliveries, the claims they move) and
the outbox relay. SELECT goes with every write: RETURNING, ON CONFLICT and WHERE read columns.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06 21:00:00.000000
"""
from alembic import op
import sqlalchemy as sa

from openrcm_shared.row_security import isolate_practices_v1, share_practices_v1


revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None

SERVICE = "claims"
CHILDREN_OF_CLAIMS = ("claim_submissions", "filing_deadline_alerts")
PRACTICE_TABLES = ("claims", "claim_lines", "claim_history", "scrub_results", "submissions", "claim_submissions",
                   "filing_deadline_alerts", "payers", "provider_enrollments", "patients", "coverages", "providers",
                   "service_facilities", "outbox", "idempotency_keys")
SYSTEM_ONLY_TABLES = ("clearinghouse_deliveries",)
SYSTEM_PRIVILEGES = {
    "claims": "SELECT, UPDATE",
    "claim_lines": "SELECT",
    "claim_history": "SELECT, INSERT",
    "scrub_results": "SELECT, INSERT, UPDATE",
    "payers": "SELECT",
    "submissions": "SELECT, INSERT, UPDATE",
    "claim_submissions": "SELECT, INSERT",
    "filing_deadline_alerts": "SELECT, INSERT",
    "clearinghouse_deliveries": "SELECT, INSERT, UPDATE",
    "outbox": "SELECT, INSERT, DELETE",
}


def upgrade() -> None:
    for table in CHILDREN_OF_CLAIMS:
        op.add_column(table, sa.Column('tenant_id', sa.Text(), nullable=True))
        op.execute(f"UPDATE {table} SET tenant_id = claims.tenant_id FROM claims WHERE claims.id = {table}.claim_id")
        op.alter_column(table, 'tenant_id', nullable=False)
    isolate_practices_v1(op, SERVICE, practice_tables=PRACTICE_TABLES, system_privileges=SYSTEM_PRIVILEGES,
                         system_only_tables=SYSTEM_ONLY_TABLES)


def downgrade() -> None:
    share_practices_v1(op, SERVICE, practice_tables=PRACTICE_TABLES, system_only_tables=SYSTEM_ONLY_TABLES)
    for table in CHILDREN_OF_CLAIMS:
        op.drop_column(table, 'tenant_id')
