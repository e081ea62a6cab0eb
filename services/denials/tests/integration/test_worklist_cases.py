"""Denial cases on a real PostgreSQL, through the consumer handlers, the working functions and the
background pass: categorized lines and priority, replays, reversals through the state machine, documentation
requests, payer history re-ranking, overrides, SLA breaches announced once, trend episodes announced once."""

from __future__ import annotations

import dataclasses
import json
import uuid
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
import sqlalchemy as sa

from openrcm_denials.adapters.tables import denial_cases, denial_lines, trend_episodes
from openrcm_denials.domain.case_status import CaseStatus, IllegalCaseTransition
from openrcm_denials.service_layer import passes, working
from openrcm_denials.service_layer.case_moves import outbox_emitter
from openrcm_denials.service_layer.cases import on_claim_denied, on_claim_payment_posted, on_claim_reversed
from openrcm_denials.settings import WorklistSettings
from openrcm_shared.contracts.remittance import ClaimDenied, ClaimPaymentPosted, ClaimReversed
from openrcm_shared.messaging.consumer import HandlerContext
from openrcm_shared.messaging.envelope import Envelope
from openrcm_shared.messaging.tables import outbox
from openrcm_shared.security.context import acting_for
from tests.support import scratch_database_fixtures

pytestmark = pytest.mark.stack

database_url, engine = scratch_database_fixtures("openrcm_denials_worklist", migrations_of="denials", pool_size=2)
TODAY = datetime.now(timezone.utc).date()
PAYER = "60054"


async def handle(engine, handler, event, *, on: date = TODAY) -> None:
    envelope = Envelope.new(type=event.event_type, source="/openrcm/remittance", subject=str(event.claim_id),
                            tenant_id=event.tenant_id)
    envelope = dataclasses.replace(envelope, time=datetime.combine(on, datetime.min.time(), timezone.utc))
    with acting_for(event.tenant_id):
        async with engine.begin() as conn:
            await handler(HandlerContext(conn=conn, envelope=envelope, source="/openrcm/denials",
                                         aggregate_type="denial_case"), event)


def posted(tenant: str, claim_id, remittance_id, lines: list[tuple[int, str, str, str]]) -> ClaimPaymentPosted:
    """lines: (line number, procedure, charge, paid)."""
    charge = sum(Decimal(line[2]) for line in lines)
    paid = sum(Decimal(line[3]) for line in lines)
    return ClaimPaymentPosted(
        tenant_id=tenant, claim_id=claim_id, remittance_id=remittance_id, patient_id="P-1", payer_id=PAYER,
        patient_control_number="PCN1", outcome="partially_paid" if paid else "denied", charge_amount=charge,
        allowed_amount=paid, paid_amount=paid, patient_responsibility_amount=Decimal("0.00"), adjustments=[],
        lines=[{"line_number": n, "charge_amount": c, "allowed_amount": p, "paid_amount": p,
                "patient_responsibility_amount": "0.00", "procedure_code": code} for n, code, c, p in lines],
        payer_claim_control_number="PCCN-77")


def denied(tenant: str, claim_id, remittance_id, items: list[tuple[int | None, str, str, list[str], str]]) -> ClaimDenied:
    """items: (line number, group, CARC, RARCs, amount)."""
    return ClaimDenied(
        tenant_id=tenant, claim_id=claim_id, remittance_id=remittance_id, patient_id="P-1", payer_id=PAYER,
        patient_control_number="PCN1", denied_amount=sum(Decimal(i[4]) for i in items),
        denials=[{"line_number": n, "group_code": g, "carc": c, "rarcs": r, "amount": a} for n, g, c, r, a in items])


async def deny(engine, tenant: str, items, *, lines=None, on: date = TODAY):
    claim_id, remittance_id = uuid.uuid4(), uuid.uuid4()
    lines = lines or [(n or 1, "99213", a, "0.00") for n, _, _, _, a in items[:1]]
    await handle(engine, on_claim_payment_posted, posted(tenant, claim_id, remittance_id, lines), on=on)
    await handle(engine, on_claim_denied, denied(tenant, claim_id, remittance_id, items), on=on)
    return claim_id


