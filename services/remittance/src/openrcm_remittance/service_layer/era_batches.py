"""One batch of an 835 transaction set's claims, matched, balanced and turned into rows to write.

`prepare_batch` does everything for up to a thousand claims that does not need the posting's own
transaction: it balances each claim, reads what was billed (committed data), matches lines, applies
the posting rules and builds the claim payments, ledger entries, variances and outbox events as
COPY text. What it returns is plain data, so it can run in a worker process
(`posting_workers`) as well as in the service's own: the posting transaction then only streams the
bytes to PostgreSQL, in batch order. See `era_posting` for the transaction around it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from openrcm_remittance.adapters.tables import (
    claim_payments, expected_claims, journal_entries, payment_variances, remittances,
)
from openrcm_remittance.domain.fee_schedules import LineKey, PostedLineFacts
from openrcm_remittance.domain.ledger import UnbalancedJournal
from openrcm_remittance.domain.matching import BilledLine, Candidate, match_lines, score_claim
from openrcm_remittance.domain.posting import REVERSAL, ClaimPosting, PostedLine, line_service_date, post_claim
from openrcm_remittance.service_layer import SOURCE, claim_events
from openrcm_remittance.service_layer.fee_schedules import assess_variances, load_contracted_rates
from openrcm_shared import pg_copy
from openrcm_shared.ids import uuid7
from openrcm_shared.messaging.outbox import outbox_copy
from openrcm_shared.money import ZERO
from openrcm_shared.pg_copy import NULL, CopyData
from openrcm_shared.x12.balancing import BalancingDifference, BalancingLevel, balance_claim
from openrcm_shared.x12.remittance_835 import ClaimFragment, ClaimPayment, parse_claim_fragment

PAYMENT_COLUMNS = ("id", "tenant_id", "remittance_id", "claim_id", "outcome", "charge_amount", "allowed_amount",
                   "paid_amount", "patient_responsibility_amount", "denied_amount", "payer_claim_control_number",
                   "claim_status_code", "sequence", "reversal_of", "reversed_by", "crossover_payer_name",
                   "crossover_payer_id")
JOURNAL_COLUMNS = ("tenant_id", "journal_id", "remittance_id", "claim_id", "line_number", "account", "group_code",
                   "reason_code", "amount")


@dataclass(frozen=True)
class ManualMatch:
    claim_id: UUID
    line_number: int | None


def _standing_payments(claim_ids: list[UUID]) -> sa.Select:
    """The claims' payments that stand: posted, neither a reversal nor taken back by one."""
    return (sa.select(claim_payments.c.claim_id, claim_payments.c.id)
            .join(remittances, remittances.c.id == claim_payments.c.remittance_id)
            .where(claim_payments.c.claim_id.in_(claim_ids),
                   claim_payments.c.reversed_by.is_(None), claim_payments.c.reversal_of.is_(None),
                   claim_payments.c.claim_status_code.is_distinct_from(REVERSAL)))


async def latest_standing_payment(conn: AsyncConnection, claim_id: UUID, *, lock: bool = False) -> UUID | None:
    """The payment a reversal of the claim takes back: its latest standing one; with `lock`, locked
    FOR UPDATE in `conn`'s transaction. Under READ COMMITTED a row another transaction took back
    while this one waited is re-checked and dropped, and LIMIT 1 may then return nothing although
    an older payment stands: asked again (a few times) before saying none stands."""
    query = _standing_payments([claim_id]).order_by(remittances.c.received_at.desc(), claim_payments.c.id.desc())
    query = query.limit(1)
    if lock:
        query = query.with_for_update(of=claim_payments)
    for _ in range(3):
        row = (await conn.execute(query)).first()
        if row is not None or not lock:
            return row.id if row is not None else None
    return None


@dataclass(frozen=True)
class ReversalLink:
    """A reversal (CLP02 22) in a batch and the payment it was prepared against. The payment row
    is written without its link; the writer links it, in the posting transaction, to the claim's
    payment that stands when it writes (locked, so a concurrent posting cannot take the same one)."""

    claim_id: UUID
    prepared_original: UUID
    reversal: UUID
    claim_sequence: int
    patient_control_number: str
    payer_claim_control_number: str | None


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
class BatchJob:
    """What a batch needs to be prepared anywhere: whose posting it is, where its claims sit in the
    transaction set, and the claims themselves (as a fragment of X12 text, or already parsed)."""

    tenant_id: str
    payer_id: str
    remittance_id: UUID
    first_sequence: int  # position of the batch's first claim in the transaction set (0-based)
    manual: dict[tuple[int, int | None], ManualMatch]  # a person's matches for these positions
    candidate_searches_left: int  # unmatched claims get scored candidates, up to this many searches
    build_rows: bool  # False once the transaction set is known to be held: only problems are wanted
    correlation_id: str | None
    traceparent: str | None
    fragment: ClaimFragment | None = None
    claims: list[ClaimPayment] | None = None


