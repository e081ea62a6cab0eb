"""The audit trail's tables, kept by every service in its own database (created by its own
migrations through openrcm_shared.audit.migrations).

audit_log:          one row per audited act: who (actor = the token's `sub`, client_id), for which
                    practice, what (action, route template, resource type and id, the patient
                    where known), how it ended (outcome) and why (purpose of use). Requests only
                    ever INSERT; the chainer later seals each row once with its place in the
                    practice's hash chain (chain_seq, prev_hash, hash). A trigger refuses every
                    other UPDATE, and DELETE outside the retention job's path.
audit_chain_heads:  per practice, the last sealed entry (what the next one links to) and the
                    anchor: the last entry pruned by retention (position 0 and the genesis hash
                    while nothing was pruned), from which verification starts.
"""

from __future__ import annotations

import sqlalchemy as sa

audit_metadata = sa.MetaData()

audit_log = sa.Table(
    "audit_log",
    audit_metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(always=True), primary_key=True),
    sa.Column("tenant_id", sa.Text, nullable=False),
    sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("actor", sa.Text, nullable=False),
    sa.Column("client_id", sa.Text, nullable=True),
    sa.Column("action", sa.Text, nullable=False),
    sa.Column("route", sa.Text, nullable=True),
    sa.Column("resource_type", sa.Text, nullable=False),
    sa.Column("resource_id", sa.Text, nullable=True),
    sa.Column("patient_id", sa.Text, nullable=True),
    sa.Column("outcome", sa.Text, nullable=False),
    sa.Column("purpose", sa.Text, nullable=True),
    # The hash chain, set once by the chainer (NULL until then).
    sa.Column("chain_seq", sa.BigInteger, nullable=True),
    sa.Column("prev_hash", sa.LargeBinary, nullable=True),
    sa.Column("hash", sa.LargeBinary, nullable=True),
    # A practice's chain has one entry per position; verification walks it by this index.
    sa.UniqueConstraint("tenant_id", "chain_seq", name="uq_audit_log_chain_position"),
    # The listing (newest first) and its filters; the patient's is the one an accounting of
    # disclosures asks ("who saw this patient's records").
    sa.Index("ix_audit_log_tenant_time", "tenant_id", "occurred_at", "id"),
    sa.Index("ix_audit_log_patient", "tenant_id", "patient_id", "occurred_at", "id",
             postgresql_where=sa.text("patient_id IS NOT NULL")),
    sa.Index("ix_audit_log_actor", "tenant_id", "actor", "occurred_at", "id"),
    sa.Index("ix_audit_log_resource", "tenant_id", "resource_type", "resource_id", "occurred_at", "id"),
    # The chainer's work: entries not sealed yet (a small partial index, however long the log).
    sa.Index("ix_audit_log_unchained", "id", postgresql_where=sa.text("hash IS NULL")),
)

audit_chain_heads = sa.Table(
    "audit_chain_heads",
    audit_metadata,
    sa.Column("tenant_id", sa.Text, primary_key=True),
    sa.Column("last_seq", sa.BigInteger, nullable=False),
    sa.Column("last_hash", sa.LargeBinary, nullable=False),
    sa.Column("anchor_seq", sa.BigInteger, nullable=False),
    sa.Column("anchor_hash", sa.LargeBinary, nullable=False),
    sa.Column("pruned_count", sa.BigInteger, nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

# Every column an audited act sets (the chain columns are the chainer's).
ENTRY_COLUMNS = ("tenant_id", "occurred_at", "actor", "client_id", "action", "route", "resource_type",
                 "resource_id", "patient_id", "outcome", "purpose")
