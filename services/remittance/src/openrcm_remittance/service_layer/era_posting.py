"""Posting an 835 transaction set (one payment and the claims it explains), all or nothing.

The claims stream past in batches: each batch is matched (one query), balanced, turned into claim
payments, ledger journals and events, and written — all inside one database transaction that
commits only when the whole transaction set balanced (BPR02 = sum CLP04 - sum PLB) and every claim
and line was matched. Otherwise it is rolled back and the transaction set is recorded as held, with
the balancing differences and the unmatched claims and lines in the review queue; nothing of it is
posted. Memory stays flat in the number of claims: only the current batch and running totals are
held (and the problems, which a posted transaction has none of).

The manual JSON form (paper EOBs) is converted to the same 835 model and posted by the same code.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from decimal import Decimal
from itertools import islice
from uuid import UUID, uuid4

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from openrcm_remittance.adapters.tables import (
    claim_payments, expected_claims, journal_entries, remittances, unmatched_items,
)
from openrcm_remittance.domain.ledger import provider_adjustment_journal
from openrcm_remittance.domain.matching import BilledLine, Candidate, match_lines, score_claim
from openrcm_remittance.domain.fee_schedules import LineKey, PostedLineFacts
from openrcm_remittance.domain.posting import REVERSAL, ClaimPosting, PostedLine, line_service_date, post_claim
from openrcm_remittance.service_layer.deposits import reassociate_remittance
from openrcm_remittance.service_layer.fee_schedules import load_contracted_rates, record_variances
from openrcm_remittance.service_layer import claim_events
from openrcm_remittance.service_layer import SOURCE
from openrcm_shared.contracts import remittance as contracts
from openrcm_shared.db import copy_rows
from openrcm_shared.messaging.outbox import stage_events
from openrcm_shared.x12.balancing import BalancingDifference, RemittanceBalancer
from openrcm_shared.x12.remittance_835 import ClaimPayment, Remittance835

CLAIM_BATCH = 1000
MAX_CANDIDATE_SEARCHES = 200  # an ERA that is wholly someone else's should not run 100k searches
UNASSIGNED_TENANT = "unassigned"


@dataclass(frozen=True)
class ManualMatch:
    claim_id: UUID
    line_number: int | None


@dataclass
class PostingProblem:
    """Why a transaction set could not be posted: an unmatched claim or line, or a reversal of a
    payment we never posted. Balancing differences are reported separately."""

    claim_sequence: int
    line_sequence: int | None
    kind: str  # claim | line | reversal
    reason: str
    patient_control_number: str
    payer_claim_control_number: str | None
    detail: dict
    candidates: list[Candidate] = field(default_factory=list)


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


def claim_summary(claim: ClaimPayment) -> dict:
    """What the ERA says about a claim, for a person deciding a match (no more PHI than needed)."""
    return {"patient_control_number": claim.patient_control_number, "status_code": claim.status_code,
            "charge": str(claim.charge), "paid": str(claim.paid),
            "payer_claim_control_number": claim.payer_claim_control_number,
            "statement_from": claim.statement_from.isoformat() if claim.statement_from else None,
            "segment_number": claim.segment_number,
            "lines": [{"procedure_code": line.procedure.code, "modifiers": list(line.procedure.modifiers),
                       "charge": str(line.charge), "paid": str(line.paid),
                       "service_date": line.service_date.isoformat() if line.service_date else None,
                       "line_control_number": line.line_control_number}
                      for line in claim.service_lines]}


def _batches(claims: Iterator[ClaimPayment], size: int) -> Iterator[list[ClaimPayment]]:
    while batch := list(islice(claims, size)):
        yield batch


def _facts(line: PostedLine) -> PostedLineFacts:
    return PostedLineFacts(line.line_number, line.procedure_code or "", tuple(line.modifiers), line.service_date,
                           line.units or Decimal(1), line.allowed_amount, line.paid_amount)


def _line_keys(claim: ClaimPayment) -> list[LineKey]:
    """What prices each line (to load the fee schedule rows a batch needs, before matching)."""
    keys = []
    for line in claim.service_lines:
        service_date = line_service_date(line, claim)
        if service_date is not None:
            procedure = line.original_procedure or line.procedure
            keys.append(LineKey(procedure.code, procedure.modifiers, service_date, line.units or Decimal(1)))
    return keys


@dataclass
class _PreparedBatch:
    """One batch's rows and events, computed and ready to write."""

    payments: list[dict] = field(default_factory=list)
    journal: list[dict] = field(default_factory=list)
    events: list = field(default_factory=list)
    reversed_ids: list[tuple[UUID, UUID]] = field(default_factory=list)
    priced: list[tuple[UUID, list[PostedLineFacts]]] = field(default_factory=list)  # for variances
    rates: object = None


