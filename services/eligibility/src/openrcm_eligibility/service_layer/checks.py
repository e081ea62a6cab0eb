"""Checks: asking a payer (270), taking its answer (271), retrying what can be retried, announcing
what the rest of the cycle acts on.

A check is written `pending` with its 270 and a row in `pending_eligibility_checks` (the queue) in
one transaction, before anything is sent: a crash after that leaves work the worker finds. The
request that created it tries first, within the real-time timeout; what it does not finish (the
payer is slow, answered AAA 42, or is down) the worker takes up at `due_at`, with backoff. Whoever attempts a check holds
its queue row leased (`due_at` past the exchange timeout: the request from the check's creation,
the worker from its poll), so the request and the worker never send the same check at once. The answer, the check's new state, the queue row's
removal and the events are one transaction.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from types import SimpleNamespace
from uuid import NAMESPACE_URL, UUID, uuid4, uuid5

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from openrcm_eligibility.adapters.clearinghouse import (
    ExchangeRefused, ExchangeUnavailable, HttpEligibilityExchange, PayerLimiter,
)
from openrcm_eligibility.adapters.tables import eligibility_checks, eligibility_coverages, pending_checks
from openrcm_eligibility.domain.inquiry import inquiry_for
from openrcm_eligibility.domain.normalized import headline, normalized_result
from openrcm_eligibility.domain.retries import retry_delay
from openrcm_eligibility.service_layer.announcements import announce_answers, finish_batch_if_done
from openrcm_eligibility.settings import ExchangeSettings
from openrcm_shared.http.problems import Problem, field_error
from openrcm_shared.x12.acknowledgment_envelope import InterchangeEnvelope
from openrcm_shared.x12.eligibility_270 import Eligibility270WriteError, combine_270s, write_270
from openrcm_shared.x12.eligibility_271 import EligibilityResponse, parse_271, split_271
from openrcm_shared.x12.reader import X12Error

PENDING = "pending"


@dataclass(frozen=True)
class CheckRequest:
    coverage_id: str
    service_date: date
    service_types: list[str]
    provider_npi: str
    provider_name: str
    patient_id: str | None = None  # needed only when two patients have coverages of this id


class Exchanger:
    """What every check of this process shares: settings, the clearinghouse client, the per-payer
    limit and the interchange control numbers (increasing, seeded from the clock so a restart does
    not reuse recent ones: X12 wants ISA13 unique per sender for a long time)."""

    def __init__(self, settings: ExchangeSettings | None = None) -> None:
        self.settings = settings or ExchangeSettings()
        self.limiter = PayerLimiter(self.settings.payer_concurrency)
        self.exchange = HttpEligibilityExchange(self.settings.clearinghouse_url) \
            if self.settings.clearinghouse_url else None
        self._control_numbers = itertools.count(int(time.time() * 10) % 900_000_000 + 1)

    def envelope(self, now: datetime) -> InterchangeEnvelope:
        number = next(self._control_numbers) % 999_999_999 or 1
        s = self.settings
        return InterchangeEnvelope("ZZ", s.submitter_id, "ZZ", s.receiver_id, s.submitter_id, s.receiver_id,
                                   number, number, now, usage_indicator=s.usage_indicator)


_EXCHANGER: Exchanger | None = None


def exchanger() -> Exchanger:
    """The process's Exchanger, made on first use (from the environment)."""
    global _EXCHANGER
    if _EXCHANGER is None:
        _EXCHANGER = Exchanger()
    return _EXCHANGER


# ------------------------------------------------------------------------------------------ creating


