"""The denials API: the worklist and working a case (assignment, notes, documentation requests, status),
the practice's payer settings and category overrides."""

from __future__ import annotations

from contextlib import asynccontextmanager
from datetime import date, datetime, timedelta, timezone
from typing import Annotated, Literal
from uuid import UUID

import sqlalchemy as sa
from fastapi import APIRouter, Path, Query, Request, Response

from openrcm_denials.adapters.tables import (
    UNRESOLVED_SQL, case_notes, case_tasks, category_overrides, claim_adjudications, denial_cases, denial_lines,
    payer_denial_settings,
)
from openrcm_denials.domain.appeals import DEFAULT_WINDOWS
from openrcm_denials.domain.case_status import CaseStatus, IllegalCaseTransition
from openrcm_denials.domain.categories import Category
from openrcm_denials.entrypoints.schemas import (
    AssignmentIn, AssignmentOut, BulkAssignmentIn, ClaimFactsOut, CodeOut, DenialCaseDetailOut, DenialCaseOut,
    DenialLineOut, NoteIn, NoteOut, OverrideIn, OverrideOut, PayerSettingsIn, PayerSettingsOut, StatusIn, StatusOut,
    TaskCloseIn, TaskIn, TaskOut, appeal_out,
)
from openrcm_denials.service_layer import working
from openrcm_denials.service_layer.appeals import appeals_of_case
from openrcm_denials.service_layer.claim_timeline import claim_timeline
from openrcm_denials.service_layer.case_moves import CaseNotFound, outbox_emitter
from openrcm_shared.audit import audited
from openrcm_shared.codes import CARC
from openrcm_shared.codesets.loader import carc as carc_entry, rarc as rarc_entry
from openrcm_shared.db import snapshot
from openrcm_shared.documents.tabular import ExportFormat, export_response, export_responses_doc
from openrcm_shared.http.openapi_docs import problem_doc
from openrcm_shared.http.pagination import Page, fetch_page
from openrcm_shared.http.problems import Problem, field_error
from openrcm_shared.security.context import current_caller
from openrcm_shared.security.practice import DenialsWork, ReferenceAdmin

router = APIRouter(prefix="/v1", tags=["denials"])

# Manual moves: the others come with their own work (an appeal filed, a corrected claim sent, a write-off
# approved, a payer's reversal) and are made by that work.
MANUAL_TARGETS = frozenset({CaseStatus.OPEN, CaseStatus.IN_PROGRESS, CaseStatus.WAITING_ON_CLINICAL,
                            CaseStatus.WON, CaseStatus.PARTIALLY_WON, CaseStatus.LOST})
SORTS = {"priority": ("priority", True), "amount": ("recoverable_amount", True),
         "deadline": ("work_deadline", False), "age": ("opened_at", False)}
CarcPath = Path(pattern=CARC.pattern, description="A Claim Adjustment Reason Code")
_CASE_404 = {404: problem_doc(404, "No such case in this practice")}
_CASE_COLUMNS = [denial_cases.c[name] for name in DenialCaseOut.model_fields]
_WORKLIST_EXPORT = ["id", "claim_id", "payer_id", "status", "category", "primary_group_code", "primary_carc",
                    "recommended_action", "owning_team", "denied_amount", "recoverable_amount", "priority",
                    "work_deadline", "appeal_deadline", "assignee", "due_date", "opened_at"]


def _runtime(request: Request):
    return request.app.state.runtime


def _actor() -> str | None:
    caller = current_caller()
    return caller.actor if caller is not None else None


def _not_found(title: str = "Denial case not found") -> Problem:
    return Problem(404, title, type_="not-found")


@asynccontextmanager
async def _working(request: Request):
    """A write transaction with its outbox; the domain's refusals as problems."""
    try:
        async with _runtime(request).engine.begin() as conn:
            yield conn, outbox_emitter(conn)
    except CaseNotFound as missing:
        raise Problem(404, "Denial case not found", f"No case {missing.args[0]} in this practice.",
                      type_="not-found") from None
    except IllegalCaseTransition as refused:
        raise Problem(409, "Illegal case transition", str(refused), type_="illegal-case-transition",
                      current_status=refused.current.value, requested_status=refused.target.value) from None
    _runtime(request).events_staged()


