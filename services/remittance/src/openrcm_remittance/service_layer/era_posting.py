"""Posting an 835 transaction set (one payment and the claims it explains), all or nothing.

The claims stream past in batches: each batch is matched (one query), balanced, turned into claim
payments, ledger journals and events, and written — all inside one database transaction that
commits only when the whole transaction set balanced (BPR02 = sum CLP04 - sum PLB) and every claim
and line was matched. Otherwise it is rolled back and the transaction set is recorded as held, with
the balancing differences and the unmatched claims and lines in the review queue; nothing of it is
posted. Memory stays flat in the number of claims: only the current batch and running totals are
held (and the problems, which a posted transaction has none of).

Batches of a large file are prepared in worker processes (`posting_workers`, `era_batches`) and come
back as COPY data that this module writes, in file order, in the posting's one transaction.

The manual JSON form (paper EOBs) is converted to the same 835 model and posted by the same code.
"""

from __future__ import annotations

import asyncio
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from decimal import Decimal
from itertools import chain, islice
from uuid import UUID, uuid4

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from openrcm_remittance.adapters.tables import claim_payments, journal_entries, remittances, unmatched_items
from openrcm_remittance.domain.ledger import provider_adjustment_journal
from openrcm_remittance.service_layer import SOURCE, claim_events, posting_workers
from openrcm_remittance.service_layer.deposits import reassociate_remittance
from openrcm_remittance.service_layer.era_batches import (
    BatchJob, BatchResult, ManualMatch, PostingProblem, ReversalLink, latest_standing_payment, prepare_batch,
)
from openrcm_shared.audit import record_change
from openrcm_shared.contracts import remittance as contracts
from openrcm_shared.messaging.outbox import stage_copy, stage_events
from openrcm_shared.observability import current_correlation_id, current_traceparent
from openrcm_shared.pg_copy import copy_data
from openrcm_shared.x12.balancing import BalancingDifference, RemittanceBalancer
from openrcm_shared.x12.remittance_835 import ClaimFragment, ClaimPayment, Remittance835

__all__ = ["ManualMatch", "PostingProblem", "TransactionOutcome", "TransactionTarget", "drain", "manual_matches",
           "post_transaction"]

CLAIM_BATCH = 1000
# Batches being prepared ahead of the one being written (workers busy while PostgreSQL takes a COPY).
IN_FLIGHT = 4
MAX_CANDIDATE_SEARCHES = 200  # an ERA that is wholly someone else's should not run 100k searches
UNASSIGNED_TENANT = "unassigned"


@dataclass
class TransactionTarget:
    """Whose payment this is and how to post it."""

    tenant_id: str
    payer_id: str
    file_id: UUID | None = None
    transaction_index: int | None = None
    source: str = "x12"
    document: dict | None = None
    reprocess_id: UUID | None = None  # a held remittance being posted again
    manual: dict[tuple[int, int | None], ManualMatch] = field(default_factory=dict)


@dataclass
class TransactionOutcome:
    status: str  # posted | held | duplicate
    remittance_id: UUID | None
    payer_id: str
    trace_number: str
    payment_amount: Decimal
    payment_date: date
    claim_count: int = 0
    transaction_index: int | None = None
    reasons: list[str] = field(default_factory=list)
    differences: list[dict] = field(default_factory=list)
    problems: list[PostingProblem] = field(default_factory=list)
    duplicate_of: UUID | None = None
    received_at: datetime | None = None

    def as_json(self) -> dict:
        return {"transaction_index": self.transaction_index, "status": self.status,
                "remittance_id": str(self.remittance_id) if self.remittance_id else None,
                "payer_id": self.payer_id, "trace_number": self.trace_number,
                "payment_amount": str(self.payment_amount), "payment_date": self.payment_date.isoformat(),
                "claim_count": self.claim_count, "reasons": self.reasons, "differences": self.differences,
                "unmatched_count": len(self.problems),
                "duplicate_of": str(self.duplicate_of) if self.duplicate_of else None}


def payment_date_of(header: Remittance835) -> date:
    return header.payment.payment_date or header.production_date or datetime.now(timezone.utc).date()


