"""A stored claim as FHIR: the Claim that was taken (GET /fhir/Claim/{id}, every party contained,
codes in their standard systems, so posting it again reads back the same encounter), and its
ClaimResponse (GET /fhir/ClaimResponse/{id}): where the claim stands and, once its payer has
adjudicated, what the 835 said, line by line."""

from __future__ import annotations

import re
from datetime import datetime, time, timezone
from decimal import Decimal

from fhir.resources.R4B.claim import Claim as FhirClaim
from fhir.resources.R4B.claimresponse import ClaimResponse

from openrcm_claims.adapters.fhir.parties import GENDER, RELATIONSHIP
from openrcm_claims.adapters.fhir.systems import (
    ADJUDICATION, ADJUSTMENT_GROUP, ADMISSION_TYPE, CARC, CARE_TEAM_ROLE, CARIN_ADJUDICATION, CARIN_CARE_TEAM_ROLE,
    CARIN_SUPPORTING_INFO, CLAIM_TYPE, COVERAGE_CLASS, CPT, DATA_ABSENT_REASON, DIAGNOSIS_TYPE, DISCHARGE_STATUS,
    ENCOUNTER_ID, HCPCS, ICD10_CM, IDENTIFIER_TYPE, NPI, NUCC_TAXONOMY, PATIENT_CONTROL_NUMBER,
    PAYER_CLAIM_CONTROL_NUMBER, PAYMENT_TYPE, PLACE_OF_SERVICE, POINT_OF_ORIGIN, REJECTION_REASON, REVENUE_CODE,
    SCRUBBER_RULE, SUBSCRIBER_RELATIONSHIP, TIN, TYPE_OF_BILL, UCUM,
)
from openrcm_claims.entrypoints.schemas import EncounterIn
from openrcm_shared.money import to_cents

# CPT: five characters, the last a digit (category I) or F, T, U (categories II, III, PLA codes).
_CPT = re.compile(r"^[0-9]{4}[0-9FTU]$")
_GENDER = {code: gender for gender, code in GENDER.items() if gender != "other"}
_RELATIONSHIP = {code: relationship for relationship, code in RELATIONSHIP.items() if relationship in
                 ("self", "spouse", "child", "common")}
# SBR09 -> Source of Payment Typology (the reverse of parties.filing_indicator).
_TYPOLOGY = {"MA": "1", "MB": "1", "MC": "2", "CH": "311", "VA": "32", "CI": "5", "BL": "6"}
_ROLE_CODINGS = {"rendering": (CARIN_CARE_TEAM_ROLE, "rendering"), "referring": (CARIN_CARE_TEAM_ROLE, "referring"),
                 "supervising": (CARE_TEAM_ROLE, "supervisor"), "attending": (CARIN_CARE_TEAM_ROLE, "attending")}
# ClaimResponse.outcome and disposition by claim status.
_OUTCOMES = {
    "held": ("error", "held: the scrubber found problems to fix before it is sent"),
    "ready": ("queued", "accepted for submission: it goes out with the next 837 batch"),
    "submitted": ("queued", "sent to the clearinghouse"),
    "accepted_by_clearinghouse": ("queued", "accepted by the clearinghouse"),
    "accepted_by_payer": ("queued", "accepted by the payer, awaiting its decision"),
    "rejected": ("error", "rejected: correct and send it again"),
    "paid": ("complete", "paid by the payer"),
    "partially_paid": ("complete", "partially paid: some lines or amounts were denied"),
    "denied": ("complete", "denied by the payer"),
    "voided": ("complete", "voided"),
}
_PATIENT_SHARE_CATEGORY = {"deductible": (ADJUDICATION, "deductible"), "copay": (ADJUDICATION, "copay"),
                           "coinsurance": (CARIN_ADJUDICATION, "coinsurance"),
                           "other": (CARIN_ADJUDICATION, "memberliability")}


def _coding(system: str, code: str) -> dict:
    return {"coding": [{"system": system, "code": code}]}


def _money(amount: Decimal) -> dict:
    return {"value": Decimal(amount), "currency": "USD"}


def _icd10(code: str) -> str:
    return code if len(code) <= 3 else f"{code[:3]}.{code[3:]}"


def _address(address: dict | None) -> list[dict] | None:
    if not address:
        return None
    return [{"line": [line for line in (address.get("line1"), address.get("line2")) if line],
             "city": address.get("city"), "state": address.get("state"), "postalCode": address.get("postal_code")}]


def _person(person, resource_type: str, local_id: str, **extra) -> dict:
    return {"resourceType": resource_type, "id": local_id, **extra,
            "name": [{"family": person.last_name, "given": [person.first_name]}],
            "gender": _GENDER.get(person.gender, "unknown"), "birthDate": person.birth_date.isoformat(),
            **({"address": _address(person.address.model_dump())} if person.address else {})}


