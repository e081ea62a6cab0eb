"""Appeals: attachments kept for a case, the letter rendered from the claim's facts, the packet sent
to the payer, the submission and the payer's decision, each moving the case through `move_case`."""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass
from datetime import date, datetime, timezone
from decimal import Decimal
from uuid import UUID, uuid4

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from openrcm_denials.adapters.appeal_tables import appeals, case_attachments, claim_facts, claim_timeline
from openrcm_denials.adapters.object_store import ObjectStore
from openrcm_denials.adapters.payer_appeals import AppealSubmission, PayerAppeals
from openrcm_denials.adapters.tables import denial_cases
from openrcm_denials.domain.case_status import CaseStatus
from openrcm_denials.domain.case_work import TIMELY_FILING_CARC, category_of, check_appeal_allowed, sniff_media_type
from openrcm_denials.domain.letters import (
    AppealLetterFacts, AppealLevel, BilledLine, DeniedReason, Enclosure, TimelineEntry, appeal_letter,
)
from openrcm_denials.service_layer.case_moves import Emit, move_case
from openrcm_shared.documents.pdf import Document, Heading, Paragraph, Table, image_pdf, merge_pdfs, render_pdf
from openrcm_shared.http.problems import Problem, field_error

# The timeline entries that prove when the claim was filed and that it reached the payer.
_FILING_PROOF = {"submitted_837": "837 claim file sent to the clearinghouse",
                 "accepted_999": "999 acknowledgment: transaction set accepted",
                 "accepted_277ca": "277CA: claim received by the clearinghouse",
                 "accepted_by_payer_277ca": "277CA: claim accepted by the payer for adjudication"}


class UnsupportedAttachment(Exception):
    """Not one of the attachment types (a 415)."""


class AttachmentTooLarge(Exception):
    """Over the configured size (a 413)."""


# ------------------------------------------------------------------------------------------- cases


async def _row_or_404(conn: AsyncConnection, table: sa.Table, tenant_id: str, row_id: UUID, *, title: str,
                      for_update: bool):
    query = sa.select(table).where(table.c.tenant_id == tenant_id, table.c.id == row_id)
    row = (await conn.execute(query.with_for_update() if for_update else query)).first()
    if row is None:
        raise Problem(404, title, type_="not-found")
    return row


async def load_case(conn: AsyncConnection, tenant_id: str, case_id: UUID, *, for_update: bool = False):
    return await _row_or_404(conn, denial_cases, tenant_id, case_id, title="Denial case not found",
                             for_update=for_update)


def case_category(case) -> str:
    """The case's category: the worklist's when it has one, else derived from the primary denial."""
    if getattr(case, "category", None):
        return case.category
    primary = next((d for d in case.denials if d["carc"] == case.primary_carc), {"rarcs": []})
    return category_of(case.primary_carc, primary.get("rarcs", []))


# ------------------------------------------------------------------------------------- attachments


async def store_attachment(conn: AsyncConnection, store: ObjectStore, *, tenant_id: str, case_id: UUID,
                           filename: str, content: bytes, max_bytes: int, uploaded_by: str) -> dict:
    """Keep a document for the case's appeals: its type from its first bytes, its SHA-256, its bytes
    in the object store (same transaction)."""
    await load_case(conn, tenant_id, case_id)
    if len(content) > max_bytes:
        raise AttachmentTooLarge(max_bytes)
    media_type = sniff_media_type(content[:16])
    if media_type is None:
        raise UnsupportedAttachment()
    attachment_id = uuid4()
    row = {"id": attachment_id, "tenant_id": tenant_id, "case_id": case_id, "filename": _clean_filename(filename),
           "content_type": media_type, "size_bytes": len(content), "sha256": hashlib.sha256(content).hexdigest(),
           "object_key": f"attachments/{attachment_id}", "uploaded_by": uploaded_by,
           "uploaded_at": datetime.now(timezone.utc)}
    await store.put(conn, tenant_id, row["object_key"], content)
    await conn.execute(case_attachments.insert().values(**row))
    return row


def _clean_filename(filename: str) -> str:
    """The name as given, without control characters (a NUL cannot be stored; a newline would break
    the letter's table) and at most 200 characters; `attachment` when nothing is left."""
    cleaned = "".join(ch for ch in filename if ch.isprintable()).strip()[:200]
    return cleaned or "attachment"


async def attachments_of(conn: AsyncConnection, tenant_id: str, case_id: UUID) -> list:
    return (await conn.execute(sa.select(case_attachments).where(
        case_attachments.c.tenant_id == tenant_id, case_attachments.c.case_id == case_id)
        .order_by(case_attachments.c.uploaded_at, case_attachments.c.id))).all()