class _ClaimPoster:
    """Matches, posts and writes the claims of one transaction set, a batch at a time.

    Two connections: `reader` looks up what was billed (committed data), `conn` holds the posting's
    transaction and does every write. So batch N+1 is read and computed while PostgreSQL is still
    taking batch N's COPY: the two cores of a small machine both work.
    """

    def __init__(self, conn: AsyncConnection, reader: AsyncConnection, target: TransactionTarget,
                 remittance_id: UUID, header: Remittance835) -> None:
        self.conn, self.reader, self.target, self.remittance_id, self.header = conn, reader, target, remittance_id, header
        self.problems: list[PostingProblem] = []
        self.claim_count = 0
        self.candidate_searches = 0

    async def prepare(self, claims: list[ClaimPayment]) -> _PreparedBatch:
        first = self.claim_count
        self.claim_count += len(claims)
        sequences = range(first, first + len(claims))
        expected = await self._expected(claims, sequences)
        originals = await self._originals([expected.get(s) for s, c in zip(sequences, claims)
                                           if c.status_code == REVERSAL and expected.get(s) is not None])
        batch = _PreparedBatch(rates=await load_contracted_rates(
            self.reader, self.target.tenant_id, self.target.payer_id,
            [key for c in claims for key in _line_keys(c)]))
        for sequence, claim in zip(sequences, claims):
            target = expected.get(sequence)
            if target is None:
                await self._unmatched_claim(sequence, claim)
                continue
            manual_lines = {line: match.line_number for (claim_seq, line), match in self.target.manual.items()
                            if claim_seq == sequence and line is not None}
            matching = match_lines(claim, target.patient_control_number,
                                   [BilledLine.from_json(line) for line in target.lines], manual_lines)
            for line in matching.unmatched:
                self.problems.append(PostingProblem(
                    sequence, line.line_sequence, "line", line.reason, claim.patient_control_number,
                    claim.payer_claim_control_number, claim_summary(claim) | {"line_sequence": line.line_sequence},
                    [Candidate(c.score, c.line_number, str(target.claim_id), target.patient_control_number,
                               c.agrees_on) for c in line.candidates]))
            if not matching.complete:
                continue
            original = originals.get(target.claim_id) if claim.status_code == REVERSAL else None
            if claim.status_code == REVERSAL and original is None and (sequence, None) not in self.target.manual:
                self.problems.append(PostingProblem(
                    sequence, None, "reversal", "reverses a payment that was never posted here",
                    claim.patient_control_number, claim.payer_claim_control_number, claim_summary(claim),
                    [Candidate(1.0, claim_id=str(target.claim_id), patient_control_number=target.patient_control_number)]))
                continue
            if self.problems:
                continue  # the transaction set will be held: keep finding problems, stop building rows
            self._post(batch, sequence, claim, target, original, matching.line_numbers)
        return batch

    def _post(self, batch: _PreparedBatch, sequence: int, claim: ClaimPayment, target, original: UUID | None,
              line_numbers: list[int]) -> None:
        posting = post_claim(claim, line_numbers)
        payment_id = uuid4()
        batch.payments.append(self._payment_row(payment_id, sequence, claim, target, posting, original))
        batch.journal += [self._journal_row(payment_id, target.claim_id, entry) for entry in posting.journal]
        batch.events += claim_events.for_posting(self.target, self.remittance_id, claim, target, posting)
        if not posting.is_reversal:
            batch.priced.append((target.claim_id, [_facts(line) for line in posting.lines
                                                   if line.service_date is not None]))
        if original is not None:
            batch.reversed_ids.append((original, payment_id))

    async def write(self, batch: _PreparedBatch) -> None:
        if self.problems:
            return  # held: nothing of the transaction set is written
        await copy_rows(self.conn, claim_payments, batch.payments)
        await copy_rows(self.conn, journal_entries, batch.journal)
        for original, reversal in batch.reversed_ids:
            await self.conn.execute(claim_payments.update().where(claim_payments.c.id == original)
                                    .values(reversed_by=reversal))
        for claim_id, facts in batch.priced:
            batch.events += await record_variances(self.conn, self.target.tenant_id, self.remittance_id,
                                                   self.target.payer_id, claim_id, facts, rates=batch.rates)
        if batch.events:
            await stage_events(self.conn, batch.events, source=SOURCE, aggregate_type="remittance")

    async def _expected(self, claims: list[ClaimPayment], sequences: range) -> dict[int, sa.Row]:
        """The billed claim for each position: a person's match first, else CLP01."""
        manual = {s: self.target.manual[(s, None)].claim_id for s in sequences if (s, None) in self.target.manual}
        pcns = list({claim.patient_control_number for claim in claims})
        rows = (await self.reader.execute(sa.select(expected_claims).where(
            expected_claims.c.tenant_id == self.target.tenant_id,
            sa.or_(expected_claims.c.patient_control_number.in_(pcns),
                   expected_claims.c.claim_id.in_(list(manual.values())))))).all()
        by_pcn = {row.patient_control_number: row for row in rows}
        by_id = {row.claim_id: row for row in rows}
        found = {}
        for sequence, claim in zip(sequences, claims):
            row = by_id.get(manual[sequence]) if sequence in manual else by_pcn.get(claim.patient_control_number)
            if row is not None:
                found[sequence] = row
        return found

    async def _originals(self, targets: list) -> dict[UUID, UUID]:
        """For reversals: the latest standing payment of each claim (the one CLP02 22 takes back)."""
        if not targets:
            return {}
        rows = (await self.reader.execute(
            sa.select(claim_payments.c.claim_id, claim_payments.c.id)
            .join(remittances, remittances.c.id == claim_payments.c.remittance_id)
            .where(claim_payments.c.claim_id.in_([t.claim_id for t in targets]),
                   claim_payments.c.reversed_by.is_(None), claim_payments.c.reversal_of.is_(None),
                   claim_payments.c.claim_status_code.is_distinct_from(REVERSAL))
            .order_by(remittances.c.received_at))).all()
        return {row.claim_id: row.id for row in rows}  # later rows win: the latest payment

    async def _unmatched_claim(self, sequence: int, claim: ClaimPayment) -> None:
        candidates: list[Candidate] = []
        if self.candidate_searches < MAX_CANDIDATE_SEARCHES:
            self.candidate_searches += 1
            candidates = await claim_candidates(self.reader, self.target.tenant_id, claim)
        self.problems.append(PostingProblem(
            sequence, None, "claim", "no claim we billed has this patient control number (CLP01)",
            claim.patient_control_number, claim.payer_claim_control_number, claim_summary(claim), candidates))

    def _payment_row(self, payment_id: UUID, sequence: int, claim: ClaimPayment, target, posting: ClaimPosting,
                     original: UUID | None) -> dict:
        crossover = claim.crossover_carrier
        return dict(
            id=payment_id, tenant_id=self.target.tenant_id, remittance_id=self.remittance_id, claim_id=target.claim_id,
            outcome=posting.outcome, charge_amount=posting.charge_amount, allowed_amount=posting.allowed_amount,
            paid_amount=posting.paid_amount, patient_responsibility_amount=posting.patient_responsibility_amount,
            denied_amount=posting.denied_amount, payer_claim_control_number=claim.payer_claim_control_number,
            claim_status_code=claim.status_code, sequence=sequence, reversal_of=original, reversed_by=None,
            crossover_payer_name=crossover.last_name if crossover else None,
            crossover_payer_id=crossover.identifier if crossover else None)

    def _journal_row(self, journal_id: UUID, claim_id: UUID, entry) -> dict:
        return dict(tenant_id=self.target.tenant_id, journal_id=journal_id, remittance_id=self.remittance_id,
                    claim_id=claim_id, line_number=entry.line_number, account=entry.account,
                    group_code=entry.group_code, reason_code=entry.reason_code, amount=entry.amount)


