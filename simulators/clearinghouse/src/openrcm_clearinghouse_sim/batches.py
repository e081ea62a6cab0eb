"""Received batches: idempotent intake, background validation, acknowledgement delivery, and the
simulated payer's adjudication with its 835s.

The store is in memory (a simulator restarts clean). A batch is kept with its raw 837 bytes from the
moment it is accepted; an `Idempotency-Key` seen again with the same bytes returns the same batch
and starts nothing new, with other bytes it is refused (422).

Adjudication: `adjudication_delay_seconds` after a batch's 277CA is built, each claim it accepted
(A2) is decided by the first adjudication rule that catches it (rules in force at that moment; no
rule, no 835). The decisions become ERAs (remittance_advice.py), written with the shared 835
writer (which refuses anything unbalanced) and delivered as `<batch id>.835.<n>` to the remittance
webhook, each held until the batch's 277CA was delivered. A reverse-and-correct rule schedules a
second run `correction_delay_seconds` later whose ERA reverses the first payment and pays the
corrected claim; that ERA also waits for the one carrying the original payment.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from decimal import Decimal

import pyx12.errors

from openrcm_shared.x12.remittance_835 import Remittance835
from openrcm_shared.x12.remittance_835_writer import Remittance835WriteError, write_835
from openrcm_clearinghouse_sim.acknowledgements import (
    ClearinghouseIdentity,
    InterchangeCheck,
    FileAcknowledgements,
    acknowledge_file,
    reply_envelope,
)
from openrcm_clearinghouse_sim.adjudication import (
    CannotAdjudicate, price_claim, provider_adjustments_for, reversal_of,
)
from openrcm_clearinghouse_sim.adjudication_rules import AdjudicationRule, rule_for
from openrcm_clearinghouse_sim.coordination_of_benefits import adjudicate
from openrcm_clearinghouse_sim.appeals import AppealIn, PayerAppeal
from openrcm_clearinghouse_sim.delivery import REMITTANCES, OutboundDocument, WebhookSender
from openrcm_clearinghouse_sim.remittance_advice import (
    ClaimDecision, ForwardBalances, TraceNumbers, fiscal_period_end, plan_remittances,
)
from openrcm_clearinghouse_sim.intake import (
    ReceivedGroup, ReceivedInterchange, UnreadableFile, read_837_file_checked,
)
from openrcm_clearinghouse_sim.rules import RejectionRule
from openrcm_clearinghouse_sim.validation import envelope_findings, pyx12_can_validate, validate_interchange

log = logging.getLogger(__name__)


class IdempotencyConflict(Exception):
    """The key was used before with a different file."""


@dataclass
class RemittanceRecord:
    """One 835 the simulator produced (one ERA, its own interchange) and its delivery."""

    batch_id: str
    remittance: Remittance835  # as planned (its envelope fields are in the X12 text, not here)
    x12: str
    document: OutboundDocument
    created_at: datetime
    decisions: tuple[ClaimDecision, ...] = field(default=(), repr=False)  # the claims it carries

    def view(self) -> dict:
        remittance = self.remittance
        return {
            "webhook_id": self.document.webhook_id, "batch_id": self.batch_id,
            "created_at": self.created_at.isoformat(), "trace_number": remittance.trace.trace_number,
            "payer_id": next((ref.value for ref in remittance.payer.references if ref.qualifier == "2U"), None),
            "payee_npi": remittance.payee.identifier,
            "transaction_handling_code": remittance.payment.transaction_handling_code,
            "payment_amount": _money(remittance.payment.amount),
            "claims": [{"patient_control_number": claim.patient_control_number, "status_code": claim.status_code,
                        "charge": _money(claim.charge), "paid": _money(claim.paid),
                        "patient_responsibility": _money(claim.patient_responsibility or Decimal(0)),
                        "payer_claim_control_number": claim.payer_claim_control_number}
                       for claim in remittance.claims],
            "provider_adjustments": [{"reason_code": adjustment.reason_code, "amount": _money(adjustment.amount),
                                      "reference": adjustment.reference}
                                     for adjustment in remittance.provider_adjustments],
            "delivery": self.document.summary(), "x12": self.x12,
        }


@dataclass
class Batch:
    batch_id: str
    idempotency_key: str
    body_sha256: str
    raw_x12: bytes
    received_at: datetime
    status: str = "received"  # received | validating | acknowledged | failed
    error: str | None = None
    acknowledgements: FileAcknowledgements | None = None
    interchange_errors: list[str] = field(default_factory=list)
    documents: list[OutboundDocument] = field(default_factory=list)  # the 999s and the 277CA
    remittances: list[RemittanceRecord] = field(default_factory=list)  # the 835s, in the order produced

    @property
    def trace_number(self) -> str:
        """The clearinghouse's own trace for this file (277CA TRN and REF*D9 are built on it)."""
        return "CH" + uuid.UUID(self.batch_id).hex[:10].upper()

    def receipt(self) -> dict:
        """The 202 body; the same for every replay of the same Idempotency-Key."""
        return {"batch_id": self.batch_id, "status": "received", "received_at": self.received_at.isoformat()}

    def view(self) -> dict:
        acks = self.acknowledgements
        return {
            "batch_id": self.batch_id, "status": self.status, "error": self.error,
            "received_at": self.received_at.isoformat(), "trace_number": self.trace_number,
            "interchange_errors": self.interchange_errors,
            "acknowledgements_999": acks.acknowledgements_999 if acks else [],
            "claim_acknowledgement_277ca": acks.claim_acknowledgement_277ca if acks else None,
            "claims": [vars(claim) for claim in acks.claims] if acks else [],
            "deliveries": [document.summary() for document in self.documents],
            "remittances": [record.document.summary() for record in self.remittances],
        }

    @property
    def claim_acknowledgement_document(self) -> OutboundDocument | None:
        return next((document for document in self.documents if document.kind == "277CA"), None)


