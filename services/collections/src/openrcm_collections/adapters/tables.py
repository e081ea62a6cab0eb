"""The collections database: patient accounts and their ledgers."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from openrcm_collections.adapters.receivable_tables import receivables_metadata
from openrcm_shared.audit.tables import audit_metadata
from openrcm_shared.messaging.tables import messaging_metadata


class CollectionsTable(SQLModel, registry=registry()):
    pass


MONEY = sa.Numeric(12, 2)


class PatientAccount(CollectionsTable, table=True):
    __tablename__ = "patient_accounts"

    tenant_id: str = Field(sa_type=sa.Text, primary_key=True)
    patient_id: str = Field(sa_type=sa.Text, primary_key=True)
    balance: Decimal = Field(sa_type=MONEY)
    opened_at: datetime = Field(sa_type=sa.DateTime(timezone=True))
    updated_at: datetime = Field(sa_type=sa.DateTime(timezone=True))
    # Added in 0006. The responsible party when it is not the patient (a parent, a spouse):
    # {"name", "relationship", "address": {...}}; statements are addressed to them.
    guarantor: dict | None = Field(default=None, sa_type=JSONB)
    hold_reason: str | None = Field(default=None, sa_type=sa.Text)  # dispute, bankruptcy, deceased, hardship
    dunning_stage: str | None = Field(default=None, sa_type=sa.Text)
    dunning_stage_at: datetime | None = Field(default=None, sa_type=sa.DateTime(timezone=True))
    last_statement_on: date | None = None


class LedgerEntry(CollectionsTable, table=True):
    """One amount on a patient's account; the balance is the sum of these (kept as balance_after)."""

    __tablename__ = "ledger_entries"
    # posted: the A/R aging reads a month's entries after its month-end snapshot (migration 0010).
    __table_args__ = (sa.Index("ix_ledger_entries_account", "tenant_id", "patient_id", "id"),
                      sa.Index("ix_ledger_entries_posted", "tenant_id", "posted_at"))

    id: int | None = Field(default=None, primary_key=True, sa_type=sa.BigInteger)
    tenant_id: str = Field(sa_type=sa.Text)
    patient_id: str = Field(sa_type=sa.Text)
    claim_id: UUID | None = None
    remittance_id: UUID | None = None
    entry_kind: str = Field(sa_type=sa.Text)
    responsibility_kind: str | None = Field(default=None, sa_type=sa.Text)
    carc: str | None = Field(default=None, sa_type=sa.Text)
    amount: Decimal = Field(sa_type=MONEY)
    balance_after: Decimal = Field(sa_type=MONEY)
    source_event_id: UUID
    posted_at: datetime = Field(sa_type=sa.DateTime(timezone=True))
    # Added with coordination of benefits (0006): the claim line the share is on, the payer whose
    # decision (or the payment of which) the entry records.
    line_number: int | None = None
    payer_id: str | None = Field(default=None, sa_type=sa.Text)
    movement_id: UUID | None = None  # the payment, refund or adjustment the entry belongs to


class BillClaim(CollectionsTable, table=True):
    """A claim of a bill (fed by the claims service's events): which primary claim it descends from
    (itself for a primary; the secondary's and tertiary's prior claims lead back to it), and what a
    statement shows of it."""

    __tablename__ = "bill_claims"
    __table_args__ = (sa.Index("ix_bill_claims_primary", "tenant_id", "primary_claim_id"),)

    tenant_id: str = Field(sa_type=sa.Text, primary_key=True)
    claim_id: UUID = Field(primary_key=True)
    primary_claim_id: UUID
    patient_id: str | None = Field(default=None, sa_type=sa.Text)
    encounter_id: str | None = Field(default=None, sa_type=sa.Text)
    payer_id: str | None = Field(default=None, sa_type=sa.Text)
    payer_responsibility: str | None = Field(default=None, sa_type=sa.Text)
    total_charge: Decimal | None = Field(default=None, sa_type=MONEY)
    service_date_from: date | None = None
    service_date_to: date | None = None
    lines: list | None = Field(default=None, sa_type=JSONB)
    provider_name: str | None = Field(default=None, sa_type=sa.Text)
    recorded_at: datetime = Field(sa_type=sa.DateTime(timezone=True))