def describe_difference(difference: BalancingDifference) -> dict:
    where = {"service_line": f"claim {difference.claim_index} line {difference.line_index}",
             "claim": f"claim {difference.claim_index}", "transaction": "transaction"}[difference.level.value]
    return {"level": difference.level.value, "where": where, "expected": str(difference.expected),
            "actual": str(difference.actual), "difference": str(difference.difference),
            "patient_control_number": difference.patient_control_number,
            "claim_index": difference.claim_index, "line_index": difference.line_index,
            "segment_number": difference.segment_number}


def _batches(claims: Iterator[ClaimPayment], size: int) -> Iterator[list[ClaimPayment]]:
    while batch := list(islice(claims, size)):
        yield batch


@dataclass
class _BatchSource:
    """A batch before it is prepared: X12 text not parsed yet, or claims already parsed."""

    claim_count: int
    fragment: ClaimFragment | None = None
    claims: list[ClaimPayment] | None = None


def _batch_sources(claims: Iterator[ClaimPayment] | Iterator[ClaimFragment]) -> Iterator[_BatchSource]:
    for first in claims:
        if isinstance(first, ClaimFragment):
            yield _BatchSource(first.claim_count, fragment=first)
            for fragment in claims:
                yield _BatchSource(fragment.claim_count, fragment=fragment)
        else:
            batches = _batches(chain((first,), claims), CLAIM_BATCH)
            for batch in batches:
                yield _BatchSource(len(batch), claims=batch)
        return


class _ClaimPoster:
    """Prepares the batches of one transaction set (in worker processes when there are any, else
    here) and writes them in file order on the posting's connection.

    Two connections here: `reader` looks up what was billed (committed data) for batches prepared
    in this process, `conn` holds the posting's transaction and does every write. While one batch is
    written, the next ones are being prepared: the cores of a small machine all work.
    """

    def __init__(self, engine: AsyncEngine, conn: AsyncConnection, reader: AsyncConnection,
                 target: TransactionTarget, remittance_id: UUID) -> None:
        self.conn, self.reader, self.target, self.remittance_id = conn, reader, target, remittance_id
        self.pool = posting_workers.pool_for(engine)
        self.balancer = RemittanceBalancer()
        self.problems: list[PostingProblem] = []
        self.claim_count = 0  # dispatched
        self.candidate_searches = 0

    def job(self, source: _BatchSource) -> BatchJob:
        first = self.claim_count
        self.claim_count += source.claim_count
        manual = {key: match for key, match in self.target.manual.items()
                  if first <= key[0] < first + source.claim_count}
        return BatchJob(
            tenant_id=self.target.tenant_id, payer_id=self.target.payer_id, remittance_id=self.remittance_id,
            first_sequence=first, manual=manual,
            candidate_searches_left=MAX_CANDIDATE_SEARCHES - self.candidate_searches,
            build_rows=not self.problems, correlation_id=current_correlation_id(),
            traceparent=current_traceparent(), fragment=source.fragment, claims=source.claims)

    async def prepare(self, source: _BatchSource) -> asyncio.Future:
        """Start preparing a batch; the future holds its `BatchResult`. In this process, the batch is
        prepared before this returns (one reader connection: one batch at a time)."""
        job = self.job(source)
        if self.pool is not None and source.fragment is not None \
                and source.claim_count >= posting_workers.MIN_CLAIMS_FOR_A_WORKER:
            return asyncio.ensure_future(posting_workers.run_in_worker(self.pool, job))
        future = asyncio.get_running_loop().create_future()
        future.set_result(await prepare_batch(self.reader, job))
        posting_workers.BATCHES_PREPARED.labels(prepared_in="service").inc()
        return future

    async def write(self, result: BatchResult) -> None:
        self.balancer.add_batch(result.claim_count, result.total_paid, result.differences)
        self.problems += result.problems
        self.candidate_searches += result.candidate_searches
        if self.problems or not result.copies:
            return  # held: nothing of the transaction set is written
        targets = await self._lock_reversal_targets(result.reversals)
        if self.problems:
            return  # a payment to take back was taken back by another posting meanwhile: held
        *tables, events = result.copies
        for copy in tables:
            await copy_data(self.conn, copy)
        for link, original in zip(result.reversals, targets):
            await self.conn.execute(claim_payments.update().where(claim_payments.c.id == link.reversal)
                                    .values(reversal_of=original))
            await self.conn.execute(claim_payments.update().where(claim_payments.c.id == original)
                                    .values(reversed_by=link.reversal))
        await stage_copy(self.conn, events)

    async def _lock_reversal_targets(self, reversals: list[ReversalLink]) -> list[UUID]:
        """Each reversal's payment to take back: the claim's latest standing payment, read and
        locked in this (the posting) transaction. A concurrent posting reversing the same claim
        waits for this one and then finds the payment taken back; one with none left is held."""
        targets = []
        for link in reversals:
            original = await latest_standing_payment(self.conn, link.claim_id, lock=True)
            if original is None:
                self.problems.append(PostingProblem(
                    link.claim_sequence, None, "reversal", "the payment it reverses was reversed by another posting",
                    link.patient_control_number, link.payer_claim_control_number, {}))
            targets.append(original)
        return targets

    async def write_in_order(self, prepared: asyncio.Queue) -> None:
        while (future := await prepared.get()) is not None:
            await self.write(await future)


