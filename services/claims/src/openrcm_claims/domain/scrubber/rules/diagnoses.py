"""Diagnoses: ICD-10-CM format, validity on the date of service, billability, duplicates.

A diagnosis is checked against the release in force on every date of service it supports: for an
837P, the "from" dates of the lines pointing at it (or the claim's first date when no line points
at it); for an 837I, the statement "through" date (the discharge date for inpatient claims decides
the ICD-10-CM version: CMS, ICD-10 implementation guidance, MLN SE1325).
"""

from __future__ import annotations

from datetime import date

from openrcm_claims.domain.scrubber.codesets import icd10cm
from openrcm_claims.domain.scrubber.model import BLOCK, WARN
from openrcm_claims.domain.scrubber.registry import rule

NONE = ()
NOT_BILLABLE = "ICD10.NOT_BILLABLE"
NOT_VALID = "ICD10.NOT_VALID_ON_DOS"
UNVERIFIED = "ICD10.UNVERIFIED"
UNAVAILABLE = "ICD10.CODE_SET_UNAVAILABLE"
# The findings of a claim whose every diagnosis is billable on its dates (shared, never mutated).
CLEAN: dict[str, tuple] = {NOT_BILLABLE: (), NOT_VALID: (), UNVERIFIED: (), UNAVAILABLE: ()}


def dotted(code: str) -> str:
    return code if len(code) <= 3 else f"{code[:3]}.{code[3:]}"


def _dates_per_diagnosis(ctx) -> list[set[date]]:
    claim = ctx.claim
    count = len(claim.diagnosis_codes)
    if not claim.lines:
        return [set() for _ in range(count)]
    if not ctx.professional:
        through = max(line.service_date_to or line.service_date for line in claim.lines)
        return [{through} for _ in range(count)]
    dates: list[set[date]] = [set() for _ in range(count)]
    for line in claim.lines:
        for pointer in line.diagnosis_pointers:
            if 1 <= pointer <= count:
                dates[pointer - 1].add(line.service_date)
    first = ctx.service_dates[0]
    for supported in dates:
        if not supported:
            supported.add(first)
    return dates