async def claim_candidates(conn: AsyncConnection, tenant_id: str, claim: ClaimPayment) -> list[Candidate]:
    """Billed claims that might be the one an unmatched ERA claim pays, scored, best first."""
    prefix = claim.patient_control_number[:8]
    rows = (await conn.execute(sa.select(expected_claims).where(
        expected_claims.c.tenant_id == tenant_id,
        sa.or_(expected_claims.c.total_charge == abs(claim.charge),
               expected_claims.c.patient_control_number.like(prefix.replace("%", r"\%") + "%")))
        .order_by(expected_claims.c.submitted_at.desc()).limit(50))).all()
    scored = sorted((score_claim(claim, row) for row in rows), key=lambda c: -c.score)
    return [c for c in scored if c.score > 0][:5]


async def post_transaction(engine: AsyncEngine, target: TransactionTarget, header: Remittance835,
                           claims: Iterator[ClaimPayment], conn: AsyncConnection | None = None) -> TransactionOutcome:
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
        await (transaction.commit() if posted else transaction.rollback())
    if outcome.status == "held":
        await _hold(engine, target, header, outcome)
    return outcome


async def _post_claims(poster: _ClaimPoster, balancer: RemittanceBalancer, claims: Iterator[ClaimPayment]) -> None:
    """Batch by batch: parse (in a thread) and prepare the next while the previous one is written."""
    writing: asyncio.Task | None = None
    batches = _batches(claims, CLAIM_BATCH)
    try:
        while batch := await asyncio.to_thread(next, batches, None):
            for claim in batch:
                balancer.add_claim(claim)
            prepared = await poster.prepare(batch)
            if writing is not None:
                await writing
            writing = asyncio.create_task(poster.write(prepared))
        if writing is not None:
            await writing
    finally:
        if writing is not None and not writing.done():
            writing.cancel()
            await asyncio.gather(writing, return_exceptions=True)


