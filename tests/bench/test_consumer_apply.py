"""bench.consumer_apply feeds a consumer what the claims service publishes, the way a fetch hands it over."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest

from bench import report
from bench.consumer_apply import EVENTS_PER_CLAIM, PARTITIONS, _AllApplied, _Fetched, records
from openrcm_shared.contracts.catalogue import contract_for
from openrcm_shared.messaging.envelope import Envelope


def test_each_claim_publishes_its_life_in_order_on_its_keys_partition():
    by_partition = records("bench-practice", 40)
    assert sum(len(rs) for rs in by_partition.values()) == 40 * EVENTS_PER_CLAIM
    seen_types: Counter = Counter()
    for tp, partition in by_partition.items():
        assert [r.offset for r in partition] == list(range(len(partition)))
        for record in partition:
            envelope = Envelope.from_headers(record.headers)
            contract = contract_for(envelope.type)
            event = contract.model_validate_json(record.value)  # what the consumer validates
            assert record.key == event.key().encode() and envelope.tenant_id == "bench-practice"
            seen_types[envelope.type] += 1
        # a claim's events stay in the order the claims service emits them
        claim_order: dict[bytes, list[str]] = {}
        for record in partition:
            claim_order.setdefault(record.key, []).append(Envelope.from_headers(record.headers).type.split(".")[3])
        assert all(order == ["claim_submitted", "claim_accepted_by_clearinghouse", "claim_accepted_by_payer"]
                   for order in claim_order.values())
    assert set(seen_types.values()) == {40}
    assert len(by_partition) == PARTITIONS


def test_each_fetch_hands_over_the_next_records_of_every_partition_until_all_are_applied():
    by_partition = records("bench-practice", 30)
    fetched = _Fetched(by_partition, 4)

    async def drain() -> list[dict]:
        fetches = []
        with pytest.raises(_AllApplied):
            while True:
                fetches.append(await fetched.getmany(timeout_ms=0, max_records=500))
        return fetches

    fetches = asyncio.run(drain())
    assert all(len(chunk) <= 4 for fetch in fetches for chunk in fetch.values())
    for tp, partition in by_partition.items():
        handed = [record for fetch in fetches for record in fetch.get(tp, [])]
        assert handed == partition


def test_the_backlog_table_shows_each_group_at_the_windows_end_and_after_the_drain():
    runs = [{"label": "json open 300/s", "consumer_backlog": {
        "window_end": {"collections": 812, "denials": 0}, "after_drain": {"collections": 0, "denials": 0}}},
            {"label": "batch open 300/s", "consumer_backlog": {"window_end": "KafkaConnectionError",
                                                              "after_drain": {"collections": 3, "denials": 0}}}]
    lines = report.backlog_table(runs).splitlines()
    assert lines[0].split() == ["run", "collections", "denials"]
    assert lines[2].split()[-6:] == ["812", "/", "0", "0", "/", "0"]
    assert "KafkaConnectionError / 3" in lines[3]