async def attachment_content(conn: AsyncConnection, store: ObjectStore, tenant_id: str, attachment_id: UUID):
    row = (await conn.execute(sa.select(case_attachments).where(
        case_attachments.c.tenant_id == tenant_id, case_attachments.c.id == attachment_id))).first()
    if row is None:
        raise Problem(404, "Attachment not found", type_="not-found")
    return row, await store.get(conn, tenant_id, row.object_key)


async def _chosen_attachments(conn: AsyncConnection, tenant_id: str, case_id: UUID, ids: list[UUID]) -> list:
    """The case's attachments named, in the order named; an id not of this case is a 422 naming it."""
    rows = {row.id: row for row in await attachments_of(conn, tenant_id, case_id)}
    unknown = [field_error(f"/attachment_ids/{index}", "not an attachment of this case")
               for index, attachment_id in enumerate(ids) if attachment_id not in rows]
    if unknown:
        raise Problem(422, "Unknown attachments", type_="validation-error", errors=unknown)
    return [rows[attachment_id] for attachment_id in ids]


# ----------------------------------------------------------------------------------------- letters


@dataclass(frozen=True)
class AppealRequest:
    level: AppealLevel
    argument: str
    attachment_ids: list[UUID]
    late_reason: str | None


async def _submission_history(conn: AsyncConnection, tenant_id: str, claim_id: UUID) -> tuple[TimelineEntry, ...]:
    rows = (await conn.execute(sa.select(claim_timeline).where(
        claim_timeline.c.tenant_id == tenant_id, claim_timeline.c.claim_id == claim_id,
        claim_timeline.c.kind.in_(tuple(_FILING_PROOF))).order_by(claim_timeline.c.id))).all()
    return tuple(TimelineEntry(row.occurred_at, _FILING_PROOF[row.kind], row.control_number) for row in rows)


def _billed_lines(facts, paid_by_line: dict[str, str]) -> tuple[BilledLine, ...]:
    if facts is None:
        return ()
    return tuple(BilledLine(
        line_number=line["line_number"], service_date=date.fromisoformat(line["service_date"]),
        procedure_code=line.get("procedure_code") or line.get("revenue_code") or "",
        modifiers=tuple(line.get("modifiers") or ()), units=str(line.get("quantity") or line.get("units")),
        charge=Decimal(line["charge_amount"]),
        paid=Decimal(paid_by_line[str(line["line_number"])]) if str(line["line_number"]) in paid_by_line else None)
        for line in facts.lines)


async def _paid_when_denied(conn: AsyncConnection, case) -> tuple[Decimal | None, dict[str, str]]:
    """What the denying remittance paid on the claim, in all and by line (None: no payment seen)."""
    row = (await conn.execute(sa.select(claim_timeline.c.detail).where(
        claim_timeline.c.tenant_id == case.tenant_id, claim_timeline.c.claim_id == case.claim_id,
        claim_timeline.c.kind == "payment_posted",
        claim_timeline.c.detail["remittance_id"].astext == str(case.remittance_id))
        .order_by(claim_timeline.c.id.desc()).limit(1))).first()
    if row is None:
        return None, {}
    return Decimal(row.detail["paid_amount"]), row.detail.get("lines", {})


async def letter_facts(conn: AsyncConnection, case, request: AppealRequest, enclosures: list,
                       today: date) -> AppealLetterFacts:
    facts = (await conn.execute(sa.select(claim_facts).where(claim_facts.c.tenant_id == case.tenant_id,
                                                             claim_facts.c.claim_id == case.claim_id))).first()
    paid, paid_by_line = await _paid_when_denied(conn, case)
    timely_filing = any(item["carc"] == TIMELY_FILING_CARC for item in case.denials)
    return AppealLetterFacts(
        level=request.level, category=case_category(case), written_on=today,
        practice_name=facts.billing_provider_name if facts else None,
        practice_npi=facts.billing_provider_npi if facts else None,
        payer_name=facts.payer_name if facts else None, payer_id=case.payer_id,
        patient_name=facts.patient_name if facts else None, member_id=facts.member_id if facts else None,
        patient_control_number=case.patient_control_number,
        payer_claim_control_number=facts.payer_claim_control_number if facts else None,
        service_date_from=facts.service_date_from if facts else None,
        service_date_to=facts.service_date_to if facts else None,
        billed_amount=facts.total_charge if facts else None,
        paid_amount=paid if paid is not None else (Decimal("0.00") if facts else None),
        denied_amount=case.denied_amount,
        reasons=tuple(DeniedReason(item["group_code"], item["carc"], tuple(item.get("rarcs") or ()),
                                   Decimal(item["amount"]), item.get("line_number")) for item in case.denials),
        lines=_billed_lines(facts, paid_by_line), argument=request.argument,
        enclosures=tuple(Enclosure(row.filename, row.content_type, row.size_bytes, row.sha256) for row in enclosures),
        submission_history=await _submission_history(conn, case.tenant_id, case.claim_id) if timely_filing else (),
        late_reason=request.late_reason)