def _practitioner(provider, local_id: str) -> dict:
    return {"resourceType": "Practitioner", "id": local_id, "identifier": [{"system": NPI, "value": provider.npi}],
            "name": [{"family": provider.last_name or provider.name or "", "given": [provider.first_name or ""]}]}


def _procedure(code: str | None) -> dict:
    if code is None:  # an institutional line billed by revenue code alone
        return _coding(DATA_ABSENT_REASON, "not-applicable")
    return _coding(CPT if _CPT.match(code) else HCPCS, code)


def claim_resource(claim, lines, encounter: EncounterIn) -> dict:
    """The FHIR R4 Claim of a stored claim (`claim`: its row, `lines`: its line rows, `encounter`:
    the encounter document it was built from, every party resolved)."""
    contained, insurance = [_person(encounter.patient, "Patient", "patient", identifier=[
        {"type": _coding(IDENTIFIER_TYPE, "MR"), "value": encounter.patient.id}])], []
    for sequence, coverage in enumerate((encounter.coverage, *encounter.other_coverages), start=1):
        contained += _coverage(coverage, sequence)
        insurance.append({"sequence": sequence, "focal": sequence == 1,
                          "coverage": {"reference": f"#coverage-{sequence}"},
                          **({"preAuthRef": [encounter.prior_authorization]}
                             if sequence == 1 and encounter.prior_authorization else {})})
    billing = encounter.billing_provider
    contained.append({"resourceType": "Organization", "id": "billing", "name": billing.name,
                      "identifier": [{"system": NPI, "value": billing.npi}]
                      + ([{"system": TIN, "value": billing.tax_id}] if billing.tax_id else []),
                      **({"address": _address(billing.address.model_dump())} if billing.address else {})})
    care_team, lead = [], None
    for role in ("rendering", "referring", "supervising", "attending"):
        provider = getattr(encounter, f"{role}_provider")
        if provider is not None:
            contained.append(_practitioner(provider, role))
            if role in ("rendering", "attending"):
                lead = len(care_team) + 1
            care_team.append({"sequence": len(care_team) + 1, "provider": {"reference": f"#{role}"},
                              "role": _coding(*_ROLE_CODINGS[role]),
                              **({"qualification": _coding(NUCC_TAXONOMY, provider.taxonomy_code)}
                                 if provider.taxonomy_code else {})})
    resource = {
        "resourceType": "Claim", "id": str(claim.id), "status": "cancelled" if claim.status == "voided" else "active",
        "identifier": [{"system": ENCOUNTER_ID, "value": claim.encounter_id},
                       {"system": PATIENT_CONTROL_NUMBER, "value": claim.patient_control_number}],
        "type": _coding(CLAIM_TYPE, claim.claim_type), "use": "claim", "created": claim.created_at.isoformat(),
        "patient": {"reference": "#patient"}, "insurer": {"reference": f"Organization/{claim.payer_id}"},
        "provider": {"reference": "#billing"}, "priority": _coding("http://terminology.hl7.org/CodeSystem/processpriority",
                                                                   "normal"),
        "insurance": insurance, "careTeam": care_team or None, "total": _money(claim.total_charge),
        "billablePeriod": {"start": claim.service_date_from.isoformat(), "end": claim.service_date_to.isoformat()},
        "diagnosis": _diagnoses(encounter),
        "item": [_item(line, encounter, lead) for line in lines],
    }
    if encounter.service_facility is not None:
        facility = encounter.service_facility
        contained.append({"resourceType": "Location", "id": "facility", "name": facility.name,
                          **({"identifier": [{"system": NPI, "value": facility.npi}]} if facility.npi else {}),
                          "address": _address(facility.address.model_dump())[0]})
        resource["facility"] = {"reference": "#facility"}
    if encounter.institutional_claim and encounter.institutional is not None:
        resource.update(_institutional(encounter, claim))
    resource["contained"] = contained
    return FhirClaim.model_validate(resource).model_dump(mode="json", exclude_none=True)


def _coverage(coverage, sequence: int) -> list[dict]:
    resources = []
    relationship = _RELATIONSHIP.get(coverage.relationship_to_subscriber, "other")
    entry = {"resourceType": "Coverage", "id": f"coverage-{sequence}", "status": "active",
             "subscriberId": coverage.member_id, "beneficiary": {"reference": "#patient"},
             "payor": [{"reference": f"Organization/{coverage.payer_id}"}],
             "relationship": _coding(SUBSCRIBER_RELATIONSHIP, relationship)}
    if coverage.group_number:
        entry["class"] = [{"type": _coding(COVERAGE_CLASS, "group"), "value": coverage.group_number}]
    if coverage.claim_filing_indicator in _TYPOLOGY:
        entry["type"] = _coding("https://nahdo.org/sopt", _TYPOLOGY[coverage.claim_filing_indicator])
    if coverage.subscriber is not None:
        resources.append(_person(coverage.subscriber, "RelatedPerson", f"subscriber-{sequence}",
                                 patient={"reference": "#patient"}))
        entry["subscriber"] = {"reference": f"#subscriber-{sequence}"}
    return [*resources, entry]


