"""The events a posting publishes, built from the posting (no PHI beyond ids and amounts).

Per claim, keyed by the claim id so they land in that claim's ordered stream:
`ClaimPaymentPosted` for a payment decision, `ClaimDenied` where the claim or lines were denied,
`ClaimReversed` for CLP02 22. Per ERA: `ProviderAdjustmentsPosted` for its PLB adjustments.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from uuid import UUID

from openrcm_remittance.domain.posting import ClaimPosting, PatientShare, PostedAdjustment
from openrcm_shared.contracts import remittance as contracts
from openrcm_shared.contracts.base import PreparedEvent
from openrcm_shared.money import ZERO, money_text
from openrcm_shared.x12.remittance_835 import ClaimPayment, ProviderAdjustment

INTEREST = "I"  # AMT01 on the claim: interest paid with it (005010X221A1 2100 AMT)


# Per-claim events are built as JSON payloads directly (PreparedEvent), 100,000 per large ERA:
# building and serialising pydantic objects was the largest single cost of posting. The payloads
# must be exactly what the contracts produce: tests/unit/test_claim_events.py checks each against
# its contract, field by field.
def _optional_money(amount: Decimal | None) -> str | None:
    return None if amount is None else money_text(amount)


def _adjustment(a: PostedAdjustment, sign: int = 1) -> dict:
    return {"line_number": a.line_number, "group_code": a.group_code, "carc": a.carc,
            "amount": money_text(sign * a.amount)}


def _share(s: PatientShare, sign: int = 1) -> dict:
    return {"line_number": s.line_number, "kind": s.kind, "carc": s.carc, "amount": money_text(sign * s.amount)}


def _line(line) -> dict:
    return {"line_number": line.line_number, "charge_amount": money_text(line.charge_amount),
            "allowed_amount": money_text(line.allowed_amount), "paid_amount": money_text(line.paid_amount),
            "patient_responsibility_amount": money_text(line.patient_responsibility_amount),
            "procedure_code": line.procedure_code, "modifiers": list(line.modifiers),
            "service_date": line.service_date.isoformat() if line.service_date else None,
            "units": None if line.units is None else str(line.units)}


def _crossover(claim: ClaimPayment) -> dict | None:
    carrier = claim.crossover_carrier
    if carrier is None:
        return None
    return {"payer_name": carrier.last_name or None, "payer_id": carrier.identifier or None}


def _interest(claim: ClaimPayment) -> Decimal | None:
    amounts = [a.amount for a in claim.amounts if a.qualifier == INTEREST]
    return sum(amounts, ZERO) if amounts else None


def for_posting(target, remittance_id: UUID, claim: ClaimPayment, expected, posting: ClaimPosting) -> list:
    common = {"tenant_id": target.tenant_id, "claim_id": str(expected.claim_id), "remittance_id": str(remittance_id),
              "patient_id": expected.patient_id, "payer_id": target.payer_id,
              "patient_control_number": expected.patient_control_number}
    if posting.is_reversal:
        # The 835 reports a reversal with negated amounts; the event states what was taken back.
        return [PreparedEvent(contracts.ClaimReversed, {
            **common, "payer_claim_control_number": claim.payer_claim_control_number,
            "reversed_paid_amount": money_text(-posting.paid_amount),
            "reversed_patient_responsibility_amount": money_text(-posting.patient_responsibility_amount),
            "reversed_adjustments": [_adjustment(a, -1) for a in posting.adjustments],
            "reversed_patient_shares": [_share(s, -1) for s in posting.patient_shares]})]
    status_code = claim.status_code if claim.status_code in contracts.ClaimStatusCode.__args__ else None
    events: list = [PreparedEvent(contracts.ClaimPaymentPosted, {
        **common, "outcome": posting.outcome, "charge_amount": money_text(posting.charge_amount),
        "allowed_amount": money_text(posting.allowed_amount), "paid_amount": money_text(posting.paid_amount),
        "patient_responsibility_amount": money_text(posting.patient_responsibility_amount),
        "adjustments": [_adjustment(a) for a in posting.adjustments],
        "lines": [_line(line) for line in posting.lines],
        "claim_status_code": status_code, "payer_claim_control_number": claim.payer_claim_control_number,
        "patient_shares": [_share(s) for s in posting.patient_shares], "crossover": _crossover(claim),
        "interest_amount": _optional_money(_interest(claim))})]
    if posting.denied_items:
        events.append(PreparedEvent(contracts.ClaimDenied, {
            **common, "denied_amount": money_text(posting.denied_amount), "claim_status_code": status_code,
            "payer_claim_control_number": claim.payer_claim_control_number,
            "denials": [{"line_number": d.line_number, "group_code": d.group_code, "carc": d.carc,
                         "rarcs": list(d.rarcs), "amount": money_text(d.amount)} for d in posting.denied_items]}))
    return events


def for_provider_adjustments(target, remittance_id: UUID, adjustments: list[ProviderAdjustment]) -> list:
    """One event per provider and fiscal period the PLB segments name."""
    groups: dict[tuple[str, object], list[ProviderAdjustment]] = defaultdict(list)
    for adjustment in adjustments:
        groups[(adjustment.provider_identifier, adjustment.fiscal_period_date)].append(adjustment)
    return [contracts.ProviderAdjustmentsPosted(
        tenant_id=target.tenant_id, remittance_id=remittance_id, payer_id=target.payer_id,
        provider_identifier=provider, fiscal_period_date=period,
        adjustments=[contracts.ProviderAdjustment(reason_code=a.reason_code, reference=a.reference, amount=a.amount)
                     for a in items],
        total_amount=sum((a.amount for a in items), ZERO))
        for (provider, period), items in groups.items()]
