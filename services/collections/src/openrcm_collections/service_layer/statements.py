"""Statement runs: every account of a practice whose cycle has come (COLLECTIONS_STATEMENT_CYCLE_DAYS
since its last statement) and that owes something gets a statement — the first one only once
insurance has resolved every claim on it (no payer still to decide) — with its lines in words, a
PDF, a line in the run's print-vendor batch file (JSON lines), its dunning stage moved on
(domain.statements), and StatementIssued / DunningStageChanged events. Accounts reaching
agency placement get no statement: they go into the run's agency file (CSV).

Accounts are taken in chunks, each read with a few queries for the whole chunk (not per account),
so a run of 100,000 accounts is bounded by drawing the PDFs.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import uuid
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from uuid import UUID

import sqlalchemy as sa

from openrcm_collections.adapters.tables import (
    bill_claims, ledger_entries, patient_accounts, payer_adjudications, payment_plans, statement_runs, statements,
)
from openrcm_collections.domain.patient_share import OWED_KINDS
from openrcm_collections.domain.statements import (
    STAGES, StatementLine, next_stage, procedure_in_words, reason_in_words, statement_line,
)
from openrcm_collections.service_layer.payments import AGGREGATE, SOURCE
from openrcm_collections.settings import CollectionsSettings
from openrcm_shared.contracts.collections import DunningStageChanged, StatementIssued
from openrcm_shared.documents.pdf import Document, Facts, Heading, Paragraph, Spacer, Table, money_text, render_pdf
from openrcm_shared.documents.tabular import rows_to_csv
from openrcm_shared.messaging.outbox import stage_events
from openrcm_shared.money import ZERO

CHUNK = 1000
_RENDERERS: ProcessPoolExecutor | None = None
PLACEMENT = STAGES[-1]
_NOTICES = {"statement_1": None, "statement_2": "This is a reminder: your balance is past due.",
            "final_notice": "Final notice: please pay your balance or call us to set up a payment plan.",
            "pre_collection": "Your account will be placed with a collection agency if it is not paid or "
                              "arranged by the due date."}


@dataclass
class AccountStatement:
    patient_id: str
    balance: Decimal
    guarantor: dict | None
    from_stage: str | None
    stage: str
    lines: list[StatementLine] = field(default_factory=list)


async def run_statements(conn, tenant_id: str, as_of: date, settings: CollectionsSettings, *,
                         progress: Callable[[int, int], None] | None = None) -> dict:
    """One statement run of the practice as of `as_of` (see the module's docstring); returns the run."""
    run_id, now = uuid.uuid4(), datetime.now(timezone.utc)
    due_on = as_of + timedelta(days=settings.statement_due_days)
    accounts = (await conn.execute(sa.select(
        patient_accounts.c.patient_id, patient_accounts.c.balance, patient_accounts.c.guarantor,
        patient_accounts.c.hold_reason, patient_accounts.c.dunning_stage, patient_accounts.c.last_statement_on)
        .where(patient_accounts.c.tenant_id == tenant_id, patient_accounts.c.balance > 0,
               sa.or_(patient_accounts.c.last_statement_on.is_(None),
                      patient_accounts.c.last_statement_on <= as_of - timedelta(days=settings.statement_cycle_days)),
               sa.or_(patient_accounts.c.dunning_stage.is_(None), patient_accounts.c.dunning_stage != PLACEMENT))
        .order_by(patient_accounts.c.patient_id))).all()
    on_plan = set((await conn.execute(sa.select(payment_plans.c.patient_id).where(
        payment_plans.c.tenant_id == tenant_id, payment_plans.c.status.in_(("active", "delinquent"))))).scalars())
    batch_lines, placements, issued = [], [], 0
    for start in range(0, len(accounts), CHUNK):
        chunk = accounts[start:start + CHUNK]
        built = await _build_chunk(conn, tenant_id, chunk, on_plan)
        rows, events = [], []
        pdfs = iter(await render_pdfs([statement_document(account, as_of, due_on) for account in built
                                       if account.stage != PLACEMENT]))
        for account in built:
            if account.stage == PLACEMENT:
                placements.append(account)
            else:
                statement_id = uuid.uuid4()
                pdf = next(pdfs)
                rows.append(dict(id=statement_id, tenant_id=tenant_id, patient_id=account.patient_id, run_id=run_id,
                                 statement_on=as_of, due_on=due_on, amount_due=account.balance,
                                 dunning_stage=account.stage, lines=[line.as_json() for line in account.lines],
                                 pdf=pdf, issued_at=now))
                batch_lines.append(_batch_line(statement_id, account, as_of, due_on))
                events.append(StatementIssued(tenant_id=tenant_id, patient_id=account.patient_id,
                                              statement_id=statement_id, run_id=run_id, statement_on=as_of,
                                              due_on=due_on, amount_due=account.balance, dunning_stage=account.stage))
            if account.stage != account.from_stage:
                events.append(DunningStageChanged(tenant_id=tenant_id, patient_id=account.patient_id,
                                                  from_stage=account.from_stage, to_stage=account.stage,
                                                  balance=account.balance))
        if rows:
            await conn.execute(statements.insert(), rows)
        if built:
            await conn.execute(sa.update(patient_accounts).where(
                patient_accounts.c.tenant_id == tenant_id, patient_accounts.c.patient_id == sa.bindparam("pid"))
                .values(last_statement_on=as_of, dunning_stage=sa.bindparam("stage"), dunning_stage_at=now),
                [{"pid": account.patient_id, "stage": account.stage} for account in built])
        if events:
            await stage_events(conn, events, source=SOURCE, aggregate_type=AGGREGATE)
        issued += len(rows)
        if progress:
            progress(min(start + CHUNK, len(accounts)), len(accounts))
    run = dict(id=run_id, tenant_id=tenant_id, run_on=as_of, statement_count=issued, placed_count=len(placements),
               batch_file=b"".join(batch_lines), agency_file=_agency_file(placements, as_of) if placements else None,
               created_at=now)
    await conn.execute(statement_runs.insert().values(**run))
    return run


async def render_pdfs(documents: list[Document]) -> list[bytes]:
    """The documents as PDFs, drawn in worker processes (one per CPU): drawing is CPU work that would
    hold the event loop for minutes in a large run, and the processes draw side by side."""
    global _RENDERERS
    if not documents:
        return []
    if _RENDERERS is None:
        _RENDERERS = ProcessPoolExecutor(max_workers=os.cpu_count() or 1,
                                         mp_context=multiprocessing.get_context("spawn"))
    chunk = max(1, len(documents) // (4 * (os.cpu_count() or 1)))
    return await asyncio.get_running_loop().run_in_executor(
        None, lambda: list(_RENDERERS.map(render_pdf, documents, chunksize=chunk)))


async def _build_chunk(conn, tenant_id: str, chunk, on_plan: set[str]) -> list[AccountStatement]:
    """The chunk's statements: shares per claim line, the bills' claims and payer decisions, payments."""
    patient_ids = [row.patient_id for row in chunk]
    shares = (await conn.execute(
        sa.select(ledger_entries.c.patient_id, ledger_entries.c.claim_id, ledger_entries.c.line_number,
                  ledger_entries.c.carc, ledger_entries.c.responsibility_kind, sa.func.sum(ledger_entries.c.amount))
        .where(ledger_entries.c.tenant_id == tenant_id, ledger_entries.c.patient_id.in_(patient_ids),
               ledger_entries.c.entry_kind.in_(OWED_KINDS))
        .group_by(ledger_entries.c.patient_id, ledger_entries.c.claim_id, ledger_entries.c.line_number,
                  ledger_entries.c.carc, ledger_entries.c.responsibility_kind)
        .having(sa.func.sum(ledger_entries.c.amount) != 0))).all()
    last_paid = dict((await conn.execute(
        sa.select(ledger_entries.c.patient_id, sa.func.max(ledger_entries.c.posted_at))
        .where(ledger_entries.c.tenant_id == tenant_id, ledger_entries.c.patient_id.in_(patient_ids),
               ledger_entries.c.entry_kind == "payment")
        .group_by(ledger_entries.c.patient_id))).all())
    claims = await _claims_of_bills(conn, tenant_id, {row.claim_id for row in shares if row.claim_id})
    by_patient: dict[str, list] = defaultdict(list)
    for row in shares:
        by_patient[row.patient_id].append(row)
    built = []
    for account in chunk:
        hold = account.hold_reason or ("payment_plan" if account.patient_id in on_plan else None)
        paid_since = account.patient_id in last_paid and (
            account.last_statement_on is None or last_paid[account.patient_id].date() > account.last_statement_on)
        stage = next_stage(account.dunning_stage, paid_since_last=paid_since, hold=hold)
        if stage is None:
            continue
        lines, resolved = _lines(by_patient[account.patient_id], claims)
        if account.dunning_stage is None and not resolved:
            continue  # the first statement waits until no payer has a claim of it left to decide
        built.append(AccountStatement(account.patient_id, account.balance, account.guarantor, account.dunning_stage,
                                      stage, lines))
    return built


@dataclass
class _Bills:
    claims: dict[UUID, object]  # claim id -> bill_claims row
    adjudicated: set[UUID]  # claims with a payer decision in force
    paid_by_line: dict[tuple[UUID, int | None], Decimal]  # (primary claim id, line) -> paid by all payers
    undecided_bills: set[UUID] = field(default_factory=set)  # bills (primary claim ids) a payer has yet to decide


async def _claims_of_bills(conn, tenant_id: str, claim_ids: set[UUID]) -> _Bills:
    if not claim_ids:
        return _Bills({}, set(), {})
    primaries = sa.select(bill_claims.c.primary_claim_id).where(bill_claims.c.tenant_id == tenant_id,
                                                                bill_claims.c.claim_id.in_(claim_ids))
    rows = (await conn.execute(sa.select(bill_claims).where(bill_claims.c.tenant_id == tenant_id,
                                                            bill_claims.c.primary_claim_id.in_(primaries)))).all()
    by_id = {row.claim_id: row for row in rows}
    decisions = (await conn.execute(sa.select(payer_adjudications.c.claim_id, payer_adjudications.c.lines).where(
        payer_adjudications.c.tenant_id == tenant_id, payer_adjudications.c.claim_id.in_(list(by_id)),
        payer_adjudications.c.reversed_by_event_id.is_(None)))).all()
    paid: dict[tuple[UUID, int | None], Decimal] = defaultdict(lambda: ZERO)
    for decision in decisions:
        primary = by_id[decision.claim_id].primary_claim_id
        for line in decision.lines:
            paid[(primary, line["line_number"])] += Decimal(line["paid"])
    adjudicated = {decision.claim_id for decision in decisions}
    undecided = {row.primary_claim_id for row in rows if row.claim_id not in adjudicated}
    return _Bills(by_id, adjudicated, paid, undecided)


def _lines(shares, bills: _Bills) -> tuple[list[StatementLine], bool]:
    """One statement line per claim line the patient owes on; and whether every bill is resolved."""
    owed: dict[tuple, list] = defaultdict(list)
    for row in shares:
        owed[(row.claim_id, row.line_number)].append(row)
    lines, resolved = [], True
    for (claim_id, line_number), parts in owed.items():
        claim = bills.claims.get(claim_id)
        primary = bills.claims.get(claim.primary_claim_id) if claim is not None else None
        if primary is not None:
            resolved &= primary.claim_id not in bills.undecided_bills
        patient_owes = sum((part[5] for part in parts), ZERO)
        reason = reason_in_words([(p[4] or "other", p[3] or "") for p in parts])
        if line_number is None and primary is not None and primary.service_date_from is not None:
            lines.append(_whole_claim_line(primary, claim, bills, patient_owes, reason))
            continue
        billed = next((l for l in (primary.lines or []) if l["line_number"] == line_number), None) if primary else None
        if billed is None:  # posted before claims were recorded here: what is known is what is owed
            lines.append(statement_line(service_date=None, provider=None, procedure="Earlier balance",
                                        charge=patient_owes, insurance_paid=ZERO, patient_owes=patient_owes,
                                        reason=reason_in_words([(p[4] or "other", p[3] or "") for p in parts])))
            continue
        lines.append(statement_line(
            service_date=date.fromisoformat(billed["service_date"]), provider=primary.provider_name,
            procedure=procedure_in_words(billed.get("description"), billed.get("procedure_code"),
                                         billed.get("revenue_code")),
            charge=Decimal(billed["charge_amount"]), insurance_paid=bills.paid_by_line[(primary.claim_id, line_number)],
            patient_owes=patient_owes, reason=reason_in_words([(p[4] or "other", p[3] or "") for p in parts])))
    lines.sort(key=lambda line: (line.service_date or date.min, line.procedure))
    return lines, resolved


def _whole_claim_line(primary, claim, bills: _Bills, patient_owes: Decimal, reason: str) -> StatementLine:
    """A share owed on the claim as a whole (a denial the practice moved to the patient): the claim's
    first date of service, its lines in words, its charge and what the plans paid on it."""
    procedures = [procedure_in_words(line.get("description"), line.get("procedure_code"), line.get("revenue_code"))
                  for line in (claim.lines or primary.lines or [])]
    paid = sum((amount for (bill, _), amount in bills.paid_by_line.items() if bill == primary.claim_id), ZERO)
    return statement_line(service_date=primary.service_date_from, provider=primary.provider_name,
                          procedure="; ".join(dict.fromkeys(procedures)) or "Services billed to your plan",
                          charge=claim.total_charge or patient_owes, insurance_paid=paid, patient_owes=patient_owes,
                          reason=reason)


def statement_document(account: AccountStatement, statement_on: date, due_on: date) -> Document:
    guarantor = account.guarantor or {}
    address = guarantor.get("address") or {}
    to_lines = [guarantor.get("name") or f"Patient {account.patient_id}",
                *(part for part in (address.get("line1"), address.get("line2")) if part),
                " ".join(part for part in (address.get("city"), address.get("state"), address.get("postal_code"))
                         if part)]
    document = Document(title="Patient statement", footer=f"Account {account.patient_id}").add(
        Heading("Statement of your account"),
        Paragraph("\n".join(line for line in to_lines if line)),
        Spacer(),
        Facts([("Account", account.patient_id), ("Statement date", statement_on.isoformat()),
               ("Please pay by", due_on.isoformat()), ("Amount due", money_text(account.balance))]))
    notice = _NOTICES.get(account.stage)
    if notice:
        document.add(Paragraph(notice, bold=True))
    document.add(Spacer(), Table(
        ["Date of service", "Provider", "Service", "Charge", "Insurance paid", "Adjustments", "You owe", "Why"],
        [[line.service_date.isoformat() if line.service_date else "", line.provider, line.procedure,
          money_text(line.charge), money_text(line.insurance_paid), money_text(line.adjustments),
          money_text(line.patient_owes), line.reason] for line in account.lines],
        widths=[1.1, 1.2, 1.6, 0.9, 0.9, 0.9, 0.8, 2.2], align_right=frozenset({3, 4, 5, 6}), size=7),
        Spacer(),
        Paragraph("Payments and credits since these services are included in the amount due. Questions about "
                  "your bill, or to set up a payment plan: call the billing office."))
    return document


def _batch_line(statement_id: UUID, account: AccountStatement, statement_on: date, due_on: date) -> bytes:
    """One statement as the print vendor's batch file carries it (JSON lines)."""
    guarantor = account.guarantor or {}
    return (json.dumps({"statement_id": str(statement_id), "account": account.patient_id,
                        "addressee": guarantor.get("name"), "address": guarantor.get("address"),
                        "statement_date": statement_on.isoformat(), "due_date": due_on.isoformat(),
                        "amount_due": str(account.balance), "dunning_stage": account.stage,
                        "document": f"{statement_id}.pdf"}, separators=(",", ":")) + "\n").encode()


def _agency_file(placements: list[AccountStatement], placed_on: date) -> bytes:
    """The accounts placed with the collection agency in this run (CSV)."""
    return rows_to_csv(["account", "responsible_party", "address_line1", "city", "state", "postal_code", "balance",
                        "placed_on"],
                       [[account.patient_id, (account.guarantor or {}).get("name"),
                         ((account.guarantor or {}).get("address") or {}).get("line1"),
                         ((account.guarantor or {}).get("address") or {}).get("city"),
                         ((account.guarantor or {}).get("address") or {}).get("state"),
                         ((account.guarantor or {}).get("address") or {}).get("postal_code"),
                         account.balance, placed_on] for account in placements])
