"""Data the 837 implementation guides require (ASC X12 005010X222A1 professional, 005010X223A2
institutional): claim identity, subscriber, payer, diagnoses, lines, and the repeat limits."""

from __future__ import annotations

from openrcm_claims.domain.identifiers import PATIENT_CONTROL_NUMBER_MAX
from openrcm_claims.domain.scrubber.model import BLOCK, CLAIM_TYPES, WARN
from openrcm_claims.domain.scrubber.registry import rule

# 2300 CLM01 is AN 1/38.
CLM01_MAX = 38
# 837P 2300 HI: principal (ABK) + 11 others (ABF) = 12. 837I 2300 HI: principal (ABK) + 24 "other
# diagnosis" (ABF, two HI segments of 12); admitting/reason-for-visit/external-cause not modelled.
MAX_DIAGNOSES = {True: 12, False: 25}
# Loop 2400 repeat: 50 service lines on an 837P, 999 on an 837I.
MAX_LINES = {True: 50, False: 999}
NONE = ()


@rule("CLAIM.TYPE", BLOCK, "The claim type is professional (837P) or institutional (837I).")
def claim_type(ctx):
    if ctx.claim.claim_type not in CLAIM_TYPES:
        return [(f"claim type {ctx.claim.claim_type!r} is neither professional nor institutional", "/claim_type")]
    return NONE


@rule("IG.PATIENT_CONTROL_NUMBER", BLOCK, "CLM01, the patient control number, is present and at most 38 characters.")
def patient_control_number(ctx):
    value = ctx.claim.patient_control_number
    if not value or not value.strip():
        return [("the patient control number (CLM01) is missing", "/patient_control_number")]
    if len(value) > CLM01_MAX:
        return [(f"the patient control number is {len(value)} characters; CLM01 allows {CLM01_MAX}",
                 "/patient_control_number")]
    return NONE


@rule("CLAIM.PCN_LENGTH", WARN, "Patient control numbers over 20 characters are cut to 20 in the payer's 835 (CLP01).")
def patient_control_number_length(ctx):
    value = ctx.claim.patient_control_number
    if value and PATIENT_CONTROL_NUMBER_MAX < len(value) <= CLM01_MAX:
        return [(f"the patient control number is {len(value)} characters; the 835 returns only "
                 f"{PATIENT_CONTROL_NUMBER_MAX}, so the remittance may not match the claim", "/patient_control_number")]
    return NONE


@rule("IG.SUBSCRIBER_MEMBER_ID_REQUIRED", BLOCK, "2010BA NM109: the subscriber's member id is present.")
def subscriber_member_id(ctx):
    value = ctx.claim.subscriber_member_id
    if not value or not value.strip():
        return [("the subscriber member id (2010BA NM109) is missing", "/subscriber_member_id")]
    return NONE


@rule("IG.SUBSCRIBER_NAME_REQUIRED", BLOCK, "2010BA NM103: the subscriber's last name is present.")
def subscriber_name(ctx):
    value = ctx.claim.subscriber_last_name
    if not value or not value.strip():
        return [("the subscriber last name (2010BA NM103) is missing", "/subscriber_last_name")]
    return NONE


@rule("IG.SUBSCRIBER_BIRTH_DATE", WARN, "2010BA DMG: the subscriber's birth date, required when the subscriber is the patient.")
def subscriber_birth_date(ctx):
    if ctx.claim.subscriber_birth_date is None:
        return [("the subscriber birth date (2010BA DMG02) is missing; it is required when the subscriber is "
                 "the patient", "/subscriber_birth_date")]
    return NONE


@rule("IG.PAYER_REQUIRED", BLOCK, "2010BB: the claim names a payer from the payer registry.")
def payer_required(ctx):
    if ctx.claim.payer is None:
        return [("no payer (2010BB) is known for this claim", "/payer")]
    return NONE


@rule("IG.DIAGNOSIS_REQUIRED", BLOCK, "2300 HI: at least one diagnosis code.")
def diagnosis_required(ctx):
    if not ctx.claim.diagnosis_codes:
        return [("the claim has no diagnosis code (2300 HI principal diagnosis)", "/diagnosis_codes")]
    return NONE


@rule("IG.LINE_REQUIRED", BLOCK, "Loop 2400: at least one service line.")
def line_required(ctx):
    if not ctx.claim.lines:
        return [("the claim has no service line (loop 2400)", "/lines")]
    return NONE


@rule("LIMIT.DIAGNOSES", BLOCK, "At most 12 diagnosis codes on an 837P (25 on an 837I).")
def diagnosis_limit(ctx):
    limit = MAX_DIAGNOSES[ctx.professional]
    count = len(ctx.claim.diagnosis_codes)
    if count > limit:
        return [(f"{count} diagnosis codes; the 2300 HI segment carries at most {limit}", f"/diagnosis_codes/{limit}")]
    return NONE


@rule("LIMIT.LINES", BLOCK, "At most 50 service lines on an 837P (999 on an 837I).")
def line_limit(ctx):
    limit = MAX_LINES[ctx.professional]
    count = len(ctx.claim.lines)
    if count > limit:
        return [(f"{count} service lines; loop 2400 repeats at most {limit} times", f"/lines/{limit}")]
    return NONE
