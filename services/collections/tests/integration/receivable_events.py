"""Claims and remittance events applied to a collections database as its consumer would (synthetic
data only): each through the service's own subscriptions, in a transaction of the app role acting
for the event's practice, dated by `at` (the event's ce_time)."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import date, datetime, time, timezone
from decimal import Decimal

from openrcm_collections.adapters.tables import ledger_entries
from openrcm_collections.entrypoints.subscriptions import SUBSCRIPTIONS
from openrcm_shared.contracts.base import IntegrationEvent
from openrcm_shared.contracts.claims import ClaimSubmitted, NextPayerClaimCreated, SubmittedClaimLine
from openrcm_shared.contracts.remittance import Adjustment, ClaimDenied, ClaimPaymentPosted, DeniedItem
from openrcm_shared.messaging.consumer import HandlerContext
from openrcm_shared.messaging.envelope import Envelope
from openrcm_shared.security.context import acting_for

HANDLERS = {s.contract.event_type: s.handler for s in SUBSCRIPTIONS}


def noon(day: date) -> datetime:
    return datetime.combine(day, time(12), tzinfo=timezone.utc)


async def apply(engine, event: IntegrationEvent, at: date) -> None:
    envelope = dataclasses.replace(
        Envelope.new(type=event.event_type, source="tests", subject=event.key(), tenant_id=event.tenant_id),
        time=noon(at))
    with acting_for(event.tenant_id):
        async with engine.begin() as conn:
            await HANDLERS[event.event_type](
                HandlerContext(conn=conn, envelope=envelope, source="collections", aggregate_type="patient_account"),
                event)


class RunFailed(Exception):
    """An event of a run refused after its handler ran (the run's transaction is rolled back)."""


async def apply_run(engine, dated_events: list[tuple[IntegrationEvent, date]], *, fail_at: int | None = None) -> None:
    """`dated_events` applied as the consumer applies a run of records: one transaction (its inbox
    rows first), each event acting for its practice, the writes deferred to the commit made then
    (`consumer._SharedTransaction`). The event at index `fail_at` raises after its handler ran:
    the run is rolled back, as the consumer does before applying its records one by one."""
    from openrcm_shared.messaging.consumer import _SharedTransaction

    run = [(dataclasses.replace(Envelope.new(type=e.event_type, source="tests", subject=e.key(),
                                             tenant_id=e.tenant_id), time=noon(at)), e) for e, at in dated_events]
    shared = _SharedTransaction(engine, "collections", {envelope.id: envelope.type for envelope, _ in run})
    try:
        for index, (envelope, event) in enumerate(run):
            with acting_for(envelope.tenant_id):
                conn = await shared.connection()
                assert shared.claim(envelope.id)
                await shared.act_for(envelope.tenant_id)
                await HANDLERS[envelope.type](HandlerContext(
                    conn=conn, envelope=envelope, source="collections", aggregate_type="patient_account",
                    deferred=shared.deferred), event)
            if index == fail_at:
                raise RunFailed(index)
        await shared.commit()
    except BaseException:
        await shared.rollback()
        raise


def submitted(tenant: str, claim_id, *, payer: str, patient: str, charge: str, service: date, billed: date,
              responsibility: str = "P", npi: str = "1234567893", financial_class: str = "CI") -> ClaimSubmitted:
    return ClaimSubmitted(
        tenant_id=tenant, claim_id=claim_id, encounter_id=f"enc-{claim_id}", patient_id=patient, payer_id=payer,
        patient_control_number=str(claim_id)[:20], total_charge=Decimal(charge), service_date_from=service,
        service_date_to=service, submitted_at=noon(billed), payer_responsibility=responsibility,
        billing_provider_npi=npi, claim_filing_indicator=financial_class,
        lines=[SubmittedClaimLine(line_number=1, procedure_code="99213", units=1, charge_amount=Decimal(charge),
                                  service_date=service)])


def next_payer(tenant: str, claim_id, prior_claim_id, *, payer: str, charge: str, prior_paid: str,
               prior_patient: str) -> NextPayerClaimCreated:
    return NextPayerClaimCreated(
        tenant_id=tenant, claim_id=claim_id, prior_claim_id=prior_claim_id, encounter_id=f"enc-{prior_claim_id}",
        payer_id=payer, payer_responsibility="S", prior_payer_id="P1", total_charge=Decimal(charge),
        prior_paid_amount=Decimal(prior_paid), prior_patient_responsibility_amount=Decimal(prior_patient))


def posted(tenant: str, claim_id, *, payer: str, patient: str, charge: str, paid: str,
           adjustments: list[tuple[str, str, str]], outcome: str = "paid", remittance_id=None) -> ClaimPaymentPosted:
    cas = [Adjustment(group_code=group, carc=carc, amount=Decimal(amount)) for group, carc, amount in adjustments]
    owed = sum((a.amount for a in cas if a.group_code == "PR"), Decimal("0.00"))
    return ClaimPaymentPosted(
        tenant_id=tenant, claim_id=claim_id, remittance_id=remittance_id or uuid.uuid4(), patient_id=patient,
        payer_id=payer, patient_control_number=str(claim_id)[:20], outcome=outcome, charge_amount=Decimal(charge),
        allowed_amount=Decimal(paid) + owed, paid_amount=Decimal(paid), patient_responsibility_amount=owed,
        adjustments=cas, lines=[])


def denied(tenant: str, claim_id, *, payer: str, patient: str, amount: str, carc: str = "50",
           remittance_id=None) -> ClaimDenied:
    return ClaimDenied(
        tenant_id=tenant, claim_id=claim_id, remittance_id=remittance_id or uuid.uuid4(), patient_id=patient,
        payer_id=payer, patient_control_number=str(claim_id)[:20], denied_amount=Decimal(amount),
        denials=[DeniedItem(group_code="CO", carc=carc, amount=Decimal(amount))])


async def ledger_entry(engine, tenant: str, patient: str, claim_id, kind: str, amount: str, on: date) -> None:
    """A line of the patient's account as the account rules write it (append-only, posted_at)."""
    with acting_for(tenant):
        async with engine.begin() as conn:
            await conn.execute(ledger_entries.insert().values(
                tenant_id=tenant, patient_id=patient, claim_id=claim_id, entry_kind=kind, amount=Decimal(amount),
                balance_after=Decimal(0), source_event_id=uuid.uuid4(), posted_at=noon(on)))
