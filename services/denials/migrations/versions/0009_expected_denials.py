"""expected denials: claims the payer has that it will likely deny (ClaimDenialExpected), one open
item per claim, with the worklist's indexes (partial on the open items, by billed amount and by age,
with and without the payer); the table under the practice policy of row-level security

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 20:00:00.000000
"""
from alembic import op

from openrcm_shared.row_security import isolate_practices_v1


revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

SERVICE = "denials"
PRACTICE_TABLES = ("expected_denials",)
OPEN = "WHERE status = 'open'"
CREATE = [
    """CREATE TABLE expected_denials (
        id UUID NOT NULL,
        tenant_id TEXT NOT NULL,
        claim_id UUID NOT NULL,
        payer_id TEXT NOT NULL,
        reason TEXT NOT NULL,
        eligibility_check_id UUID NOT NULL,
        eligibility_check_ids UUID[] NOT NULL,
        service_date DATE NOT NULL,
        claim_status TEXT NOT NULL,
        flagged_at TIMESTAMP WITH TIME ZONE NOT NULL,
        last_flagged_at TIMESTAMP WITH TIME ZONE NOT NULL,
        billed_amount NUMERIC(12, 2) NOT NULL,
        patient_id TEXT,
        patient_name TEXT,
        member_id TEXT,
        patient_control_number TEXT,
        payer_name TEXT,
        billing_provider_npi TEXT,
        rendering_provider_npi TEXT,
        service_date_from DATE,
        service_date_to DATE,
        status TEXT NOT NULL,
        resolution TEXT,
        resolution_note TEXT,
        resolved_by TEXT,
        resolved_at TIMESTAMP WITH TIME ZONE,
        denial_case_id UUID,
        remittance_id UUID,
        PRIMARY KEY (id)
    )""",
    "CREATE INDEX ix_expected_denials_claim ON expected_denials (tenant_id, claim_id)",
    # At most one open item per claim: a second flag of the claim updates it.
    f"CREATE UNIQUE INDEX uq_expected_denials_open_claim ON expected_denials (tenant_id, claim_id) {OPEN}",
    # The worklist's sorts (billed amount, age), alone and filtered by payer.
    f"CREATE INDEX ix_expected_denials_open_amount ON expected_denials (tenant_id, billed_amount, id) {OPEN}",
    f"CREATE INDEX ix_expected_denials_open_age ON expected_denials (tenant_id, flagged_at, id) {OPEN}",
    f"CREATE INDEX ix_expected_denials_open_payer_amount ON expected_denials (tenant_id, payer_id, billed_amount, id) "
    f"{OPEN}",
    f"CREATE INDEX ix_expected_denials_open_payer_age ON expected_denials (tenant_id, payer_id, flagged_at, id) {OPEN}",
]


def upgrade() -> None:
    for statement in CREATE:
        op.execute(statement)
    # Only the API and the consumer touch it (no background pass): the system role gets nothing.
    isolate_practices_v1(op, SERVICE, practice_tables=PRACTICE_TABLES, system_privileges={})


def downgrade() -> None:
    # The table's policy, indexes and grants go with it; the earlier tables' grants stay.
    op.drop_table("expected_denials")
