"""Working a denial case over HTTP: attachments, appeals (letter, packet, submission, decision),
write-offs with their approval, transfers to the patient, secondary billing, corrected claims, and
the claim's timeline."""

from __future__ import annotations

from contextlib import asynccontextmanager
from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Annotated, Literal
from uuid import UUID

import sqlalchemy as sa
from fastapi import APIRouter, Header, Query, Request, Response
from pydantic import BaseModel, Field, model_validator

from openrcm_denials.adapters.appeal_tables import case_actions
from openrcm_denials.adapters.object_store import OBJECT_STORE
from openrcm_denials.adapters.payer_appeals import HttpPayerAppeals, PayerUnavailable
from openrcm_denials.domain.case_status import IllegalCaseTransition
from openrcm_denials.domain.case_work import ATTACHMENT_TYPES, ActionNotAllowed, AppealRefused
from openrcm_denials.domain.letters import AppealLevel
from openrcm_denials.entrypoints.schemas import AppealOut, appeal_out
from openrcm_denials.service_layer import appeals as appeal_service
from openrcm_denials.service_layer import case_actions as actions
from openrcm_denials.service_layer.case_moves import CaseNotFound, outbox_emitter
from openrcm_denials.service_layer.claim_timeline import TimelineEntryOut, claim_timeline
from openrcm_denials.settings import WorkingSettings
from openrcm_shared.audit import audited
from openrcm_shared.audit.recording import record_change
from openrcm_shared.contracts.denials import LineCorrection
from openrcm_shared.http.openapi_docs import problem_doc
from openrcm_shared.http.idempotency import idempotent_create
from openrcm_shared.http.inbound import takes_files
from openrcm_shared.http.problems import Problem, field_error
from openrcm_shared.money import Money, NonNegativeMoney
from openrcm_shared.security.practice import DenialsWork, DenialsWorker

router = APIRouter(prefix="/v1", tags=["working a denial"])
SETTINGS = WorkingSettings()
# Room for a multipart envelope around the largest attachment; the file itself is checked exactly.
_MULTIPART_ENVELOPE_BYTES = 64 * 1024
PDF = "application/pdf"


def _problems(*statuses: int) -> dict:
    """The problem responses a route documents (RFC 9457 problem+json)."""
    described = {403: "The caller may not do this (a write-off approved by the person who asked for it)",
                 404: "No such case, appeal, attachment or write-off in this practice",
                 409: "The case's state does not allow it (resolved, past the appeal deadline, already done)",
                 413: f"The attachment is larger than {SETTINGS.attachment_max_bytes} bytes",
                 415: f"The attachment is not one of {', '.join(ATTACHMENT_TYPES)}",
                 422: "Invalid fields, each named by a JSON pointer",
                 502: "The payer's appeal endpoint did not take the appeal"}
    return {status: problem_doc(status, described[status]) for status in statuses}


@asynccontextmanager
async def _work(request: Request):
    """One transaction for a change to a case, its events staged in the outbox; the state machine's
    refusals become 409 problems."""
    runtime = request.app.state.runtime
    try:
        async with runtime.engine.begin() as conn:
            yield conn
    except IllegalCaseTransition as refused:
        raise Problem(409, "Case cannot move", str(refused), type_="illegal-case-transition",
                      current_status=refused.current.value, target_status=refused.target.value) from None
    except CaseNotFound:
        raise Problem(404, "Denial case not found", type_="not-found") from None
    runtime.events_staged()


_REFUSALS = {
    AppealRefused: (409, "Appeal not allowed", "appeal-not-allowed"),
    ActionNotAllowed: (409, "Not for this category", "action-not-allowed"),
}


async def _create(request: Request, caller, idempotency_key: str | None, create, location, model) -> Response:
    """A creating POST: Idempotency-Key semantics (openrcm_shared.http.idempotency), the audit entry
    and the staged events in the creating transaction, the case's refusals as 409/404 problems."""
    try:
        return await idempotent_create(request, tenant_id=caller.tenant_id, idempotency_key=idempotency_key,
                                       create=create, location=location, response_model=model)
    except IllegalCaseTransition as refused:
        raise Problem(409, "Case cannot move", str(refused), type_="illegal-case-transition",
                      current_status=refused.current.value, target_status=refused.target.value) from None
    except CaseNotFound:
        raise Problem(404, "Denial case not found", type_="not-found") from None
    except tuple(_REFUSALS) as refused:
        status, title, kind = _REFUSALS[type(refused)]
        raise Problem(status, title, str(refused), type_=kind) from None


IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key")]


# ------------------------------------------------------------------------------------- attachments


class AttachmentOut(BaseModel):
    id: UUID
    case_id: UUID
    filename: str
    content_type: str
    size_bytes: int
    sha256: str
    uploaded_by: str
    uploaded_at: datetime


async def _attachment_body(request: Request) -> tuple[str, bytes]:
    """(file name, bytes) from a multipart form (its first file) or a raw body."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type == "multipart/form-data":
        # Read whole first: the Idempotency-Key fingerprint reads the body again after the form.
        await request.body()
        form = await request.form(max_files=1, max_fields=4)
        upload = next((value for value in form.values() if hasattr(value, "read")), None)
        if upload is None:
            raise Problem(422, "No file in the form", type_="validation-error",
                          errors=[field_error("/file", "a file part is required")])
        return upload.filename or "attachment", await upload.read()
    filename = request.query_params.get("filename") or "attachment"
    return filename, await request.body()


@router.post("/denials/{case_id}/attachments", status_code=201, response_model=AttachmentOut,
             responses=_problems(404, 413, 415, 422),
             openapi_extra={"requestBody": {"required": True, "content": {
                 **{media_type: {"schema": {"type": "string", "format": "binary"}} for media_type in ATTACHMENT_TYPES},
                 "multipart/form-data": {"schema": {"type": "object", "properties": {
                     "file": {"type": "string", "format": "binary"}}}}}}})
@takes_files(max_bytes=SETTINGS.attachment_max_bytes + _MULTIPART_ENVELOPE_BYTES)
@audited("create", "denial_attachment", resource_id="id")
async def add_attachment(case_id: UUID, request: Request, caller: DenialsWorker,
                         filename: Annotated[str | None, Query(max_length=200)] = None,
                         idempotency_key: IdempotencyKey = None) -> Response:
    """A document for the case's appeals: PDF, PNG, JPEG or TIFF (recognised by its first bytes, not
    its declared type), as the raw body (`?filename=`) or the file of a multipart form."""
    name, content = await _attachment_body(request)

    async def create(conn) -> AttachmentOut:
        return AttachmentOut(**await appeal_service.store_attachment(
            conn, OBJECT_STORE, tenant_id=caller.tenant_id, case_id=case_id, filename=filename or name,
            content=content, max_bytes=SETTINGS.attachment_max_bytes, uploaded_by=caller.actor))
    try:
        return await _create(request, caller, idempotency_key, create,
                             lambda created: f"/v1/attachments/{created.id}/content", AttachmentOut)
    except appeal_service.AttachmentTooLarge:
        raise Problem(413, "Attachment too large", f"At most {SETTINGS.attachment_max_bytes} bytes.",
                      type_="payload-too-large", max_bytes=SETTINGS.attachment_max_bytes) from None
    except appeal_service.UnsupportedAttachment:
        raise Problem(415, "Unsupported attachment type", f"Send one of {', '.join(ATTACHMENT_TYPES)}.",
                      type_="unsupported-media-type") from None


@router.get("/denials/{case_id}/attachments", response_model=list[AttachmentOut], responses=_problems(404))
@audited("list", "denial_attachment", resource_id="case_id")
async def list_attachments(case_id: UUID, request: Request, tenant_id: DenialsWork) -> list[AttachmentOut]:
    async with request.app.state.runtime.engine.connect() as conn:
        await appeal_service.load_case(conn, tenant_id, case_id)
        rows = await appeal_service.attachments_of(conn, tenant_id, case_id)
    return [AttachmentOut(**row._mapping) for row in rows]


@router.get("/attachments/{attachment_id}/content", response_class=Response, responses=_problems(404))
@audited("read", "denial_attachment", resource_id="attachment_id")
async def download_attachment(attachment_id: UUID, request: Request, tenant_id: DenialsWork) -> Response:
    """The document's bytes as uploaded, with its type and SHA-256 digest."""
    async with request.app.state.runtime.engine.connect() as conn:
        row, content = await appeal_service.attachment_content(conn, OBJECT_STORE, tenant_id, attachment_id)
    return Response(content, media_type=row.content_type, headers={
        "Digest": f"sha-256={row.sha256}", "Content-Disposition": f'attachment; filename="{_safe(row.filename)}"'})


