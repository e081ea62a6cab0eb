"""What a fee schedule upload announces: the rates in FeeScheduleReplaced when they fit, else in
FeeScheduleRatesPublished parts that together are every row, in order, each well under Kafka's
message limit."""

from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal as D
from uuid import uuid4

from openrcm_remittance.domain.fee_schedules import FeeScheduleRow
from openrcm_remittance.service_layer.fee_schedules import StoredVersion, fee_schedule_events
from openrcm_shared.contracts.remittance import MAX_RATES_IN_EVENT, FeeScheduleRatesPublished, FeeScheduleReplaced
from openrcm_shared.messaging.relay import DEFAULT_MAX_EVENT_BYTES


def widest_rows(count: int) -> list[FeeScheduleRow]:
    """Rows as long as a CSV row can make them: 5-character codes, a modifier, 14 digits, two dates."""
    return [FeeScheduleRow(f"{10000 + index}", "TC", D("9999999999.9999"), date(2026, 1, 1), date(2026, 12, 31))
            for index in range(count)]


def version_of(rows: list[FeeScheduleRow]) -> StoredVersion:
    return StoredVersion(uuid4(), "60054", 3, len(rows), D("0.00"), "0" * 64, datetime.now(timezone.utc))


def test_a_small_schedule_travels_in_the_event_itself():
    rows = widest_rows(MAX_RATES_IN_EVENT)
    [replaced] = fee_schedule_events("T1", version_of(rows), rows)
    assert isinstance(replaced, FeeScheduleReplaced) and replaced.rate_parts == 0
    assert len(replaced.rates) == MAX_RATES_IN_EVENT and replaced.rates[-1].procedure_code == str(10000 + 1999)


def test_twenty_thousand_rows_travel_in_parts_each_under_the_message_limit():
    rows = widest_rows(20_000)
    replaced, *parts = fee_schedule_events("T1", version_of(rows), rows)
    assert replaced.rates is None and replaced.rate_parts == len(parts) == 10
    assert all(isinstance(part, FeeScheduleRatesPublished) for part in parts)
    assert [(p.part, p.part_count, p.first_row_index, p.version, p.row_count) for p in parts] == \
        [(n + 1, 10, n * MAX_RATES_IN_EVENT, 3, 20_000) for n in range(10)]
    assert [rate.procedure_code for part in parts for rate in part.rates] == [row.procedure_code for row in rows]
    assert {part.key() for part in parts} == {replaced.key()} == {"60054"}  # one partition, in order
    largest = max(len(part.model_dump_json().encode()) for part in parts)
    assert largest < DEFAULT_MAX_EVENT_BYTES // 3, largest