def _worklist_query(tenant_id: str, status: list[CaseStatus] | None, category: list[Category] | None,
                    payer_id: str | None, carc: str | None, assignee: str | None, claim_id: UUID | None,
                    min_age_days: int | None, max_age_days: int | None, deadline_from: date | None,
                    deadline_to: date | None):
    query = sa.select(*_CASE_COLUMNS).where(denial_cases.c.tenant_id == tenant_id)
    if status is None:
        # The same text as the worklist indexes' predicate, so PostgreSQL proves they apply.
        query = query.where(sa.text(UNRESOLVED_SQL))
    else:  # literal values (not parameters): a subset of the unresolved statuses still proves the predicate
        query = query.where(denial_cases.c.status.in_(
            sa.bindparam("statuses", [s.value for s in status], expanding=True, literal_execute=True)))
    filters = {denial_cases.c.payer_id: payer_id, denial_cases.c.primary_carc: carc,
               denial_cases.c.assignee: assignee, denial_cases.c.claim_id: claim_id}
    query = query.where(*[column == value for column, value in filters.items() if value is not None])
    if category:
        query = query.where(denial_cases.c.category.in_(
            sa.bindparam("categories", [c.value for c in category], expanding=True, literal_execute=True)))
    today = datetime.now(timezone.utc)
    if min_age_days is not None:
        query = query.where(denial_cases.c.opened_at <= today - timedelta(days=min_age_days))
    if max_age_days is not None:
        query = query.where(denial_cases.c.opened_at > today - timedelta(days=max_age_days + 1))
    if deadline_from is not None:
        query = query.where(denial_cases.c.work_deadline >= deadline_from)
    if deadline_to is not None:
        query = query.where(denial_cases.c.work_deadline <= deadline_to)
    return query


@router.get("/denials", response_model=Page[DenialCaseOut],
            responses={**export_responses_doc("The page as CSV or XLSX when `format` asks for it"),
                       400: problem_doc(400, "A cursor this API did not issue"),
                       422: problem_doc(422, "An unknown status or category, or a malformed filter")})
@audited("list", "denial_case")
async def denial_worklist(
        request: Request, tenant_id: DenialsWork,
        status: Annotated[list[CaseStatus] | None, Query(description="Any of the statuses (default: the unresolved ones)")] = None,
        category: Annotated[list[Category] | None, Query()] = None,
        payer_id: str | None = None, carc: Annotated[str | None, Query(pattern=CARC.pattern)] = None,
        assignee: Annotated[str | None, Query(max_length=200)] = None, claim_id: UUID | None = None,
        min_age_days: Annotated[int | None, Query(ge=0, le=36500)] = None,
        max_age_days: Annotated[int | None, Query(ge=0, le=36500)] = None,
        deadline_from: date | None = None, deadline_to: date | None = None,
        sort: Literal["priority", "amount", "deadline", "age"] = "priority",
        cursor: str | None = None, limit: Annotated[int, Query(ge=1, le=200)] = 50,
        format: ExportFormat = ExportFormat.JSON) -> Page[DenialCaseOut] | Response:
    """The worklist: unresolved cases by priority (highest first; `docs/denials.md` has the formula, each
    case shows its parts), or by recoverable amount, soonest deadline or oldest first. Cursor-paginated;
    `format=csv|xlsx` exports the page."""
    query = _worklist_query(tenant_id, status, category, payer_id, carc, assignee, claim_id, min_age_days,
                            max_age_days, deadline_from, deadline_to)
    column, descending = SORTS[sort]
    async with _runtime(request).engine.connect() as conn:
        rows, next_cursor = await fetch_page(conn, query, order_by=[denial_cases.c[column], denial_cases.c.id],
                                             cursor=cursor, limit=limit, descending=descending)
    if format is not ExportFormat.JSON:
        return export_response(format, "denials-worklist", _WORKLIST_EXPORT,
                               [[row._mapping[name] for name in _WORKLIST_EXPORT] for row in rows])
    return Page[DenialCaseOut](items=[DenialCaseOut(**row._mapping) for row in rows], next_cursor=next_cursor)