def _safe(filename: str) -> str:
    return "".join(ch for ch in filename if ch.isalnum() or ch in "._- ")[:100] or "attachment"


# ----------------------------------------------------------------------------------------- appeals


class AppealIn(BaseModel):
    level: AppealLevel = AppealLevel.LEVEL_1
    argument: str = Field(min_length=1, max_length=20_000)
    attachment_ids: list[UUID] = Field(default_factory=list, max_length=50)
    late_reason: str | None = Field(default=None, max_length=2_000,
                                    description="Required past the appeal deadline: why the appeal is late")


@router.post("/denials/{case_id}/appeals", status_code=201, response_model=AppealOut,
             responses=_problems(404, 409, 422))
@audited("create", "appeal", resource_id="id")
async def create_appeal(case_id: UUID, body: AppealIn, request: Request, caller: DenialsWorker,
                        idempotency_key: IdempotencyKey = None) -> Response:
    """An appeal with its letter rendered as a PDF from the case category's template and the claim's
    facts. 409 when the case is resolved (a lost case may go to level 2 or external review), or past
    its appeal deadline without a `late_reason` (which the letter then states)."""
    async def create(conn) -> AppealOut:
        return appeal_out(await appeal_service.create_appeal(
            conn, OBJECT_STORE, tenant_id=caller.tenant_id, case_id=case_id, created_by=caller.actor,
            request=appeal_service.AppealRequest(body.level, body.argument, body.attachment_ids, body.late_reason)))
    return await _create(request, caller, idempotency_key, create, lambda created: f"/v1/appeals/{created.id}",
                         AppealOut)


@router.get("/denials/{case_id}/appeals", response_model=list[AppealOut], responses=_problems(404))
@audited("list", "appeal", resource_id="case_id")
async def list_appeals(case_id: UUID, request: Request, tenant_id: DenialsWork) -> list[AppealOut]:
    async with request.app.state.runtime.engine.connect() as conn:
        await appeal_service.load_case(conn, tenant_id, case_id)
        rows = await appeal_service.appeals_of_case(conn, tenant_id, case_id)
    return [appeal_out(row) for row in rows]


@router.get("/appeals/{appeal_id}", response_model=AppealOut, responses=_problems(404))
@audited("read", "appeal", resource_id="appeal_id")
async def get_appeal(appeal_id: UUID, request: Request, tenant_id: DenialsWork) -> AppealOut:
    async with request.app.state.runtime.engine.connect() as conn:
        return appeal_out(await appeal_service.load_appeal(conn, tenant_id, appeal_id))


@router.get("/appeals/{appeal_id}/letter", response_class=Response, responses={
    200: {"content": {PDF: {}}, "description": "The letter"}, **_problems(404)})
@audited("read", "appeal_letter", resource_id="appeal_id")
async def get_appeal_letter(appeal_id: UUID, request: Request, tenant_id: DenialsWork) -> Response:
    """The appeal letter as rendered when the appeal was created (application/pdf)."""
    async with request.app.state.runtime.engine.connect() as conn:
        letter = await appeal_service.appeal_letter_pdf(conn, OBJECT_STORE, tenant_id, appeal_id)
    return Response(letter, media_type=PDF,
                    headers={"Content-Disposition": f'inline; filename="appeal-{appeal_id}.pdf"'})


@router.get("/appeals/{appeal_id}/packet", response_class=Response, responses={
    200: {"content": {PDF: {}}, "description": "The packet"}, **_problems(404)})