async def post_transaction(engine: AsyncEngine, target: TransactionTarget, header: Remittance835,
                           claims: Iterator[ClaimPayment] | Iterator[ClaimFragment],
                           conn: AsyncConnection | None = None,
                           before_commit: Callable[[], Awaitable[None]] | None = None) -> TransactionOutcome:
    """Post one transaction set whose claims come from `claims` (read lazily; PLBs are on `header`
    once they are exhausted). Posted, held or duplicate — never half-posted.

    With `conn` (already in a transaction, e.g. the one storing an Idempotency-Key) the posting
    runs in a savepoint of it and a transaction set that cannot be posted is not held: the caller
    refuses the request instead."""
    outcome = TransactionOutcome("posted", None, target.payer_id, header.trace.trace_number,
                                 header.payment.signed_amount, payment_date_of(header),
                                 transaction_index=target.transaction_index,
                                 received_at=datetime.now(timezone.utc))
    if conn is not None:
        async with conn.begin_nested() as savepoint:
            if not await _attempt(engine, conn, target, header, claims, outcome):
                await savepoint.rollback()
        return outcome
    async with engine.connect() as conn:
        transaction = await conn.begin()
        posted = await _attempt(engine, conn, target, header, claims, outcome)
        if before_commit is not None:
            await before_commit()  # raises (and so rolls back) when what follows in the file is malformed
        await (transaction.commit() if posted else transaction.rollback())
    if outcome.status == "held":
        await _hold(engine, target, header, outcome)
    return outcome


async def _post_claims(poster: _ClaimPoster, claims: Iterator) -> None:
    """Read batches (in a thread), have them prepared, and write them in order as they are ready;
    at most IN_FLIGHT batches are ahead of the writer."""
    prepared: asyncio.Queue = asyncio.Queue(maxsize=IN_FLIGHT)
    writer = asyncio.create_task(poster.write_in_order(prepared))
    sources = _batch_sources(claims)
    futures: deque[asyncio.Future] = deque()  # the ones that may still be running, to cancel on failure
    try:
        while not writer.done() and (source := await asyncio.to_thread(next, sources, None)) is not None:
            future = await poster.prepare(source)
            while futures and futures[0].done():
                futures.popleft()  # its result belongs to the writer now: memory stays flat
            futures.append(future)
            await _put_unless_done(prepared, future, writer)
        await _put_unless_done(prepared, None, writer)
        await writer
    except BaseException as error:
        posting_workers.discard_broken(error)
        raise
    finally:
        for task in (writer, *futures):
            if not task.done():
                task.cancel()
        await asyncio.gather(writer, *futures, return_exceptions=True)


async def _put_unless_done(queue: asyncio.Queue, item, writer: asyncio.Task) -> None:
    """Queue `item` for the writer, unless the writer stopped (it failed: its error is raised)."""
    put = asyncio.ensure_future(queue.put(item))
    await asyncio.wait((put, writer), return_when=asyncio.FIRST_COMPLETED)
    if not put.done():
        put.cancel()
    if writer.done():
        writer.result()