def new_check(tenant_id: str, coverage, request: CheckRequest, *, origin: str, now: datetime,
              first_try_at: datetime, batch_id: UUID | None = None) -> tuple[dict, dict]:
    """The rows of a pending check with its 270, and of its place in the queue (due `first_try_at`)."""
    check_id = uuid4()
    inquiry = inquiry_for(coverage, trace_number=check_id.hex, service_date=request.service_date,
                          service_types=request.service_types, provider_npi=request.provider_npi,
                          provider_name=request.provider_name)
    try:
        x12 = write_270(exchanger().envelope(now), [inquiry], control_number="0001", reference=check_id.hex[:30])
    except Eligibility270WriteError as exc:
        # A registration holding an X12 delimiter (a name with "*" or "~"), or no member id: the
        # registration must be fixed before any payer can be asked.
        raise Problem(422, "Coverage cannot be asked about", f"Coverage {coverage.coverage_id}: {exc.reason}",
                      type_="validation-error", errors=[field_error("/coverage_id", exc.reason)]) from None
    check = dict(id=check_id, tenant_id=tenant_id, patient_id=coverage.patient_id, payer_id=coverage.payer_id,
                 member_id=coverage.member_id, service_date=request.service_date, coverage_id=coverage.coverage_id,
                 status=PENDING, origin=origin, trace_number=check_id.hex, service_types=request.service_types,
                 provider_npi=request.provider_npi, provider_name=request.provider_name, request_x12=x12,
                 attempts=0, batch_id=batch_id, requested_at=now)
    queued = dict(check_id=check_id, tenant_id=tenant_id, payer_id=coverage.payer_id, due_at=first_try_at)
    return check, queued


async def create_check(conn: AsyncConnection, tenant_id: str, coverage, request: CheckRequest, *, origin: str,
                       now: datetime, first_try_at: datetime, batch_id: UUID | None = None) -> dict:
    """Write a pending check with its 270 and queue it for `first_try_at`; the row's values."""
    check, queued = new_check(tenant_id, coverage, request, origin=origin, now=now, first_try_at=first_try_at,
                              batch_id=batch_id)
    await conn.execute(eligibility_checks.insert().values(**check))
    await conn.execute(pending_checks.insert().values(**queued))
    return check


async def coverage_or_none(conn: AsyncConnection, tenant_id: str, coverage_id: str, patient_id: str | None = None):
    """The registered coverage, None when there is none; a 422 when the id names coverages of
    several patients and no patient id says which."""
    query = sa.select(eligibility_coverages).where(eligibility_coverages.c.tenant_id == tenant_id,
                                                   eligibility_coverages.c.coverage_id == coverage_id)
    if patient_id is not None:
        query = query.where(eligibility_coverages.c.patient_id == patient_id)
    rows = (await conn.execute(query.limit(2))).all()
    if len(rows) > 1:
        raise Problem(422, "Ambiguous coverage id", f"Coverage {coverage_id} belongs to several patients.",
                      type_="validation-error", errors=[field_error("/patient_id", "required for this coverage id")])
    return rows[0] if rows else None


# ------------------------------------------------------------------------------------------ attempting


async def attempt(engine, check_id: UUID, timeout: float, *, now_fn=lambda: datetime.now(timezone.utc)) -> str:
    """Send the check's 270 once and act on the outcome: "answered", "retry" (queued again with
    backoff), "failed" (final error), "nothing" (no longer pending, or no clearinghouse)."""
    outcomes = await attempt_together(engine, [check_id], timeout, now_fn=now_fn)
    return outcomes.get(check_id, "nothing")