def _diagnoses(encounter: EncounterIn) -> list[dict]:
    diagnoses = [{"sequence": position, "diagnosisCodeableConcept": _coding(ICD10_CM, _icd10(code)),
                  **({"type": [_coding(DIAGNOSIS_TYPE, "principal")]} if position == 1 else {})}
                 for position, code in enumerate(encounter.diagnosis_codes, start=1)]
    admitting = encounter.institutional.admitting_diagnosis if encounter.institutional else None
    if encounter.institutional_claim and admitting:
        diagnoses.append({"sequence": len(diagnoses) + 1, "diagnosisCodeableConcept": _coding(ICD10_CM, _icd10(admitting)),
                          "type": [_coding(DIAGNOSIS_TYPE, "admitting")]})
    return diagnoses


def _item(line, encounter: EncounterIn, lead: int | None) -> dict:
    units, charge = Decimal(line.units), Decimal(line.charge_amount)
    days = line.unit_basis == "DA"
    item = {"sequence": line.line_number, "productOrService": _procedure(line.procedure_code),
            "quantity": {"value": units.normalize() if units != units.to_integral_value() else units.to_integral_value(),
                         **({"system": UCUM, "code": "d", "unit": "days"} if days else {})},
            "net": _money(charge)}
    price = charge / units
    if to_cents(price) * units == charge:  # a unit price only when quantity × unitPrice is the charge exactly
        item["unitPrice"] = _money(to_cents(price))
    if line.revenue_code:
        item["revenue"] = _coding(REVENUE_CODE, line.revenue_code)
    if line.modifiers:
        item["modifier"] = [_coding(CPT if m.isdigit() else HCPCS, m) for m in line.modifiers]
    if line.service_date_to and line.service_date_to != line.service_date:
        item["servicedPeriod"] = {"start": line.service_date.isoformat(), "end": line.service_date_to.isoformat()}
    else:
        item["servicedDate"] = line.service_date.isoformat()
    if not encounter.institutional_claim:
        item["locationCodeableConcept"] = _coding(PLACE_OF_SERVICE, line.place_of_service or encounter.place_of_service)
        item["diagnosisSequence"] = list(line.diagnosis_pointers) or None
        if lead is not None:
            item["careTeamSequence"] = [lead]
    return item


def _institutional(encounter: EncounterIn, claim) -> dict:
    details = encounter.institutional
    infos = [("typeofbill", {"code": _coding(TYPE_OF_BILL, f"0{details.facility_type}{claim.frequency_code}")}),
             ("discharge-status", {"code": _coding(DISCHARGE_STATUS, details.patient_status)})]
    if details.admission_date is not None:
        start = (datetime.combine(details.admission_date, time(details.admission_hour)).isoformat()
                 if details.admission_hour is not None else details.admission_date.isoformat())
        infos.append(("admissionperiod", {"timingPeriod": {"start": start}}))
    for kind, value, system in (("admtype", details.admission_type, ADMISSION_TYPE),
                                ("pointoforigin", details.admission_source, POINT_OF_ORIGIN)):
        if value:
            infos.append((kind, {"code": _coding(system, value)}))
    statement_from = details.statement_from or claim.service_date_from
    statement_to = details.statement_to or claim.service_date_to
    return {"supportingInfo": [{"sequence": n, "category": _coding(CARIN_SUPPORTING_INFO, kind), **value}
                               for n, (kind, value) in enumerate(infos, start=1)],
            "billablePeriod": {"start": statement_from.isoformat(), "end": statement_to.isoformat()}}


# ------------------------------------------------------------------------------------------
# ClaimResponse
# ------------------------------------------------------------------------------------------