class Clearinghouse:
    """The simulator's state, its two background workers (validation, delivery) and the timers of
    pending adjudications."""

    def __init__(self, *, identity: ClearinghouseIdentity, sender: WebhookSender, rules: list[RejectionRule],
                 adjudication_rules: Iterable[AdjudicationRule] = (), adjudication_delay_seconds: float = 0.5,
                 front_end_validator: str = "pyx12") -> None:
        self.identity = identity
        self.front_end_validator = front_end_validator  # settings.FRONT_END_VALIDATORS
        self.sender = sender
        self.rules = list(rules)
        self.adjudication_rules = list(adjudication_rules)
        self.adjudication_delay_seconds = adjudication_delay_seconds
        self.batches: dict[str, Batch] = {}
        self.remittances: list[RemittanceRecord] = []
        # Every document produced, in order: the mailbox receivers list and download (GET /v1/mailbox).
        self.mailbox: list[OutboundDocument] = []
        self._mailbox_by_id: dict[str, OutboundDocument] = {}
        self.forward_balances = ForwardBalances()
        self.trace_numbers = TraceNumbers()
        self._by_key: dict[str, Batch] = {}
        self.appeals: dict[str, PayerAppeal] = {}  # by appeal id (the idempotency key)
        self._pending: asyncio.Queue[Batch] = asyncio.Queue()
        self._timers: set[asyncio.Task] = set()

    def receive(self, idempotency_key: str, raw_x12: bytes) -> tuple[Batch, bool]:
        """Store the file (or find it again by key). Returns the batch and whether it is new."""
        digest = hashlib.sha256(raw_x12).hexdigest()
        known = self._by_key.get(idempotency_key)
        if known is not None:
            if known.body_sha256 != digest:
                raise IdempotencyConflict(idempotency_key)
            return known, False
        batch = Batch(batch_id=str(uuid.uuid4()), idempotency_key=idempotency_key, body_sha256=digest,
                      raw_x12=raw_x12, received_at=datetime.now(timezone.utc))
        self.batches[batch.batch_id] = batch
        self._by_key[idempotency_key] = batch
        self._pending.put_nowait(batch)
        return batch, True

    async def run_validation(self) -> None:
        """Validate batches one at a time, in arrival order (pyx12 runs in a worker thread)."""
        while True:
            batch = await self._pending.get()
            try:
                await self.process(batch)
            except Exception as exc:  # one bad file must not stop the worker
                log.exception("batch processing crashed", extra={"batch_id": batch.batch_id})
                batch.status, batch.error = "failed", f"internal error: {type(exc).__name__}"

    async def process(self, batch: Batch) -> None:
        batch.status = "validating"
        try:
            # Reading and pyx12 are CPU-bound: off the event loop, so the API keeps answering.
            interchanges, checks = await asyncio.to_thread(_read_and_validate, batch.raw_x12,
                                                           self.front_end_validator)
        except UnreadableFile as exc:
            # No envelope to answer with a 999 (a real clearinghouse would send a TA1).
            batch.status, batch.error = "failed", f"unreadable: {exc}"
            return
        for check in checks:
            batch.interchange_errors += check.interchange_errors
        now = datetime.now(timezone.utc)
        batch.acknowledgements = acknowledge_file(
            trace_number=batch.trace_number, interchanges=interchanges, checks=checks, rules=list(self.rules),
            identity=self.identity, received_at=batch.received_at, now=now)
        batch.documents = _documents(batch.batch_id, batch.acknowledgements)
        batch.status = "acknowledged"
        for document in batch.documents:
            self._send(document)
        if batch.acknowledgements.accepted_claims:
            self._later(self.adjudication_delay_seconds, lambda: self.adjudicate(batch))

    def redeliver(self, batch: Batch) -> list[OutboundDocument]:
        """Queue again, in order, every document of the batch not yet delivered (835s last: they
        wait for the 277CA anyway)."""
        documents = [*batch.documents, *(record.document for record in batch.remittances)]
        again = [document for document in documents if document.status in ("failed", "held")]
        for document in again:
            document.status, document.attempts = "pending", 0
            self.sender.enqueue(document)
        return again

    # -- adjudication -----------------------------------------------------------------------------

    def adjudicate(self, batch: Batch) -> list[RemittanceRecord]:
        """Decide every accepted claim of the batch a rule catches, and send the ERAs."""
        assert batch.acknowledgements is not None
        rules = list(self.adjudication_rules)
        fiscal_end = fiscal_period_end(_today())
        decisions: list[ClaimDecision] = []
        corrections: dict[float, list[tuple[ClaimDecision, AdjudicationRule]]] = {}
        for accepted in batch.acknowledgements.accepted_claims:
            rule = rule_for(rules, accepted.claim)
            if rule is None:
                continue
            try:
                payment = adjudicate(accepted, rule)  # as primary, or under COB as the next payer
            except CannotAdjudicate as exc:
                log.warning("claim not adjudicated", extra={"batch_id": batch.batch_id, "reason": str(exc)})
                continue
            decision = ClaimDecision(accepted, [payment], provider_adjustments_for(
                rule, payment, accepted.claim.billing_provider.identifier, fiscal_end))
            decisions.append(decision)
            if rule.action == "reverse_and_correct":
                delay = self.adjudication_delay_seconds if rule.correction_delay_seconds is None \
                    else rule.correction_delay_seconds
                corrections.setdefault(delay, []).append((decision, rule))
        records = self._issue(batch, decisions, ())
        for delay, items in corrections.items():
            originals = _documents_carrying([decision for decision, _ in items], records)
            self._later(delay, lambda items=items, originals=originals: self.correct(batch, items, originals))
        return records

    def correct(self, batch: Batch, items: list[tuple[ClaimDecision, AdjudicationRule]],
                originals: tuple[OutboundDocument, ...]) -> list[RemittanceRecord]:
        """The later ERA of reverse-and-correct: CLP02 22 taking the first payment back, then the
        claim paid again by the corrected fee schedule (TR3 section 1.10.2.8)."""
        decisions = []
        for original, rule in items:
            corrected = price_claim(original.accepted, rule, rule.corrected_fee_schedule)
            decisions.append(ClaimDecision(original.accepted, [reversal_of(original.payments[0]), corrected]))
        return self._issue(batch, decisions, originals)

    # -- appeals ----------------------------------------------------------------------------------

    def _last_decision(self, body: AppealIn) -> tuple[Batch, ClaimDecision, RemittanceRecord] | None:
        """The latest 835 decision on the appealed claim (by CLP07, else CLP01, for this payer)."""
        for batch in reversed(list(self.batches.values())):
            for record in reversed(batch.remittances):
                for decision in reversed(record.decisions):
                    accepted = decision.accepted
                    if accepted.claim.payer_id != body.payer_id:
                        continue
                    if (body.payer_claim_control_number and accepted.payer_claim_control_number
                            == body.payer_claim_control_number) or (
                            accepted.claim.patient_control_number == body.patient_control_number):
                        return batch, decision, record
        return None

    def receive_appeal(self, body: AppealIn, packet_bytes: int) -> tuple[PayerAppeal, bool] | None:
        """Take an appeal of a claim this payer decided (None: no such claim); decided after the
        adjudication delay. Returns the appeal and whether it is new."""
        known = self.appeals.get(body.appeal_id)
        if known is not None:
            return known, False
        found = self._last_decision(body)
        if found is None:
            return None
        appeal = PayerAppeal.received(body, packet_bytes)
        self.appeals[body.appeal_id] = appeal
        self._later(self.adjudication_delay_seconds, lambda: self.decide_appeal(appeal, *found))
        return appeal, True

    def decide_appeal(self, appeal: PayerAppeal, batch: Batch, original: ClaimDecision,
                      record: RemittanceRecord) -> None:
        """The rule catching the claim now decides: overturn (reverse the denial, pay by its fee
        schedule, in an 835 sent after the one it corrects) or uphold (no 835)."""
        rule = rule_for(list(self.adjudication_rules), original.accepted.claim)
        appeal.decided_at = datetime.now(timezone.utc)
        if rule is None or rule.appeal != "overturn":
            appeal.decision = "upheld"
            return
        paying = rule.model_copy(update={"action": "pay"})
        payment = price_claim(original.accepted, paying)
        decision = ClaimDecision(original.accepted, [reversal_of(original.payments[-1]), payment])
        [issued] = self._issue(batch, [decision], (record.document,)) or [None]
        appeal.decision = "overturned"
        appeal.remittance_webhook_id = issued.document.webhook_id if issued else None

    def _issue(self, batch: Batch, decisions: list[ClaimDecision],
               also_after: tuple[OutboundDocument, ...]) -> list[RemittanceRecord]:
        """Write each ERA (fail closed: one the writer refuses is logged and not sent) and queue it
        behind the batch's 277CA and `also_after`."""
        acknowledgement = batch.claim_acknowledgement_document
        depends_on = ((acknowledgement,) if acknowledgement else ()) + also_after
        now = datetime.now(timezone.utc)
        records = []
        for era in plan_remittances(decisions, balances=self.forward_balances, traces=self.trace_numbers,
                                    today=now.date()):
            envelope = reply_envelope(era.decisions[0].accepted.interchange, self.identity, now)
            try:
                x12 = write_835(envelope, [era.remittance])
                body = x12.encode("ascii")
            except (Remittance835WriteError, UnicodeEncodeError):
                log.exception("an ERA could not be written; its claims get no 835",
                              extra={"batch_id": batch.batch_id, "trace_number": era.remittance.trace.trace_number})
                continue
            self.forward_balances.apply(era)
            document = OutboundDocument(webhook_id=f"{batch.batch_id}.835.{len(batch.remittances) + 1}", kind="835",
                                        body=body, depends_on=depends_on, destination=REMITTANCES)
            record = RemittanceRecord(batch.batch_id, era.remittance, x12, document, now, era.decisions)
            batch.remittances.append(record)
            self.remittances.append(record)
            records.append(record)
            self._send(document)
        return records

    def _send(self, document: OutboundDocument) -> None:
        """Put a new document in the mailbox and queue its webhook."""
        self.mailbox.append(document)
        self._mailbox_by_id[document.webhook_id] = document
        self.sender.enqueue(document)

    def mailbox_page(self, kinds: set[str], cursor: int, limit: int) -> list[tuple[int, OutboundDocument]]:
        """Documents of these kinds from position `cursor` on, oldest first, each with the position
        after it (where a listing continues)."""
        page = []
        for position in range(max(cursor, 0), len(self.mailbox)):
            document = self.mailbox[position]
            if not kinds or document.kind in kinds:
                page.append((position + 1, document))
                if len(page) == limit:
                    break
        return page

    def mailbox_document(self, document_id: str) -> OutboundDocument | None:
        return self._mailbox_by_id.get(document_id)

    def _later(self, delay: float, job: Callable[[], object]) -> None:
        """Run `job` after `delay` seconds on the event loop; the task is kept until it ends."""
        async def run_later() -> None:
            await asyncio.sleep(delay)
            try:
                job()
            except Exception:  # one failed run must not leave the task's exception unretrieved
                log.exception("adjudication run crashed")

        task = asyncio.create_task(run_later(), name="adjudication")
        self._timers.add(task)
        task.add_done_callback(self._timers.discard)

    async def aclose(self) -> None:
        """Cancel the adjudications still waiting (the simulator is stopping)."""
        timers = list(self._timers)
        for task in timers:
            task.cancel()
        await asyncio.gather(*timers, return_exceptions=True)


