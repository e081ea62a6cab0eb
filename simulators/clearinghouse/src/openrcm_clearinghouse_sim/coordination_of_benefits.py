"""The simulated payer as a secondary (or tertiary) payer: it adjudicates with the earlier payers'
decisions in view (837 loops 2320/2430) instead of paying as if it were primary.

On each line, the payer pays toward the patient responsibility the previous payer left, never more
than its own allowed amount less what the earlier payers paid on the line, nor more than it would
have paid as primary (the "lesser of" rule of traditional coordination of benefits, NAIC COB model
regulation). What it pays comes off the patient's share; the rest of the charge, which the earlier
payers paid or adjusted, is reported as OA-23 (CARC 23: the impact of prior payer(s) adjudication
including payments and/or adjustments), so every line still balances:
SVC03 = SVC02 - OA-23 - PR (005010X221A1 section 1.10.2).
"""

from __future__ import annotations

from decimal import Decimal

from openrcm_shared.x12.remittance_835 import Adjustment, ClaimPayment
from openrcm_clearinghouse_sim.adjudication import (
    PATIENT_RESPONSIBILITY, AcceptedClaim, _allowed_amount, _service_line, price_claim,
)
from openrcm_clearinghouse_sim.adjudication_rules import AdjudicationRule
from openrcm_clearinghouse_sim.intake import ReceivedServiceLine

OTHER_ADJUSTMENT = "OA"
PRIOR_PAYER_IMPACT = "23"  # CARC 23
# CLP02 by the payer's place in the order of benefits (005010X221A1): processed as secondary / tertiary.
PROCESSED_AS = {"S": "2", "T": "3"}
_ZERO = Decimal(0)


def adjudicate(accepted: AcceptedClaim, rule: AdjudicationRule) -> ClaimPayment:
    """The payer's decision: under coordination of benefits when the claim bills it as secondary or
    tertiary with the earlier payers' line decisions, else as primary (`price_claim`)."""
    claim = accepted.claim
    coordinated = claim.payer_responsibility in PROCESSED_AS and rule.action == "pay" and any(
        line.prior_adjudications for line in claim.lines)
    if not coordinated:
        return price_claim(accepted, rule)
    as_primary = price_claim(accepted, rule)  # validates the claim; its lines are the payer's normal benefit
    schedule = rule.fee_schedule
    lines = [_coordinated_line(line, normal.paid, _allowed_amount(line, schedule), claim)
             if line.prior_adjudications else normal
             for line, normal in zip(claim.lines, as_primary.service_lines)]
    as_primary.service_lines = lines
    as_primary.status_code = PROCESSED_AS[claim.payer_responsibility]
    as_primary.paid = sum((line.paid for line in lines), _ZERO)
    patient_share = sum((adjustment.amount for line in lines for adjustment in line.adjustments
                         if adjustment.group_code == PATIENT_RESPONSIBILITY), _ZERO)
    as_primary.patient_responsibility = patient_share or None
    return as_primary


def _coordinated_line(line: ReceivedServiceLine, normal_benefit: Decimal, allowed: Decimal, claim):
    """One line priced as the next payer: pays min(patient share left, allowed - paid before, normal benefit)."""
    paid_before = sum((prior.paid for prior in line.prior_adjudications), _ZERO)
    # The previous payer's patient responsibility is what is left for this payer to consider.
    left_shares = [(carc, amount) for group, carc, amount in line.prior_adjudications[-1].adjustments
                   if group == PATIENT_RESPONSIBILITY and amount > 0]
    share_left = sum((amount for _, amount in left_shares), _ZERO)
    paid = max(_ZERO, min(share_left, allowed - paid_before, normal_benefit))
    adjustments = []
    remaining_payment = paid
    for carc, amount in left_shares:  # the payment covers the shares in the order the previous payer listed them
        covered = min(amount, remaining_payment)
        remaining_payment -= covered
        if amount - covered:
            adjustments.append(Adjustment(PATIENT_RESPONSIBILITY, carc, amount - covered))
    patient_left = sum((adjustment.amount for adjustment in adjustments), _ZERO)
    prior_impact = line.charge - paid - patient_left
    if prior_impact:
        adjustments.insert(0, Adjustment(OTHER_ADJUSTMENT, PRIOR_PAYER_IMPACT, prior_impact))
    return _service_line(line, claim, paid=paid, allowed=allowed, adjustments=adjustments)