async def case_of(engine, claim_id):
    async with engine.connect() as conn:
        return (await conn.execute(sa.select(denial_cases).where(denial_cases.c.claim_id == claim_id))).one()


async def events(engine, tenant: str, event_type: str) -> list[dict]:
    async with engine.connect() as conn:
        rows = (await conn.execute(sa.select(outbox.c.payload).where(
            outbox.c.tenant_id == tenant, outbox.c.event_type.like(f"%{event_type}%")))).all()
    return [json.loads(row.payload) for row in rows]


def new_tenant() -> str:
    return f"worklist-{uuid.uuid4().hex[:8]}"


async def test_a_partially_paid_claim_opens_a_categorized_ranked_case_with_procedures(engine):
    tenant = new_tenant()
    claim_id = await deny(engine, tenant, [(2, "CO", "45", [], "20.00"), (2, "CO", "16", ["M51"], "60.00"),
                                           (3, "CO", "50", ["N115"], "140.00")],
                          lines=[(1, "99214", "150.00", "120.00"), (2, "36415", "80.00", "0.00"),
                                 (3, "93000", "140.00", "0.00")])
    case = await case_of(engine, claim_id)
    assert (case.category, case.rule, case.primary_carc) == ("medical_necessity", "carc:50", "50")
    assert case.recoverable_amount == Decimal("200.00") and case.denied_amount == Decimal("220.00")
    assert case.appeal_deadline == TODAY + timedelta(days=90) and case.work_deadline == case.appeal_deadline
    assert case.priority == Decimal("100.00")  # 200.00 x 0.50 x 1
    assert case.priority_parts["likelihood_basis"] == "category"
    assert case.payer_claim_control_number == "PCCN-77"
    async with engine.connect() as conn:
        lines = (await conn.execute(sa.select(denial_lines).where(denial_lines.c.case_id == case.id)
                                    .order_by(denial_lines.c.position))).all()
    assert [(l.procedure_code, l.carc, l.is_denial, l.category, l.rule) for l in lines] == [
        ("36415", "45", False, None, "not-a-denial:CO-45"), ("36415", "16", True, "coding", "carc:16+rarc:M51"),
        ("93000", "50", True, "medical_necessity", "carc:50")]
    [opened] = await events(engine, tenant, "denial_case_opened")
    assert opened["category"] == "medical_necessity" and opened["mapping_version"] == "2026.12-1"


async def test_a_replayed_denial_opens_no_second_case_and_a_contractual_reduction_none(engine):
    tenant = new_tenant()
    claim_id, remittance_id = uuid.uuid4(), uuid.uuid4()
    event = denied(tenant, claim_id, remittance_id, [(1, "CO", "97", ["M15"], "15.50")])
    await handle(engine, on_claim_denied, event)
    await handle(engine, on_claim_denied, event)
    contractual = await deny(engine, tenant, [(1, "CO", "45", [], "25.00")])
    async with engine.connect() as conn:
        claims = (await conn.execute(sa.select(denial_cases.c.claim_id).where(denial_cases.c.tenant_id == tenant))).scalars().all()
    assert claims == [claim_id] and contractual not in claims
    assert len(await events(engine, tenant, "denial_case_opened")) == 1


async def test_payer_settings_decide_the_deadlines_of_new_and_open_cases(engine):
    tenant = new_tenant()
    before = await deny(engine, tenant, [(1, "CO", "16", ["M127"], "90.00")])  # correct and resubmit
    async with engine.begin() as conn:
        await working.set_payer_settings(conn, outbox_emitter(conn), tenant, PAYER, working.PayerSettingsIn(
            appeal_level1_days=180, appeal_level2_days=60, external_review_days=120, corrected_claim_days=30), by="admin")
    case = await case_of(engine, before)
    assert case.appeal_deadline == TODAY + timedelta(days=180)
    assert case.corrected_claim_deadline == case.work_deadline == TODAY + timedelta(days=30)
    assert case.priority_parts["days_left"] == 30


