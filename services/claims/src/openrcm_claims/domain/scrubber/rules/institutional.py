"""Institutional claims (837I, 005010X223A2; the UB-04 form locators are in brackets): type of
bill, revenue codes, admission data, patient status, attending provider, statement period."""

from __future__ import annotations

from openrcm_claims.domain.scrubber.model import BLOCK, WARN
from openrcm_claims.domain.scrubber.registry import rule
from openrcm_claims.domain.scrubber.rules._common import NONE, blank

# Type of bill [FL 4] without the leading zero: facility type (1 hospital, 2 skilled nursing,
# 3 home health, 4 religious nonmedical, 6 intermediate care, 7 clinic, 8 special facility; 5 is
# not assigned), bill classification, frequency. 837I CLM05-1 = the first two, CLM05-3 the third.
_FACILITY_TYPES = frozenset("1234678")
# Bill classifications that are inpatient stays (1 inpatient Part A, 2 inpatient Part B) and swing
# beds (18x, 28x): 837I 2300 DTP*435 admission date and CL101 admission type are required on them.
_INPATIENT_CLASSIFICATIONS = frozenset("12")
_SWING_BED_TYPES = frozenset({"18", "28"})
# Outpatient hospital bills (13x, 14x) are priced by HCPCS under OPPS (42 CFR 419): lines need one.
_OUTPATIENT_HOSPITAL_TYPES = frozenset({"13", "14"})
# Patient discharge status [FL 17], CL103: the NUBC codes CMS lists (MLN "Patient Discharge Status
# Codes"; 08 and 60s not listed here were retired or never assigned).
PATIENT_STATUS_CODES = frozenset({
    "01", "02", "03", "04", "05", "06", "07", "09", "20", "21", "30", "40", "41", "42", "43", "50", "51", "61", "62",
    "63", "64", "65", "66", "69", "70", "81", "82", "83", "84", "85", "86", "87", "88", "89", "90", "91", "92", "93",
    "94", "95"})
# Revenue code 0001 is the total charge line of the paper UB-04; the 837I carries the total in
# CLM02 and never as a service line.
_TOTAL_REVENUE_CODE = "0001"


def _details(ctx):
    return None if ctx.professional else ctx.claim.institutional


def _bill_type(ctx) -> str | None:
    details = _details(ctx)
    return details.type_of_bill if details is not None and details.type_of_bill else None


@rule("INST.TYPE_OF_BILL", BLOCK,
      "837I CLM05: the type of bill names a facility type (1-4, 6-8), a bill classification and a frequency.")
def type_of_bill(ctx):
    if ctx.professional:
        return NONE
    bill = _bill_type(ctx)
    if bill is None:
        return [("an institutional claim needs its type of bill (CLM05-1 facility type, CLM05-3 frequency)",
                 "/institutional/type_of_bill")]
    if len(bill) != 3 or bill[0] not in _FACILITY_TYPES or not bill[1].isdigit() or bill[1] == "0":
        return [(f"type of bill {bill} does not name a facility type and bill classification",
                 "/institutional/type_of_bill")]
    return NONE


@rule("INST.REVENUE_CODE", BLOCK, "837I SV201: every line has a four-digit NUBC revenue code, never 0001 (the total).")
def revenue_code(ctx):
    if ctx.professional:
        return NONE
    found = []
    for index, line in enumerate(ctx.claim.lines):
        code = line.revenue_code
        if code is None or len(code) != 4 or not code.isdigit():
            found.append(("the line has no four-digit revenue code (SV201)", f"/lines/{index}/revenue_code"))
        elif code == _TOTAL_REVENUE_CODE:
            found.append(("revenue code 0001 is the total line of the paper UB-04; the 837I sends the total in "
                          "CLM02, not as a line", f"/lines/{index}/revenue_code"))
    return found


@rule("INST.ADMISSION_REQUIRED", BLOCK,
      "837I DTP*435 and CL101: an inpatient or swing-bed type of bill has an admission date and admission type.")
def admission_required(ctx):
    bill = _bill_type(ctx)
    if bill is None or len(bill) != 3:
        return NONE
    if bill[1] not in _INPATIENT_CLASSIFICATIONS and bill[:2] not in _SWING_BED_TYPES:
        return NONE
    details = ctx.claim.institutional
    found = []
    if details.admission_date is None:
        found.append((f"type of bill {bill} is an inpatient bill: the admission date (DTP*435) is required",
                      "/institutional/admission_date"))
    if blank(details.admission_type):
        found.append((f"type of bill {bill} is an inpatient bill: the admission type (CL101) is required",
                      "/institutional/admission_type"))
    return found


@rule("INST.PATIENT_STATUS", BLOCK, "837I CL103: the patient status is a NUBC patient discharge status code.")
def patient_status(ctx):
    details = _details(ctx)
    if details is None:
        return NONE
    if details.patient_status not in PATIENT_STATUS_CODES:
        return [(f"patient status {details.patient_status!r} is not a NUBC patient discharge status code",
                 "/institutional/patient_status")]
    return NONE


@rule("INST.ATTENDING_REQUIRED", BLOCK, "837I 2310A: an institutional claim names its attending provider with an NPI.")
def attending_required(ctx):
    if ctx.professional:
        return NONE
    attending = ctx.claim.attending_provider
    if attending is None or blank(attending.npi):
        return [("the attending provider (2310A NM1*71) is required on an institutional claim", "/attending_provider")]
    return NONE


@rule("INST.STATEMENT_PERIOD", BLOCK,
      "837I DTP*434: the statement period covers every line's dates of service and the admission starts it.")
def statement_period(ctx):
    details = _details(ctx)
    if details is None or details.statement_from is None or details.statement_to is None:
        return NONE
    start, end = details.statement_from, details.statement_to
    found = []
    for index, line in enumerate(ctx.claim.lines):
        if line.service_date < start or (line.service_date_to or line.service_date) > end:
            found.append(("the line's dates of service fall outside the statement period", f"/lines/{index}/service_date"))
    if details.admission_date is not None and details.admission_date > start:
        found.append(("the admission date is after the start of the statement period", "/institutional/admission_date"))
    return found


@rule("INST.OUTPATIENT_HCPCS", WARN,
      "837I SV202: an outpatient hospital line (type of bill 13x/14x) carries a HCPCS code (OPPS pricing).")
def outpatient_hcpcs(ctx):
    bill = _bill_type(ctx)
    if bill is None or bill[:2] not in _OUTPATIENT_HOSPITAL_TYPES:
        return NONE
    return [("the outpatient hospital line has no HCPCS code (SV202); OPPS prices most outpatient services by it",
             f"/lines/{index}/procedure_code") for index, line in enumerate(ctx.claim.lines) if not line.procedure_code]
