"""row-level security: each practice's rows visible to that practice's transactions only

Every table with practice data gets forced row-level security and the practice policy
(openrcm_shared.row_security). remittance_file_chunks gets the practice of its file: the
uploading practice's, or none for a clearinghouse webhook's file (which names no practice, and
may pay several): such a file and its chunks are visible to the system role only, which
attributes and posts it. The inbox holds no practice data and has none.

The app role (API, consumer) may use every practice table; the system role what the stored-file
work across practices touches: webhook files, attribution of ERAs to practices by their claims,
posting (claim payments, the ledger, variances against contracted rates, the review queue,
reassociation with deposits) and the outbox relay. SELECT goes with every write: RETURNING,
ON CONFLICT and WHERE read columns.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06 21:00:00.000000
"""
from alembic import op
import sqlalchemy as sa

from openrcm_shared.row_security import isolate_practices_v1, share_practices_v1


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

SERVICE = "remittance"
PRACTICE_TABLES = ("expected_claims", "remittance_files", "remittance_file_chunks", "remittances", "claim_payments",
                   "journal_entries", "unmatched_items", "fee_schedule_versions", "fee_schedules",
                   "fee_schedule_entries", "payment_variances", "deposits", "remittance_originators", "outbox",
                   "idempotency_keys")
SYSTEM_PRIVILEGES = {
    "remittance_files": "SELECT, INSERT, UPDATE",
    "remittance_file_chunks": "SELECT, INSERT, DELETE",
    "expected_claims": "SELECT",
    "remittances": "SELECT, INSERT, UPDATE",
    "claim_payments": "SELECT, INSERT, UPDATE",
    "journal_entries": "SELECT, INSERT",
    "payment_variances": "SELECT, INSERT",
    "unmatched_items": "SELECT, INSERT, UPDATE, DELETE",
    "fee_schedule_versions": "SELECT",
    "fee_schedules": "SELECT",
    "fee_schedule_entries": "SELECT",
    "deposits": "SELECT, UPDATE",
    "remittance_originators": "SELECT, INSERT",
    "outbox": "SELECT, INSERT, DELETE",
}


def upgrade() -> None:
    op.add_column('remittance_file_chunks', sa.Column('tenant_id', sa.Text(), nullable=True))
    op.execute("UPDATE remittance_file_chunks SET tenant_id = remittance_files.tenant_id FROM remittance_files "
               "WHERE remittance_files.id = remittance_file_chunks.file_id")
    isolate_practices_v1(op, SERVICE, practice_tables=PRACTICE_TABLES, system_privileges=SYSTEM_PRIVILEGES)


def downgrade() -> None:
    share_practices_v1(op, SERVICE, practice_tables=PRACTICE_TABLES)
    op.drop_column('remittance_file_chunks', 'tenant_id')
