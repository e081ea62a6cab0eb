"""The parties of a FHIR Claim as the encounter carries them: the patient (Patient), each coverage
(Coverage: member, group, relationship, subscriber, payer type), the billing provider
(Organization), care team members (Practitioner) and the service facility (Location). Pure
mapping: the registry lookups are the reader's (claim_intake)."""

from __future__ import annotations

from typing import Protocol

from openrcm_claims.adapters.fhir.datatypes import (
    address, day, has_code, identifier, person_name, typed_identifier,
)
from openrcm_claims.adapters.fhir.issues import Issue, SourceMap
from openrcm_claims.adapters.fhir.references import Found
from openrcm_claims.adapters.fhir.systems import (
    COVERAGE_CLASS, IDENTIFIER_TYPE, NPI, NUCC_TAXONOMY, PAYER_TYPOLOGY, SUBSCRIBER_RELATIONSHIP, TIN,
)


class PartyRegistry(Protocol):
    """What the practice registered, as the encounter carries it (JSON-ready dicts)."""

    async def patient(self, patient_id: str) -> dict | None: ...

    async def provider(self, npi: str) -> tuple[dict, frozenset[str]] | None: ...

    async def facility(self, facility_id: str) -> dict | None: ...

    async def coverage(self, patient_id: str, coverage_id: str) -> dict | None: ...

    async def payers(self, payer_ids: list[str]) -> set[str]: ...

    async def payers_by_identifiers(self, pairs: list[tuple[str, str]]) -> dict[tuple[str, str], str]: ...


# FHIR AdministrativeGender -> 837 DMG03 (U: unknown).
GENDER = {"male": "M", "female": "F", "other": "U", "unknown": "U"}
# FHIR subscriber-relationship -> X12 individual relationship code (PAT01 / SBR02): 18 self,
# 01 spouse, 19 child, 53 life partner, G8 other relationship.
RELATIONSHIP = {"self": "18", "spouse": "01", "child": "19", "common": "53", "parent": "G8", "other": "G8",
                "injured": "G8"}
# Source of Payment Typology (PHDSC) -> 837 SBR09 claim filing indicator: 1 Medicare (MA Part A on
# an 837I, MB Part B on an 837P), 2 Medicaid, 311 TRICARE, 32 VA, 5 private insurance, 6 BCBS.
_FILING_INDICATOR_BY_TYPOLOGY = (("311", "CH"), ("32", "VA"), ("2", "MC"), ("5", "CI"), ("6", "BL"))


def patient_from(found: Found, issues: list[Issue], sources: SourceMap, pointer: str = "/patient") -> dict:
    """The patient: the practice's id for it (the MR identifier, else the first identifier, else the
    id of a Bundle entry; a contained resource's id is local to the Claim), names, birth date
    (DMG02: a full date), gender, address."""
    patient = found.resource
    patient_id = (typed_identifier(patient.identifier, IDENTIFIER_TYPE, "MR")
                  or next((i.value for i in patient.identifier or [] if i.value), None)
                  or (patient.id if found.container is patient else None))
    if not patient_id:
        issues.append(Issue("required", found.path + ".identifier",
                            "the practice's id for the patient (an identifier of type MR)"))
    sources.add(pointer + "/id", found.path + ".identifier")
    return {"id": patient_id or "", **person_from(found, issues, sources, pointer)}


def person_from(found: Found, issues: list[Issue], sources: SourceMap, pointer: str) -> dict:
    """Names, birth date, gender and address of a Patient or RelatedPerson."""
    person = found.resource
    first, last = person_name(person.name)
    for field, element in (("first_name", "name"), ("last_name", "name"), ("birth_date", "birthDate"),
                           ("gender", "gender")):
        sources.add(f"{pointer}/{field}", f"{found.path}.{element}")
    sources.add(pointer, found.path)
    birth = day(person.birthDate, found.path + ".birthDate", issues, "birthDate")
    if person.birthDate is None:
        issues.append(Issue("required", found.path + ".birthDate", "the date of birth (837 DMG02)"))
    return {"first_name": first, "last_name": last, "birth_date": birth.isoformat() if birth else None,
            "gender": GENDER.get(person.gender or "unknown", "U"),
            "address": address(person.address, found.path, pointer + "/address", sources)}


