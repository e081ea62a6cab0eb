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
    Scope.REFERENCE_ADMIN: "Maintain payers, enrollments, providers, facilities, fee schedules and code sets",
    Scope.AUDIT_READ: "Read the audit trail",
    Scope.OPS_READ: "Read metrics and API documentation where they are not open",
}

ALL_SCOPES: tuple[str, ...] = tuple(scope.value for scope in Scope)
# The operations team's view: everything read-only, no PHI-changing scope.
READ_ONLY_SCOPES: tuple[str, ...] = (Scope.CLAIMS_READ, Scope.ELIGIBILITY_READ, Scope.REMITTANCE_READ,
                                     Scope.AUDIT_READ, Scope.OPS_READ)
