"""collections_practices (the practices the scheduler acts for, readable by the system role) and
payment_intents (card/ACH payments written before the processor is called, so a crash between its
answer and the record is recovered)

The registry is filled by triggers: a practice's first patient account or first claim registers it
(AFTER INSERT, so an upsert that finds the row registers nothing and costs nothing). Existing
practices are registered from the tables themselves (migrations run as the databases' owner).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 03:00:00.000000
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg

from openrcm_shared.row_security import isolate_practices_v1


revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

SERVICE = "collections"
NEW_PRACTICE_TABLES = ("collections_practices", "payment_intents")
# The scheduler's system role reads which practices there are (and when their work last ran), and which
# have payment intents left open (practice, status and time only: no patient, amount or token).
SYSTEM_PRIVILEGES = {"collections_practices": "SELECT", "payment_intents": "SELECT (tenant_id, status, updated_at)"}
REGISTERING_TABLES = ("patient_accounts", "bill_claims")
WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "collections_practices",
        sa.Column("tenant_id", sa.Text(), primary_key=True),
        sa.Column("registered_at", WHEN, nullable=False),
        sa.Column("statements_run_on", sa.Date(), nullable=True),
        sa.Column("follow_up_run_on", sa.Date(), nullable=True),
    )
    op.create_table(
        "payment_intents",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("tenant_id", sa.Text(), nullable=False),
        sa.Column("patient_id", sa.Text(), nullable=False),
        sa.Column("processor_key", sa.Text(), nullable=False),
        sa.Column("amount", sa.Numeric(12, 2), nullable=False),
        sa.Column("method", sa.Text(), nullable=False),
        sa.Column("processor_token", sa.Text(), nullable=False),
        sa.Column("reference", sa.Text(), nullable=True),
        sa.Column("allocate_to", pg.JSONB(), nullable=True),
        sa.Column("plan_id", sa.Uuid(), nullable=True),
        sa.Column("recorded_by", sa.Text(), nullable=True),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("processor_authorization_id", sa.Text(), nullable=True),
        sa.Column("processor_capture_id", sa.Text(), nullable=True),
        sa.Column("decline_code", sa.Text(), nullable=True),
        sa.Column("payment_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("updated_at", WHEN, nullable=False),
        sa.UniqueConstraint("tenant_id", "processor_key"),
    )
    op.create_index("ix_payment_intents_open", "payment_intents", ["tenant_id", "updated_at"],
                    postgresql_where=sa.text("status IN ('pending', 'authorized', 'captured')"))
    # Runs as the inserting role (the app role, bound to the row's practice: the policy lets it in).
    op.execute("""
        CREATE FUNCTION register_collections_practice() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            INSERT INTO collections_practices (tenant_id, registered_at) VALUES (NEW.tenant_id, now())
            ON CONFLICT (tenant_id) DO NOTHING;
            RETURN NULL;
        END $$""")
    for table in REGISTERING_TABLES:
        op.execute(f"CREATE TRIGGER {table}_register_practice AFTER INSERT ON {table} "
                   "FOR EACH ROW EXECUTE FUNCTION register_collections_practice()")
        op.execute(f"INSERT INTO collections_practices (tenant_id, registered_at) "
                   f"SELECT DISTINCT tenant_id, now() FROM {table} ON CONFLICT (tenant_id) DO NOTHING")
    isolate_practices_v1(op, SERVICE, practice_tables=NEW_PRACTICE_TABLES, system_privileges=SYSTEM_PRIVILEGES)


def downgrade() -> None:
    for table in REGISTERING_TABLES:
        op.execute(f"DROP TRIGGER {table}_register_practice ON {table}")
    op.execute("DROP FUNCTION register_collections_practice()")
    op.drop_table("payment_intents")  # its policy and grants go with it
    op.drop_table("collections_practices")