async def attempt_together(engine, check_ids: list[UUID], timeout: float, *,
                           now_fn=lambda: datetime.now(timezone.utc)) -> dict[UUID, str]:
    """Send the given checks of one payer once, in one exchange, and act on each outcome (see
    `attempt`); the outcome per check id, none for a check no longer pending.

    One check goes as its own stored 270. Several go as one batch 270 (their stored inquiries
    combined, `combine_270s`) answered by one batch 271, which is split per member (`split_271`):
    each check keeps its own inquiry and its own part of the answer, found by its trace number; a
    check the 271 does not answer is retried like a busy payer. The answers, retries and failures
    of the exchange are stored in one transaction, and each batch they belong to is finished
    after it has committed."""
    deps = exchanger()
    if deps.exchange is None:
        return {}
    # The queue rows are leased already (by the request that created the check, or the worker that
    # took them), so counting the attempt is all there is to do before sending.
    async with engine.begin() as conn:
        checks = (await conn.execute(
            eligibility_checks.update().where(eligibility_checks.c.id.in_(check_ids),
                                              eligibility_checks.c.status == PENDING)
            .values(attempts=eligibility_checks.c.attempts + 1).returning(*eligibility_checks.c))).all()
    if not checks:
        return {}
    together = len(checks) > 1
    try:
        inquiry = _batch_270(checks) if together else checks[0].request_x12
    except X12Error as exc:
        return await _settle(engine, checks, {}, failure=f"the stored 270 cannot be sent: {exc}", now=now_fn())
    try:
        async with deps.limiter.slot(checks[0].payer_id):
            text = await deps.exchange.exchange(_exchange_key(checks), inquiry, timeout)
    except ExchangeUnavailable as exc:
        return await _settle(engine, checks, {}, transient=str(exc), now=now_fn())
    except ExchangeRefused as exc:
        return await _settle(engine, checks, {}, failure=f"the clearinghouse refused the 270: {exc}", now=now_fn())
    try:
        parts = split_271(text) if together else [text]
        answers = {part: list(parse_271(part)) for part in parts}
    except X12Error as exc:
        # Unreadable as a whole: no part can be told apart, and a batch's text is other patients' too.
        return await _settle(engine, checks, {}, failure=f"unreadable 271: {exc}",
                             unreadable_text=None if together else text, now=now_fn())
    found = {}
    for check in checks:
        part, answer = _answer_for(answers, check.trace_number, alone=not together)
        if answer is not None:
            found[check.id] = (part, answer)
    return await _settle(engine, checks, found, now=now_fn())


def _batch_270(checks) -> str:
    deps = exchanger()
    envelope = deps.envelope(datetime.now(timezone.utc))
    return combine_270s(envelope, [check.request_x12 for check in checks], control_number="0001",
                        reference=f"B{envelope.interchange_control_number}")


def _exchange_key(checks) -> str:
    """The exchange's idempotency key: the check id for one check; for several, derived from their
    ids and attempt numbers (the same exchange sent again gets the same key, a new attempt not)."""
    if len(checks) == 1:
        return str(checks[0].id)
    return str(uuid5(NAMESPACE_URL, ",".join(f"{check.id}:{check.attempts}" for check in checks)))


def _answer_for(answers: dict[str, list[EligibilityResponse]], trace_number: str | None,
                *, alone: bool) -> tuple[str | None, EligibilityResponse | None]:
    """The answer that echoes our trace number, with the text it came in; a check asked alone also
    takes the first answer (a payer-level AAA carries no TRN)."""
    for text, responses in answers.items():
        for answer in responses:
            if any(trace.number == trace_number for trace in answer.trace_numbers):
                return text, answer
    if alone:
        for text, responses in answers.items():
            if responses:
                return text, responses[0]
    return None, None


async def _settle(engine, checks, found: dict, *, now: datetime, transient: str | None = None,
                  failure: str | None = None, unreadable_text: str | None = None) -> dict[UUID, str]:
    """Store what one exchange brought for each of its checks, in one transaction; then finish
    their batches. `found`: check id -> (271 text, answer); the others are retried (`transient`,
    or the payer left them unanswered) or failed (`failure`)."""
    outcomes: dict[UUID, str] = {}
    answered = []
    async with engine.begin() as conn:
        for check in checks:
            if check.id in found:
                text, answer = found[check.id]
                if answer.status == "error" and answer.errors and all(error.retryable for error in answer.errors):
                    reason = "; ".join(f"AAA {e.code} {e.meaning}" for e in answer.errors)
                    outcomes[check.id] = await _retry_later(conn, check, reason, text, now)
                else:
                    answered.append((check, answer, text))
                    outcomes[check.id] = "answered"
            elif failure is not None:
                outcomes[check.id] = await _fail(conn, check, failure, unreadable_text, now)
            else:
                reason = transient or "the payer's batch 271 holds no answer for this inquiry"
                outcomes[check.id] = await _retry_later(conn, check, reason, None, now)
        await record_answers(conn, answered, now)
    for batch_id in {check.batch_id for check in checks if outcomes[check.id] != "retry"}:
        await finish_batch_if_done(engine, batch_id, now)
    return outcomes


