"""FHIR R4 Claim -> our encounter model, and our claim -> FHIR ClaimResponse / OperationOutcome.

Validated with `fhir.resources` (its R4B models: R4B changed nothing in Claim that this mapping
uses). The Claim carries its parties as contained resources (Patient, Coverage, the billing
Organization, Practitioners), as an EHR's claim export does; codes come from the systems below.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from fhir.resources.R4B.claim import Claim as FhirClaim
from fhir.resources.R4B.claimresponse import ClaimResponse
from fhir.resources.R4B.operationoutcome import OperationOutcome

NPI = "http://hl7.org/fhir/sid/us-npi"
TIN = "urn:oid:2.16.840.1.113883.4.4"
ICD10_CM = "http://hl7.org/fhir/sid/icd-10-cm"
PLACE_OF_SERVICE = "https://www.cms.gov/Medicare/Coding/place-of-service-codes/Place_of_Service_Code_Set"
PAYER_ID = "http://openrcm.org/fhir/sid/payer-id"
GENDER = {"male": "M", "female": "F", "other": "U", "unknown": "U"}


class FhirMappingError(ValueError):
    """The Claim is valid FHIR but lacks what a claim needs; `expression` is the FHIRPath."""

    def __init__(self, expression: str, message: str) -> None:
        super().__init__(message)
        self.expression = expression


def parse_claim(payload: dict) -> FhirClaim:
    """Validate as a FHIR Claim; pydantic errors are reported as OperationOutcome by the caller."""
    return FhirClaim.model_validate(payload)


def _contained(claim: FhirClaim, reference: str | None, expression: str, kind: str):
    if not reference or not reference.startswith("#"):
        raise FhirMappingError(expression, f"{expression} must reference a contained {kind} ('#id')")
    for resource in claim.contained or []:
        if resource.id == reference[1:] and resource.get_resource_type() == kind:
            return resource
    raise FhirMappingError(expression, f"no contained {kind} with id {reference[1:]!r}")


def _identifier(identifiers, system: str) -> str | None:
    return next((i.value for i in identifiers or [] if i.system == system), None)


def _address(addresses) -> dict | None:
    if not addresses:
        return None
    a = addresses[0]
    lines = list(a.line or [])
    return {"line1": lines[0] if lines else "", "line2": lines[1] if len(lines) > 1 else None, "city": a.city,
            "state": a.state, "postal_code": a.postalCode}


def _person(resource) -> dict:
    name = resource.name[0] if resource.name else None
    return {"first_name": (name.given or [""])[0] if name else "", "last_name": name.family if name else "",
            "birth_date": resource.birthDate.isoformat() if resource.birthDate else None,
            "gender": GENDER.get(resource.gender or "unknown", "U"), "address": _address(resource.address)}


def encounter_from_claim(claim: FhirClaim) -> dict[str, Any]:
    """The encounter body (as POST /v1/encounters takes it) this Claim describes."""
    patient = _contained(claim, claim.patient.reference, "Claim.patient", "Patient")
    if not claim.insurance:
        raise FhirMappingError("Claim.insurance", "Claim.insurance is required")
    coverage = _contained(claim, claim.insurance[0].coverage.reference, "Claim.insurance[0].coverage", "Coverage")
    payor = _contained(claim, coverage.payor[0].reference, "Coverage.payor[0]", "Organization")
    billing = _contained(claim, claim.provider.reference, "Claim.provider", "Organization")
    payer_id = _identifier(payor.identifier, PAYER_ID)
    if not payer_id:
        raise FhirMappingError("Coverage.payor.identifier", f"the payer Organization needs an identifier in {PAYER_ID}")
    identifier = _identifier(claim.identifier, claim.identifier[0].system) if claim.identifier else None
    rendering = next((_contained(claim, member.provider.reference, f"Claim.careTeam[{i}].provider", "Practitioner")
                      for i, member in enumerate(claim.careTeam or [])), None)
    diagnoses = sorted(claim.diagnosis or [], key=lambda d: d.sequence)
    return {
        "encounter_id": identifier,
        "patient": {"id": _identifier(patient.identifier, patient.identifier[0].system) if patient.identifier
                    else patient.id, **_person(patient)},
        "coverage": {"payer_id": payer_id, "member_id": coverage.subscriberId},
        "billing_provider": {"npi": _identifier(billing.identifier, NPI), "tax_id": _identifier(billing.identifier, TIN),
                             "name": billing.name, "address": _address(billing.address)},
        "rendering_provider": None if rendering is None else {
            "npi": _identifier(rendering.identifier, NPI), "first_name": (rendering.name[0].given or [""])[0],
            "last_name": rendering.name[0].family},
        "diagnosis_codes": [next(c.code for c in d.diagnosisCodeableConcept.coding if c.system == ICD10_CM)
                            for d in diagnoses],
        "lines": [_line(item, [d.sequence for d in diagnoses]) for item in claim.item or []],
        **({"place_of_service": claim.item[0].locationCodeableConcept.coding[0].code}
           if claim.item and claim.item[0].locationCodeableConcept else {}),
    }


def _line(item, sequences: list[int]) -> dict:
    amount = item.net or item.unitPrice
    return {
        "procedure_code": item.productOrService.coding[0].code,
        "modifiers": [m.coding[0].code for m in item.modifier or []],
        "units": int(item.quantity.value) if item.quantity else 1,
        "charge_amount": str(amount.value) if amount else None,
        "service_date": item.servicedDate.isoformat() if item.servicedDate else None,
        "diagnosis_pointers": [sequences.index(s) + 1 for s in item.diagnosisSequence or [] if s in sequences],
    }


def claim_response(claim_out, fhir_claim: FhirClaim) -> dict:
    """ClaimResponse for a taken claim: outcome queued (it goes out with the next batch) or error (held)."""
    held = claim_out.status == "held"
    response = ClaimResponse.model_validate({
        "resourceType": "ClaimResponse", "id": str(claim_out.id), "status": "active",
        "identifier": [{"system": "http://openrcm.org/fhir/sid/patient-control-number",
                        "value": claim_out.patient_control_number}],
        "type": fhir_claim.type.model_dump(mode="json", exclude_none=True), "use": "claim",
        "patient": {"reference": f"Patient/{claim_out.patient_id}"},
        "created": datetime.now(timezone.utc).isoformat(),
        "insurer": {"identifier": {"system": PAYER_ID, "value": claim_out.payer_id}},
        "request": {"reference": f"Claim/{claim_out.id}"},
        "outcome": "error" if held else "queued",
        "disposition": "held by the scrubber" if held else "accepted for submission",
        "error": [{"code": {"coding": [{"system": "http://openrcm.org/fhir/CodeSystem/scrubber-rule",
                                        "code": hit.rule_id}], "text": hit.message}}
                  for hit in claim_out.scrub_hits if hit.severity == "block"] or None,
    })
    return response.model_dump(mode="json", exclude_none=True)


def operation_outcome(issues: list[tuple[str, str, str]]) -> dict:
    """(code, FHIRPath expression, diagnostics) -> OperationOutcome with one error issue each."""
    outcome = OperationOutcome.model_validate({"resourceType": "OperationOutcome", "issue": [
        {"severity": "error", "code": code, "expression": [expression] if expression else None,
         "diagnostics": diagnostics} for code, expression, diagnostics in issues]})
    return outcome.model_dump(mode="json", exclude_none=True)