@audited("read", "appeal_packet", resource_id="appeal_id")
async def get_appeal_packet(appeal_id: UUID, request: Request, tenant_id: DenialsWork) -> Response:
    """The letter, the proof of timely filing for a CARC 29 denial, and every attachment (images as
    pages), in one PDF: what goes to the payer."""
    async with request.app.state.runtime.engine.connect() as conn:
        packet = await appeal_service.appeal_packet(conn, OBJECT_STORE, tenant_id, appeal_id)
    return Response(packet, media_type=PDF,
                    headers={"Content-Disposition": f'inline; filename="appeal-packet-{appeal_id}.pdf"'})


class SubmissionIn(BaseModel):
    method: Literal["electronic", "portal", "fax", "mail"]
    submitted_on: date | None = Field(default=None, description="Default: today")
    payer_reference: str | None = Field(default=None, max_length=100,
                                        description="The payer's reference (portal, fax, mail); "
                                                    "an electronic submission gets it from the payer")


@router.post("/appeals/{appeal_id}/submission", response_model=AppealOut, responses=_problems(404, 409, 422, 502))
@audited("submit", "appeal", resource_id="appeal_id")
async def submit_appeal(appeal_id: UUID, body: SubmissionIn, request: Request, caller: DenialsWorker) -> AppealOut:
    """Record how the appeal went to the payer; `electronic` sends the packet now through the
    clearinghouse (OPENRCM_DENIALS_PAYER_APPEALS_URL). The case moves to `appealed`."""
    payer = HttpPayerAppeals(SETTINGS.payer_appeals_url) if SETTINGS.payer_appeals_url else None
    if body.method == "electronic" and payer is None:
        raise Problem(409, "No electronic appeals", "No payer appeal endpoint is configured; record a portal, "
                      "fax or mail submission.", type_="no-electronic-appeals")
    submission = appeal_service.Submission(body.method, body.submitted_on or datetime.now(timezone.utc).date(),
                                           body.payer_reference)
    try:
        async with _work(request) as conn:
            row = await appeal_service.submit_appeal(conn, outbox_emitter(conn), OBJECT_STORE, payer,
                                                     tenant_id=caller.tenant_id, appeal_id=appeal_id,
                                                     submission=submission, submitted_by=caller.actor)
            await record_change(conn, resource_id=appeal_id)
    except appeal_service.AppealNotPending as status:
        raise Problem(409, "Appeal already submitted", f"The appeal is {status}.", type_="appeal-not-pending") from None
    except PayerUnavailable as failure:
        raise Problem(502, "Payer did not take the appeal", str(failure), type_="payer-unavailable") from None
    return appeal_out(row)


class DecisionIn(BaseModel):
    decision: Literal["upheld", "overturned", "partial"]
    amount_overturned: NonNegativeMoney | None = Field(
        default=None, description="What the payer agreed to pay; required for partial (default for overturned: "
                                  "the denied amount)")
    decided_on: date | None = None

    @model_validator(mode="after")
    def _partial_has_an_amount(self) -> DecisionIn:
        if self.decision == "partial" and self.amount_overturned is None:
            raise ValueError("a partial decision needs amount_overturned")
        return self


@router.post("/appeals/{appeal_id}/decision", response_model=AppealOut, responses=_problems(404, 409, 422))
@audited("decide", "appeal", resource_id="appeal_id")
async def record_decision(appeal_id: UUID, body: DecisionIn, request: Request, caller: DenialsWorker) -> AppealOut:
    """The payer's decision: upheld (the case is lost), overturned (won) or partial (partially won),
    with the amount recovered. A decision that arrives as an 835 settles the case by itself."""
    try:
        async with _work(request) as conn:
            row = await appeal_service.decide_appeal(
                conn, outbox_emitter(conn), tenant_id=caller.tenant_id, appeal_id=appeal_id, decision=body.decision,
                amount_overturned=body.amount_overturned,
                decided_on=body.decided_on or datetime.now(timezone.utc).date(), decided_by=caller.actor)
            await record_change(conn, resource_id=appeal_id)
    except appeal_service.AppealNotPending as status:
        raise Problem(409, "Appeal not awaiting a decision", f"The appeal is {status}.",
                      type_="appeal-not-pending") from None
    return appeal_out(row)


# ------------------------------------------------------------------------------ the other ways out


