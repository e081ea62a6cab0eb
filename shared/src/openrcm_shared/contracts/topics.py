"""Topic names, one per producing context. Partition counts and retention live in deploy/topics.toml."""

CLAIMS = "rcm.claims.events.v1"
ELIGIBILITY = "rcm.eligibility.events.v1"
REMITTANCE = "rcm.remittance.events.v1"
DENIALS = "rcm.denials.events.v1"
COLLECTIONS = "rcm.collections.events.v1"

ALL = (CLAIMS, ELIGIBILITY, REMITTANCE, DENIALS, COLLECTIONS)


def dlq_topic(topic: str, consumer_group: str) -> str:
    """The dead-letter topic for one consumer group's failures on one topic."""
    return f"{topic}.{consumer_group}.dlq"