class PayerAdjudication(CollectionsTable, table=True):
    """One payer decision posted on a claim (ClaimPaymentPosted), until the payer reverses it."""

    __tablename__ = "payer_adjudications"
    __table_args__ = (sa.Index("ix_payer_adjudications_claim", "tenant_id", "claim_id"),)

    id: int | None = Field(default=None, primary_key=True, sa_type=sa.BigInteger)
    tenant_id: str = Field(sa_type=sa.Text)
    patient_id: str = Field(sa_type=sa.Text)
    claim_id: UUID
    payer_id: str = Field(sa_type=sa.Text)
    remittance_id: UUID
    source_event_id: UUID = Field(unique=True)
    charge_amount: Decimal = Field(sa_type=MONEY)
    allowed_amount: Decimal = Field(sa_type=MONEY)
    paid_amount: Decimal = Field(sa_type=MONEY)
    shares: list = Field(sa_type=JSONB)  # [{"line_number", "carc", "amount"}]: the PR adjustments
    lines: list = Field(sa_type=JSONB)  # [{"line_number", "charge", "allowed", "paid"}]: the payer's line decisions
    reversed_by_event_id: UUID | None = None
    adjudicated_at: datetime = Field(sa_type=sa.DateTime(timezone=True))


class PayerCreditBalance(CollectionsTable, table=True):
    """What one payer overpaid on one bill (payments beyond what the provider may collect): to refund
    or offset. Zero once resolved; the history is in the PayerCreditBalanceChanged events."""

    __tablename__ = "payer_credit_balances"

    tenant_id: str = Field(sa_type=sa.Text, primary_key=True)
    primary_claim_id: UUID = Field(primary_key=True)
    payer_id: str = Field(sa_type=sa.Text, primary_key=True)
    patient_id: str = Field(sa_type=sa.Text)
    amount: Decimal = Field(sa_type=MONEY)
    updated_at: datetime = Field(sa_type=sa.DateTime(timezone=True))



_WHEN = sa.DateTime(timezone=True)


class PatientPayment(CollectionsTable, table=True):
    """A payment the patient (or guarantor) made. Card and ACH: only the processor's token and ids."""

    __tablename__ = "patient_payments"
    __table_args__ = (sa.Index("ix_patient_payments_account", "tenant_id", "patient_id", "received_at"),
                      sa.Index("ix_patient_payments_capture", "processor_capture_id"))

    id: UUID = Field(primary_key=True)
    tenant_id: str = Field(sa_type=sa.Text)
    patient_id: str = Field(sa_type=sa.Text)
    amount: Decimal = Field(sa_type=MONEY)
    method: str = Field(sa_type=sa.Text)  # card, ach, cash, check
    reference: str | None = Field(default=None, sa_type=sa.Text)
    processor_token: str | None = Field(default=None, sa_type=sa.Text)
    processor_authorization_id: str | None = Field(default=None, sa_type=sa.Text)
    processor_capture_id: str | None = Field(default=None, sa_type=sa.Text)
    status: str = Field(sa_type=sa.Text)  # posted, settled, declined, returned
    decline_code: str | None = Field(default=None, sa_type=sa.Text)
    returned_reason: str | None = Field(default=None, sa_type=sa.Text)
    refunded_amount: Decimal = Field(default=Decimal("0.00"), sa_type=MONEY,
                                     sa_column_kwargs={"server_default": "0"})
    allocations: list = Field(sa_type=JSONB)  # [{"claim_id": str | None, "amount": str}]
    plan_id: UUID | None = None
    # [{"plan_id": str, "number": int, "amount": str}]: what the payment paid of each plan installment
    plan_credits: list = Field(default_factory=list, sa_type=JSONB,
                               sa_column_kwargs={"server_default": sa.text("'[]'::jsonb")})
    recorded_by: str | None = Field(default=None, sa_type=sa.Text)
    received_at: datetime = Field(sa_type=_WHEN)


