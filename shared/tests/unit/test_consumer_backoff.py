"""The consumer's backoff stays within its cap however long a partition has been waiting."""

from openrcm_shared.db import create_engine
from openrcm_shared.messaging.consumer import InboxConsumer


async def test_backoff_is_capped_after_thousands_of_attempts():
    engine = create_engine("postgresql://nobody@127.0.0.1:9/nothing")  # never connected
    consumer = InboxConsumer(engine=engine, consumer=None, dlq_producer=None, group_id="g", subscriptions=[],
                             source="/test", aggregate_type="test", base_backoff_seconds=0.1, max_backoff_seconds=10.0)
    try:
        assert 0.05 <= consumer.backoff(1) <= 0.1
        for attempt in (40, 1100, 100_000):  # hours of a database outage at one attempt per 10 s
            assert 5.0 <= consumer.backoff(attempt) <= 10.0
    finally:
        await engine.dispose()
