"""What an 837I needs beyond the lines, read from a FHIR Claim as the CARIN Blue Button
institutional profiles carry it (UB-04 form locators in brackets):

| encounter field | FHIR element |
|---|---|
| type_of_bill [FL 4] | supportingInfo category `typeofbill`, code in NUBC TypeOfBill |
| admission_date, admission_hour [FL 12, 13] | supportingInfo `admissionperiod` (or base `hospitalized`) timingPeriod.start (or timingDate) |
| discharge_hour [FL 16] | the same period's end, when it names a time |
| admission_type [FL 14] | supportingInfo `admtype`, NUBC PriorityTypeOfAdmitOrVisit |
| admission_source [FL 15] | supportingInfo `pointoforigin`, NUBC PointOfOrigin |
| patient_status [FL 17] | supportingInfo `discharge-status` (or base `discharge`), NUBC PatDischargeStatus |
| statement_from, statement_to [FL 6] | Claim.billablePeriod |
| admitting_diagnosis [FL 69] | the diagnosis typed `admitting` |

`Claim.subType` (CARIN `inpatient` / `outpatient`) must agree with the type of bill.
"""

from __future__ import annotations

from openrcm_claims.adapters.fhir.datatypes import choose_code, day, has_code, hour
from openrcm_claims.adapters.fhir.issues import Issue, SourceMap
from openrcm_claims.adapters.fhir.systems import (
    ADMISSION_TYPE, CARIN_INSTITUTIONAL_SUBTYPE, CARIN_SUPPORTING_INFO, CLAIM_INFORMATION_CATEGORY, DISCHARGE_STATUS,
    POINT_OF_ORIGIN, TYPE_OF_BILL,
)

# supportingInfo category (system, code) -> what it carries.
_CATEGORIES = {
    (CARIN_SUPPORTING_INFO, "typeofbill"): "typeofbill",
    (CARIN_SUPPORTING_INFO, "admissionperiod"): "admissionperiod",
    (CLAIM_INFORMATION_CATEGORY, "hospitalized"): "admissionperiod",
    (CARIN_SUPPORTING_INFO, "admtype"): "admtype",
    (CARIN_SUPPORTING_INFO, "pointoforigin"): "pointoforigin",
    (CARIN_SUPPORTING_INFO, "discharge-status"): "discharge-status",
    (CLAIM_INFORMATION_CATEGORY, "discharge"): "discharge-status",
}
_CODED = {"typeofbill": ("type_of_bill", TYPE_OF_BILL, "the type of bill"),
          "admtype": ("admission_type", ADMISSION_TYPE, "the admission type"),
          "pointoforigin": ("admission_source", POINT_OF_ORIGIN, "the point of origin"),
          "discharge-status": ("patient_status", DISCHARGE_STATUS, "the discharge status")}
# Type of bill, facility type (1st digit) and bill classification (2nd): inpatient stays are
# hospital, SNF, religious nonmedical and ICF bills classed 1 (Part A) or 2 (Part B), and swing
# beds (18x, 28x); every other bill is outpatient.
_INPATIENT_FACILITIES = frozenset("1246")


def _category(info) -> str | None:
    for coding in info.category.coding or []:
        kind = _CATEGORIES.get((coding.system, coding.code))
        if kind:
            return kind
    return None


def read_institutional(claim, root: str, admitting: str | None, issues: list[Issue], sources: SourceMap,
                       notes: list[str]) -> dict:
    details: dict = {"admitting_diagnosis": admitting}
    seen: dict[str, int] = {}
    sources.add("/institutional", f"{root}.supportingInfo")
    for index, info in enumerate(claim.supportingInfo or []):
        path = f"{root}.supportingInfo[{index}]"
        if info.category is None:  # 1..1 in FHIR R4; fhir.resources lets an explicit null through
            issues.append(Issue("required", path + ".category", "required (1..1 in FHIR R4)"))
            continue
        kind = _category(info)
        if kind is None:
            label = next((c.code for c in info.category.coding or [] if c.code), info.category.text or "?")
            notes.append(f"{path} ({label}) is not sent on the 837I")
            continue
        if kind in seen:
            issues.append(Issue("invariant", path, f"a second {kind} (the first is supportingInfo[{seen[kind]}])"))
            continue
        seen[kind] = index
        if kind == "admissionperiod":
            details.update(_admission(info, path, issues, sources))
        else:
            field, system, what = _CODED[kind]
            chosen = choose_code(info.code, path + ".code", (system,), issues, what)
            details[field] = chosen[1] if chosen else None
            sources.add(f"/institutional/{field}", path + ".code")
    for kind, requirement in (("typeofbill", "the type of bill [UB-04 FL 4, 837I CLM05]"),
                              ("discharge-status", "the patient's discharge status [FL 17, 837I CL103]")):
        if kind not in seen:
            issues.append(Issue("required", f"{root}.supportingInfo", f"{requirement}: a supportingInfo of category "
                                                                      f"{kind} ({CARIN_SUPPORTING_INFO})"))
    details.update(_statement(claim, root, issues, sources))
    _check_subtype(claim, root, details.get("type_of_bill"), issues)
    return details


def _admission(info, path: str, issues: list[Issue], sources: SourceMap) -> dict:
    period = info.timingPeriod
    start = period.start if period is not None else info.timingDate
    start_path = path + (".timingPeriod.start" if period is not None else ".timingDate")
    if start is None:
        issues.append(Issue("required", path + ".timing", "the admission date (timingPeriod.start or timingDate)"))
        return {}
    sources.add("/institutional/admission_date", start_path)
    sources.add("/institutional/admission_hour", start_path)
    sources.add("/institutional/discharge_hour", path + ".timingPeriod.end")
    admitted = day(start, start_path, issues, "the admission date")
    return {"admission_date": admitted.isoformat() if admitted else None, "admission_hour": hour(start),
            "discharge_hour": hour(period.end) if period is not None else None}


def _statement(claim, root: str, issues: list[Issue], sources: SourceMap) -> dict:
    period = claim.billablePeriod
    if period is None:
        return {}
    sources.add("/institutional/statement_from", f"{root}.billablePeriod.start")
    sources.add("/institutional/statement_to", f"{root}.billablePeriod.end")
    start = day(period.start, f"{root}.billablePeriod.start", issues, "the statement period's start")
    end = day(period.end, f"{root}.billablePeriod.end", issues, "the statement period's end")
    return {"statement_from": start.isoformat() if start else None, "statement_to": end.isoformat() if end else None}


def _check_subtype(claim, root: str, type_of_bill: str | None, issues: list[Issue]) -> None:
    said = has_code(claim.subType, CARIN_INSTITUTIONAL_SUBTYPE, "inpatient", "outpatient")
    if said is None or type_of_bill is None or len(type_of_bill.lstrip("0")) != 3:
        return
    bill = type_of_bill.lstrip("0")
    inpatient = (bill[0] in _INPATIENT_FACILITIES and bill[1] in "12") or bill[:2] in ("18", "28")
    if (said == "inpatient") != inpatient:
        issues.append(Issue("invariant", f"{root}.subType", f"subType {said} disagrees with type of bill {type_of_bill} "
                                                            f"(an {'inpatient' if inpatient else 'outpatient'} bill)"))