@dataclass
class BatchResult:
    claim_count: int = 0
    total_paid: Decimal = ZERO  # sum of CLP04, for the transaction-level balance
    differences: list[BalancingDifference] = field(default_factory=list)
    problems: list[PostingProblem] = field(default_factory=list)
    candidate_searches: int = 0
    copies: list[CopyData] = field(default_factory=list)  # in writing order; the outbox last
    reversals: list["ReversalLink"] = field(default_factory=list)


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


def _optional(value) -> str:
    return NULL if value is None else str(value)


async def prepare_batch(reader: AsyncConnection, job: BatchJob) -> BatchResult:
    """Balance, match and post one batch (reads on `reader`, committed data only; writes nothing)."""
    claims = job.claims if job.claims is not None else parse_claim_fragment(job.fragment)
    return await _BatchPreparer(reader, job, claims).run()


class _BatchPreparer:
    def __init__(self, reader: AsyncConnection, job: BatchJob, claims: list[ClaimPayment]) -> None:
        self.reader, self.job, self.claims = reader, job, claims
        self.result = BatchResult(claim_count=len(claims))
        self.payments: list[str] = []
        self.journal: list[str] = []
        self.variances: list[str] = []
        self.events: list = []
        self.rates = None
        # Text of values that are the same on every row of the batch, escaped once.
        self.tenant = pg_copy.text(job.tenant_id)
        self.remittance = str(job.remittance_id)
        self._codes: dict[str | None, str] = {}  # group and reason codes repeat on every claim

    def _code(self, value: str | None) -> str:
        text = self._codes.get(value)
        if text is None:
            text = self._codes[value] = pg_copy.text(value)
        return text

    async def run(self) -> BatchResult:
        job, result, claims = self.job, self.result, self.claims
        sequences = range(job.first_sequence, job.first_sequence + len(claims))
        for sequence, claim in zip(sequences, claims):
            result.total_paid += claim.paid
            result.differences += balance_claim(claim, sequence + 1)
        expected = await self._expected(sequences)
        originals = await self._originals([expected[s] for s, c in zip(sequences, claims)
                                           if c.status_code == REVERSAL and s in expected])
        self.rates = await load_contracted_rates(self.reader, job.tenant_id, job.payer_id,
                                                 [key for c in claims for key in _line_keys(c)])
        for sequence, claim in zip(sequences, claims):
            await self._claim(sequence, claim, expected.get(sequence), originals)
        if job.build_rows and not result.problems:
            result.copies = [CopyData(claim_payments.name, PAYMENT_COLUMNS, self.payments),
                             CopyData(journal_entries.name, JOURNAL_COLUMNS, self.journal),
                             CopyData(payment_variances.name, _VARIANCE_COLUMNS, self.variances),
                             outbox_copy(self.events, source=SOURCE, aggregate_type="remittance",
                                         correlation_id=job.correlation_id, traceparent=job.traceparent)]
        return result

    async def _claim(self, sequence: int, claim: ClaimPayment, target, originals: dict[UUID, UUID]) -> None:
        job, problems = self.job, self.result.problems
        if target is None:
            await self._unmatched_claim(sequence, claim)
            return
        manual_lines = {line: match.line_number for (claim_seq, line), match in job.manual.items()
                        if claim_seq == sequence and line is not None}
        matching = match_lines(claim, target.patient_control_number,
                               [BilledLine.from_json(line) for line in target.lines], manual_lines)
        for line in matching.unmatched:
            problems.append(PostingProblem(
                sequence, line.line_sequence, "line", line.reason, claim.patient_control_number,
                claim.payer_claim_control_number, claim_summary(claim) | {"line_sequence": line.line_sequence},
                [Candidate(c.score, c.line_number, str(target.claim_id), target.patient_control_number,
                           c.agrees_on) for c in line.candidates]))
        if not matching.complete:
            return
        original = originals.get(target.claim_id) if claim.status_code == REVERSAL else None
        if claim.status_code == REVERSAL and original is None and (sequence, None) not in job.manual:
            problems.append(PostingProblem(
                sequence, None, "reversal", "reverses a payment that was never posted here",
                claim.patient_control_number, claim.payer_claim_control_number, claim_summary(claim),
                [Candidate(1.0, claim_id=str(target.claim_id), patient_control_number=target.patient_control_number)]))
            return
        if problems or self.result.differences or not job.build_rows:
            # The transaction set will be held (a claim not matched, or one whose own amounts do not
            # balance, which cannot be posted as a balanced journal): keep finding problems, stop
            # building rows.
            return
        self._post(sequence, claim, target, original, matching.line_numbers)

    def _post(self, sequence: int, claim: ClaimPayment, target, original: UUID | None,
              line_numbers: list[int]) -> None:
        try:
            posting = post_claim(claim, line_numbers)
        except UnbalancedJournal as unbalanced:
            # Amounts the balancing rules let through but no balanced journal can carry: held like
            # an unbalanced claim, never a failed posting.
            self.result.differences.append(BalancingDifference(
                BalancingLevel.CLAIM, claim.paid - unbalanced.excess, claim.paid, claim.patient_control_number,
                sequence + 1, None, claim.segment_number))
            return
        payment_id = uuid7()  # time-ordered, so the payment and journal indexes grow at their end
        # reversal_of is set by the writer (ReversalLink), not baked into the row.
        self.payments.append(self._payment_line(payment_id, sequence, claim, target, posting, None))
        journal_prefix = f"{self.tenant}\t{payment_id}\t{self.remittance}\t{target.claim_id}\t"
        code = self._code
        self.journal += [f"{journal_prefix}{_optional(entry.line_number)}\t{entry.account}\t"
                         f"{code(entry.group_code)}\t{code(entry.reason_code)}\t{entry.amount}\n"
                         for entry in posting.journal]
        self.events += claim_events.for_posting(self.job, self.job.remittance_id, claim, target, posting)
        if not posting.is_reversal:
            self._variances(target.claim_id, [_facts(line) for line in posting.lines if line.service_date is not None])
        if original is not None:
            self.result.reversals.append(ReversalLink(target.claim_id, original, payment_id, sequence,
                                                      claim.patient_control_number, claim.payer_claim_control_number))

    def _variances(self, claim_id: UUID, facts: list[PostedLineFacts]) -> None:
        if not self.rates.has_rates:
            return
        rows, events = assess_variances(self.job.tenant_id, self.job.remittance_id, self.job.payer_id, claim_id,
                                        facts, self.rates)
        self.variances += [pg_copy.row([row[column] for column in _VARIANCE_COLUMNS]) for row in rows]
        self.events += events

    def _payment_line(self, payment_id: UUID, sequence: int, claim: ClaimPayment, target, posting: ClaimPosting,
                      original: UUID | None) -> str:
        crossover = claim.crossover_carrier
        return "\t".join((
            str(payment_id), self.tenant, self.remittance, str(target.claim_id), posting.outcome,
            str(posting.charge_amount), str(posting.allowed_amount), str(posting.paid_amount),
            str(posting.patient_responsibility_amount), str(posting.denied_amount),
            pg_copy.text(claim.payer_claim_control_number), pg_copy.text(claim.status_code), str(sequence),
            _optional(original), NULL, pg_copy.text(crossover.last_name if crossover else None),
            pg_copy.text(crossover.identifier if crossover else None))) + "\n"

    async def _expected(self, sequences: range) -> dict[int, sa.Row]:
        """The billed claim for each position: a person's match first, else CLP01."""
        job = self.job
        manual = {s: job.manual[(s, None)].claim_id for s in sequences if (s, None) in job.manual}
        pcns = list({claim.patient_control_number for claim in self.claims})
        rows = (await self.reader.execute(sa.select(expected_claims).where(
            expected_claims.c.tenant_id == job.tenant_id,
            sa.or_(expected_claims.c.patient_control_number.in_(pcns),
                   expected_claims.c.claim_id.in_(list(manual.values())))))).all()
        by_pcn = {row.patient_control_number: row for row in rows}
        by_id = {row.claim_id: row for row in rows}
        found = {}
        for sequence, claim in zip(sequences, self.claims):
            row = by_id.get(manual[sequence]) if sequence in manual else by_pcn.get(claim.patient_control_number)
            if row is not None:
                found[sequence] = row
        return found

    async def _originals(self, targets: list) -> dict[UUID, UUID]:
        """For reversals: the latest standing payment of each claim (the one CLP02 22 takes back)."""
        if not targets:
            return {}
        rows = (await self.reader.execute(_standing_payments([t.claim_id for t in targets])
                                          .order_by(remittances.c.received_at))).all()
        return {row.claim_id: row.id for row in rows}  # later rows win: the latest payment

    async def _unmatched_claim(self, sequence: int, claim: ClaimPayment) -> None:
        candidates: list[Candidate] = []
        if self.result.candidate_searches < self.job.candidate_searches_left:
            self.result.candidate_searches += 1
            candidates = await claim_candidates(self.reader, self.job.tenant_id, claim)
        self.result.problems.append(PostingProblem(
            sequence, None, "claim", "no claim we billed has this patient control number (CLP01)",
            claim.patient_control_number, claim.payer_claim_control_number, claim_summary(claim), candidates))


_VARIANCE_COLUMNS = tuple(column.name for column in payment_variances.columns)
