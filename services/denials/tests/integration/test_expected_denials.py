"""Expected denials on a real PostgreSQL, through the consumer's handlers and the resolving function:
opened with the claim's facts and on its timeline, one item under redelivery and newer checks, closed by
the payer's remittance (paid; denied and linked to the case) or by hand, another practice sees none."""

from __future__ import annotations

import json
import uuid
from decimal import Decimal

import pytest
import sqlalchemy as sa

from openrcm_denials.adapters.appeal_tables import claim_timeline
from openrcm_denials.adapters.expected_denial_tables import expected_denials
from openrcm_denials.adapters.tables import denial_cases
from openrcm_denials.domain.expected_denials import Resolution
from openrcm_denials.service_layer import expected_denials as expected
from openrcm_denials.service_layer.case_moves import outbox_emitter
from openrcm_denials.service_layer.cases import on_claim_denied
from openrcm_denials.service_layer.claim_timeline import on_claim_submitted
from openrcm_denials.service_layer.settlements import on_claim_payment_posted, on_claim_reversed
from openrcm_shared.contracts.claims import ClaimDenialExpected
from openrcm_shared.contracts.remittance import ClaimDenied, ClaimReversed, DeniedItem
from openrcm_shared.messaging.tables import outbox
from openrcm_shared.security.context import acting_for
from services.denials.tests.integration.claim_events import PAYER, SERVED, handle, posted, submitted
from tests.support import role_engine_fixtures, scratch_database_fixtures

pytestmark = pytest.mark.stack

database_url, _owner_engine = scratch_database_fixtures("openrcm_denials_expected", migrations_of="denials",
                                                        pool_size=1)
# The role the consumer and the API run as, held to the practice policies.
app_engine, system_engine = role_engine_fixtures("denials", pool_size=2)


def flagged(tenant: str, claim_id: uuid.UUID, check_id: uuid.UUID) -> ClaimDenialExpected:
    return ClaimDenialExpected(tenant_id=tenant, claim_id=claim_id, payer_id=PAYER, status="accepted_by_payer",
                               reason="coverage_inactive", eligibility_check_id=check_id, service_date=SERVED)


async def items_of(engine, tenant: str, claim_id: uuid.UUID) -> list:
    with acting_for(tenant):
        async with engine.connect() as conn:
            return (await conn.execute(sa.select(expected_denials).where(expected_denials.c.claim_id == claim_id)
                                       .order_by(expected_denials.c.flagged_at))).all()


async def events(engine, tenant: str, event_type: str) -> list[dict]:
    with acting_for(tenant):
        async with engine.connect() as conn:
            rows = (await conn.execute(sa.select(outbox.c.payload).where(
                outbox.c.tenant_id == tenant, outbox.c.event_type.like(f"%{event_type}%"))
                .order_by(outbox.c.id))).all()
    return [json.loads(row.payload) for row in rows]


def new_tenant() -> str:
    return f"expected-{uuid.uuid4().hex[:8]}"


async def test_one_open_item_per_claim_with_its_facts_under_redelivery_and_newer_checks(app_engine):
    tenant, claim_id, first_check, second_check = new_tenant(), uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    await handle(app_engine, on_claim_submitted, submitted(tenant, claim_id))
    await handle(app_engine, expected.on_claim_denial_expected, flagged(tenant, claim_id, first_check))
    await handle(app_engine, expected.on_claim_denial_expected, flagged(tenant, claim_id, first_check))  # redelivered

    [item] = await items_of(app_engine, tenant, claim_id)
    assert (item.status, item.reason, item.eligibility_check_id, item.service_date, item.claim_status) == (
        "open", "coverage_inactive", first_check, SERVED, "accepted_by_payer")
    assert (item.billed_amount, item.patient_id, item.patient_name, item.patient_control_number,
            item.rendering_provider_npi, item.payer_name) == (
        Decimal("240.75"), "PAT-7", "Testy Synthetic", "PCN7", "1245319599", "Synthetic Health Plan")
    [opened] = await events(app_engine, tenant, "expected_denial_opened")
    assert (opened["expected_denial_id"], opened["billed_amount"], opened["eligibility_check_id"]) == (
        str(item.id), "240.75", str(first_check))
    with acting_for(tenant):
        async with app_engine.connect() as conn:
            kinds = (await conn.execute(sa.select(claim_timeline.c.kind).where(
                claim_timeline.c.claim_id == claim_id).order_by(claim_timeline.c.id))).scalars().all()
    assert kinds == ["submitted_837", "denial_expected", "denial_expected"]

    # A newer check while the item is open: the same item names it.
    await handle(app_engine, expected.on_claim_denial_expected, flagged(tenant, claim_id, second_check))
    [reflagged] = await items_of(app_engine, tenant, claim_id)
    assert (reflagged.id, reflagged.eligibility_check_id, reflagged.eligibility_check_ids) == (
        item.id, second_check, [first_check, second_check])
    assert [e["eligibility_check_id"] for e in await events(app_engine, tenant, "expected_denial_reflagged")] == [
        str(second_check)]
    assert len(await events(app_engine, tenant, "expected_denial_opened")) == 1

    # The payer pays: closed as paid by that remittance; a later flag by the same check reopens nothing.
    remittance_id = uuid.uuid4()
    await handle(app_engine, on_claim_payment_posted, posted(tenant, claim_id, remittance_id, "paid", "180.00"))
    [paid] = await items_of(app_engine, tenant, claim_id)
    assert (paid.status, paid.resolution, paid.remittance_id, paid.resolved_by) == (
        "resolved", "paid", remittance_id, None)
    await handle(app_engine, expected.on_claim_denial_expected, flagged(tenant, claim_id, second_check))
    assert len(await items_of(app_engine, tenant, claim_id)) == 1
    [resolved] = await events(app_engine, tenant, "expected_denial_resolved")
    assert (resolved["resolution"], resolved["remittance_id"]) == ("paid", str(remittance_id))