async def _attempt(engine: AsyncEngine, conn: AsyncConnection, target: TransactionTarget, header: Remittance835,
                   claims: Iterator[ClaimPayment], outcome: TransactionOutcome) -> bool:
    """Post inside the caller's transaction; False (and the outcome says why) if it must roll back."""
    duplicate = await _claim_payment_slot(conn, target, outcome)
    if duplicate is not None:
        outcome.status, outcome.duplicate_of = "duplicate", duplicate
        drain(claims)
        return False
    async with engine.connect() as reader:
        poster = _ClaimPoster(engine, conn, reader, target, outcome.remittance_id)
        await _post_claims(poster, claims)
    differences = poster.balancer.finish(header)
    outcome.claim_count = poster.claim_count
    if differences or poster.problems:
        outcome.status, outcome.problems = "held", poster.problems
        outcome.differences = [describe_difference(d) for d in differences]
        outcome.reasons = _held_reasons(differences, poster.problems)
        return False
    await _finish_posting(conn, target, header, outcome)
    return True


def drain(claims: Iterator[ClaimPayment]) -> None:
    """Read the claims nobody will post, so the stream moves on to what follows them."""
    for _ in claims:
        pass


def _held_reasons(differences: list[BalancingDifference], problems: list[PostingProblem]) -> list[str]:
    reasons = []
    levels = Counter(d.level.value for d in differences)
    for level, count in sorted(levels.items()):
        reasons.append(f"{count} {level.replace('_', ' ')} balancing difference(s)")
    kinds = Counter(p.kind for p in problems)
    names = {"claim": "unmatched claim(s)", "line": "unmatched line(s)", "reversal": "reversal(s) of unposted payments"}
    for kind, count in sorted(kinds.items()):
        reasons.append(f"{count} {names[kind]}")
    return reasons


async def _claim_payment_slot(conn: AsyncConnection, target: TransactionTarget,
                              outcome: TransactionOutcome) -> UUID | None:
    """Reserve this payment (payer + trace number + amount) for this posting, or return the
    remittance that already holds it (a duplicate: posted, or held and waiting for review)."""
    if target.reprocess_id is not None:
        # Two people posting the same held ERA again at once: the row lock lets one through; the
        # other finds it posted and gets the duplicate answer.
        status = (await conn.execute(sa.select(remittances.c.status).where(
            remittances.c.id == target.reprocess_id).with_for_update())).scalar_one()
        if status != "held":
            return target.reprocess_id
        outcome.remittance_id = target.reprocess_id
        return None
    remittance_id = uuid4()
    inserted = await conn.execute(pg_insert(remittances).values(
        id=remittance_id, tenant_id=target.tenant_id, payer_id=target.payer_id, trace_number=outcome.trace_number,
        payment_amount=outcome.payment_amount, payment_date=outcome.payment_date, source=target.source,
        received_at=outcome.received_at, document=target.document, status="posting", file_id=target.file_id,
        transaction_index=target.transaction_index,
    ).on_conflict_do_nothing(constraint="uq_remittances_payment").returning(remittances.c.id))
    if inserted.first() is not None:
        outcome.remittance_id = remittance_id
        return None
    return (await conn.execute(sa.select(remittances.c.id).where(
        remittances.c.tenant_id == target.tenant_id, remittances.c.payer_id == target.payer_id,
        remittances.c.trace_number == outcome.trace_number,
        remittances.c.payment_amount == outcome.payment_amount))).scalar_one()


def _header_columns(header: Remittance835, outcome: TransactionOutcome) -> dict:
    return dict(transaction_set_control_number=header.transaction_set_control_number,
                payer_name=header.payer.name, payee_name=header.payee.name, payee_identifier=header.payee.identifier,
                payment_method=header.payment.payment_method, claim_count=outcome.claim_count,
                provider_adjustment_amount=sum((p.amount for p in header.provider_adjustments), Decimal(0)))


