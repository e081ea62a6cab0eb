"""Applying the clearinghouse's acknowledgements to claims.

999 (005010X231A1): per transaction set, accepted (A/E) or rejected (R). ST02 numbers come
from a sequence that never repeats, so AK202 finds the claims of that transaction set; IK3
positions are tied to the claim whose CLM segment precedes them in the file we sent.
277CA (005010X214): per claim (TRN02 = our CLM01), A1 received, A2 accepted into adjudication
(REF*1K = the payer's claim control number), A3/A4/A6/A7/A8 rejected with their status codes.
One delivery is applied in one transaction: all of it or none of it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from openrcm_claims.adapters.tables import claim_submissions, claims, clearinghouse_deliveries, submissions
from openrcm_claims.domain.lifecycle import ClaimStatus, IllegalTransition, check_transition
from openrcm_claims.service_layer.claim_locks import in_lock_order, lock_claims
from openrcm_claims.service_layer.transitions import ClaimMove, move_claims
from openrcm_shared.contracts.claims import (
    ClaimAcceptedByClearinghouse, ClaimAcceptedByPayer, ClaimRejected, ClaimStatusChanged, RejectionReason,
)
from openrcm_shared.clearinghouse_mailbox import MailboxDocument, reconcile_mailbox_forever, stored_in
from openrcm_shared.x12.ack_999 import parse_999
from openrcm_shared.x12.claim_ack_277ca import parse_277ca

log = logging.getLogger(__name__)

# Statuses from which an acknowledgement still applies (a later one may arrive after adjudication).
_AWAITING_ACK = (ClaimStatus.SUBMITTED, ClaimStatus.ACCEPTED_BY_CLEARINGHOUSE)


class MalformedDelivery(Exception):
    """The delivery cannot be read as a 999 or 277CA; it stays stored as failed."""


def document_type(text: str) -> str:
    """ST01 of the first transaction set ('999', '277', ...), from the ISA's own separator."""
    start = text.lstrip("\ufeff \r\n\t")
    if not start.startswith("ISA") or len(start) < 106:
        raise MalformedDelivery("not an X12 interchange (no ISA segment)")
    separator = re.escape(start[3])
    match = re.search(rf"(?:^|[^A-Z0-9])ST{separator}([0-9]{{3}}){separator}", start)
    if match is None:
        raise MalformedDelivery("no transaction set (ST) in the interchange")
    return match.group(1)


async def apply_delivery(engine: AsyncEngine, webhook_id: str) -> dict:
    """Apply a stored delivery exactly once and mark it processed in the same transaction.

    The delivery's row is locked first, so two attempts (the sender's retry, the pending-delivery
    worker) serialize and the second finds it done: `{"already": "processed"}`. A body that cannot
    be read is marked failed with the reason (MalformedDelivery is raised); any other failure (a
    deadlock, a timeout, a lost connection) rolls everything back and leaves the delivery
    `received`, to be applied by the next attempt, and propagates to the caller.
    """
    try:
        async with engine.begin() as conn:
            stored = (await conn.execute(
                sa.select(clearinghouse_deliveries.c.status, clearinghouse_deliveries.c.body)
                .where(clearinghouse_deliveries.c.webhook_id == webhook_id).with_for_update())).one()
            if stored.status != "received":
                return {"already": stored.status}
            text = bytes(stored.body).decode("latin-1")
            kind = document_type(text)
            if kind == "999":
                outcome = await _apply_999(conn, text)
            elif kind == "277":
                outcome = await _apply_277ca(conn, text)
            else:
                raise MalformedDelivery(f"transaction set {kind} is not an acknowledgement this endpoint takes")
            await _mark(conn, webhook_id, "processed", None)
        return {"document": kind, **outcome}
    except (MalformedDelivery, ValueError) as exc:
        async with engine.begin() as conn:
            await _mark(conn, webhook_id, "failed", str(exc)[:1000])
        raise MalformedDelivery(str(exc)[:300]) from None


async def take_delivery(runtime, webhook_id: str, body: bytes, *, content_type: str | None) -> dict:
    """Store an acknowledgement under its webhook id (kept if that id came before) and apply it
    (`apply_delivery`: raises MalformedDelivery, or answers `{"already": ...}` for one applied
    before), whether it came by webhook or from the clearinghouse's mailbox. A delivery names no
    practice (a 277CA may move several practices' claims): the system role."""
    engine = runtime.system_engine
    async with engine.begin() as conn:
        await conn.execute(pg_insert(clearinghouse_deliveries).values(
            webhook_id=webhook_id, received_at=datetime.now(timezone.utc), content_type=content_type, body=body,
            status="received").on_conflict_do_nothing())
    outcome = await apply_delivery(engine, webhook_id)
    if "already" not in outcome:
        runtime.events_staged()
    return outcome


