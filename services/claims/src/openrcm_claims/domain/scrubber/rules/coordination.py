"""Coordination of benefits: a secondary or tertiary claim carries the previous payers'
adjudication (837P/837I loops 2320 and 2430), and the implementation guides require it to balance:
each line SV102/SV203 - line CAS = SVD02, and per payer CLM02 - claim CAS - line CAS = AMT*D
(005010X222A1 / 005010X223A2, 2320 AMT*D and 2430 SVD notes)."""

from __future__ import annotations

from openrcm_claims.domain.scrubber.model import BLOCK
from openrcm_claims.domain.scrubber.registry import rule
from openrcm_claims.domain.scrubber.rules._common import NONE


@rule("COB.PRIOR_PAYER_BALANCE", BLOCK,
      "2320/2430: each previous payer's adjudication balances per line and against the claim total.")
def prior_payer_balance(ctx):
    claim = ctx.claim
    if not claim.prior_payers:
        return NONE
    found = []
    by_number = {line.line_number: index for index, line in enumerate(claim.lines)}
    for position, prior in enumerate(claim.prior_payers):
        pointer = f"/prior_payer_adjudications/{position}"
        line_adjustments = sum((line.adjustment_total for line in prior.lines), start=prior.claim_adjustment_total * 0)
        for line in prior.lines:
            index = by_number.get(line.line_number)
            if index is None:
                found.append((f"payer {prior.payer_id} adjudicated line {line.line_number}, which this claim does not "
                              "have", f"{pointer}/lines"))
            elif claim.lines[index].charge_amount - line.adjustment_total != line.paid_amount:
                found.append((f"payer {prior.payer_id}'s line {line.line_number} does not balance: charge "
                              f"{claim.lines[index].charge_amount} - adjustments {line.adjustment_total} is not the "
                              f"paid {line.paid_amount} (2430 SVD02)", f"/lines/{index}"))
        expected = claim.total_charge - prior.claim_adjustment_total - line_adjustments
        if expected != prior.paid_amount:
            found.append((f"payer {prior.payer_id}'s adjudication does not balance: claim total {claim.total_charge} - "
                          f"adjustments {prior.claim_adjustment_total + line_adjustments} = {expected}, but it paid "
                          f"{prior.paid_amount} (2320 AMT*D)", pointer))
    return found