@router.post("/denials/assignments", response_model=AssignmentOut,
             responses={404: problem_doc(404, "One of the cases is not in this practice (nothing is assigned)"),
                        422: problem_doc(422, "Invalid body (at most 500 cases)")})
@audited("assign", "denial_case")
async def assign_cases(body: BulkAssignmentIn, request: Request, tenant_id: DenialsWork) -> AssignmentOut:
    """Assign many cases to one person or team, all or none."""
    _check_assignee(body)
    async with _working(request) as (conn, emit):
        ids = await working.assign(conn, emit, tenant_id, body.case_ids, assignee=body.assignee,
                                   assignee_kind=body.assignee_kind, due_date=body.due_date, by=_actor())
    return AssignmentOut(case_ids=ids, assignee=body.assignee, assignee_kind=body.assignee_kind, due_date=body.due_date)


def _check_assignee(body: AssignmentIn) -> None:
    if (body.assignee is None) != (body.assignee_kind is None):
        raise Problem(422, "Invalid assignment", "Name both the assignee and its kind (person or team), or neither "
                      "to unassign.", type_="validation-error",
                      errors=[field_error("/assignee_kind" if body.assignee else "/assignee", "required with the other")])


def _code(entry_of, code: str) -> CodeOut:
    entry = entry_of(code)
    return CodeOut(code=code, description=entry.description if entry else None)


@router.get("/denials/{case_id}", response_model=DenialCaseDetailOut, responses=_CASE_404)
@audited("read", "denial_case", resource_id="case_id")
async def get_denial_case(case_id: UUID, request: Request, tenant_id: DenialsWork) -> DenialCaseDetailOut:
    """The case with its lines (group, CARC and RARCs with their descriptions, category and rule), priority
    and its parts, notes, tasks and the payer's decision on the claim."""
    async with snapshot(_runtime(request).engine) as conn:
        case = (await conn.execute(sa.select(*_CASE_COLUMNS).where(
            denial_cases.c.tenant_id == tenant_id, denial_cases.c.id == case_id))).first()
        if case is None:
            raise _not_found()
        lines = (await conn.execute(sa.select(denial_lines).where(
            denial_lines.c.tenant_id == tenant_id, denial_lines.c.case_id == case_id).order_by(denial_lines.c.position))).all()
        notes = (await conn.execute(sa.select(case_notes).where(
            case_notes.c.tenant_id == tenant_id, case_notes.c.case_id == case_id).order_by(case_notes.c.created_at))).all()
        tasks = (await conn.execute(sa.select(case_tasks).where(
            case_tasks.c.tenant_id == tenant_id, case_tasks.c.case_id == case_id).order_by(case_tasks.c.created_at))).all()
        claim = (await conn.execute(sa.select(claim_adjudications).where(
            claim_adjudications.c.tenant_id == tenant_id, claim_adjudications.c.claim_id == case.claim_id,
            claim_adjudications.c.remittance_id == case.remittance_id))).first()
        history = await claim_timeline(conn, tenant_id, case.claim_id)
        case_appeals = await appeals_of_case(conn, tenant_id, case_id)
    return DenialCaseDetailOut(
        **case._mapping,
        lines=[DenialLineOut(line_number=l.line_number, procedure_code=l.procedure_code, group_code=l.group_code,
                             carc=_code(carc_entry, l.carc), rarcs=[_code(rarc_entry, r) for r in l.rarcs],
                             amount=l.amount, is_denial=l.is_denial, category=l.category, rule=l.rule, why=l.why)
               for l in lines],
        notes=[NoteOut(**n._mapping) for n in notes], tasks=[TaskOut(**t._mapping) for t in tasks],
        claim=ClaimFactsOut(**claim._mapping) if claim else None, history=history,
        appeals=[appeal_out(row) for row in case_appeals])


