"""denials worklist: categorized cases (category, rule, CORE scenario, team, action), their lines, the
stored priority and its worklist indexes (partial on the unresolved statuses), assignment, notes, tasks,
SLA state, payer settings and category overrides, payer outcome history, trend buckets and episodes;
row-level security on every new practice table, and the system role's grants for the background passes
(SLA breaches, priority, trends)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06 23:45:00.000000
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from openrcm_shared.row_security import isolate_practices_v1


revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

SERVICE = "denials"
NEW_PRACTICE_TABLES = ("denial_lines", "claim_adjudications", "denial_case_notes", "denial_case_tasks",
                       "payer_denial_settings", "denial_category_overrides", "payer_category_outcomes",
                       "adjudication_buckets", "denial_buckets", "denial_trend_episodes")
# The background passes span practices (openrcm_shared.row_security): SLA breaches, the priority
# refresh and the trend episodes' end; each stages its events in the outbox.
SYSTEM_PRIVILEGES = {
    "denial_cases": "SELECT, UPDATE",
    "denial_lines": "SELECT, INSERT, DELETE",
    "payer_denial_settings": "SELECT",
    "denial_category_overrides": "SELECT",
    "payer_category_outcomes": "SELECT, INSERT, UPDATE, DELETE",
    "adjudication_buckets": "SELECT",
    "denial_buckets": "SELECT",
    "denial_trend_episodes": "SELECT, UPDATE",
    "outbox": "SELECT, INSERT, DELETE",
}


def upgrade() -> None:
    op.add_column('denial_cases', sa.Column('category', sa.Text(), nullable=True))
    op.add_column('denial_cases', sa.Column('core_scenario', sa.SmallInteger(), nullable=True))
    op.add_column('denial_cases', sa.Column('owning_team', sa.Text(), nullable=True))
    op.add_column('denial_cases', sa.Column('preventable', sa.Boolean(), nullable=True))
    op.add_column('denial_cases', sa.Column('recommended_action', sa.Text(), nullable=True))
    op.add_column('denial_cases', sa.Column('rule', sa.Text(), nullable=True))
    op.add_column('denial_cases', sa.Column('rule_why', sa.Text(), nullable=True))
    op.add_column('denial_cases', sa.Column('mapping_version', sa.Text(), nullable=True))
    op.add_column('denial_cases', sa.Column('recoverable_amount', sa.Numeric(precision=12, scale=2), nullable=False, server_default='0'))
    op.add_column('denial_cases', sa.Column('priority', sa.Numeric(precision=14, scale=2), nullable=False, server_default='0'))
    op.add_column('denial_cases', sa.Column('priority_parts', postgresql.JSONB(astext_type=sa.Text()), nullable=False, server_default='{}'))
    op.add_column('denial_cases', sa.Column('priority_as_of', sa.Date(), nullable=True))
    op.add_column('denial_cases', sa.Column('remittance_date', sa.Date(), nullable=True))
    op.add_column('denial_cases', sa.Column('corrected_claim_deadline', sa.Date(), nullable=True))
    op.add_column('denial_cases', sa.Column('work_deadline', sa.Date(), nullable=True))
    op.add_column('denial_cases', sa.Column('payer_claim_control_number', sa.Text(), nullable=True))
    op.add_column('denial_cases', sa.Column('assignee', sa.Text(), nullable=True))
    op.add_column('denial_cases', sa.Column('assignee_kind', sa.Text(), nullable=True))
    op.add_column('denial_cases', sa.Column('due_date', sa.Date(), nullable=True))
    op.add_column('denial_cases', sa.Column('status_changed_at', sa.DateTime(timezone=True), nullable=True))
    op.add_column('denial_cases', sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True))
    op.add_column('denial_cases', sa.Column('amount_recovered', sa.Numeric(precision=12, scale=2), nullable=True))
    op.add_column('denial_cases', sa.Column('sla_breached_status', sa.Text(), nullable=True))
    op.create_index('ix_denial_cases_open_age', 'denial_cases', ['tenant_id', 'opened_at', 'id'], unique=False, postgresql_where=sa.text("status IN ('open', 'in_progress', 'waiting_on_clinical', 'corrected_resubmitted', 'appealed')"))
    op.create_index('ix_denial_cases_open_deadline', 'denial_cases', ['tenant_id', 'work_deadline', 'id'], unique=False, postgresql_where=sa.text("status IN ('open', 'in_progress', 'waiting_on_clinical', 'corrected_resubmitted', 'appealed')"))
    op.create_index('ix_denial_cases_payer_outcomes', 'denial_cases', ['tenant_id', 'payer_id', 'category', 'status'], unique=False)
    op.create_index('ix_denial_cases_status_priority', 'denial_cases', ['tenant_id', 'status', 'priority', 'id'], unique=False)
    op.create_index('ix_denial_cases_open_amount', 'denial_cases', ['tenant_id', 'recoverable_amount', 'id'], unique=False, postgresql_where=sa.text("status IN ('open', 'in_progress', 'waiting_on_clinical', 'corrected_resubmitted', 'appealed')"))
    op.create_index('ix_denial_cases_open_priority', 'denial_cases', ['tenant_id', 'priority', 'id'], unique=False, postgresql_where=sa.text("status IN ('open', 'in_progress', 'waiting_on_clinical', 'corrected_resubmitted', 'appealed')"))
    op.create_table('denial_lines',
    sa.Column('tenant_id', sa.Text(), nullable=False),
    sa.Column('case_id', sa.Uuid(), nullable=False),
    sa.Column('position', sa.SmallInteger(), nullable=False),
    sa.Column('line_number', sa.Integer(), nullable=True),
    sa.Column('procedure_code', sa.Text(), nullable=True),
    sa.Column('group_code', sa.String(length=2), nullable=False),
    sa.Column('carc', sa.Text(), nullable=False),
    sa.Column('rarcs', postgresql.ARRAY(sa.Text()), nullable=False),
    sa.Column('amount', sa.Numeric(precision=12, scale=2), nullable=False),
    sa.Column('is_denial', sa.Boolean(), nullable=False),
    sa.Column('category', sa.Text(), nullable=True),
    sa.Column('rule', sa.Text(), nullable=False),
    sa.Column('why', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['denial_cases.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('case_id', 'position')
    )
    op.create_table('claim_adjudications',
    sa.Column('tenant_id', sa.Text(), nullable=False),
    sa.Column('claim_id', sa.Uuid(), nullable=False),
    sa.Column('remittance_id', sa.Uuid(), nullable=False),
    sa.Column('payer_id', sa.Text(), nullable=False),
    sa.Column('adjudicated_on', sa.Date(), nullable=False),
    sa.Column('outcome', sa.Text(), nullable=False),
    sa.Column('claim_status_code', sa.Text(), nullable=True),
    sa.Column('payer_claim_control_number', sa.Text(), nullable=True),
    sa.Column('charge_amount', sa.Numeric(precision=12, scale=2), nullable=False),
    sa.Column('allowed_amount', sa.Numeric(precision=12, scale=2), nullable=False),
    sa.Column('paid_amount', sa.Numeric(precision=12, scale=2), nullable=False),
    sa.Column('patient_responsibility_amount', sa.Numeric(precision=12, scale=2), nullable=False),
    sa.Column('lines', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.PrimaryKeyConstraint('tenant_id', 'claim_id', 'remittance_id')
    )
    op.create_table('denial_case_notes',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('tenant_id', sa.Text(), nullable=False),
    sa.Column('case_id', sa.Uuid(), nullable=False),
    sa.Column('author', sa.Text(), nullable=True),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['denial_cases.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_denial_case_notes_case', 'denial_case_notes', ['tenant_id', 'case_id', 'created_at'], unique=False)
    op.create_table('denial_case_tasks',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('tenant_id', sa.Text(), nullable=False),
    sa.Column('case_id', sa.Uuid(), nullable=False),
    sa.Column('kind', sa.Text(), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('assignee', sa.Text(), nullable=True),
    sa.Column('due_date', sa.Date(), nullable=True),
    sa.Column('status', sa.Text(), nullable=False),
    sa.Column('created_by', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('closed_by', sa.Text(), nullable=True),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], ['denial_cases.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_denial_case_tasks_case', 'denial_case_tasks', ['tenant_id', 'case_id', 'status'], unique=False)
    op.create_table('payer_denial_settings',
    sa.Column('tenant_id', sa.Text(), nullable=False),
    sa.Column('payer_id', sa.Text(), nullable=False),
    sa.Column('appeal_level1_days', sa.Integer(), nullable=False),
    sa.Column('appeal_level2_days', sa.Integer(), nullable=False),
    sa.Column('external_review_days', sa.Integer(), nullable=False),
    sa.Column('corrected_claim_days', sa.Integer(), nullable=False),
    sa.Column('updated_by', sa.Text(), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('tenant_id', 'payer_id')
    )
    op.create_table('denial_category_overrides',
    sa.Column('tenant_id', sa.Text(), nullable=False),
    sa.Column('payer_id', sa.Text(), nullable=False),
    sa.Column('carc', sa.Text(), nullable=False),
    sa.Column('category', sa.Text(), nullable=False),
    sa.Column('owning_team', sa.Text(), nullable=True),
    sa.Column('recommended_action', sa.Text(), nullable=True),
    sa.Column('preventable', sa.Boolean(), nullable=True),
    sa.Column('updated_by', sa.Text(), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('tenant_id', 'payer_id', 'carc')
    )
    op.create_table('payer_category_outcomes',
    sa.Column('tenant_id', sa.Text(), nullable=False),
    sa.Column('payer_id', sa.Text(), nullable=False),
    sa.Column('category', sa.Text(), nullable=False),
    sa.Column('won', sa.Integer(), nullable=False),
    sa.Column('partially_won', sa.Integer(), nullable=False),
    sa.Column('lost', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('tenant_id', 'payer_id', 'category')
    )
    op.create_table('adjudication_buckets',
    sa.Column('tenant_id', sa.Text(), nullable=False),
    sa.Column('payer_id', sa.Text(), nullable=False),
    sa.Column('procedure_code', sa.Text(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('lines', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('tenant_id', 'payer_id', 'procedure_code', 'day')
    )
    op.create_table('denial_buckets',
    sa.Column('tenant_id', sa.Text(), nullable=False),
    sa.Column('payer_id', sa.Text(), nullable=False),
    sa.Column('procedure_code', sa.Text(), nullable=False),
    sa.Column('category', sa.Text(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('lines', sa.Integer(), nullable=False),
    sa.Column('amount', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.PrimaryKeyConstraint('tenant_id', 'payer_id', 'procedure_code', 'category', 'day')
    )
    op.create_table('denial_trend_episodes',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('tenant_id', sa.Text(), nullable=False),
    sa.Column('payer_id', sa.Text(), nullable=False),
    sa.Column('procedure_code', sa.Text(), nullable=False),
    sa.Column('category', sa.Text(), nullable=False),
    sa.Column('detected_on', sa.Date(), nullable=False),
    sa.Column('ended_on', sa.Date(), nullable=True),
    sa.Column('denials_7d', sa.Integer(), nullable=False),
    sa.Column('adjudicated_7d', sa.Integer(), nullable=False),
    sa.Column('rate_7d', sa.Numeric(precision=7, scale=4), nullable=False),
    sa.Column('baseline_rate', sa.Numeric(precision=7, scale=4), nullable=False),
    sa.Column('ratio', sa.Numeric(precision=9, scale=2), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('uq_denial_trend_episodes_open', 'denial_trend_episodes', ['tenant_id', 'payer_id', 'procedure_code', 'category'], unique=True, postgresql_where=sa.text('ended_on IS NULL'))

    # Cases opened before this revision: ranked by their denied amount until the priority pass
    # categorizes them (it takes every case whose mapping_version is not the shipped one).
    op.execute("UPDATE denial_cases SET recoverable_amount = denied_amount, priority = denied_amount, "
               "work_deadline = appeal_deadline, status_changed_at = opened_at")
    isolate_practices_v1(op, SERVICE, practice_tables=NEW_PRACTICE_TABLES, system_privileges=SYSTEM_PRIVILEGES)


def downgrade() -> None:
    for table in reversed(NEW_PRACTICE_TABLES):
        op.drop_table(table)
    for index in ("ix_denial_cases_open_age", "ix_denial_cases_open_deadline", "ix_denial_cases_payer_outcomes",
                  "ix_denial_cases_status_priority", "ix_denial_cases_open_amount", "ix_denial_cases_open_priority"):
        op.drop_index(index, table_name="denial_cases")
    for column in ("category", "core_scenario", "owning_team", "preventable", "recommended_action", "rule",
                   "rule_why", "mapping_version", "recoverable_amount", "priority", "priority_parts",
                   "priority_as_of", "remittance_date", "corrected_claim_deadline", "work_deadline",
                   "payer_claim_control_number", "assignee", "assignee_kind", "due_date", "status_changed_at",
                   "resolved_at", "amount_recovered", "sla_breached_status"):
        op.drop_column("denial_cases", column)
    op.execute("REVOKE SELECT, UPDATE ON denial_cases FROM openrcm_denials_system")
    op.execute("REVOKE INSERT ON outbox FROM openrcm_denials_system")