async def take_missed_acknowledgements(runtime) -> None:
    """Background task: 999s and 277CAs the clearinghouse's mailbox has and no webhook brought."""

    async def receive(document: MailboxDocument, body: bytes) -> None:
        with contextlib.suppress(MalformedDelivery):  # kept as failed, with its reason, as from a webhook
            await take_delivery(runtime, document.id, body, content_type="application/edi-x12")

    await reconcile_mailbox_forever(("999", "277CA"), receive=receive,
                                    known=stored_in(runtime.system_engine, clearinghouse_deliveries.c.webhook_id))


async def pending_delivery_ids(engine: AsyncEngine, *, older_than: timedelta, limit: int = 50) -> list[str]:
    """Deliveries stored but not applied (the request that stored them failed, or the process
    died), oldest first; those younger than `older_than` are left to the request still applying them."""
    async with engine.connect() as conn:
        rows = await conn.execute(sa.select(clearinghouse_deliveries.c.webhook_id).where(
            clearinghouse_deliveries.c.status == "received",
            clearinghouse_deliveries.c.received_at < datetime.now(timezone.utc) - older_than)
            .order_by(clearinghouse_deliveries.c.received_at).limit(limit))
        return [row.webhook_id for row in rows]


async def _mark(conn: AsyncConnection, webhook_id: str, status: str, error: str | None) -> None:
    await conn.execute(clearinghouse_deliveries.update().where(clearinghouse_deliveries.c.webhook_id == webhook_id)
                       .values(status=status, error=error, processed_at=datetime.now(timezone.utc)))


# What applying an acknowledgement reads of a claim: not its encounter document, which would be
# read and decoded from JSON for every claim of the file for nothing.
_ACKED_COLUMNS = (claims.c.id, claims.c.tenant_id, claims.c.status, claims.c.version, claims.c.frequency_code,
                  claims.c.patient_control_number, claims.c.payer_claim_control_number)


async def _claims_of_transaction_sets(conn: AsyncConnection, control_numbers: list[int]) -> dict[int, list]:
    """ST02 -> the claims sent in that transaction set, each list in id order. The claims of every
    set are locked in one statement, in id order: set by set, a 999 answering several would lock
    them in the order of its sets."""
    rows = await lock_claims(conn, sa.select(*_ACKED_COLUMNS, claim_submissions.c.submission_id,
                                             claim_submissions.c.transaction_set_control_number)
                             .join(claim_submissions, sa.and_(claim_submissions.c.claim_id == claims.c.id,
                                                              claim_submissions.c.version == claims.c.version))
                             .where(claim_submissions.c.transaction_set_control_number.in_(control_numbers)))
    by_set: dict[int, list] = {number: [] for number in control_numbers}
    for row in rows:
        by_set[row.transaction_set_control_number].append(row)
    return by_set


def _claims_at_positions(raw_x12: str, control_number: int, positions: list[int]) -> dict[int, frozenset[str]]:
    """IK302 position (1-based, ST = 1) -> the CLM01s of the claims the segment belongs to: the
    claim whose loop 2300/2400 it is in; or, for a segment of an HL loop (billing provider 2000A,
    subscriber 2000B, patient 2000C), every claim under that HL; or, for the header (BHT, 1000A/B),
    every claim of the transaction set."""
    terminator = raw_x12[105]
    separator = raw_x12[3]
    segments = [s.strip() for s in raw_x12.split(terminator)]
    start = next(i for i, s in enumerate(segments)
                 if s.startswith(f"ST{separator}837{separator}") and int(s.split(separator)[2]) == control_number)
    parent_of: dict[str, str] = {}
    claims_by_hl: dict[str, list[str]] = {}
    found: dict[int, tuple[str | None, str | None]] = {}
    current_hl = current_claim = None
    for offset, segment in enumerate(segments[start:], start=1):
        elements = segment.split(separator)
        if elements[0] == "HL":
            current_hl, current_claim = elements[1], None
            parent_of[current_hl] = elements[2]
        elif elements[0] == "CLM":
            current_claim = elements[1]
            claims_by_hl.setdefault(current_hl, []).append(current_claim)
        if offset in positions:
            found[offset] = (current_hl, current_claim)
        if elements[0] == "SE":
            break

    def under(hl: str) -> frozenset[str]:
        owners = set()
        for claim_hl, pcns in claims_by_hl.items():
            ancestor = claim_hl
            while ancestor:
                if ancestor == hl:
                    owners.update(pcns)
                    break
                ancestor = parent_of.get(ancestor)
        return frozenset(owners)

    every_claim = frozenset(pcn for pcns in claims_by_hl.values() for pcn in pcns)
    return {position: frozenset({claim}) if claim else under(hl) if hl else every_claim
            for position, (hl, claim) in found.items()}