def icd10_findings(ctx) -> dict[str, list[tuple[str, str]]]:  # noqa: C901 (one pass, four outcomes)
    """All ICD-10-CM validity findings of the claim, by rule id (computed once per claim)."""
    codes = ctx.claim.diagnosis_codes
    if not codes:
        return CLEAN
    code_set = ctx.code_sets.icd10cm
    # Fast path: every line on one date (a professional claim) or one statement date: one release.
    claim = ctx.claim
    if claim.lines and (len(ctx.service_dates) == 1 if ctx.professional else True):
        day = ctx.service_dates[0] if ctx.professional else max(
            line.service_date_to or line.service_date for line in claim.lines)
        index, covered = code_set.index_for(day)
        if covered:
            billable = code_set.release(index).billable
            if all(code in billable for code in codes):
                return CLEAN
    findings: dict[str, list[tuple[str, str]]] = {NOT_BILLABLE: [], NOT_VALID: [], UNVERIFIED: [], UNAVAILABLE: []}
    uncovered: set[date] = set()
    for position, (code, days) in enumerate(zip(codes, _dates_per_diagnosis(ctx))):
        if not icd10cm.is_icd10cm_form(code):
            continue  # ICD10.FORMAT reports it
        pointer = f"/diagnosis_codes/{position}"
        reported: set[str] = set()
        for day in sorted(days):
            index, covered = code_set.index_for(day)
            release = code_set.release(index)
            if covered:
                if code in release.billable:
                    continue
                outcome = code_set.classify(code, index)
            else:
                uncovered.add(day)
                if code in release.billable:
                    continue
                outcome = code_set.classify(code, index)
                # A header stays a header in later releases (codes are only ever expanded), so past
                # the newest release a header is still an error; everything else is unverifiable.
                if not (outcome == icd10cm.HEADER and day > code_set.last_day):
                    outcome = "outside"
            if outcome in reported:
                continue
            reported.add(outcome)
            shown = dotted(code)
            if outcome == icd10cm.HEADER:
                findings[NOT_BILLABLE].append((
                    f"{shown} is an ICD-10-CM category, not a billable code, in {release.label}: "
                    "report it to the highest number of characters available", pointer))
            elif outcome == icd10cm.DELETED:
                findings[NOT_VALID].append((
                    f"{shown} was deleted from ICD-10-CM effective {release.label}; it is not valid for "
                    "this date of service", pointer))
            elif outcome == icd10cm.NOT_YET_VALID:
                findings[NOT_VALID].append((
                    f"{shown} is not yet valid in {release.label}, the ICD-10-CM release for this date of "
                    "service (it was added later)", pointer))
            elif outcome == icd10cm.UNKNOWN:
                findings[NOT_VALID].append((
                    f"{shown} is not an ICD-10-CM code in {release.label}, the release for this date of service",
                    pointer))
            elif outcome == icd10cm.UNVERIFIED:
                findings[UNVERIFIED].append((
                    f"{shown} is not in the shipped external-cause list for {release.label} (that list is "
                    "taken from FY2026 for earlier years): check it by hand", pointer))
            else:
                findings[UNVERIFIED].append((
                    f"{shown} is not billable in {release.label}, the nearest shipped ICD-10-CM release; "
                    "the release for this date of service is not loaded, so it could not be verified", pointer))
    if uncovered:
        fiscal_years = sorted({icd10cm.fiscal_year(day) for day in uncovered})
        names = ", ".join(f"FY{year}" for year in fiscal_years)
        findings[UNAVAILABLE].append((
            f"no ICD-10-CM code set is loaded for {names} (loaded: "
            f"{icd10cm.release_label(code_set.first_day)} to FY{icd10cm.fiscal_year(code_set.last_day)}); "
            "diagnoses were checked against the nearest release only", "/diagnosis_codes"))
    return findings


@rule("ICD10.FORMAT", BLOCK, "Each diagnosis is an ICD-10-CM code in X12 form (3-7 characters, no dot).")
def icd10_format(ctx):
    if ctx.icd10() is CLEAN:
        return NONE  # every code is in a code set, so every code has the right form
    found = []
    for position, code in enumerate(ctx.claim.diagnosis_codes):
        if not icd10cm.is_icd10cm_form(code):
            found.append((f"{code!r} is not an ICD-10-CM code in X12 form (a letter, then 2-6 letters or "
                          "digits, no dot)", f"/diagnosis_codes/{position}"))
    return found


@rule(NOT_BILLABLE, BLOCK, "Each diagnosis is a billable ICD-10-CM code, not a category or subcategory header.")
def icd10_not_billable(ctx):
    return ctx.icd10()[NOT_BILLABLE]


@rule(NOT_VALID, BLOCK, "Each diagnosis is in the CMS ICD-10-CM release in force on its date of service (FY from Oct 1).")
def icd10_not_valid(ctx):
    return ctx.icd10()[NOT_VALID]


@rule(UNVERIFIED, WARN, "A diagnosis that the shipped data cannot confirm for its date of service.")
def icd10_unverified(ctx):
    return ctx.icd10()[UNVERIFIED]


@rule(UNAVAILABLE, WARN, "No shipped ICD-10-CM release covers a date of service on the claim.")
def icd10_unavailable(ctx):
    return ctx.icd10()[UNAVAILABLE]


@rule("DX.DUPLICATE", WARN, "A diagnosis code appears only once on the claim.")
def duplicate_diagnosis(ctx):
    seen: set[str] = set()
    found = []
    for position, code in enumerate(ctx.claim.diagnosis_codes):
        if code in seen:
            found.append((f"{dotted(code)} is listed more than once", f"/diagnosis_codes/{position}"))
        seen.add(code)
    return found
