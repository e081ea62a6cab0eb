"""Code and identifier systems the FHIR intake reads and writes, each with the aliases real EHRs
send for it. Sources: FHIR R4 "Using Codes" (terminologies-systems), US Core's code-system list,
the CARIN Blue Button IG's aliases (HL7/carin-bb input/fsh/Aliases.fsh) and HL7 Terminology (THO)
naming systems. A coding in a system not listed here is never read as one of these."""

from __future__ import annotations

# Procedures, diagnoses, places of service (professional claims).
CPT = "http://www.ama-assn.org/go/cpt"
HCPCS = "https://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets"
ICD10_CM = "http://hl7.org/fhir/sid/icd-10-cm"
PLACE_OF_SERVICE = "https://www.cms.gov/Medicare/Coding/place-of-service-codes/Place_of_Service_Code_Set"
# NUBC (UB-04) code sets (institutional claims).
REVENUE_CODE = "https://www.nubc.org/CodeSystem/RevenueCodes"
TYPE_OF_BILL = "https://www.nubc.org/CodeSystem/TypeOfBill"
POINT_OF_ORIGIN = "https://www.nubc.org/CodeSystem/PointOfOrigin"
ADMISSION_TYPE = "https://www.nubc.org/CodeSystem/PriorityTypeOfAdmitOrVisit"
DISCHARGE_STATUS = "https://www.nubc.org/CodeSystem/PatDischargeStatus"
NUCC_TAXONOMY = "http://nucc.org/provider-taxonomy"

ALIASES: dict[str, frozenset[str]] = {
    CPT: frozenset({CPT, "urn:oid:2.16.840.1.113883.6.12"}),
    # CARIN uses https; CRD/DTR examples and US Core's VSAC map use http; US Core 3.x the OID.
    HCPCS: frozenset({HCPCS, "http://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets",
                      "urn:oid:2.16.840.1.113883.6.285"}),
    ICD10_CM: frozenset({ICD10_CM, "urn:oid:2.16.840.1.113883.6.90"}),
    PLACE_OF_SERVICE: frozenset({PLACE_OF_SERVICE, "http://terminology.hl7.org/CodeSystem/POS",
                                 "urn:oid:2.16.840.1.113883.6.50"}),
    # THO's v2 table 0456 is the NUBC revenue codes; 2.16.840.1.113883.6.301.3 their OID.
    REVENUE_CODE: frozenset({REVENUE_CODE, "urn:oid:2.16.840.1.113883.6.301.3",
                             "http://terminology.hl7.org/CodeSystem/v2-0456"}),
    TYPE_OF_BILL: frozenset({TYPE_OF_BILL, "urn:oid:2.16.840.1.113883.18.290"}),
    POINT_OF_ORIGIN: frozenset({POINT_OF_ORIGIN, "https://www.nubc.org/CodeSystem/PointOfOriginNewborn",
                                "urn:oid:2.16.840.1.113883.6.301.4"}),
    ADMISSION_TYPE: frozenset({ADMISSION_TYPE, "https://www.nubc.org/priority-type-of-admission-or-visit"}),
    DISCHARGE_STATUS: frozenset({DISCHARGE_STATUS, "https://www.nubc.org/patient-discharge",
                                 "urn:oid:2.16.840.1.113883.6.301.5"}),
}

NAMES = {CPT: "CPT", HCPCS: "HCPCS", ICD10_CM: "ICD-10-CM", PLACE_OF_SERVICE: "CMS place of service",
         REVENUE_CODE: "NUBC revenue codes", TYPE_OF_BILL: "NUBC type of bill",
         POINT_OF_ORIGIN: "NUBC point of origin", ADMISSION_TYPE: "NUBC priority (type) of admission",
         DISCHARGE_STATUS: "NUBC patient discharge status"}

# Identifiers.
NPI = "http://hl7.org/fhir/sid/us-npi"
TIN = "urn:oid:2.16.840.1.113883.4.4"  # US employer identification numbers (IRS)
IDENTIFIER_TYPE = "http://terminology.hl7.org/CodeSystem/v2-0203"  # MR medical record, MB member number

# FHIR and CARIN Blue Button vocabularies.
CLAIM_TYPE = "http://terminology.hl7.org/CodeSystem/claim-type"
CARIN_INSTITUTIONAL_SUBTYPE = "http://hl7.org/fhir/us/carin-bb/CodeSystem/C4BBInstitutionalClaimSubType"
CARIN_SUPPORTING_INFO = "http://hl7.org/fhir/us/carin-bb/CodeSystem/C4BBSupportingInfoType"
CLAIM_INFORMATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/claiminformationcategory"
DIAGNOSIS_TYPE = "http://terminology.hl7.org/CodeSystem/ex-diagnosistype"
CARIN_DIAGNOSIS_TYPE = "http://hl7.org/fhir/us/carin-bb/CodeSystem/C4BBClaimDiagnosisType"
CARE_TEAM_ROLE = "http://terminology.hl7.org/CodeSystem/claimcareteamrole"
CARIN_CARE_TEAM_ROLE = "http://hl7.org/fhir/us/carin-bb/CodeSystem/C4BBClaimCareTeamRole"
SUBSCRIBER_RELATIONSHIP = "http://terminology.hl7.org/CodeSystem/subscriber-relationship"
COVERAGE_CLASS = "http://terminology.hl7.org/CodeSystem/coverage-class"
# PHDSC Source of Payment Typology, the payer type US Core's Coverage takes.
PAYER_TYPOLOGY = frozenset({"https://nahdo.org/sopt", "urn:oid:2.16.840.1.113883.3.221.5"})
PAYEE_TYPE = "http://terminology.hl7.org/CodeSystem/payeetype"
DATA_ABSENT_REASON = "http://terminology.hl7.org/CodeSystem/data-absent-reason"
UCUM = "http://unitsofmeasure.org"

# ClaimResponse.
ADJUDICATION = "http://terminology.hl7.org/CodeSystem/adjudication"
CARIN_ADJUDICATION = "http://hl7.org/fhir/us/carin-bb/CodeSystem/C4BBAdjudication"
CARC = "https://x12.org/codes/claim-adjustment-reason-codes"
PAYMENT_TYPE = "http://terminology.hl7.org/CodeSystem/ex-paymenttype"

# OpenRCM's own identifiers and codes.
ENCOUNTER_ID = "http://openrcm.org/fhir/sid/encounter-id"
PATIENT_CONTROL_NUMBER = "http://openrcm.org/fhir/sid/patient-control-number"
PAYER_CLAIM_CONTROL_NUMBER = "http://openrcm.org/fhir/sid/payer-claim-control-number"
SCRUBBER_RULE = "http://openrcm.org/fhir/CodeSystem/scrubber-rule"
REJECTION_REASON = "http://openrcm.org/fhir/CodeSystem/rejection-reason"
ADJUSTMENT_GROUP = "http://openrcm.org/fhir/CodeSystem/claim-adjustment-group"  # X12 CAS01: CO, PR, OA, PI, CR


def canonical(system: str | None, among: tuple[str, ...]) -> str | None:
    """The system of `among` that `system` names (itself or an alias), else None."""
    if system is None:
        return None
    for wanted in among:
        if system in ALIASES.get(wanted, frozenset({wanted})):
            return wanted
    return None