async def test_a_reversal_closes_every_unresolved_case_of_the_claim_through_the_state_machine(engine):
    tenant = new_tenant()
    claim_id = await deny(engine, tenant, [(1, "CO", "97", [], "40.00")])
    case = await case_of(engine, claim_id)
    async with engine.begin() as conn:
        await working.move_manually(conn, outbox_emitter(conn), tenant, case.id, target=CaseStatus.IN_PROGRESS,
                                    by="biller-1", reason=None, amount_recovered=None)
    await handle(engine, on_claim_reversed, ClaimReversed(
        tenant_id=tenant, claim_id=claim_id, remittance_id=uuid.uuid4(), patient_id="P-1", payer_id=PAYER,
        patient_control_number="PCN1", reversed_paid_amount=Decimal("0.00"),
        reversed_patient_responsibility_amount=Decimal("0.00"), reversed_adjustments=[]))
    closed = await case_of(engine, claim_id)
    assert closed.status == "closed_payer_reversed" and closed.resolved_at is not None
    moves = [(e["from_status"], e["to_status"]) for e in await events(engine, tenant, "status_changed")]
    assert sorted(moves) == [("in_progress", "closed_payer_reversed"), ("open", "in_progress")]
    assert len(await events(engine, tenant, "denial_case_closed")) == 1


async def test_documentation_requests_hold_the_case_on_clinical_until_answered(engine):
    tenant = new_tenant()
    case = await case_of(engine, await deny(engine, tenant, [(1, "CO", "50", [], "300.00")]))
    async with engine.begin() as conn:
        first = await working.request_documentation(conn, outbox_emitter(conn), tenant, case.id,
                                                    description="Progress notes for 2026-11-20", assignee=None,
                                                    due_date=TODAY + timedelta(days=3), by="biller-1")
        second = await working.request_documentation(conn, outbox_emitter(conn), tenant, case.id,
                                                     description="Signed order", assignee="dr-lee", due_date=None,
                                                     by="biller-1")
    assert (await case_of(engine, case.claim_id)).status == "waiting_on_clinical"
    async with engine.begin() as conn:
        await working.close_task(conn, outbox_emitter(conn), tenant, case.id, first["id"], status="done", by="rn-2")
    assert (await case_of(engine, case.claim_id)).status == "waiting_on_clinical"
    async with engine.begin() as conn:
        await working.close_task(conn, outbox_emitter(conn), tenant, case.id, second["id"], status="done", by="rn-2")
    assert (await case_of(engine, case.claim_id)).status == "in_progress"
    with pytest.raises(working.TaskClosed):
        async with engine.begin() as conn:
            await working.close_task(conn, outbox_emitter(conn), tenant, case.id, second["id"], status="done", by="x")
    assert [e["status"] for e in await events(engine, tenant, "task_changed")].count("done") == 2


async def test_outcomes_teach_the_payers_likelihood_and_re_rank_its_open_cases(engine):
    tenant = new_tenant()
    waiting = await case_of(engine, await deny(engine, tenant, [(1, "CO", "50", [], "100.00")]))
    assert waiting.priority == Decimal("50.00")
    for _ in range(3):
        lost = await case_of(engine, await deny(engine, tenant, [(1, "CO", "50", [], "10.00")]))
        async with engine.begin() as conn:
            await working.move_manually(conn, outbox_emitter(conn), tenant, lost.id, target=CaseStatus.LOST,
                                        by="biller-1", reason="upheld by phone", amount_recovered=None)
    ranked = await case_of(engine, waiting.claim_id)
    assert ranked.priority_parts["likelihood_basis"] == "payer_history"
    assert ranked.priority_parts["outcomes_seen"] == 3
    assert ranked.priority == Decimal("31.25")  # 100 x (0 + 5 x 0.5) / 8
    with pytest.raises(IllegalCaseTransition):
        async with engine.begin() as conn:
            await working.move_manually(conn, outbox_emitter(conn), tenant, lost.id, target=CaseStatus.LOST,
                                        by="biller-1", reason=None, amount_recovered=None)