class AccountRefund(CollectionsTable, table=True):
    __tablename__ = "account_refunds"

    id: UUID = Field(primary_key=True)
    tenant_id: str = Field(sa_type=sa.Text)
    patient_id: str = Field(sa_type=sa.Text)
    payment_id: UUID | None = None
    amount: Decimal = Field(sa_type=MONEY)
    method: str = Field(sa_type=sa.Text)  # to the card/ACH of the payment, or a check
    processor_refund_id: str | None = Field(default=None, sa_type=sa.Text)
    recorded_by: str | None = Field(default=None, sa_type=sa.Text)
    refunded_at: datetime = Field(sa_type=_WHEN)


class AccountAdjustment(CollectionsTable, table=True):
    """A write-off or discount (positive: the patient owes less), posted at once or after approval."""

    __tablename__ = "account_adjustments"
    __table_args__ = (sa.Index("ix_account_adjustments_account", "tenant_id", "patient_id"),)

    id: UUID = Field(primary_key=True)
    tenant_id: str = Field(sa_type=sa.Text)
    patient_id: str = Field(sa_type=sa.Text)
    claim_id: UUID | None = None
    kind: str = Field(sa_type=sa.Text)
    reason_code: str = Field(sa_type=sa.Text)
    amount: Decimal = Field(sa_type=MONEY)
    financial_assistance: bool = Field(default=False, sa_column_kwargs={"server_default": sa.false()})
    note: str | None = Field(default=None, sa_type=sa.Text)
    status: str = Field(sa_type=sa.Text)  # pending_approval, posted, rejected, reversed
    requested_by: str | None = Field(default=None, sa_type=sa.Text)
    decided_by: str | None = Field(default=None, sa_type=sa.Text)
    reverses_adjustment_id: UUID | None = None
    requested_at: datetime = Field(sa_type=_WHEN)
    decided_at: datetime | None = Field(default=None, sa_type=_WHEN)


class PaymentPlan(CollectionsTable, table=True):
    __tablename__ = "payment_plans"
    __table_args__ = (sa.Index("ix_payment_plans_account", "tenant_id", "patient_id"),)

    id: UUID = Field(primary_key=True)
    tenant_id: str = Field(sa_type=sa.Text)
    patient_id: str = Field(sa_type=sa.Text)
    total: Decimal = Field(sa_type=MONEY)
    frequency: str = Field(sa_type=sa.Text)  # weekly, biweekly, monthly
    autopay_token: str | None = Field(default=None, sa_type=sa.Text)
    status: str = Field(sa_type=sa.Text)  # active, delinquent, defaulted, paid_off, cancelled
    grace_days: int
    created_at: datetime = Field(sa_type=_WHEN)
    updated_at: datetime = Field(sa_type=_WHEN)


class PlanInstallment(CollectionsTable, table=True):
    __tablename__ = "plan_installments"
    __table_args__ = (sa.Index("ix_plan_installments_due", "status", "due_date"),)

    tenant_id: str = Field(sa_type=sa.Text)
    plan_id: UUID = Field(primary_key=True)
    number: int = Field(primary_key=True)
    due_date: date
    amount: Decimal = Field(sa_type=MONEY)
    paid_amount: Decimal = Field(default=Decimal("0.00"), sa_type=MONEY, sa_column_kwargs={"server_default": "0"})
    status: str = Field(sa_type=sa.Text)  # scheduled, paid, missed, cancelled
    payment_id: UUID | None = None
    attempts: int = Field(default=0, sa_column_kwargs={"server_default": "0"})


class StatementRun(CollectionsTable, table=True):
    """One statement run of a practice: the print vendor's batch file (JSON lines) with it."""

    __tablename__ = "statement_runs"

    id: UUID = Field(primary_key=True)
    tenant_id: str = Field(sa_type=sa.Text)
    run_on: date
    statement_count: int
    placed_count: int  # accounts placed with the collection agency in this run
    batch_file: bytes = Field(sa_type=sa.LargeBinary)  # JSON lines for the print vendor
    agency_file: bytes | None = Field(default=None, sa_type=sa.LargeBinary)  # CSV of the placements
    created_at: datetime = Field(sa_type=_WHEN)