async def create_appeal(conn: AsyncConnection, store: ObjectStore, *, tenant_id: str, case_id: UUID,
                        request: AppealRequest, created_by: str, today: date | None = None) -> dict:
    """A drafted appeal with its letter rendered and stored; the case does not move until the
    appeal is submitted (AppealRefused: the case is resolved, or the deadline passed)."""
    today = today or datetime.now(timezone.utc).date()
    case = await load_case(conn, tenant_id, case_id, for_update=True)
    check_appeal_allowed(CaseStatus(case.status), request.level.value, case.appeal_deadline, today,
                         request.late_reason)
    enclosures = await _chosen_attachments(conn, tenant_id, case_id, request.attachment_ids)
    facts = await letter_facts(conn, case, request, enclosures, today)
    letter = await asyncio.to_thread(render_pdf, appeal_letter(facts))  # CPU-bound: off the event loop
    appeal_id = uuid4()
    row = {"id": appeal_id, "tenant_id": tenant_id, "case_id": case_id, "claim_id": case.claim_id,
           "level": request.level.value, "category": facts.category, "argument": request.argument,
           "attachment_ids": [str(attachment_id) for attachment_id in request.attachment_ids],
           "late_reason": request.late_reason, "letter_object_key": f"letters/{appeal_id}",
           "letter_sha256": hashlib.sha256(letter).hexdigest(), "status": "drafted", "created_by": created_by,
           "created_at": datetime.now(timezone.utc)}
    await store.put(conn, tenant_id, row["letter_object_key"], letter)
    await conn.execute(appeals.insert().values(**row))
    return await load_appeal(conn, tenant_id, appeal_id)


async def appeals_of_case(conn: AsyncConnection, tenant_id: str, case_id: UUID) -> list:
    """The case's appeals, oldest first."""
    return (await conn.execute(sa.select(appeals).where(appeals.c.tenant_id == tenant_id, appeals.c.case_id == case_id)
                               .order_by(appeals.c.created_at))).all()


async def load_appeal(conn: AsyncConnection, tenant_id: str, appeal_id: UUID, *, for_update: bool = False):
    return await _row_or_404(conn, appeals, tenant_id, appeal_id, title="Appeal not found", for_update=for_update)


async def appeal_letter_pdf(conn: AsyncConnection, store: ObjectStore, tenant_id: str, appeal_id: UUID) -> bytes:
    appeal = await load_appeal(conn, tenant_id, appeal_id)
    return await store.get(conn, tenant_id, appeal.letter_object_key)


def _timely_filing_proof(patient_control_number: str, history: tuple[TimelineEntry, ...]) -> Document:
    """The packet's proof page for a CARC 29 denial: every filing step with its date and control number."""
    document = Document(title=f"Proof of timely filing {patient_control_number}")
    document.add(Heading("Proof of timely filing"),
                 Paragraph(f"Patient account {patient_control_number}. Each step below was recorded when the "
                           "clearinghouse or the payer answered; control numbers are those of the X12 interchanges."))
    document.add(Table(["Date and time (UTC)", "What", "Control number"],
                       [[entry.occurred_at.strftime("%Y-%m-%d %H:%M:%S"), entry.what, entry.control_number or ""]
                        for entry in history] or [["", "no submission recorded", ""]], widths=[1.5, 3.0, 1.3]))
    return document


async def appeal_packet(conn: AsyncConnection, store: ObjectStore, tenant_id: str, appeal_id: UUID) -> bytes:
    """The letter, the timely-filing proof for a CARC 29 denial, then each attachment (images as
    pages), merged into one PDF."""
    appeal = await load_appeal(conn, tenant_id, appeal_id)
    case = await load_case(conn, tenant_id, appeal.case_id)
    proof = None
    if any(item["carc"] == TIMELY_FILING_CARC for item in case.denials):
        proof = _timely_filing_proof(case.patient_control_number,
                                     await _submission_history(conn, tenant_id, case.claim_id))
    attachments = [(row.content_type, await store.get(conn, tenant_id, row.object_key))
                   for row in await _chosen_attachments(conn, tenant_id, case.id,
                                                        [UUID(i) for i in appeal.attachment_ids])]
    letter = await store.get(conn, tenant_id, appeal.letter_object_key)
    return await asyncio.to_thread(_assemble_packet, letter, proof, attachments)  # CPU-bound: off the loop