async def test_an_override_recategorizes_the_payers_open_cases_and_says_so(engine):
    tenant = new_tenant()
    case = await case_of(engine, await deny(engine, tenant, [(1, "CO", "16", [], "70.00")]))
    assert case.category == "missing_information"
    async with engine.begin() as conn:
        await working.set_override(conn, outbox_emitter(conn), tenant, PAYER, "16",
                                   {"category": "authorization", "owning_team": "front_desk",
                                    "recommended_action": "appeal", "preventable": True}, by="admin")
    changed = await case_of(engine, case.claim_id)
    assert (changed.category, changed.rule, changed.owning_team) == ("authorization", "override:60054/16", "front_desk")
    assert changed.priority == Decimal("31.50")  # 70 x 0.45 x 1
    [event] = await events(engine, tenant, "recategorized")
    assert (event["from_category"], event["to_category"]) == ("missing_information", "authorization")
    async with engine.begin() as conn:
        assert await working.delete_override(conn, outbox_emitter(conn), tenant, PAYER, "16")
    assert (await case_of(engine, case.claim_id)).category == "missing_information"


async def test_an_sla_breach_is_announced_once_per_stay_in_a_status(engine):
    tenant = new_tenant()
    case = await case_of(engine, await deny(engine, tenant, [(1, "CO", "97", [], "40.00")]))
    async with engine.begin() as conn:
        await conn.execute(denial_cases.update().where(denial_cases.c.id == case.id)
                           .values(status_changed_at=datetime.now(timezone.utc) - timedelta(hours=49)))
    settings = WorklistSettings(sla_hours={"open": 48})
    now = datetime.now(timezone.utc)
    assert await passes.announce_sla_breaches(engine, now, settings.sla_hours_by_status()) >= 1
    await passes.announce_sla_breaches(engine, now, settings.sla_hours_by_status())
    [breach] = await events(engine, tenant, "sla_breached")
    assert breach["status"] == "open" and breach["sla_hours"] == 48
    async with engine.begin() as conn:  # moving on starts a new stay; not yet breached
        await working.move_manually(conn, outbox_emitter(conn), tenant, case.id, target=CaseStatus.IN_PROGRESS,
                                    by="biller-1", reason=None, amount_recovered=None)
    await passes.announce_sla_breaches(engine, now, settings.sla_hours_by_status())
    assert len(await events(engine, tenant, "sla_breached")) == 1


async def test_a_spike_is_detected_once_per_episode_against_the_baseline(engine):
    tenant = new_tenant()
    # Baseline: 40 adjudicated 99213 lines over the 90 days before the last week, 2 of them denied for authorization.
    for days_ago in range(10, 90, 2):
        await handle(engine, on_claim_payment_posted,
                     posted(tenant, uuid.uuid4(), uuid.uuid4(), [(1, "99213", "100.00", "80.00")]),
                     on=TODAY - timedelta(days=days_ago))
    for days_ago in (20, 40):
        await deny(engine, tenant, [(1, "CO", "197", [], "100.00")], on=TODAY - timedelta(days=days_ago))
    for _ in range(4):  # 4 in 7 days: not enough to call it a spike
        await deny(engine, tenant, [(1, "CO", "197", [], "100.00")], on=TODAY - timedelta(days=1))
    assert await events(engine, tenant, "trend_detected") == []
    for _ in range(3):
        await deny(engine, tenant, [(1, "CO", "197", [], "100.00")])
    [trend] = await events(engine, tenant, "trend_detected")
    assert (trend["payer_id"], trend["procedure_code"], trend["category"], trend["denials_7d"]) == (
        PAYER, "99213", "authorization", 5)
    assert Decimal(trend["ratio"]) >= 3
    async with engine.connect() as conn:
        [episode] = (await conn.execute(sa.select(trend_episodes).where(trend_episodes.c.tenant_id == tenant))).all()
    assert episode.ended_on is None and episode.denials_7d == 7