def _money(amount: Decimal) -> str:
    """Money as the project's APIs write it: a decimal string with cents ("125.00")."""
    return str(amount.quantize(Decimal("0.01")))


def _today() -> date:
    return datetime.now(timezone.utc).date()


def _documents_carrying(decisions: list[ClaimDecision], records: list[RemittanceRecord]) -> tuple[OutboundDocument, ...]:
    """The 835s that carried these decisions (a correction must not overtake the payment it reverses)."""
    wanted = {id(decision) for decision in decisions}
    return tuple(record.document for record in records
                 if any(id(decision) in wanted for decision in record.decisions))


def _read_and_validate(raw_x12: bytes, front_end_validator: str = "pyx12",
                       ) -> tuple[list[ReceivedInterchange], list[InterchangeCheck]]:
    interchanges, read_strictly = read_837_file_checked(raw_x12)
    # The "envelope" front end (benchmarks only) trusts what the strict reader checked; a file
    # it could not read goes to pyx12 either way, so its 999 says what is wrong.
    envelope_only = front_end_validator == "envelope" and read_strictly
    return interchanges, [_validate(interchange, envelope_only=envelope_only) for interchange in interchanges]


def _validate(interchange: ReceivedInterchange, *, envelope_only: bool = False) -> InterchangeCheck:
    """pyx12 over the groups it can validate; their findings line up with `interchange.groups`."""
    validated = [group for group in interchange.groups if pyx12_can_validate(group.functional_id, group.version)]
    if not validated:
        return InterchangeCheck([None] * len(interchange.groups))
    try:
        findings = (envelope_findings(validated) if envelope_only
                    else validate_interchange(interchange_text(interchange, validated)))
    except (pyx12.errors.X12Error, pyx12.errors.EngineError) as exc:
        log.warning("pyx12 could not process an interchange", extra={"error_class": type(exc).__name__})
        return InterchangeCheck([None] * len(interchange.groups), [f"pyx12: {type(exc).__name__}"])
    # pyx12 reports groups in file order: hand each validated group its findings by position.
    found = iter(findings.groups)
    return InterchangeCheck([next(found, None) if group in validated else None for group in interchange.groups],
                            list(findings.interchange_errors))


