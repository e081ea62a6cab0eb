"""Alembic operations for the audit trail's tables, called from each service's migrations.

Frozen per version, like openrcm_shared.messaging.migrations: a migration that ran must keep
meaning the same thing, so a later change is a new function (`..._v2`) called from a new migration.
"""

from __future__ import annotations

import sqlalchemy as sa

# The one change to a row the application may make: the chainer sealing it (chain columns from
# NULL to set, every other column as it was). DELETE only by retention: sealed rows older than
# the retention period its own transaction set (openrcm.audit_retention_days, see
# openrcm_shared.audit.chainer). Superusers are held to this too (triggers fire for every role);
# what someone able to switch the trigger off does is what the hash chain is there to reveal.
_GUARD_FUNCTION = """
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    retention_days text := current_setting('openrcm.audit_retention_days', true);
BEGIN
    IF TG_OP = 'UPDATE' THEN
        IF OLD.hash IS NULL AND NEW.hash IS NOT NULL AND NEW.prev_hash IS NOT NULL AND NEW.chain_seq IS NOT NULL
           AND (NEW.id, NEW.tenant_id, NEW.occurred_at, NEW.actor, NEW.client_id, NEW.action, NEW.route,
                NEW.resource_type, NEW.resource_id, NEW.patient_id, NEW.outcome, NEW.purpose)
               IS NOT DISTINCT FROM
               (OLD.id, OLD.tenant_id, OLD.occurred_at, OLD.actor, OLD.client_id, OLD.action, OLD.route,
                OLD.resource_type, OLD.resource_id, OLD.patient_id, OLD.outcome, OLD.purpose) THEN
            RETURN NEW;
        END IF;
        RAISE EXCEPTION 'audit_log is append-only: entry % cannot be changed', OLD.id
            USING ERRCODE = 'insufficient_privilege';
    ELSIF TG_OP = 'DELETE' THEN
        IF retention_days ~ '^[1-9][0-9]*$' AND OLD.hash IS NOT NULL
           AND OLD.occurred_at < now() - make_interval(days => retention_days::int) THEN
            RETURN OLD;
        END IF;
        RAISE EXCEPTION 'audit_log is append-only: entry % is kept until retention removes it', OLD.id
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
END
$$
"""


def create_audit_log_v1(op) -> None:
    """audit_log and audit_chain_heads as in openrcm_shared.audit.tables (v1), append-only
    (privileges and a trigger), under the practice policy of row-level security."""
    op.create_table(
        "audit_log",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("tenant_id", sa.Text(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("client_id", sa.Text(), nullable=True),
        sa.Column("action", sa.Text(), nullable=False),
        sa.Column("route", sa.Text(), nullable=True),
        sa.Column("resource_type", sa.Text(), nullable=False),
        sa.Column("resource_id", sa.Text(), nullable=True),
        sa.Column("patient_id", sa.Text(), nullable=True),
        sa.Column("outcome", sa.Text(), nullable=False),
        sa.Column("purpose", sa.Text(), nullable=True),
        sa.Column("chain_seq", sa.BigInteger(), nullable=True),
        sa.Column("prev_hash", sa.LargeBinary(), nullable=True),
        sa.Column("hash", sa.LargeBinary(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("tenant_id", "chain_seq", name="uq_audit_log_chain_position"),
    )
    op.create_index("ix_audit_log_tenant_time", "audit_log", ["tenant_id", "occurred_at", "id"])
    op.create_index("ix_audit_log_patient", "audit_log", ["tenant_id", "patient_id", "occurred_at", "id"],
                    postgresql_where=sa.text("patient_id IS NOT NULL"))
    op.create_index("ix_audit_log_actor", "audit_log", ["tenant_id", "actor", "occurred_at", "id"])
    op.create_index("ix_audit_log_resource", "audit_log",
                    ["tenant_id", "resource_type", "resource_id", "occurred_at", "id"])
    op.create_index("ix_audit_log_unchained", "audit_log", ["id"], postgresql_where=sa.text("hash IS NULL"))
    op.create_table(
        "audit_chain_heads",
        sa.Column("tenant_id", sa.Text(), nullable=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.Column("last_hash", sa.LargeBinary(), nullable=False),
        sa.Column("anchor_seq", sa.BigInteger(), nullable=False),
        sa.Column("anchor_hash", sa.LargeBinary(), nullable=False),
        sa.Column("pruned_count", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id"),
    )
    # Privileges: no role but the owner may change or remove entries (a role the services may
    # later connect as gets INSERT and UPDATE of the chain columns only); the owner and
    # superusers keep only what the trigger allows.
    op.execute("REVOKE UPDATE, DELETE, TRUNCATE ON audit_log FROM PUBLIC")
    op.execute(_GUARD_FUNCTION)
    op.execute("CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log "
               "FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()")
    op.execute("CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log "
               "FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()")
    # Row-level security: a practice's connection sees and writes only its own entries (the
    # policy every practice-owned table gets; the chainer and verification read across
    # practices, as the outbox relay does, on a connection that bypasses it).
    op.execute("ALTER TABLE audit_log ENABLE ROW LEVEL SECURITY")
    op.execute("ALTER TABLE audit_log FORCE ROW LEVEL SECURITY")
    from openrcm_shared.row_security import PRACTICE_POLICY, PRACTICE_PREDICATE

    op.execute(f"CREATE POLICY {PRACTICE_POLICY} ON audit_log USING ({PRACTICE_PREDICATE}) "
               f"WITH CHECK ({PRACTICE_PREDICATE})")


def grant_audit_log_v1(op, service: str) -> None:
    """The service roles' part in the trail (v1; openrcm_shared.row_security): the app role, held
    to the practice policy, records and reads its practice's entries; the system role (it bypasses
    the policies) records the entries of the changes it makes for a request (ERA postings), seals
    entries into their chains, prunes past retention (the trigger still allows nothing else) and
    keeps the chain heads, which no practice's connection sees (forced row-level
    security, no policy)."""
    from openrcm_shared.row_security import app_role, system_role

    app, system = app_role(service), system_role(service)
    op.execute("ALTER TABLE audit_chain_heads ENABLE ROW LEVEL SECURITY")
    op.execute("ALTER TABLE audit_chain_heads FORCE ROW LEVEL SECURITY")
    op.execute(f"GRANT SELECT, INSERT ON audit_log TO {app}")
    # INSERT too: a posting a request made runs as the system role (ERA posting spans the file's
    # practices) and records its entry in its own transaction.
    op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON audit_log TO {system}")
    op.execute(f"GRANT SELECT, INSERT, UPDATE ON audit_chain_heads TO {system}")
    op.execute(f"GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO {app}, {system}")


def drop_audit_log_v1(op) -> None:
    """Undo v1: both tables, the trigger function, the policy (the audit trail is gone with them)."""
    op.drop_table("audit_chain_heads")
    op.execute("DROP TABLE audit_log")  # with its indexes, triggers and policy
    op.execute("DROP FUNCTION audit_log_append_only()")

