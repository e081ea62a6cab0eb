"""Coverage as the payer answered it (271s, through the eligibility service): not active on a date
of service, or a service the payer says needs prior authorization billed without one."""

from __future__ import annotations

from openrcm_claims.domain.scrubber.model import BLOCK
from openrcm_claims.domain.scrubber.registry import rule
from openrcm_claims.domain.scrubber.rules._common import NONE
from openrcm_shared.x12.eligibility_codes import service_types_for_procedure

def _answer_for(ctx, day):
    return next((answer for answer in ctx.claim.eligibility if answer.service_date == day), None)


@rule("ELIG.COVERAGE_INACTIVE", BLOCK,
      "No date of service is one the payer answered, to an eligibility check, that the coverage is inactive on "
      "(271 EB01 6-8).")
def coverage_inactive(ctx):
    found = []
    for index, line in enumerate(ctx.claim.lines):
        answer = _answer_for(ctx, line.service_date)
        if answer is not None and answer.status == "inactive":
            payer = ctx.claim.payer.payer_id if ctx.claim.payer else "the payer"
            found.append((f"{payer} answered that the coverage is inactive on this date of service "
                          f"(eligibility check {answer.check_id})", f"/lines/{index}/service_date"))
    return found


@rule("ELIG.PRIOR_AUTHORIZATION", BLOCK,
      "A service the payer's eligibility answer says needs prior authorization (271 EB11 Y) carries an "
      "authorization number.")
def prior_authorization_missing(ctx):
    if ctx.claim.prior_authorization:
        return NONE
    found = []
    for index, line in enumerate(ctx.claim.lines):
        answer = _answer_for(ctx, line.service_date)
        if answer is None or not answer.authorization_required_service_types:
            continue
        needed = service_types_for_procedure(line.procedure_code) & set(answer.authorization_required_service_types)
        if needed:
            found.append((f"the payer requires prior authorization for service type {', '.join(sorted(needed))} "
                          f"(eligibility check {answer.check_id}) and the claim has none", f"/lines/{index}"))
    return found
