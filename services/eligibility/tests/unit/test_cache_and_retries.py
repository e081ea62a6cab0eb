"""The cache's re-check rules, the retry backoff, and the 270 inquiry a registered coverage makes."""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta, timezone
from types import SimpleNamespace

import pytest

from openrcm_eligibility.domain.cache import CachedAnswer, recheck_reason
from openrcm_eligibility.domain.inquiry import inquiry_for
from openrcm_eligibility.domain.retries import retry_delay
from openrcm_eligibility.service_layer.worker import exchange_groups

NOW = datetime(2026, 3, 16, 15, 0, tzinfo=timezone.utc)
TTL = timedelta(hours=24)


def answer(status="active", *, age=timedelta(hours=2), plan_end=None) -> CachedAnswer:
    return CachedAnswer(status, NOW - age, plan_end)


@pytest.mark.parametrize(("cached", "denied_at", "reason"), [
    (answer(), None, None),
    (answer("inactive"), None, None),
    (answer("error"), None, "no final answer"),
    (answer("unknown"), None, "no final answer"),
    (answer(age=timedelta(hours=25)), None, "older than the cache time to live"),
    (answer(age=timedelta(days=16)), None, "older than the cache time to live"),
    (answer(plan_end=date(2026, 3, 15)), None, "the plan end date has passed"),
    (answer(plan_end=date(2026, 3, 16)), None, None),
    (answer(), NOW - timedelta(hours=1), "a claim was denied for eligibility since"),
    (answer(), NOW - timedelta(hours=3), None),
])
def test_recheck_rules(cached, denied_at, reason) -> None:
    assert recheck_reason(cached, now=NOW, ttl=TTL, recheck_requested_at=denied_at) == reason


def test_a_new_month_asks_again_within_the_time_to_live() -> None:
    first_of_april = datetime(2026, 4, 1, 0, 30, tzinfo=timezone.utc)
    late_march = CachedAnswer("active", datetime(2026, 3, 31, 23, 0, tzinfo=timezone.utc), None)
    assert recheck_reason(late_march, now=first_of_april, ttl=TTL, recheck_requested_at=None) == "a new month"


def test_backoff_doubles_up_to_the_cap_with_jitter() -> None:
    rng = random.Random(7)
    delays = [retry_delay(n, base_seconds=1, max_seconds=60, rng=rng) for n in range(1, 9)]
    for attempt, delay in enumerate(delays, start=1):
        cap = min(60, 2 ** (attempt - 1))
        assert cap / 2 <= delay <= cap


def coverage(**changes):
    fields = dict(coverage_id="C1", patient_id="P1", payer_id="60054", payer_name=None, member_id="M1",
                  relationship_to_subscriber="18", subscriber=None,
                  patient={"first_name": "KID", "last_name": "DOE", "birth_date": "2015-01-01", "gender": "M"})
    return SimpleNamespace(**{**fields, **changes})


def test_inquiry_for_the_subscriber_and_for_a_dependent() -> None:
    own = inquiry_for(coverage(), trace_number="T", service_date=date(2026, 3, 16), service_types=["30"],
                      provider_npi="1234567893", provider_name="CLINIC")
    assert (own.subscriber.first_name, own.subscriber.member_id, own.dependent, own.payer_name) == \
        ("KID", "M1", None, "60054")
    parent = {"first_name": "PARENT", "last_name": "DOE", "birth_date": "1980-01-02", "gender": "F"}
    child = inquiry_for(coverage(relationship_to_subscriber="19", subscriber=parent), trace_number="T",
                        service_date=date(2026, 3, 16), service_types=["30"], provider_npi="1234567893",
                        provider_name="CLINIC")
    assert (child.subscriber.first_name, child.subscriber.member_id, child.dependent.first_name, child.relationship) \
        == ("PARENT", "M1", "KID", "19")
    other = inquiry_for(coverage(relationship_to_subscriber="20", subscriber=parent), trace_number="T",
                        service_date=date(2026, 3, 16), service_types=["30"], provider_npi="1234567893",
                        provider_name="CLINIC")
    assert other.relationship == "34"  # 270 INS02 allows 01, 19 and 34 only


def test_due_checks_go_out_per_practice_and_payer_in_batches_the_payers_taking_turns() -> None:
    leased = [(f"a{i}", "p1", "60054") for i in range(5)] + [("b0", "p1", "87726"), ("c0", "p2", "60054")] + \
        [(f"a{i}", "p1", "60054") for i in range(5, 7)]
    assert exchange_groups(leased, 3) == [
        ("p1", ["a0", "a1", "a2"]), ("p1", ["b0"]), ("p2", ["c0"]), ("p1", ["a3", "a4", "a5"]), ("p1", ["a6"])]
    assert exchange_groups(leased[:2], 1) == [("p1", ["a0"]), ("p1", ["a1"])]
    assert exchange_groups([], 50) == []