class Statement(CollectionsTable, table=True):
    __tablename__ = "statements"
    __table_args__ = (sa.Index("ix_statements_account", "tenant_id", "patient_id", "statement_on"),)

    id: UUID = Field(primary_key=True)
    tenant_id: str = Field(sa_type=sa.Text)
    patient_id: str = Field(sa_type=sa.Text)
    run_id: UUID | None = None
    statement_on: date
    due_on: date
    amount_due: Decimal = Field(sa_type=MONEY)
    dunning_stage: str = Field(sa_type=sa.Text)
    lines: list = Field(sa_type=JSONB)
    pdf: bytes = Field(sa_type=sa.LargeBinary)
    issued_at: datetime = Field(sa_type=_WHEN)


patient_accounts = PatientAccount.__table__
ledger_entries = LedgerEntry.__table__
bill_claims = BillClaim.__table__
payer_adjudications = PayerAdjudication.__table__
payer_credit_balances = PayerCreditBalance.__table__
class CollectionsPractice(CollectionsTable, table=True):
    """A practice the service keeps accounts or receivables for (no patient data): the list the
    scheduler acts for, which its system role may read (it may not read accounts), and the days its
    daily work last ran. Rows come from triggers on patient_accounts and bill_claims (0009)."""

    __tablename__ = "collections_practices"

    tenant_id: str = Field(sa_type=sa.Text, primary_key=True)
    registered_at: datetime = Field(sa_type=_WHEN)
    statements_run_on: date | None = None  # the scheduler's last statement run
    follow_up_run_on: date | None = None  # the last day claims past their follow-up age were asked about


class PaymentIntent(CollectionsTable, table=True):
    """A card or ACH payment from before the processor is called until it is recorded: written first,
    so a crash between the processor's answer and the payment's record is found and settled
    (the capture recorded, or the authorization voided). `processor_key` is the processor's
    idempotency key (from the request's Idempotency-Key)."""

    __tablename__ = "payment_intents"
    __table_args__ = (sa.UniqueConstraint("tenant_id", "processor_key"),
                      sa.Index("ix_payment_intents_open", "tenant_id", "updated_at",
                               postgresql_where=sa.text("status IN ('pending', 'authorized', 'captured')")))

    id: UUID = Field(primary_key=True)
    tenant_id: str = Field(sa_type=sa.Text)
    patient_id: str = Field(sa_type=sa.Text)
    processor_key: str = Field(sa_type=sa.Text)
    amount: Decimal = Field(sa_type=MONEY)
    method: str = Field(sa_type=sa.Text)  # card, ach
    processor_token: str = Field(sa_type=sa.Text)
    reference: str | None = Field(default=None, sa_type=sa.Text)
    allocate_to: list | None = Field(default=None, sa_type=JSONB)  # [claim id, ...] as asked
    plan_id: UUID | None = None
    recorded_by: str | None = Field(default=None, sa_type=sa.Text)
    # pending (processor not answered yet), authorized, captured, recorded, declined, voided, abandoned
    status: str = Field(sa_type=sa.Text)
    processor_authorization_id: str | None = Field(default=None, sa_type=sa.Text)
    processor_capture_id: str | None = Field(default=None, sa_type=sa.Text)
    decline_code: str | None = Field(default=None, sa_type=sa.Text)
    payment_id: UUID | None = None
    created_at: datetime = Field(sa_type=_WHEN)
    updated_at: datetime = Field(sa_type=_WHEN)


patient_payments = PatientPayment.__table__
account_refunds = AccountRefund.__table__
account_adjustments = AccountAdjustment.__table__
payment_plans = PaymentPlan.__table__
plan_installments = PlanInstallment.__table__
statement_runs = StatementRun.__table__
statements = Statement.__table__
collections_practices = CollectionsPractice.__table__
payment_intents = PaymentIntent.__table__
target_metadata = [CollectionsTable.metadata, messaging_metadata, audit_metadata, receivables_metadata]
