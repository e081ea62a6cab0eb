"""Alembic operations for the messaging tables, called from each service's migrations.

Frozen per version: a migration that ran must keep meaning the same thing, so a later change to
these tables is a new function (`..._v2`) called from a new migration, never an edit here.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql


def create_messaging_tables_v1(op) -> None:
    """outbox, inbox and idempotency_keys as in openrcm_shared.messaging.tables (v1)."""
    op.create_table(
        "idempotency_keys",
        sa.Column("tenant_id", sa.Text(), nullable=False),
        sa.Column("idempotency_key", sa.Text(), nullable=False),
        sa.Column("request_fingerprint", sa.Text(), nullable=False),
        sa.Column("response_status", sa.Integer(), nullable=False),
        sa.Column("response_body", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "idempotency_key"),
    )
    op.create_table(
        "inbox",
        sa.Column("consumer_group", sa.Text(), nullable=False),
        sa.Column("event_id", sa.UUID(), nullable=False),
        sa.Column("event_type", sa.Text(), nullable=False),
        sa.Column("processed_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("consumer_group", "event_id"),
    )
    op.create_table(
        "outbox",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("event_id", sa.UUID(), nullable=False),
        sa.Column("tenant_id", sa.Text(), nullable=False),
        sa.Column("aggregate_type", sa.Text(), nullable=False),
        sa.Column("aggregate_id", sa.Text(), nullable=False),
        sa.Column("event_type", sa.Text(), nullable=False),
        sa.Column("topic", sa.Text(), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column("headers", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("event_id"),
    )
    # The relay's query: unpublished rows in id order; a partial index stays small.
    op.create_index("ix_outbox_unpublished", "outbox", ["id"], unique=False,
                    postgresql_where=sa.text("published_at IS NULL"))


def drop_messaging_tables_v1(op) -> None:
    op.drop_index("ix_outbox_unpublished", table_name="outbox", postgresql_where=sa.text("published_at IS NULL"))
    op.drop_table("outbox")
    op.drop_table("inbox")
    op.drop_table("idempotency_keys")


def delete_outbox_rows_when_published_v2(op) -> None:
    """v2: the relay deletes an outbox row once the broker has acknowledged it (v1 marked it
    published and pruned it an hour later). Rows already published go now; `published_at` and
    the partial index on unpublished rows go with them (every row is unpublished now, and the
    primary key gives the relay its id order)."""
    op.execute("DELETE FROM outbox WHERE published_at IS NOT NULL")
    op.drop_index("ix_outbox_unpublished", table_name="outbox", postgresql_where=sa.text("published_at IS NULL"))
    op.drop_column("outbox", "published_at")


def keep_published_outbox_rows_v1(op) -> None:
    """Undo v2: the column and index back (rows published meanwhile are gone, as under v2)."""
    op.add_column("outbox", sa.Column("published_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index("ix_outbox_unpublished", "outbox", ["id"], unique=False,
                    postgresql_where=sa.text("published_at IS NULL"))


def add_delivery_safeguards_v3(op) -> None:
    """v3: `parked_events` (a key's events held behind one that failed for good), `outbox_set_aside`
    (rows the broker cannot take), and the indexes retention pruning reads the inbox and the
    idempotency keys by (openrcm_shared.retention), as in openrcm_shared.messaging.tables."""
    op.create_table(
        "parked_events",
        sa.Column("consumer_group", sa.Text(), nullable=False),
        sa.Column("event_id", sa.UUID(), nullable=False),
        sa.Column("position", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("topic", sa.Text(), nullable=False),
        sa.Column("event_key", sa.LargeBinary(), nullable=False),
        sa.Column("event_type", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("original_partition", sa.Integer(), nullable=False),
        sa.Column("original_offset", sa.BigInteger(), nullable=False),
        sa.Column("parked_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("consumer_group", "event_id"),
    )
    op.create_index("ix_parked_events_key", "parked_events", ["consumer_group", "topic", "event_key", "position"])
    op.create_table(
        "outbox_set_aside",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("event_id", sa.UUID(), nullable=False),
        sa.Column("tenant_id", sa.Text(), nullable=False),
        sa.Column("aggregate_type", sa.Text(), nullable=False),
        sa.Column("aggregate_id", sa.Text(), nullable=False),
        sa.Column("event_type", sa.Text(), nullable=False),
        sa.Column("topic", sa.Text(), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column("headers", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("set_aside_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("event_id"),
    )
    op.create_index("ix_inbox_processed_at", "inbox", ["processed_at"])
    op.create_index("ix_idempotency_keys_created_at", "idempotency_keys", ["created_at"])


def drop_delivery_safeguards_v3(op) -> None:
    """Undo v3 (parked events and rows set aside are lost with their tables)."""
    op.drop_index("ix_idempotency_keys_created_at", table_name="idempotency_keys")
    op.drop_index("ix_inbox_processed_at", table_name="inbox")
    op.drop_table("outbox_set_aside")
    op.drop_index("ix_parked_events_key", table_name="parked_events")
    op.drop_table("parked_events")


# What the system role's retention pruner reads of the shared tables: the time column its rows go
# by and the row address it deletes them by (openrcm_shared.retention.older_rows); the columns
# only, so the idempotency keys' stored responses stay out of its reach.
_PRUNED_SHARED_TABLES = {"inbox": "processed_at", "idempotency_keys": "created_at"}


def grant_delivery_safeguards_v1(op, service: str, *, retention_deletes: tuple[str, ...] = ()) -> None:
    """The service roles' part in v3's tables and in retention (v1; openrcm_shared.row_security).

    - `parked_events` holds no practice data (consumer group, event id and type, topic, key,
      where it was read), like the inbox: no row-level security; the consumer, as the app role,
      parks and releases keys (UPDATE: it locks a key's head with SELECT ... FOR UPDATE).
    - `outbox_set_aside` keeps whole events of any practice, moved there by the relay, which runs
      as the system role: forced row-level security and no policy, so no role held to the
      policies sees a row (like the clearinghouse's raw deliveries).
    - The retention pruner runs as the system role (it deletes every practice's old rows): the
      inbox's and the idempotency keys' old rows, read by their time column only, and
      `retention_deletes` (a service's own pruned tables, which the system role reads already)."""
    from openrcm_shared.row_security import app_role, system_role

    app, system = app_role(service), system_role(service)
    op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON parked_events TO {app}")
    op.execute("ALTER TABLE outbox_set_aside ENABLE ROW LEVEL SECURITY")
    op.execute("ALTER TABLE outbox_set_aside FORCE ROW LEVEL SECURITY")
    op.execute(f"GRANT SELECT, INSERT ON outbox_set_aside TO {system}")
    for table, time_column in _PRUNED_SHARED_TABLES.items():
        op.execute(f"GRANT SELECT (ctid, {time_column}), DELETE ON {table} TO {system}")
    for table in retention_deletes:
        op.execute(f"GRANT DELETE ON {table} TO {system}")


def revoke_delivery_safeguards_v1(op, service: str, *, retention_deletes: tuple[str, ...] = ()) -> None:
    """Undo `grant_delivery_safeguards_v1` on the tables v3 did not create (its own go with them)."""
    from openrcm_shared.row_security import system_role

    system = system_role(service)
    for table, time_column in _PRUNED_SHARED_TABLES.items():
        op.execute(f"REVOKE SELECT (ctid, {time_column}), DELETE ON {table} FROM {system}")
    for table in retention_deletes:
        op.execute(f"REVOKE DELETE ON {table} FROM {system}")
