"""The tables of working a denial case: the claim's facts and timeline (from claims' and remittance's
events), attachments and the objects that hold their bytes, appeals, and the case's other actions
(write-offs, transfers to the patient, secondary billing, corrected claims).

Every table carries `tenant_id` under the practice policy (migration 0007). Case ids are not foreign
keys: `denial_cases` is written by the worklist and these rows only ever follow one of its cases.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg

appeal_metadata = sa.MetaData()
MONEY = sa.Numeric(12, 2)

# One row per claim: the latest facts the claims service announced (ClaimSubmitted, acceptance).
claim_facts = sa.Table(
    "claim_facts", appeal_metadata,
    sa.Column("claim_id", sa.Uuid, primary_key=True),
    sa.Column("tenant_id", sa.Text, nullable=False),
    sa.Column("patient_id", sa.Text),
    sa.Column("patient_control_number", sa.Text),
    sa.Column("payer_id", sa.Text),
    sa.Column("payer_name", sa.Text),
    sa.Column("patient_name", sa.Text),
    sa.Column("member_id", sa.Text),
    sa.Column("billing_provider_name", sa.Text),
    sa.Column("billing_provider_npi", sa.Text),
    sa.Column("rendering_provider_npi", sa.Text),  # the denial summary's provider (else the billing NPI)
    sa.Column("service_date_from", sa.Date),
    sa.Column("service_date_to", sa.Date),
    sa.Column("total_charge", MONEY),
    sa.Column("lines", pg.JSONB, nullable=False, server_default=sa.text("'[]'::jsonb")),
    sa.Column("diagnosis_codes", pg.JSONB, nullable=False, server_default=sa.text("'[]'::jsonb")),
    sa.Column("frequency_code", sa.Text),
    sa.Column("payer_claim_control_number", sa.Text),
    sa.Column("claim_status", sa.Text),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

# What happened to the claim, in the order the events were applied (one claim's events arrive in
# order: they are keyed by claim id).
claim_timeline = sa.Table(
    "claim_timeline", appeal_metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("tenant_id", sa.Text, nullable=False),
    sa.Column("claim_id", sa.Uuid, nullable=False),
    sa.Column("event_id", sa.Uuid, nullable=False),
    sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("version", sa.Integer),
    sa.Column("control_number", sa.Text),
    sa.Column("detail", pg.JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")),
    sa.Index("ix_claim_timeline_claim", "tenant_id", "claim_id", "id"),
)

# The local object store's bytes (adapters/object_store.py); another store keeps only the keys.
stored_objects = sa.Table(
    "stored_objects", appeal_metadata,
    sa.Column("key", sa.Text, primary_key=True),
    sa.Column("tenant_id", sa.Text, nullable=False),
    sa.Column("content", sa.LargeBinary, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)

case_attachments = sa.Table(
    "case_attachments", appeal_metadata,
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("tenant_id", sa.Text, nullable=False),
    sa.Column("case_id", sa.Uuid, nullable=False),
    sa.Column("filename", sa.Text, nullable=False),
    sa.Column("content_type", sa.Text, nullable=False),
    sa.Column("size_bytes", sa.BigInteger, nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("object_key", sa.Text, nullable=False),
    sa.Column("uploaded_by", sa.Text, nullable=False),
    sa.Column("uploaded_at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_case_attachments_case", "tenant_id", "case_id", "uploaded_at"),
)

appeals = sa.Table(
    "appeals", appeal_metadata,
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("tenant_id", sa.Text, nullable=False),
    sa.Column("case_id", sa.Uuid, nullable=False),
    sa.Column("claim_id", sa.Uuid, nullable=False),
    sa.Column("level", sa.Text, nullable=False),
    sa.Column("category", sa.Text, nullable=False),
    sa.Column("argument", sa.Text, nullable=False),
    sa.Column("attachment_ids", pg.JSONB, nullable=False),
    sa.Column("late_reason", sa.Text),
    sa.Column("letter_object_key", sa.Text, nullable=False),
    sa.Column("letter_sha256", sa.String(64), nullable=False),
    sa.Column("status", sa.Text, nullable=False),  # drafted | submitted | decided
    sa.Column("created_by", sa.Text, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("submission_method", sa.Text),
    sa.Column("submitted_on", sa.Date),
    sa.Column("payer_reference", sa.Text),
    sa.Column("submitted_by", sa.Text),
    sa.Column("decision", sa.Text),  # upheld | overturned | partial
    sa.Column("amount_overturned", MONEY),
    sa.Column("decided_on", sa.Date),
    sa.Column("decided_by", sa.Text),
    sa.Index("ix_appeals_case", "tenant_id", "case_id", "created_at"),
)

# Write-offs (with their approval), transfers to the patient, secondary billing, corrected claims.
case_actions = sa.Table(
    "case_actions", appeal_metadata,
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("tenant_id", sa.Text, nullable=False),
    sa.Column("case_id", sa.Uuid, nullable=False),
    sa.Column("claim_id", sa.Uuid, nullable=False),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("status", sa.Text, nullable=False),  # pending_approval | done | refused
    sa.Column("amount", MONEY),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("detail", pg.JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")),
    sa.Column("requested_by", sa.Text, nullable=False),
    sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("approved_by", sa.Text),
    sa.Column("decided_at", sa.DateTime(timezone=True)),
    sa.Index("ix_case_actions_case", "tenant_id", "case_id", "requested_at"),
)

APPEAL_TABLES = ("claim_facts", "claim_timeline", "stored_objects", "case_attachments", "appeals", "case_actions")
