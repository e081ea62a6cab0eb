"""The OAuth 2.0 scopes OpenRCM's APIs check, one per kind of work (README: "Scopes per route")."""

from __future__ import annotations

from enum import StrEnum


class Scope(StrEnum):
    CLAIMS_WRITE = "claims:write"
    CLAIMS_READ = "claims:read"
    ELIGIBILITY_WRITE = "eligibility:write"
    ELIGIBILITY_READ = "eligibility:read"
    REMITTANCE_WRITE = "remittance:write"
    REMITTANCE_READ = "remittance:read"
    DENIALS_WORK = "denials:work"
    COLLECTIONS_WORK = "collections:work"
    PAYMENTS_WRITE = "payments:write"
    REFERENCE_ADMIN = "reference:admin"
    AUDIT_READ = "audit:read"
    OPS_READ = "ops:read"
    CODESETS_ADMIN = "codesets:admin"


SCOPE_DESCRIPTIONS: dict[str, str] = {
    Scope.CLAIMS_WRITE: "Send charges (encounters, FHIR claims), register patients and coverages, correct claims",
    Scope.CLAIMS_READ: "Read claims, patients, coverages, providers, payers",
    Scope.ELIGIBILITY_WRITE: "Run eligibility checks and record their answers",
    Scope.ELIGIBILITY_READ: "Read eligibility checks and coverage answers",
    Scope.REMITTANCE_WRITE: "Upload ERAs, match and reprocess them, record deposits",
    Scope.REMITTANCE_READ: "Read remittances, ledgers, deposits, variances",
    Scope.DENIALS_WORK: "Work the denials worklist",
    Scope.COLLECTIONS_WORK: "Read and work patient accounts",
    Scope.PAYMENTS_WRITE: "Take patient payments, refunds and adjustments",
    Scope.REFERENCE_ADMIN: "Maintain the practice's payers, enrollments, providers, facilities and fee schedules",
    Scope.AUDIT_READ: "Read the audit trail",
    Scope.OPS_READ: "Read metrics and API documentation where they are not open",
    Scope.CODESETS_ADMIN: "Import and withdraw the CMS code sets (HCPCS, NCCI PTP, MUE, ICD-10-CM) every practice's "
                          "claims are scrubbed with: the platform operator's, never a practice's",
}

ALL_SCOPES: tuple[str, ...] = tuple(scope.value for scope in Scope)
# Scopes over data every practice shares: a practice's administrator could otherwise change how every
# other practice's claims are scrubbed, so a practice's full access stops short of them.
PLATFORM_SCOPES: tuple[str, ...] = (Scope.CODESETS_ADMIN,)
# Everything a practice's own staff and systems may do with its data.
PRACTICE_SCOPES: tuple[str, ...] = tuple(scope for scope in ALL_SCOPES if scope not in PLATFORM_SCOPES)
# The operations team's view: everything read-only, no PHI-changing scope.
READ_ONLY_SCOPES: tuple[str, ...] = (Scope.CLAIMS_READ, Scope.ELIGIBILITY_READ, Scope.REMITTANCE_READ,
                                     Scope.AUDIT_READ, Scope.OPS_READ)
