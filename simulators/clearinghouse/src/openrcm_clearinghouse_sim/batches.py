"""Received batches: idempotent intake, background validation, acknowledgement delivery.

The store is in memory (a simulator restarts clean). A batch is kept with its raw 837 bytes from the
moment it is accepted; an `Idempotency-Key` seen again with the same bytes returns the same batch
and starts nothing new, with other bytes it is refused (422).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone

import pyx12.errors

from openrcm_clearinghouse_sim.acknowledgements import (
    ClearinghouseIdentity,
    InterchangeCheck,
    FileAcknowledgements,
    acknowledge_file,
)
from openrcm_clearinghouse_sim.delivery import OutboundDocument, WebhookSender
from openrcm_clearinghouse_sim.intake import ReceivedGroup, ReceivedInterchange, UnreadableFile, read_837_file
from openrcm_clearinghouse_sim.rules import RejectionRule
from openrcm_clearinghouse_sim.validation import pyx12_can_validate, validate_interchange

log = logging.getLogger(__name__)


class IdempotencyConflict(Exception):
    """The key was used before with a different file."""


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
    documents: list[OutboundDocument] = field(default_factory=list)

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
        }


class Clearinghouse:
    """The simulator's state and its two background workers (validation, delivery)."""

    def __init__(self, *, identity: ClearinghouseIdentity, sender: WebhookSender, rules: list[RejectionRule]) -> None:
        self.identity = identity
        self.sender = sender
        self.rules = list(rules)
        self.batches: dict[str, Batch] = {}
        self._by_key: dict[str, Batch] = {}
        self._pending: asyncio.Queue[Batch] = asyncio.Queue()

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
            interchanges, checks = await asyncio.to_thread(_read_and_validate, batch.raw_x12)
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
            self.sender.enqueue(document)

    def redeliver(self, batch: Batch) -> list[OutboundDocument]:
        """Queue again, in order, every document of the batch not yet delivered."""
        again = [document for document in batch.documents if document.status in ("failed", "held")]
        for document in again:
            document.status, document.attempts = "pending", 0
            self.sender.enqueue(document)
        return again


def _read_and_validate(raw_x12: bytes) -> tuple[list[ReceivedInterchange], list[InterchangeCheck]]:
    interchanges = read_837_file(raw_x12)
    return interchanges, [_validate(interchange) for interchange in interchanges]


def _validate(interchange: ReceivedInterchange) -> InterchangeCheck:
    """pyx12 over the groups it can validate; their findings line up with `interchange.groups`."""
    validated = [group for group in interchange.groups if pyx12_can_validate(group.functional_id, group.version)]
    if not validated:
        return InterchangeCheck([None] * len(interchange.groups))
    try:
        findings = validate_interchange(interchange_text(interchange, validated))
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