class CaseActionOut(BaseModel):
    id: UUID
    case_id: UUID
    claim_id: UUID
    kind: str
    status: str
    amount: Money | None
    reason: str
    detail: dict
    requested_by: str
    requested_at: datetime
    approved_by: str | None
    decided_at: datetime | None


def _action_out(row: dict) -> CaseActionOut:
    return CaseActionOut(**{name: row[name] for name in CaseActionOut.model_fields})


def _action_location(action: CaseActionOut) -> str:
    return f"/v1/denials/{action.case_id}/actions"


@router.get("/denials/{case_id}/actions", response_model=list[CaseActionOut], responses=_problems(404))
@audited("list", "denial_case_action", resource_id="case_id")
async def list_case_actions(case_id: UUID, request: Request, tenant_id: DenialsWork) -> list[CaseActionOut]:
    """The case's write-offs (with their approvals), transfers, secondary billing and corrections."""
    async with request.app.state.runtime.engine.connect() as conn:
        await appeal_service.load_case(conn, tenant_id, case_id)
        rows = (await conn.execute(sa.select(case_actions).where(case_actions.c.tenant_id == tenant_id,
                                                                 case_actions.c.case_id == case_id)
                                   .order_by(case_actions.c.requested_at, case_actions.c.id))).all()
    return [_action_out(row._asdict()) for row in rows]


class AmountForReasonIn(BaseModel):
    """A write-off or a transfer to the patient: how much (default: the denied amount) and why."""

    amount: Money | None = Field(default=None, description="Default: the denied amount")
    reason: str = Field(min_length=1, max_length=500)


@router.post("/denials/{case_id}/write-offs", status_code=201, response_model=CaseActionOut,
             responses=_problems(404, 409, 422))
@audited("write_off", "denial_case", resource_id="case_id")
async def write_off(case_id: UUID, body: AmountForReasonIn, request: Request, caller: DenialsWorker,
                    idempotency_key: IdempotencyKey = None) -> Response:
    """Write the denied amount off. Above OPENRCM_DENIALS_WRITE_OFF_APPROVAL_THRESHOLD it waits
    (`pending_approval`) for another person's approval; at or under it, it is done now
    (`DenialWrittenOff`, the case `written_off`)."""
    async def create(conn) -> CaseActionOut:
        return _action_out(await actions.request_write_off(
            conn, outbox_emitter(conn), tenant_id=caller.tenant_id, case_id=case_id, amount=body.amount,
            reason=body.reason, requested_by=caller.actor, threshold=SETTINGS.write_off_approval_threshold))
    return await _create(request, caller, idempotency_key, create, _action_location, CaseActionOut)


@router.post("/write-offs/{write_off_id}/approval", response_model=CaseActionOut,
             responses=_problems(403, 404, 409))
@audited("approve_write_off", "denial_case", resource_id="write_off_id")
async def approve_write_off(write_off_id: UUID, request: Request, caller: DenialsWorker) -> CaseActionOut:
    """A second person approves a write-off above the threshold (403 for the person who asked)."""
    try:
        async with _work(request) as conn:
            row = await actions.approve_write_off(conn, outbox_emitter(conn), tenant_id=caller.tenant_id,
                                                  write_off_id=write_off_id, approved_by=caller.actor)
            await record_change(conn, resource_id=write_off_id)
    except actions.SameApprover:
        raise Problem(403, "A second person must approve", "The person who asked for the write-off cannot "
                      "approve it.", type_="same-approver") from None
    except actions.NotPendingApproval as status:
        raise Problem(409, "Write-off not pending", f"The write-off is {status}.", type_="not-pending") from None
    return _action_out(row)


@router.post("/denials/{case_id}/patient-transfers", status_code=201, response_model=CaseActionOut,
             responses=_problems(404, 409, 422))
@audited("transfer_to_patient", "denial_case", resource_id="case_id")
async def transfer_to_patient(case_id: UUID, body: AmountForReasonIn, request: Request, caller: DenialsWorker,
                              idempotency_key: IdempotencyKey = None) -> Response:
    """The patient owes the denied amount (non-covered or eligibility denials only):
    `DenialTransferredToPatient`, and the case is lost to the payer."""
    async def create(conn) -> CaseActionOut:
        return _action_out(await actions.transfer_to_patient(
            conn, outbox_emitter(conn), tenant_id=caller.tenant_id, case_id=case_id, amount=body.amount,
            reason=body.reason, requested_by=caller.actor))
    return await _create(request, caller, idempotency_key, create, _action_location, CaseActionOut)