def claim_response(claim, adjudications: list, *, rejection_reasons: list[str] = (), notes: list[str] = ()) -> dict:
    """The ClaimResponse of a claim (`claim`: as GET /v1/claims/{id} shows it): outcome and
    disposition from its status, the scrubber's blocking findings when held, the rejection
    reasons when rejected, and the payer's standing decisions (`adjudications`: claim_adjudications
    rows, oldest first, none reversed) as payment, totals and adjudication by item."""
    outcome, disposition = _OUTCOMES.get(claim.status, ("queued", claim.status))
    latest = adjudications[-1] if adjudications else None
    identifiers = [{"system": PATIENT_CONTROL_NUMBER, "value": claim.patient_control_number}]
    if claim.payer_claim_control_number:
        identifiers.append({"system": PAYER_CLAIM_CONTROL_NUMBER, "value": claim.payer_claim_control_number})
    response = {
        "resourceType": "ClaimResponse", "id": str(claim.id),
        "status": "cancelled" if claim.status == "voided" else "active", "identifier": identifiers,
        "type": _coding(CLAIM_TYPE, claim.claim_type), "use": "claim",
        "patient": {"reference": f"Patient/{claim.patient_id}"}, "created": claim.updated_at.isoformat(),
        "insurer": {"reference": f"Organization/{claim.payer_id}"}, "request": {"reference": f"Claim/{claim.id}"},
        "outcome": outcome, "disposition": disposition,
        "error": _errors(claim, rejection_reasons) or None,
        "processNote": [{"number": n, "type": "display", "text": note} for n, note in enumerate(notes, start=1)] or None,
    }
    if latest is None:
        # Before adjudication (every intake answer) the resource holds only strings, codings and
        # notes, already as FHIR JSON writes them: validating it through fhir.resources cost a
        # tenth of the FHIR intake's CPU per Claim for the same document (a test compares the two).
        response["created"] = _instant(claim.updated_at)
        return {name: value for name, value in response.items() if value is not None}
    response.update(_adjudicated(claim, adjudications, latest))
    return ClaimResponse.model_validate(response).model_dump(mode="json", exclude_none=True)


def _instant(moment: datetime) -> str:
    """A FHIR instant as fhir.resources writes one: UTC, with Z."""
    return moment.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def _errors(claim, rejection_reasons) -> list[dict]:
    errors = []
    if claim.status == "held":
        for hit in claim.scrub_hits:
            if hit.severity != "block":
                continue
            line = re.match(r"^/lines/(\d+)", hit.pointer or "")
            errors.append({**({"itemSequence": int(line[1]) + 1} if line else {}),
                           "code": {"coding": [{"system": SCRUBBER_RULE, "code": hit.rule_id}], "text": hit.message}})
    if claim.status == "rejected":
        errors += [{"code": {"coding": [{"system": REJECTION_REASON, "code": reason}], "text": reason}}
                   for reason in rejection_reasons]
    return errors


def _adjudicated(claim, adjudications: list, latest) -> dict:
    paid = sum((Decimal(a.paid_amount) for a in adjudications), Decimal(0))
    items = []
    for line in claim.lines:
        entries = [{"category": _coding(ADJUDICATION, "submitted"), "amount": _money(line.charge_amount)}]
        decided = [entry for entry in latest.lines if entry["line_number"] == line.line_number]
        if decided:
            line_paid = sum((Decimal(entry["paid_amount"]) for a in adjudications for entry in a.lines
                             if entry["line_number"] == line.line_number), Decimal(0))
            entries += [{"category": _coding(ADJUDICATION, "eligible"), "amount": _money(decided[0]["allowed_amount"])},
                        {"category": _coding(ADJUDICATION, "benefit"), "amount": _money(line_paid)}]
        entries += _adjustments(adjudications, line.line_number)
        items.append({"itemSequence": line.line_number, "adjudication": entries})
    result = {
        "item": items,
        "adjudication": _adjustments(adjudications, None) or None,
        "total": [{"category": _coding(ADJUDICATION, "submitted"), "amount": _money(claim.total_charge)},
                  {"category": _coding(ADJUDICATION, "eligible"), "amount": _money(latest.allowed_amount)},
                  {"category": _coding(ADJUDICATION, "benefit"), "amount": _money(paid)}],
    }
    if paid:
        result["payment"] = {"type": _coding(PAYMENT_TYPE, "complete"), "amount": _money(paid),
                             "date": latest.adjudicated_on.isoformat()}
    return result


def _adjustments(adjudications: list, line_number: int | None) -> list[dict]:
    """The payer's CAS adjustments on a line (None: the claim's own): the patient's share by kind
    (deductible, copay, coinsurance), the others by group (CO, OA, PI, CR), each with its CARC."""
    entries = []
    for adjudication in adjudications:
        for share in adjudication.patient_shares:
            if share.get("line_number") == line_number:
                entries.append({"category": _coding(*_PATIENT_SHARE_CATEGORY[share["kind"]]),
                                "reason": _coding(CARC, share["carc"]), "amount": _money(Decimal(share["amount"]))})
        for adjustment in adjudication.adjustments:
            if adjustment.get("line_number") == line_number and adjustment["group_code"] != "PR":
                entries.append({"category": _coding(ADJUSTMENT_GROUP, adjustment["group_code"]),
                                "reason": _coding(CARC, adjustment["carc"]),
                                "amount": _money(Decimal(adjustment["amount"]))})
    return entries