def coverage_from(found: Found, issues: list[Issue], sources: SourceMap, pointer: str, *,
                  institutional: bool, notes: list[str]) -> dict:
    """One coverage, but its payer and its subscriber (the reader resolves those): member id
    (subscriberId, else the identifier of type MB), group, relationship (PAT01), filing indicator."""
    coverage = found.resource
    if coverage.status != "active":
        issues.append(Issue("business-rule", found.path + ".status",
                            f"coverage status {coverage.status!r}: only an active coverage is billed"))
    member = (coverage.subscriberId or "").strip() or typed_identifier(coverage.identifier, IDENTIFIER_TYPE, "MB")
    if not member:
        issues.append(Issue("required", found.path + ".subscriberId", "the member id (837 2010BA NM109)"))
    group = next((c.value for c in coverage.class_fhir or [] if has_code(c.type, COVERAGE_CLASS, "group")), None)
    relationship = has_code(coverage.relationship, SUBSCRIBER_RELATIONSHIP)
    if coverage.relationship is not None and relationship not in RELATIONSHIP:
        issues.append(Issue("code-invalid", found.path + ".relationship",
                            f"no coding in {SUBSCRIBER_RELATIONSHIP} ({', '.join(RELATIONSHIP)})"))
    for field, element in (("member_id", "subscriberId"), ("group_number", "class"),
                           ("relationship_to_subscriber", "relationship"), ("subscriber", "subscriber"),
                           ("claim_filing_indicator", "type"), ("payer_id", "payor")):
        sources.add(f"{pointer}/{field}", f"{found.path}.{element}")
    sources.add(pointer, found.path)
    return {"member_id": member or "", "group_number": group,
            "relationship_to_subscriber": RELATIONSHIP.get(relationship or "self", "18"),
            "claim_filing_indicator": filing_indicator(coverage.type, found.path + ".type", institutional, notes)}


def filing_indicator(coverage_type, path: str, institutional: bool, notes: list[str]) -> str:
    """SBR09 from the coverage's payer type (Source of Payment Typology); CI (commercial) when it
    names none, as the JSON intake defaults."""
    code = next((c.code for c in getattr(coverage_type, "coding", None) or [] if c.system in PAYER_TYPOLOGY
                 and c.code), None)
    if code is None:
        if coverage_type is not None:
            notes.append(f"{path}: no Source of Payment Typology code; claim filing indicator CI (commercial) sent")
        return "CI"
    if code.startswith("1"):
        return "MA" if institutional else "MB"
    for prefix, indicator in _FILING_INDICATOR_BY_TYPOLOGY:
        if code.startswith(prefix):
            return indicator
    notes.append(f"{path}: payer type {code} has no claim filing indicator here; CI (commercial) sent")
    return "CI"


def billing_from(found: Found, issues: list[Issue], sources: SourceMap, pointer: str = "/billing_provider") -> dict:
    """The billing provider (837 2010AA): NPI, TIN (digits), name, address."""
    organization = found.resource
    npi = identifier(organization.identifier, NPI)
    if npi is None:
        issues.append(Issue("required", found.path + ".identifier", f"the billing provider's NPI ({NPI})"))
    tax_id = identifier(organization.identifier, TIN)
    for field, element in (("npi", "identifier"), ("tax_id", "identifier"), ("name", "name")):
        sources.add(f"{pointer}/{field}", f"{found.path}.{element}")
    sources.add(pointer, found.path)
    return {"npi": npi or "", "tax_id": tax_id.replace("-", "") if tax_id else None, "name": organization.name,
            "address": address(organization.address, found.path, pointer + "/address", sources,
                               uses=("work", "billing"))}


def practitioner_from(found: Found, qualification, member_path: str, issues: list[Issue], sources: SourceMap,
                      pointer: str) -> dict:
    """A person on the claim (rendering, referring, supervising, attending): NPI, names, and the
    NUCC taxonomy from careTeam.qualification when given."""
    practitioner = found.resource
    npi = identifier(practitioner.identifier, NPI)
    if npi is None:
        issues.append(Issue("required", found.path + ".identifier", f"the provider's NPI ({NPI})"))
    first, last = person_name(practitioner.name)
    for field, element in (("npi", "identifier"), ("first_name", "name"), ("last_name", "name")):
        sources.add(f"{pointer}/{field}", f"{found.path}.{element}")
    sources.add(f"{pointer}/taxonomy_code", member_path + ".qualification")
    sources.add(pointer, found.path)
    return {"npi": npi or "", "first_name": first, "last_name": last,
            "taxonomy_code": has_code(qualification, NUCC_TAXONOMY)}


def facility_from(found: Found, issues: list[Issue], sources: SourceMap, pointer: str = "/service_facility") -> dict:
    """Where the services were rendered (837P 2310C / 837I 2310E): name, NPI, street address."""
    location = found.resource
    for field, element in (("name", "name"), ("npi", "identifier")):
        sources.add(f"{pointer}/{field}", f"{found.path}.{element}")
    sources.add(pointer, found.path)
    return {"name": location.name or "", "npi": identifier(location.identifier, NPI),
            "address": address(location.address, found.path, pointer + "/address", sources)}
