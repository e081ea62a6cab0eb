"""Kafka client factories with the delivery settings this project relies on."""

from __future__ import annotations

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer


def reliable_producer(bootstrap_servers: str, *, client_id: str) -> AIOKafkaProducer:
    """A producer that waits for all in-sync replicas and never duplicates on its own retries.

    aiokafka defaults to acks=1 without idempotence; the outbox relay needs acks=all and
    idempotence so a row is marked published only once the broker really has it.
    """
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap_servers,
        client_id=client_id,
        acks="all",
        enable_idempotence=True,
        linger_ms=5,
        request_timeout_ms=15000,
        retry_backoff_ms=200,
    )


def manual_commit_consumer(bootstrap_servers: str, *topics: str, group_id: str, client_id: str) -> AIOKafkaConsumer:
    """A consumer whose offsets are committed by the caller, only after the database commit."""
    return AIOKafkaConsumer(
        *topics,
        bootstrap_servers=bootstrap_servers,
        group_id=group_id,
        client_id=client_id,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
        max_poll_records=500,
        session_timeout_ms=10000,
        heartbeat_interval_ms=1000,
        retry_backoff_ms=200,
    )