async def _apply_999(conn: AsyncConnection, text: str) -> dict:
    """Every claim of an accepted transaction set that is still `submitted` is accepted by the
    clearinghouse; every claim of a rejected one is rejected. All moves are applied together."""
    moves: list[ClaimMove] = []
    answered = [(interchange, transaction_set) for interchange in parse_999(text)
                for group in interchange.groups for transaction_set in group.transaction_sets]
    claims_sent = await _claims_of_transaction_sets(conn, sorted({int(ts.control_number) for _, ts in answered}))
    for interchange, transaction_set in answered:
        rows = claims_sent[int(transaction_set.control_number)]
        if transaction_set.status.accepted:
            moves += [_move(claim, ClaimStatus.ACCEPTED_BY_CLEARINGHOUSE, "acknowledged_999",
                            {"transaction_set": transaction_set.control_number},
                            ClaimAcceptedByClearinghouse(tenant_id=claim.tenant_id, claim_id=claim.id,
                                                         version=claim.version, acknowledgement="999",
                                                         control_number=interchange.interchange_control_number))
                      for claim in rows if ClaimStatus(claim.status) == ClaimStatus.SUBMITTED]
        else:
            moves += await _rejections_999(conn, rows, transaction_set)
    applied = await move_claims(conn, moves)
    return {"accepted": sum(1 for m in applied if m.target == ClaimStatus.ACCEPTED_BY_CLEARINGHOUSE),
            "rejected": sum(1 for m in applied if m.target == ClaimStatus.REJECTED)}


def _move(claim, target: ClaimStatus, kind: str, detail: dict, event, **values) -> ClaimMove:
    return ClaimMove(claim.id, claim.tenant_id, ClaimStatus(claim.status), target, kind, detail, event, values)


async def _rejections_999(conn: AsyncConnection, rows, transaction_set) -> list[ClaimMove]:
    """A rejected transaction set rejects all its claims; IK3/IK4 errors go to the claim they point into."""
    if not rows:
        return []
    raw = (await conn.execute(sa.select(submissions.c.raw_x12)
                              .where(submissions.c.id == rows[0].submission_id))).scalar_one().decode("ascii")
    positions = [error.position for error in transaction_set.segment_errors]
    owners = _claims_at_positions(raw, int(transaction_set.control_number), positions)
    moves = []
    for claim in rows:
        reasons = [RejectionReason(code=f"IK3:{e.error_code or ''}" + "".join(
                       f" IK4:{ie.error_code}" for ie in e.element_errors),
                   segment_id=e.segment_id, element_position=e.element_errors[0].position if e.element_errors else None)
                   for e in transaction_set.segment_errors
                   if claim.patient_control_number in owners.get(e.position, ())]
        reasons = reasons or [RejectionReason(code="IK5:R " + " ".join(transaction_set.error_codes))]
        moves.append(_move(
            claim, ClaimStatus.REJECTED, "rejected_999",
            {"transaction_set": transaction_set.control_number,
             "reasons": [r.model_dump(exclude_none=True) for r in reasons]},
            ClaimRejected(tenant_id=claim.tenant_id, claim_id=claim.id, version=claim.version,
                          acknowledgement="999", reasons=reasons)))
    return moves


# Every claim a 277CA names, read and locked in one statement (TRN02 is our CLM01), in id order
# (service_layer.claim_locks). Built once: a 277CA may name thousands of claims.
_AWAITING_BY_PCN = in_lock_order(sa.select(*_ACKED_COLUMNS).where(
    claims.c.patient_control_number == sa.any_(sa.bindparam("pcns", type_=sa.ARRAY(sa.Text))),
    claims.c.status.in_([s.value for s in _AWAITING_ACK])))


async def _apply_277ca(conn: AsyncConnection, text: str) -> dict:
    counts = {"accepted": 0, "rejected": 0, "unknown_claims": 0}
    acknowledged_claims = [(report.reference, acknowledged) for report in parse_277ca(text)
                           for provider in report.providers for acknowledged in provider.claims]
    pcns = sorted({a.patient_control_number for _, a in acknowledged_claims})
    rows = (await conn.execute(_AWAITING_BY_PCN, {"pcns": pcns})).all() if pcns else []
    # The claim as this delivery leaves it: a claim reported twice is judged on its latest state.
    state = {row.patient_control_number: _AckedClaim.of(row) for row in rows}
    planned: list[tuple[str, ClaimMove]] = []
    for report_reference, acknowledged in acknowledged_claims:
        claim = state.get(acknowledged.patient_control_number)
        if claim is None:
            counts["unknown_claims"] += 1
            continue
        outcome = _claim_status_move(claim, acknowledged, report_reference)
        if outcome is not None:
            planned.append(outcome)
            claim.moved(outcome[1])
    applied = {id(move) for move in await move_claims(conn, [move for _, move in planned])}
    for counted, move in planned:
        counts[counted] += id(move) in applied
    return counts