async def _retry_later(conn: AsyncConnection, check, reason: str, text: str | None, now: datetime) -> str:
    settings = exchanger().settings
    if check.attempts >= settings.max_attempts:
        return await _fail(conn, check, f"no answer after {check.attempts} attempts: {reason}", text, now)
    delay = retry_delay(check.attempts, base_seconds=settings.retry_base_seconds,
                        max_seconds=settings.retry_max_seconds)
    await conn.execute(eligibility_checks.update().where(eligibility_checks.c.id == check.id).values(
        last_error=reason, response_x12=text))
    await conn.execute(pending_checks.update().where(pending_checks.c.check_id == check.id).values(
        due_at=now + timedelta(seconds=delay)))
    return "retry"


async def _fail(conn: AsyncConnection, check, reason: str, text: str | None, now: datetime) -> str:
    await conn.execute(eligibility_checks.update().where(eligibility_checks.c.id == check.id)
                       .values(status="error", last_error=reason, response_x12=text, checked_at=now))
    await conn.execute(pending_checks.delete().where(pending_checks.c.check_id == check.id))
    return "failed"


async def record_answer(conn: AsyncConnection, check, answer: EligibilityResponse, text: str | None,
                        now: datetime, *, stored_271: dict | None = None) -> None:
    """Store the normalized answer on the check, take it off the queue, announce it (in `conn`'s
    transaction; the caller then calls `finish_batch_if_done` once it has committed). The raw 271
    is `text`, or for an uploaded file `stored_271` (response_file_id, response_location)."""
    await record_answers(conn, [(check, answer, text, stored_271)], now)


# The figures of `headline` as their columns store them (NUMERIC scale 2), so the events staged
# from the values written carry what a read of the row would give.
_FIGURE_SCALE = Decimal("0.01")
_ANSWER_UPDATE = eligibility_checks.update().where(eligibility_checks.c.id == sa.bindparam("answered_id")).values(
    {name: sa.bindparam(f"new_{name}") for name in (
        "status", "result", "response_x12", "checked_at", "last_error", "coverage_active", "plan_name",
        "copay_amount", "deductible_amount", "deductible_remaining", "coinsurance_percent", "out_of_pocket_remaining",
        "response_file_id", "response_location")})


async def record_answers(conn: AsyncConnection, answered: list[tuple], now: datetime) -> None:
    """`record_answer` for each (check row, answer, 271 text[, stored 271 of an upload]), in one
    statement each for the updates, the queue and the events: an exchange of a batch 270 brings many
    answers at once."""
    if not answered:
        return
    rows, parameters = [], []
    for check, answer, text, *stored in answered:
        stored_271 = (stored[0] if stored else None) or {"response_file_id": None, "response_location": None}
        result = normalized_result(answer)
        first_type = next((t for t in (check.service_types or []) if t != "30"), "30")
        figures = {name: None if value is None else Decimal(value).quantize(_FIGURE_SCALE)
                   for name, value in headline(result, first_type).items()}
        values = dict(status=answer.status, result=result, response_x12=text, checked_at=now, last_error=None,
                      coverage_active={"active": True, "inactive": False}.get(answer.status),
                      plan_name=answer.plan.name if answer.plan else None, **figures, **stored_271)
        parameters.append({"answered_id": check.id, **{f"new_{name}": value for name, value in values.items()}})
        rows.append(SimpleNamespace(**{**check._mapping, **values}))
    await conn.execute(_ANSWER_UPDATE, parameters)
    await conn.execute(pending_checks.delete().where(pending_checks.c.check_id.in_([row.id for row in rows])))
    await announce_answers(conn, rows, now)