async def _attempt(engine: AsyncEngine, conn: AsyncConnection, target: TransactionTarget, header: Remittance835,
                   claims: Iterator[ClaimPayment], outcome: TransactionOutcome) -> bool:
    """Post inside the caller's transaction; False (and the outcome says why) if it must roll back."""
    duplicate = await _claim_payment_slot(conn, target, outcome)
    if duplicate is not None:
        outcome.status, outcome.duplicate_of = "duplicate", duplicate
        drain(claims)
        return False
    balancer = RemittanceBalancer()
    async with engine.connect() as reader:
        poster = _ClaimPoster(conn, reader, target, outcome.remittance_id, header)
        await _post_claims(poster, balancer, claims)
    differences = balancer.finish(header)
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
    events = [contracts.RemittanceReceived(
        tenant_id=target.tenant_id, remittance_id=outcome.remittance_id, payer_id=target.payer_id,
        trace_number=outcome.trace_number, payment_amount=outcome.payment_amount,
        payment_date=outcome.payment_date, claim_count=outcome.claim_count, received_at=outcome.received_at)]
    events += claim_events.for_provider_adjustments(target, outcome.remittance_id, header.provider_adjustments)
    events += await _reassociate(conn, target, header, outcome)
    await stage_events(conn, events, source=SOURCE, aggregate_type="remittance")


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
        await conn.execute(unmatched_items.delete().where(unmatched_items.c.remittance_id == outcome.remittance_id,
                                                          unmatched_items.c.status == "open"))
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


async def manual_matches(conn: AsyncConnection, remittance_id: UUID) -> dict[tuple[int, int | None], ManualMatch]:
    rows = (await conn.execute(sa.select(unmatched_items).where(
        unmatched_items.c.remittance_id == remittance_id, unmatched_items.c.status == "matched"))).all()
    return {(row.claim_sequence, row.line_sequence): ManualMatch(row.matched_claim_id, row.matched_line_number)
            for row in rows}