def interchange_text(interchange: ReceivedInterchange, groups: list[ReceivedGroup]) -> str:
    """The interchange as X12 text, with only `groups` (IEA01 adjusted when groups were left out,
    so pyx12 judges the claims it can, not our cut)."""
    d = interchange.delimiters
    segments = [interchange.isa, *(segment for group in groups for segment in group.segments)]
    if interchange.iea is not None:
        iea = list(interchange.iea)
        if len(groups) != len(interchange.groups):
            iea[1] = str(len(groups))
        segments.append(iea)
    return "".join(d.element.join(segment) + d.segment for segment in segments)


def _documents(batch_id: str, acknowledgements: FileAcknowledgements) -> list[OutboundDocument]:
    # Stable webhook-ids: the receiver deduplicates a redelivery by them.
    documents = [OutboundDocument(webhook_id=f"{batch_id}.999.{number}", kind="999", body=text.encode("ascii"))
                 for number, text in enumerate(acknowledgements.acknowledgements_999, start=1)]
    if acknowledgements.claim_acknowledgement_277ca is not None:
        documents.append(OutboundDocument(
            webhook_id=f"{batch_id}.277ca", kind="277CA",
            body=acknowledgements.claim_acknowledgement_277ca.encode("ascii"), depends_on=tuple(documents)))
    return documents
