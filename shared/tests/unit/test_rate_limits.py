"""The per-client token bucket, on a fake clock: bursts, refill, independence of clients, the
429 it raises, and bounded memory."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from starlette.requests import Request

from openrcm_shared.http.problems import Problem
from openrcm_shared.http.rate_limits import RateLimitSettings, TokenBucketLimiter, check_rate_limit


class FakeClock:
    def __init__(self, now: float = 5_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def taken(limiter: TokenBucketLimiter, key: str, count: int) -> list[bool]:
    return [limiter.take(key) is None for _ in range(count)]


def test_a_client_may_send_its_burst_at_once_then_the_rate():
    clock = FakeClock()
    limiter = TokenBucketLimiter(rate=10, burst=5, clock=clock)
    assert taken(limiter, "client:ehr", 6) == [True] * 5 + [False]
    clock.advance(0.1)  # one token back
    assert taken(limiter, "client:ehr", 2) == [True, False]
    clock.advance(10)  # never more than the burst, however long the client was quiet
    assert taken(limiter, "client:ehr", 6) == [True] * 5 + [False]


def test_a_refused_request_takes_nothing():
    clock = FakeClock()
    limiter = TokenBucketLimiter(rate=1, burst=1, clock=clock)
    assert taken(limiter, "k", 1) == [True]
    assert taken(limiter, "k", 50) == [False] * 50  # hammering does not push the next token further away
    clock.advance(1.0)
    assert taken(limiter, "k", 1) == [True]


def test_clients_do_not_share_buckets():
    limiter = TokenBucketLimiter(rate=1, burst=2, clock=FakeClock())
    assert taken(limiter, "client:a", 3) == [True, True, False]
    assert taken(limiter, "client:b", 2) == [True, True]


def test_the_refusal_says_when_to_come_back_and_describes_the_policy():
    clock = FakeClock()
    limiter = TokenBucketLimiter(rate=0.5, burst=4, clock=clock)  # a token every 2 s
    assert taken(limiter, "k", 4) == [True] * 4
    clock.advance(0.5)
    refused = limiter.take("k")
    assert (refused.retry_after, refused.quota, refused.window) == (2, 4, 8)  # 0.75 token short: 1.5 s -> 2
    assert refused.headers() == {"Retry-After": "2", "RateLimit-Policy": '"per-client";q=4;w=8',
                                 "RateLimit": '"per-client";r=0;t=2'}
    with pytest.raises(Problem) as raised:
        limiter.check("k")
    problem = raised.value
    assert problem.status == 429 and problem.headers["Retry-After"] == "2"
    assert problem.type == "https://iana.org/assignments/http-problem-types#quota-exceeded"
    assert problem.extensions == {"violated-policies": ["per-client"]}


def test_a_fast_rate_never_advises_waiting_less_than_a_second():
    clock = FakeClock()
    limiter = TokenBucketLimiter(rate=1000, burst=1, clock=clock)
    assert taken(limiter, "k", 2) == [True, False]
    assert limiter.take("k").retry_after == 1  # Retry-After is whole seconds


def test_memory_stays_bounded_and_idle_clients_go_first():
    clock = FakeClock()
    limiter = TokenBucketLimiter(rate=1, burst=2, max_keys=100, clock=clock)
    for number in range(100):
        limiter.take(f"idle-{number}")
    clock.advance(5)  # every bucket has refilled: they hold nothing worth keeping
    assert taken(limiter, "busy", 2) == [True, True]
    assert len(limiter._buckets) == 1
    for number in range(1000):  # a flood of new clients, none idle: still bounded
        limiter.take(f"new-{number}")
    assert len(limiter._buckets) <= 100


def test_settings_switch_limiting_off_and_default_the_burst_to_twice_the_rate():
    assert TokenBucketLimiter.from_settings(RateLimitSettings(rate_limit_per_client=0)) is None
    limiter = TokenBucketLimiter.from_settings(RateLimitSettings(rate_limit_per_client=300))
    assert (limiter.rate, limiter.burst) == (300, 600)
    assert RateLimitSettings().rate_limit_per_client >= 600  # the intake benchmark's closed loop from one client


def test_check_rate_limit_counts_the_authenticated_client_for_the_authorization_dependency():
    app = FastAPI()
    app.state.rate_limiter = TokenBucketLimiter(rate=1, burst=1, clock=FakeClock())
    request = Request({"type": "http", "app": app, "headers": []})
    check_rate_limit(request, "ehr-client-1")
    with pytest.raises(Problem) as raised:
        check_rate_limit(request, "ehr-client-1")
    assert raised.value.status == 429
    check_rate_limit(request, "ehr-client-2")
    app.state.rate_limiter = None  # limiting off
    check_rate_limit(request, "ehr-client-1")