def reversed_payment(tenant: str, claim_id: uuid.UUID, remittance_id: uuid.UUID, paid: str) -> ClaimReversed:
    return ClaimReversed(tenant_id=tenant, claim_id=claim_id, remittance_id=remittance_id, patient_id="PAT-7",
                         payer_id=PAYER, patient_control_number="PCN7", reversed_paid_amount=Decimal(paid),
                         reversed_patient_responsibility_amount=Decimal("0.00"), reversed_adjustments=[])


async def test_a_payment_taken_back_opens_the_item_it_had_settled_again(app_engine):
    """Coverage terminated retroactively: the payer paid, then recoups (CLP02 22). The expected denial
    the payment had settled is expected again; the corrected decision (a denial) settles it."""
    tenant, claim_id, paid_by, recouped_by = new_tenant(), uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    await handle(app_engine, on_claim_submitted, submitted(tenant, claim_id))
    await handle(app_engine, expected.on_claim_denial_expected, flagged(tenant, claim_id, uuid.uuid4()))
    await handle(app_engine, on_claim_payment_posted, posted(tenant, claim_id, paid_by, "paid", "180.00"))
    assert [(i.status, i.resolution) for i in await items_of(app_engine, tenant, claim_id)] == [("resolved", "paid")]

    await handle(app_engine, on_claim_reversed, reversed_payment(tenant, claim_id, recouped_by, "0.00"))
    assert [(i.status, i.resolution) for i in await items_of(app_engine, tenant, claim_id)] == [("resolved", "paid")]
    await handle(app_engine, on_claim_reversed, reversed_payment(tenant, claim_id, recouped_by, "180.00"))
    [item] = await items_of(app_engine, tenant, claim_id)
    assert (item.status, item.resolution, item.resolved_at, item.remittance_id) == ("open", None, None, None)
    [reopened] = await events(app_engine, tenant, "expected_denial_reopened")
    assert (reopened["expected_denial_id"], reopened["remittance_id"]) == (str(item.id), str(recouped_by))
    # Taken back again (a second reversal): it is open already, nothing more.
    await handle(app_engine, on_claim_reversed, reversed_payment(tenant, claim_id, recouped_by, "180.00"))
    assert len(await events(app_engine, tenant, "expected_denial_reopened")) == 1

    await handle(app_engine, on_claim_denied, ClaimDenied(
        tenant_id=tenant, claim_id=claim_id, remittance_id=recouped_by, patient_id="PAT-7", payer_id=PAYER,
        patient_control_number="PCN7", denied_amount=Decimal("240.75"),
        denials=[DeniedItem(group_code="CO", carc="27", amount=Decimal("240.75"))]))
    [item] = await items_of(app_engine, tenant, claim_id)
    assert (item.status, item.resolution, item.remittance_id) == ("resolved", "denied", recouped_by)