@router.post("/denials/{case_id}/status", response_model=StatusOut,
             responses={**_CASE_404, 409: problem_doc(409, "The state machine refuses the move"),
                        422: problem_doc(422, "A status set by its own workflow, or an invalid body")})
@audited("update", "denial_case", resource_id="case_id")
async def move_case_status(case_id: UUID, body: StatusIn, request: Request, tenant_id: DenialsWork) -> StatusOut:
    """Move a case by hand: pick it up (in_progress), wait on clinical, reopen, or record the payer's
    outcome told by phone (won, partially_won with the amount recovered, lost)."""
    if body.status not in MANUAL_TARGETS:
        raise Problem(422, "Not a manual move", f"{body.status} is set by its own workflow (appeals, corrected "
                      "claims, write-offs, the payer's reversal).", type_="validation-error",
                      errors=[field_error("/status", f"one of {sorted(s.value for s in MANUAL_TARGETS)}")])
    if body.amount_recovered is not None and body.status not in working.OUTCOMES:
        raise Problem(422, "Amount without an outcome", type_="validation-error",
                      errors=[field_error("/amount_recovered", "only with won or partially_won")])
    async with _working(request) as (conn, emit):
        left = await working.move_manually(conn, emit, tenant_id, case_id, target=body.status, by=_actor(),
                                           reason=body.reason, amount_recovered=body.amount_recovered)
    return StatusOut(id=case_id, from_status=left, status=body.status)


@router.put("/denials/{case_id}/assignment", response_model=AssignmentOut,
            responses={**_CASE_404, 422: problem_doc(422, "Invalid body")})
@audited("assign", "denial_case", resource_id="case_id")
async def assign_case(case_id: UUID, body: AssignmentIn, request: Request, tenant_id: DenialsWork) -> AssignmentOut:
    """Give the case to a person (their sign-in subject) or a team, with a due date; both null unassigns."""
    _check_assignee(body)
    async with _working(request) as (conn, emit):
        await working.assign(conn, emit, tenant_id, [case_id], assignee=body.assignee,
                             assignee_kind=body.assignee_kind, due_date=body.due_date, by=_actor())
    return AssignmentOut(case_ids=[case_id], assignee=body.assignee, assignee_kind=body.assignee_kind,
                         due_date=body.due_date)


@router.post("/denials/{case_id}/notes", response_model=NoteOut, status_code=201,
             responses={**_CASE_404, 422: problem_doc(422, "Empty or too long")})
@audited("create", "denial_case_note", resource_id="case_id")
async def add_note(case_id: UUID, body: NoteIn, request: Request, tenant_id: DenialsWork) -> NoteOut:
    """A note on the case, its author the caller's token subject."""
    async with _working(request) as (conn, emit):
        note = await working.add_note(conn, emit, tenant_id, case_id, body=body.body, author=_actor())
    return NoteOut(**note)


@router.post("/denials/{case_id}/tasks", response_model=TaskOut, status_code=201,
             responses={**_CASE_404, 422: problem_doc(422, "Invalid body")})
@audited("create", "denial_case_task", resource_id="case_id")
async def request_documentation(case_id: UUID, body: TaskIn, request: Request, tenant_id: DenialsWork) -> TaskOut:
    """Ask clinical staff for documentation, by a due date; the case waits on clinical while a request is open."""
    async with _working(request) as (conn, emit):
        task = await working.request_documentation(conn, emit, tenant_id, case_id, description=body.description,
                                                   assignee=body.assignee, due_date=body.due_date, by=_actor())
    return TaskOut(**task)


@router.post("/denials/{case_id}/tasks/{task_id}/close", response_model=TaskOut,
             responses={404: problem_doc(404, "No such case or task"), 409: problem_doc(409, "The task is closed")})
