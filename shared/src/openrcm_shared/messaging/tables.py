"""Messaging tables every service keeps in its own database (created by its own migrations).

outbox: rows written in the same transaction as the state change they announce
        (columns after Eventuate Tram / Debezium's outbox: id, aggregate type and id, type, payload),
        deleted by the relay once the broker has them: every row is waiting to be published.
inbox:  (consumer_group, event_id) of every event a consumer has applied, written in the
        handler's transaction, so a redelivery is recognised and skipped.
idempotency_keys: stored responses for `Idempotency-Key` on creating POSTs.
parked_events: per consumer group, the events of a key held behind one that failed for good, in
        order (openrcm_shared.messaging.parking).
outbox_set_aside: outbox rows the broker can never take (too large), moved out of the relay's way.

inbox and idempotency_keys are pruned by age (openrcm_shared.retention); their time columns are
indexed for it.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg

messaging_metadata = sa.MetaData()

outbox = sa.Table(
    "outbox",
    messaging_metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(always=True), primary_key=True),
    sa.Column("event_id", pg.UUID(as_uuid=True), nullable=False, unique=True),
    sa.Column("tenant_id", sa.Text, nullable=False),
    sa.Column("aggregate_type", sa.Text, nullable=False),
    sa.Column("aggregate_id", sa.Text, nullable=False),
    sa.Column("event_type", sa.Text, nullable=False),
    sa.Column("topic", sa.Text, nullable=False),
    sa.Column("payload", sa.LargeBinary, nullable=False),
    sa.Column("headers", pg.JSONB, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
)

inbox = sa.Table(
    "inbox",
    messaging_metadata,
    sa.Column("consumer_group", sa.Text, primary_key=True),
    sa.Column("event_id", pg.UUID(as_uuid=True), primary_key=True),
    sa.Column("event_type", sa.Text, nullable=False),
    sa.Column("processed_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.Index("ix_inbox_processed_at", "processed_at"),
)

idempotency_keys = sa.Table(
    "idempotency_keys",
    messaging_metadata,
    sa.Column("tenant_id", sa.Text, primary_key=True),
    sa.Column("idempotency_key", sa.Text, primary_key=True),
    sa.Column("request_fingerprint", sa.Text, nullable=False),
    sa.Column("response_status", sa.Integer, nullable=False),
    sa.Column("response_body", sa.LargeBinary, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.Index("ix_idempotency_keys_created_at", "created_at"),
)

parked_events = sa.Table(
    "parked_events",
    messaging_metadata,
    sa.Column("consumer_group", sa.Text, primary_key=True),
    sa.Column("event_id", pg.UUID(as_uuid=True), primary_key=True),
    # The order events were parked in, which is the order of their key's partition.
    sa.Column("position", sa.BigInteger, sa.Identity(always=True), nullable=False),
    sa.Column("topic", sa.Text, nullable=False),
    sa.Column("event_key", sa.LargeBinary, nullable=False),  # the Kafka record key, as sent
    sa.Column("event_type", sa.Text, nullable=False),
    sa.Column("reason", sa.Text, nullable=False),  # failed (its own error) | parked (behind another)
    sa.Column("original_partition", sa.Integer, nullable=False),
    sa.Column("original_offset", sa.BigInteger, nullable=False),
    sa.Column("parked_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.Index("ix_parked_events_key", "consumer_group", "topic", "event_key", "position"),
)

outbox_set_aside = sa.Table(
    "outbox_set_aside",
    messaging_metadata,
    sa.Column("id", sa.BigInteger, primary_key=True),  # the outbox row's id
    sa.Column("event_id", pg.UUID(as_uuid=True), nullable=False, unique=True),
    sa.Column("tenant_id", sa.Text, nullable=False),
    sa.Column("aggregate_type", sa.Text, nullable=False),
    sa.Column("aggregate_id", sa.Text, nullable=False),
    sa.Column("event_type", sa.Text, nullable=False),
    sa.Column("topic", sa.Text, nullable=False),
    sa.Column("payload", sa.LargeBinary, nullable=False),
    sa.Column("headers", pg.JSONB, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("set_aside_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
)