async def test_the_pass_categorizes_cases_opened_before_categorization(engine):
    tenant = new_tenant()
    case = await case_of(engine, await deny(engine, tenant, [(1, "CO", "29", [], "55.00")]))
    async with engine.begin() as conn:  # as migration 0006 leaves a case opened before it
        await conn.execute(denial_lines.delete().where(denial_lines.c.case_id == case.id))
        await conn.execute(denial_cases.update().where(denial_cases.c.id == case.id).values(
            category=None, rule=None, mapping_version=None, priority=Decimal("55.00")))
    await passes.recategorize_stale(engine, TODAY)
    redone = await case_of(engine, case.claim_id)
    assert (redone.category, redone.rule, redone.mapping_version) == ("timely_filing", "carc:29", "2026.12-1")
    assert redone.priority == Decimal("13.75")  # 55 x 0.25 x 1


async def test_the_pass_ends_an_episode_once_the_denials_stop(engine):
    tenant = new_tenant()
    for days_ago in range(10, 90, 2):
        await handle(engine, on_claim_payment_posted,
                     posted(tenant, uuid.uuid4(), uuid.uuid4(), [(1, "97110", "100.00", "80.00")]),
                     on=TODAY - timedelta(days=days_ago))
    for _ in range(6):
        await deny(engine, tenant, [(1, "CO", "50", [], "100.00")], lines=[(1, "97110", "100.00", "0.00")])
    assert len(await events(engine, tenant, "trend_detected")) == 1
    await passes.end_subsided_episodes_in(engine, TODAY + timedelta(days=3))  # still within the week
    async with engine.connect() as conn:
        [episode] = (await conn.execute(sa.select(trend_episodes).where(trend_episodes.c.tenant_id == tenant))).all()
    assert episode.ended_on is None
    await passes.end_subsided_episodes_in(engine, TODAY + timedelta(days=8))
    async with engine.connect() as conn:
        [episode] = (await conn.execute(sa.select(trend_episodes).where(trend_episodes.c.tenant_id == tenant))).all()
    assert episode.ended_on == TODAY + timedelta(days=8)


async def test_the_pass_re_ranks_approaching_deadlines_and_outcomes_recorded_elsewhere(engine):
    tenant = new_tenant()
    case = await case_of(engine, await deny(engine, tenant, [(1, "CO", "50", [], "100.00")]))
    async with engine.begin() as conn:  # ranked 80 days ago: now 10 days left
        await conn.execute(denial_cases.update().where(denial_cases.c.id == case.id).values(
            work_deadline=TODAY + timedelta(days=10), priority_as_of=TODAY - timedelta(days=80)))
    await passes.rerank_approaching_deadlines(engine, TODAY)
    urgent = await case_of(engine, case.claim_id)
    assert urgent.priority_parts["days_left"] == 10 and urgent.priority == Decimal("116.67")  # 100 x 0.5 x 2.3333
    other = await case_of(engine, await deny(engine, tenant, [(1, "CO", "50", [], "40.00")]))
    async with engine.begin() as conn:  # an outcome recorded by another path (an appeal decided)
        from openrcm_denials.service_layer.case_moves import move_case
        await move_case(conn, outbox_emitter(conn), tenant_id=tenant, case_id=other.id, target=CaseStatus.WON,
                        changed_by=None, amount_recovered=Decimal("40.00"))
    assert (await case_of(engine, case.claim_id)).priority_parts["likelihood_basis"] == "category"
    assert await passes.refresh_payer_history(engine) >= 1
    learned = await case_of(engine, case.claim_id)
    assert learned.priority_parts["likelihood_basis"] == "payer_history"
    assert learned.priority_parts["likelihood"] == "0.5833"  # (1 + 5 x 0.5) / 6
    won = await case_of(engine, other.claim_id)
    assert won.amount_recovered == Decimal("40.00") and won.resolved_at is not None