async def _finish_posting(conn: AsyncConnection, target: TransactionTarget, header: Remittance835,
                          outcome: TransactionOutcome) -> None:
    """Provider-level adjustments, the remittance's own events, and its row marked posted."""
    plb = [(p.reason_code, p.reference, p.amount) for p in header.provider_adjustments]
    if plb:
        await conn.execute(journal_entries.insert(), [
            dict(tenant_id=target.tenant_id, journal_id=outcome.remittance_id, remittance_id=outcome.remittance_id,
                 claim_id=None, line_number=None, account=entry.account, group_code=None,
                 reason_code=entry.reason_code, amount=entry.amount)
            for entry in provider_adjustment_journal(plb)])
    await conn.execute(remittances.update().where(remittances.c.id == outcome.remittance_id).values(
        status="posted", posted_at=datetime.now(timezone.utc), held_reasons=None, **_header_columns(header, outcome)))
    if target.reprocess_id is not None:
        # A held ERA posted again: what its open review items waited for came (a late claim, now
        # matched by CLP01); they leave the queue. Items a person matched stay, with the decision.
        await _clear_open_items(conn, outcome.remittance_id)
    events = [contracts.RemittanceReceived(
        tenant_id=target.tenant_id, remittance_id=outcome.remittance_id, payer_id=target.payer_id,
        trace_number=outcome.trace_number, payment_amount=outcome.payment_amount,
        payment_date=outcome.payment_date, claim_count=outcome.claim_count, received_at=outcome.received_at)]
    events += claim_events.for_provider_adjustments(target, outcome.remittance_id, header.provider_adjustments)
    events += await _reassociate(conn, target, header, outcome)
    await stage_events(conn, events, source=SOURCE, aggregate_type="remittance")
    # A posting a request made (an upload, a manual posting, a held ERA posted again) is audited
    # with the money it moves; a no-op for postings of webhook deliveries and the worker.
    await record_change(conn, action="post", resource_type="remittance", resource_id=outcome.remittance_id)


async def _reassociate(conn: AsyncConnection, target: TransactionTarget, header: Remittance835,
                       outcome: TransactionOutcome) -> list:
    """Tie the ERA to its bank deposit if the deposit is already here (CAQH CORE 370)."""
    return await reassociate_remittance(conn, target.tenant_id, outcome.remittance_id,
                                        originating_company_id=header.trace.payer_identifier)


async def _hold(engine: AsyncEngine, target: TransactionTarget, header: Remittance835,
                outcome: TransactionOutcome) -> None:
    """Record the transaction set as held for review, with what is wrong, in its own transaction."""
    async with engine.begin() as conn:
        duplicate = await _claim_payment_slot(conn, target, outcome)
        if duplicate is not None:  # posted by someone else meanwhile
            outcome.status, outcome.duplicate_of = "duplicate", duplicate
            return
        await conn.execute(remittances.update().where(remittances.c.id == outcome.remittance_id).values(
            status="held", held_reasons=outcome.reasons + [d["where"] + f": expected {d['expected']}, "
                                                                        f"reported {d['actual']}"
                                                          for d in outcome.differences],
            **_header_columns(header, outcome)))
        await _clear_open_items(conn, outcome.remittance_id)
        now = datetime.now(timezone.utc)
        if outcome.problems:
            await conn.execute(unmatched_items.insert(), [dict(
                id=uuid4(), tenant_id=target.tenant_id, remittance_id=outcome.remittance_id,
                claim_sequence=p.claim_sequence, line_sequence=p.line_sequence, kind=p.kind,
                patient_control_number=p.patient_control_number,
                payer_claim_control_number=p.payer_claim_control_number, detail=p.detail, reason=p.reason,
                candidates=[c.as_json() for c in p.candidates], status="open", created_at=now)
                for p in outcome.problems])
        await stage_events(conn, [contracts.RemittanceHeld(
            tenant_id=target.tenant_id, remittance_id=outcome.remittance_id, payer_id=target.payer_id,
            trace_number=outcome.trace_number, payment_amount=outcome.payment_amount,
            reasons=outcome.reasons), *await _reassociate(conn, target, header, outcome)],
            source=SOURCE, aggregate_type="remittance")


async def _clear_open_items(conn: AsyncConnection, remittance_id: UUID) -> None:
    """The remittance's review items nobody has matched yet (a held ERA's problems are found anew
    each time it is posted); matched ones keep the person's decision."""
    await conn.execute(unmatched_items.delete().where(unmatched_items.c.remittance_id == remittance_id,
                                                      unmatched_items.c.status == "open"))


async def manual_matches(conn: AsyncConnection, remittance_id: UUID) -> dict[tuple[int, int | None], ManualMatch]:
    rows = (await conn.execute(sa.select(unmatched_items).where(
        unmatched_items.c.remittance_id == remittance_id, unmatched_items.c.status == "matched"))).all()
    return {(row.claim_sequence, row.line_sequence): ManualMatch(row.matched_claim_id, row.matched_line_number)
            for row in rows}