@audited("update", "denial_case_task", resource_id="case_id")
async def close_task(case_id: UUID, task_id: UUID, body: TaskCloseIn, request: Request,
                     tenant_id: DenialsWork) -> TaskOut:
    """Done (the documentation came) or cancelled; the last open request closing resumes the case."""
    try:
        async with _working(request) as (conn, emit):
            task = await working.close_task(conn, emit, tenant_id, case_id, task_id, status=body.status, by=_actor())
    except working.TaskNotFound:
        raise _not_found("Task not found") from None
    except working.TaskClosed as closed:
        raise Problem(409, "Task already closed", f"The task is {closed.args[0]}.", type_="task-closed") from None
    return TaskOut(**task)


@router.put("/payers/{payer_id}/denial-settings", response_model=PayerSettingsOut,
            responses={422: problem_doc(422, "A window outside 1-3650 days")})
@audited("update", "payer_denial_settings", resource_id="payer_id")
async def put_payer_settings(payer_id: str, body: PayerSettingsIn, request: Request,
                             tenant_id: ReferenceAdmin) -> PayerSettingsOut:
    """This payer's appeal windows (days from the remittance date for level 1, from the previous decision
    for level 2 and external review) and corrected-claim filing limit; the payer's open cases take them at once."""
    async with _working(request) as (conn, emit):
        row = await working.set_payer_settings(conn, emit, tenant_id, payer_id,
                                               working.PayerSettingsIn(**body.model_dump()), by=_actor())
    return PayerSettingsOut(**row, configured=True)


@router.get("/payers/{payer_id}/denial-settings", response_model=PayerSettingsOut)
async def get_payer_settings(payer_id: str, request: Request, tenant_id: DenialsWork) -> PayerSettingsOut:
    """The payer's settings, or the defaults (configured false) when none are set."""
    async with _runtime(request).engine.connect() as conn:
        row = (await conn.execute(sa.select(payer_denial_settings).where(
            payer_denial_settings.c.tenant_id == tenant_id, payer_denial_settings.c.payer_id == payer_id))).first()
    if row is None:
        return PayerSettingsOut(payer_id=payer_id, configured=False, **DEFAULT_WINDOWS.__dict__)
    return PayerSettingsOut(**row._mapping, configured=True)


@router.put("/payers/{payer_id}/denial-category-overrides/{carc}", response_model=OverrideOut,
            responses={422: problem_doc(422, "An unknown category, team or action, or a CARC that is not one")})
@audited("update", "denial_category_override", resource_id="carc")
async def put_override(payer_id: str, carc: Annotated[str, CarcPath], body: OverrideIn, request: Request,
                       tenant_id: ReferenceAdmin) -> OverrideOut:
    """This practice's category for the payer's CARC, over the shipped mapping; its open cases with that
    CARC are categorized again at once."""
    async with _working(request) as (conn, emit):
        row = await working.set_override(conn, emit, tenant_id, payer_id, carc, body.model_dump(mode="json"),
                                         by=_actor())
    return OverrideOut(**row)


@router.get("/payers/{payer_id}/denial-category-overrides", response_model=list[OverrideOut])
async def list_overrides(payer_id: str, request: Request, tenant_id: DenialsWork) -> list[OverrideOut]:
    async with _runtime(request).engine.connect() as conn:
        rows = (await conn.execute(sa.select(category_overrides).where(
            category_overrides.c.tenant_id == tenant_id, category_overrides.c.payer_id == payer_id)
            .order_by(category_overrides.c.carc))).all()
    return [OverrideOut(**row._mapping) for row in rows]


@router.delete("/payers/{payer_id}/denial-category-overrides/{carc}", status_code=204,
               responses={404: problem_doc(404, "No override for this payer and CARC")})
@audited("delete", "denial_category_override", resource_id="carc")
async def delete_override(payer_id: str, carc: Annotated[str, CarcPath], request: Request,
                          tenant_id: ReferenceAdmin) -> Response:
    """Back to the shipped mapping for this payer's CARC; its open cases are categorized again."""
    async with _working(request) as (conn, emit):
        deleted = await working.delete_override(conn, emit, tenant_id, payer_id, carc)
    if not deleted:
        raise _not_found("Override not found")
    return Response(status_code=204)