async def test_a_reversal_does_not_reopen_what_a_person_settled(app_engine):
    tenant, claim_id = new_tenant(), uuid.uuid4()
    await handle(app_engine, on_claim_submitted, submitted(tenant, claim_id))
    await handle(app_engine, expected.on_claim_denial_expected, flagged(tenant, claim_id, uuid.uuid4()))
    [item] = await items_of(app_engine, tenant, claim_id)
    with acting_for(tenant):
        async with app_engine.begin() as conn:
            await expected.resolve_by_hand(conn, outbox_emitter(conn), tenant_id=tenant, item_id=item.id,
                                           resolution=Resolution.BILLED_PATIENT, note="self-pay", by="biller-1")
    await handle(app_engine, on_claim_reversed, reversed_payment(tenant, claim_id, uuid.uuid4(), "180.00"))
    assert [(i.status, i.resolution) for i in await items_of(app_engine, tenant, claim_id)] == [
        ("resolved", "billed_patient")]
    assert await events(app_engine, tenant, "expected_denial_reopened") == []


async def test_a_denial_closes_the_item_as_denied_and_links_the_case(app_engine):
    tenant, claim_id, remittance_id = new_tenant(), uuid.uuid4(), uuid.uuid4()
    await handle(app_engine, on_claim_submitted, submitted(tenant, claim_id))
    await handle(app_engine, expected.on_claim_denial_expected, flagged(tenant, claim_id, uuid.uuid4()))
    # A decision paying nothing leaves it open for the ClaimDenied that follows it.
    await handle(app_engine, on_claim_payment_posted, posted(tenant, claim_id, remittance_id, "denied", "0.00"))
    assert (await items_of(app_engine, tenant, claim_id))[0].status == "open"
    await handle(app_engine, on_claim_denied, ClaimDenied(
        tenant_id=tenant, claim_id=claim_id, remittance_id=remittance_id, patient_id="PAT-7", payer_id=PAYER,
        patient_control_number="PCN7", denied_amount=Decimal("240.75"),
        denials=[DeniedItem(group_code="CO", carc="27", amount=Decimal("240.75"))]))

    [item] = await items_of(app_engine, tenant, claim_id)
    with acting_for(tenant):
        async with app_engine.connect() as conn:
            case_id = (await conn.execute(sa.select(denial_cases.c.id).where(
                denial_cases.c.claim_id == claim_id))).scalar_one()
    assert (item.status, item.resolution, item.denial_case_id, item.remittance_id) == (
        "resolved", "denied", case_id, remittance_id)
    [resolved] = await events(app_engine, tenant, "expected_denial_resolved")
    assert (resolved["resolution"], resolved["denial_case_id"]) == ("denied", str(case_id))


async def test_resolved_by_hand_once_and_out_of_reach_of_another_practice(app_engine):
    tenant, other, claim_id, check = new_tenant(), new_tenant(), uuid.uuid4(), uuid.uuid4()
    await handle(app_engine, expected.on_claim_denial_expected, flagged(tenant, claim_id, check))
    [item] = await items_of(app_engine, tenant, claim_id)
    assert (item.billed_amount, item.patient_id) == (Decimal("0.00"), None)  # not seen submitted
    assert await items_of(app_engine, other, claim_id) == []  # row-level security, whatever the query asks

    with acting_for(other):
        async with app_engine.begin() as conn:
            with pytest.raises(expected.ExpectedDenialNotFound):
                await expected.resolve_by_hand(conn, outbox_emitter(conn), tenant_id=other, item_id=item.id,
                                               resolution=Resolution.NO_ACTION, note="not ours", by="intruder")
    with acting_for(tenant):
        async with app_engine.begin() as conn:
            row = await expected.resolve_by_hand(conn, outbox_emitter(conn), tenant_id=tenant, item_id=item.id,
                                                 resolution=Resolution.BILLED_PATIENT, note="Self-pay since 11/1.",
                                                 by="biller-1")
        assert (row["status"], row["resolution"], row["resolved_by"]) == ("resolved", "billed_patient", "biller-1")
        async with app_engine.begin() as conn:
            with pytest.raises(expected.ExpectedDenialSettled):
                await expected.resolve_by_hand(conn, outbox_emitter(conn), tenant_id=tenant, item_id=item.id,
                                               resolution=Resolution.NO_ACTION, note="again", by="biller-2")
    [resolved] = await events(app_engine, tenant, "expected_denial_resolved")
    assert (resolved["resolution"], resolved["resolved_by"]) == ("billed_patient", "biller-1")
    assert "Self-pay" not in json.dumps(resolved)  # the note stays in the denials service

    # A check after the resolution is news: a new item opens.
    await handle(app_engine, expected.on_claim_denial_expected, flagged(tenant, claim_id, uuid.uuid4()))
    assert [i.status for i in await items_of(app_engine, tenant, claim_id)] == ["resolved", "open"]
