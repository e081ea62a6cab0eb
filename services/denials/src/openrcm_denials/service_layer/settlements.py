"""Later 835s settle cases on their own: a payment posted for the claim after the remittance that
denied it (the payer reprocessed the claim after an appeal, a corrected claim, or a phone call)
closes the case won, partially won or lost with the amount recovered; a reversal of the payment
that won a case reopens it, because the money it recovered is gone."""

from __future__ import annotations

import sqlalchemy as sa

from openrcm_denials.adapters.appeal_tables import appeals
from openrcm_denials.adapters.tables import denial_cases
from openrcm_denials.domain.case_status import UNRESOLVED, CaseStatus
from openrcm_denials.domain.case_work import settlement_for
from openrcm_denials.domain.expected_denials import Resolution, payment_closes, reversal_reopens
from openrcm_denials.service_layer.case_moves import move_case
from openrcm_denials.service_layer.cases import on_claim_payment_posted as record_adjudication
from openrcm_denials.service_layer.cases import on_claim_reversed as close_open_cases_of_reversed_claim
from openrcm_denials.service_layer.claim_timeline import paid_in_remittance, record_payment, record_reversal
from openrcm_denials.service_layer.expected_denials import close_for_remittance, reopen_for_reversal
from openrcm_shared.contracts.remittance import ClaimPaymentPosted, ClaimReversed
from openrcm_shared.messaging.consumer import HandlerContext

# An appeal the payer answered by paying (or not): its decision, from the case's outcome.
_APPEAL_DECISION = {CaseStatus.WON: "overturned", CaseStatus.PARTIALLY_WON: "partial", CaseStatus.LOST: "upheld"}
_SETTLED_BY_835 = "settled_by_remittance"


def _cases_of(tenant_id: str, claim_id, statuses) -> sa.Select:
    return (sa.select(denial_cases.c.id, denial_cases.c.remittance_id, denial_cases.c.denied_amount,
                      denial_cases.c.status)
            .where(denial_cases.c.tenant_id == tenant_id, denial_cases.c.claim_id == claim_id,
                   denial_cases.c.status.in_([status.value for status in statuses]))
            .order_by(denial_cases.c.opened_at))


async def on_claim_payment_posted(ctx: HandlerContext, event: ClaimPaymentPosted) -> None:
    """Record the adjudication for the worklist's rates (cases.on_claim_payment_posted) and the payment on
    the claim's timeline; a payment closes the claim's expected-denial item `paid`; settle the claim's
    unresolved cases opened by an earlier remittance (a case's own remittance is the decision it is about)."""
    await record_adjudication(ctx, event)
    await record_payment(ctx, event)
    if payment_closes(event.outcome, event.paid_amount):  # the payer paid: the expected denial did not come
        await close_for_remittance(ctx.conn, ctx.emit, tenant_id=event.tenant_id, claim_id=event.claim_id,
                                   resolution=Resolution.PAID, remittance_id=event.remittance_id)
    if event.outcome == "not_our_claim":
        return
    for case in (await ctx.conn.execute(_cases_of(event.tenant_id, event.claim_id, UNRESOLVED))).all():
        if case.remittance_id == event.remittance_id:
            continue
        paid_before = await paid_in_remittance(ctx, event.tenant_id, event.claim_id, case.remittance_id)
        settlement = settlement_for(event.outcome, event.paid_amount, paid_before, case.denied_amount)
        await move_case(ctx.conn, ctx.emit, tenant_id=event.tenant_id, case_id=case.id, target=settlement.target,
                        changed_by=None, reason=_SETTLED_BY_835, amount_recovered=settlement.amount_recovered)
        await ctx.conn.execute(appeals.update().where(
            appeals.c.tenant_id == event.tenant_id, appeals.c.case_id == case.id, appeals.c.status == "submitted")
            .values(status="decided", decision=_APPEAL_DECISION[settlement.target],
                    amount_overturned=settlement.amount_recovered, decided_on=ctx.envelope.time.date()))


async def on_claim_reversed(ctx: HandlerContext, event: ClaimReversed) -> None:
    """The open cases of the claim close as before (cases.on_claim_reversed); then the cases the
    reversed payment had won are open again, and so is an expected denial it had settled `paid`."""
    await close_open_cases_of_reversed_claim(ctx, event)
    await record_reversal(ctx, event)
    if not reversal_reopens(event.reversed_paid_amount):
        return  # a reversed denial took no money back from a won case, nor settled an expected denial
    # The payment that had settled an expected denial `paid` is taken back: expected again.
    await reopen_for_reversal(ctx.conn, ctx.emit, tenant_id=event.tenant_id, claim_id=event.claim_id,
                              remittance_id=event.remittance_id)
    for case in (await ctx.conn.execute(_cases_of(event.tenant_id, event.claim_id,
                                                  (CaseStatus.WON, CaseStatus.PARTIALLY_WON)))).all():
        await move_case(ctx.conn, ctx.emit, tenant_id=event.tenant_id, case_id=case.id, target=CaseStatus.OPEN,
                        changed_by=None, reason="payer_reversed_payment")
