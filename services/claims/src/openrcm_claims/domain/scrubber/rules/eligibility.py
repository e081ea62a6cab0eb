"""Coverage as the payer answered it (271s, through the eligibility service): not active on a date
of service, or a service the payer says needs prior authorization billed without one."""

from __future__ import annotations

from openrcm_claims.domain.scrubber.model import BLOCK
from openrcm_claims.domain.scrubber.registry import rule
from openrcm_claims.domain.scrubber.rules._common import NONE

# X12 service types (EB03) a procedure code falls under, by CPT/HCPCS range (CPT sections; the
# 271 speaks service types, the claim procedure codes). Checked in order; "1" medical care and
# "30" the plan as a whole apply to every procedure.
_SERVICE_TYPE_RANGES = (
    ("00100", "01999", "7"),    # anesthesia
    ("10004", "69990", "2"),    # surgery
    ("70010", "79999", "4"),    # radiology (MRI and CT: 62 as well, below)
    ("70336", "70559", "62"), ("71550", "71555", "62"), ("72141", "72159", "62"), ("72195", "72198", "62"),
    ("73218", "73225", "62"), ("73718", "73725", "62"), ("74181", "74185", "62"), ("70450", "70498", "62"),
    ("71250", "71275", "62"), ("72125", "72133", "62"), ("74150", "74178", "62"),
    ("80047", "89398", "5"),    # pathology and laboratory
    ("90281", "90749", "80"),   # immunizations
    ("90785", "90899", "MH"),   # psychiatry
    ("92002", "92499", "AL"),   # ophthalmology
    ("97010", "97799", "PT"),   # physical medicine
    ("98940", "98943", "33"),   # chiropractic
    ("99202", "99215", "98"),   # office visits
    ("99281", "99285", "86"),   # emergency department
)
_ALWAYS = ("1", "30")


def service_types_of(procedure_code: str) -> set[str]:
    types = set(_ALWAYS)
    if len(procedure_code) == 5 and procedure_code.isdigit():
        types.update(kind for low, high, kind in _SERVICE_TYPE_RANGES if low <= procedure_code <= high)
    return types


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
        needed = service_types_of(line.procedure_code) & set(answer.authorization_required_service_types)
        if needed:
            found.append((f"the payer requires prior authorization for service type {', '.join(sorted(needed))} "
                          f"(eligibility check {answer.check_id}) and the claim has none", f"/lines/{index}"))
    return found