def _legal(move: ClaimMove) -> bool:
    try:
        check_transition(move.from_status, move.target)
    except IllegalTransition:
        return False
    return True


@dataclass
class _AckedClaim:
    """What the 277CA rules read of a claim, updated as the delivery moves it."""

    id: UUID
    tenant_id: str
    status: str
    version: int
    frequency_code: str
    payer_claim_control_number: str | None

    @classmethod
    def of(cls, row) -> "_AckedClaim":
        return cls(row.id, row.tenant_id, row.status, row.version, row.frequency_code, row.payer_claim_control_number)

    def moved(self, move: ClaimMove) -> None:
        if _legal(move):
            self.status = move.target.value
            self.payer_claim_control_number = move.values.get("payer_claim_control_number",
                                                              self.payer_claim_control_number)


def _claim_status_move(claim: _AckedClaim, acknowledged, report_reference: str | None = None
                       ) -> tuple[str, ClaimMove] | None:
    """(which count it adds to, the move) for one claim's 277CA statuses, or None. The report's
    reference (BHT03) goes on acceptances: the claim's timely-filing proof names it."""
    statuses = [info.status for info in acknowledged.statuses]
    rejected = [s for s in statuses if s.rejected]
    if rejected:
        reasons = [RejectionReason(code=str(s)) for s in rejected]
        return "rejected", _move(
            claim, ClaimStatus.REJECTED, "rejected_277ca", {"reasons": [r.code for r in reasons]},
            ClaimRejected(tenant_id=claim.tenant_id, claim_id=claim.id, version=claim.version,
                          acknowledgement="277CA", reasons=reasons))
    if any(s.category_code == "A2" for s in statuses) and claim.frequency_code == "8":
        return "accepted", _move(
            claim, ClaimStatus.VOIDED, "void_accepted_277ca", {},
            ClaimStatusChanged(tenant_id=claim.tenant_id, claim_id=claim.id, from_status=claim.status,
                               to_status=ClaimStatus.VOIDED.value))
    if any(s.category_code == "A2" for s in statuses):
        pccn = acknowledged.payer_claim_control_number or claim.payer_claim_control_number
        return "accepted", _move(
            claim, ClaimStatus.ACCEPTED_BY_PAYER, "accepted_277ca", {"payer_claim_control_number": pccn},
            ClaimAcceptedByPayer(tenant_id=claim.tenant_id, claim_id=claim.id, version=claim.version,
                                 payer_claim_control_number=pccn, control_number=report_reference),
            payer_claim_control_number=pccn)
    if any(s.category_code == "A1" for s in statuses) and ClaimStatus(claim.status) == ClaimStatus.SUBMITTED:
        return "accepted", _move(
            claim, ClaimStatus.ACCEPTED_BY_CLEARINGHOUSE, "acknowledged_277ca", {},
            ClaimAcceptedByClearinghouse(tenant_id=claim.tenant_id, claim_id=claim.id, version=claim.version,
                                         acknowledgement="277CA", control_number=report_reference))
    return None


# A delivery still `received` this long after it was stored is not being applied by its request.
PENDING_AFTER = timedelta(seconds=10)
PENDING_POLL_SECONDS = 5.0


async def apply_pending_deliveries(runtime) -> None:
    """Background work (claims worker): apply acknowledgements that were stored but not applied,
    so one lost to a crash or a failed request is applied even if the sender never retries.
    Deliveries belong to no one practice until read: the system role's engine."""
    while True:
        try:
            for webhook_id in await pending_delivery_ids(runtime.system_engine, older_than=PENDING_AFTER):
                try:
                    outcome = await apply_delivery(runtime.system_engine, webhook_id)
                except MalformedDelivery:
                    continue  # kept as failed, with its reason
                if "already" not in outcome:
                    log.info("applied a pending acknowledgement", extra={"webhook_id": webhook_id})
                    runtime.events_staged()
        except asyncio.CancelledError:
            raise
        except Exception:  # the database may be away; the deliveries wait, stored
            log.exception("applying pending acknowledgements failed; retrying")
        await asyncio.sleep(PENDING_POLL_SECONDS)