def _assemble_packet(letter: bytes, proof: Document | None, attachments: list[tuple[str, bytes]]) -> bytes:
    parts = [letter, *([render_pdf(proof)] if proof is not None else [])]
    parts += [content if content_type == "application/pdf" else image_pdf(content)
              for content_type, content in attachments]
    return merge_pdfs(parts)


# ------------------------------------------------------------------------- submission and decision


class AppealNotPending(Exception):
    """The appeal was already submitted or decided (a 409)."""


@dataclass(frozen=True)
class Submission:
    method: str
    submitted_on: date
    payer_reference: str | None


async def submit_appeal(conn: AsyncConnection, emit: Emit, store: ObjectStore, payer: PayerAppeals | None, *,
                        tenant_id: str, appeal_id: UUID, submission: Submission, submitted_by: str):
    """Record how and when the appeal went to the payer (electronically: sent now through `payer`,
    whose reference is recorded); the case moves to `appealed`."""
    appeal = await load_appeal(conn, tenant_id, appeal_id, for_update=True)
    if appeal.status != "drafted":
        raise AppealNotPending(appeal.status)
    reference = submission.payer_reference
    # Sent inside the transaction, the appeal row locked: a second request for the same appeal
    # waits and then finds it submitted; a failed send records nothing (the payer dedups by appeal id).
    if submission.method == "electronic":
        case = await load_case(conn, tenant_id, appeal.case_id)
        facts = (await conn.execute(sa.select(claim_facts.c.payer_claim_control_number).where(
            claim_facts.c.tenant_id == tenant_id, claim_facts.c.claim_id == case.claim_id))).first()
        receipt = await payer.submit(AppealSubmission(
            appeal_id=str(appeal_id), payer_id=case.payer_id, patient_control_number=case.patient_control_number,
            payer_claim_control_number=facts.payer_claim_control_number if facts else None, level=appeal.level,
            category=appeal.category, packet_pdf=await appeal_packet(conn, store, tenant_id, appeal_id)))
        reference = receipt.payer_reference
    await move_case(conn, emit, tenant_id=tenant_id, case_id=appeal.case_id, target=CaseStatus.APPEALED,
                    changed_by=submitted_by, reason=f"appeal {appeal.level} submitted ({submission.method})")
    await conn.execute(appeals.update().where(appeals.c.id == appeal_id).values(
        status="submitted", submission_method=submission.method, submitted_on=submission.submitted_on,
        payer_reference=reference, submitted_by=submitted_by))
    return await load_appeal(conn, tenant_id, appeal_id)


_DECISION_OUTCOME = {"upheld": CaseStatus.LOST, "overturned": CaseStatus.WON, "partial": CaseStatus.PARTIALLY_WON}


async def decide_appeal(conn: AsyncConnection, emit: Emit, *, tenant_id: str, appeal_id: UUID, decision: str,
                        amount_overturned: Decimal | None, decided_on: date, decided_by: str):
    """The payer's answer as a person recorded it: upheld (lost), overturned (won, by default the
    whole denied amount) or partial (partially won, with the amount)."""
    appeal = await load_appeal(conn, tenant_id, appeal_id, for_update=True)
    if appeal.status != "submitted":
        raise AppealNotPending(appeal.status)
    case = await load_case(conn, tenant_id, appeal.case_id)
    if decision == "overturned" and amount_overturned is None:
        amount_overturned = case.denied_amount
    if decision == "upheld":
        amount_overturned = Decimal("0.00")
    if amount_overturned > case.denied_amount:
        raise Problem(422, "Amount above the denied amount", type_="validation-error",
                      errors=[field_error("/amount_overturned", f"at most {case.denied_amount}")])
    await move_case(conn, emit, tenant_id=tenant_id, case_id=appeal.case_id, target=_DECISION_OUTCOME[decision],
                    changed_by=decided_by, reason=f"appeal {decision}", amount_recovered=amount_overturned)
    await conn.execute(appeals.update().where(appeals.c.id == appeal_id).values(
        status="decided", decision=decision, amount_overturned=amount_overturned, decided_on=decided_on,
        decided_by=decided_by))
    return await load_appeal(conn, tenant_id, appeal_id)