class SecondaryIn(BaseModel):
    reason: str = Field(min_length=1, max_length=500)


@router.post("/denials/{case_id}/secondary-billing", status_code=201, response_model=CaseActionOut,
             responses=_problems(404, 409, 422))
@audited("bill_secondary", "denial_case", resource_id="case_id")
async def bill_secondary(case_id: UUID, body: SecondaryIn, request: Request, caller: DenialsWorker,
                         idempotency_key: IdempotencyKey = None) -> Response:
    """A coordination-of-benefits denial goes to the patient's next payer (`SecondaryBillingRequested`)."""
    async def create(conn) -> CaseActionOut:
        return _action_out(await actions.bill_secondary(conn, outbox_emitter(conn), tenant_id=caller.tenant_id,
                                                        case_id=case_id, reason=body.reason,
                                                        requested_by=caller.actor))
    return await _create(request, caller, idempotency_key, create, _action_location, CaseActionOut)


class LineCorrectionIn(BaseModel):
    line_number: int = Field(ge=1, le=999)
    procedure_code: str | None = Field(default=None, pattern=r"^[A-Z0-9]{5}$")
    modifiers: list[Annotated[str, Field(pattern=r"^[A-Z0-9]{2}$")]] | None = Field(default=None, max_length=4)
    units: Decimal | None = Field(default=None, gt=0, le=9999, decimal_places=3)
    diagnosis_pointers: list[Annotated[int, Field(ge=1, le=12)]] | None = Field(default=None, min_length=1,
                                                                                  max_length=4)


class CorrectionIn(BaseModel):
    lines: list[LineCorrectionIn] = Field(default_factory=list, max_length=50)
    diagnosis_codes: list[Annotated[str, Field(pattern=r"^[A-Z][0-9A-Z.]{2,7}$")]] | None = Field(
        default=None, min_length=1, max_length=12)
    reason: str = Field(min_length=1, max_length=500)

    @model_validator(mode="after")
    def _corrects_something(self) -> CorrectionIn:
        if not self.lines and self.diagnosis_codes is None:
            raise ValueError("give line corrections or diagnosis codes")
        return self


@router.post("/denials/{case_id}/corrections", status_code=201, response_model=CaseActionOut,
             responses=_problems(404, 409, 422))
@audited("request_correction", "denial_case", resource_id="case_id")
async def request_correction(case_id: UUID, body: CorrectionIn, request: Request, caller: DenialsWorker,
                             idempotency_key: IdempotencyKey = None) -> Response:
    """Ask claims for a corrected claim (frequency 7 replacing the payer's claim) with these changes
    (`CorrectedClaimRequested`); the case waits `corrected_resubmitted` until the payer's next 835."""
    async def create(conn) -> CaseActionOut:
        return _action_out(await actions.request_correction(
            conn, outbox_emitter(conn), tenant_id=caller.tenant_id, case_id=case_id,
            lines=[LineCorrection(**line.model_dump()) for line in body.lines],
            diagnosis_codes=body.diagnosis_codes, reason=body.reason, requested_by=caller.actor))
    return await _create(request, caller, idempotency_key, create, _action_location, CaseActionOut)


# ---------------------------------------------------------------------------------------- timeline


@router.get("/denials/{case_id}/timeline", response_model=list[TimelineEntryOut], responses=_problems(404))
@audited("read", "claim_timeline", resource_id="case_id")
async def case_timeline(case_id: UUID, request: Request, tenant_id: DenialsWork) -> list[TimelineEntryOut]:
    """The denied claim's history as the denials service heard it: 837 sent, 999/277CA, payments."""
    async with request.app.state.runtime.engine.connect() as conn:
        case = await appeal_service.load_case(conn, tenant_id, case_id)
        return await claim_timeline(conn, tenant_id, case.claim_id)
