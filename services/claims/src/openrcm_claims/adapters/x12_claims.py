"""From a stored claim to the 837 generator's model (openrcm_shared.x12.claim_837): 837P
(005010X222A1) for professional claims, 837I (005010X223A2) for institutional ones, with the other
payers of the encounter in loops 2320/2330 and their adjudication (2320 CAS/AMT, 2430 per line) on
secondary and tertiary claims."""

from __future__ import annotations

from datetime import date, datetime, time
from decimal import Decimal

from openrcm_claims.entrypoints.schemas import (
    PAYER_RESPONSIBILITY_ORDER, AddressIn, CoverageIn, EncounterIn, PersonIn, ProviderIn, ServiceFacilityIn,
)
from openrcm_shared.x12 import claim_837 as x12
from openrcm_shared.x12.line_control import line_control_number


def build_claim(claim, lines, payer_names: dict[str, str]) -> x12.ProfessionalClaim | x12.InstitutionalClaim:
    """The 837 model of one claims row (with its line rows), by its claim type."""
    if claim.claim_type == "institutional":
        return institutional_claim(claim, lines, payer_names)
    return professional_claim(claim, lines, payer_names)


def _stored_encounter(claim) -> EncounterIn:
    """The encounter stored with the claim, as JSON text (the 837 batcher reads it so) or decoded."""
    document = claim.encounter_document
    if isinstance(document, str):
        return EncounterIn.model_validate_json(document)
    return EncounterIn.model_validate(document)


def _address(address: AddressIn | None) -> x12.Address:
    if address is None:  # the scrubber holds claims without the addresses the 837 requires
        raise x12.X12ContentError("address", "missing")
    return x12.Address(line1=address.line1, line2=address.line2, city=address.city, state=address.state,
                       postal_code=address.postal_code.replace("-", ""))


def _individual(provider: ProviderIn | None) -> x12.Provider | None:
    if provider is None:
        return None
    return x12.Provider(npi=provider.npi, last_name=provider.last_name or provider.name or "",
                        first_name=provider.first_name or "", taxonomy_code=provider.taxonomy_code)


def _facility(facility: ServiceFacilityIn | None) -> x12.ServiceFacility | None:
    if facility is None:
        return None
    return x12.ServiceFacility(name=facility.name, address=_address(facility.address), npi=facility.npi)


def _insured(coverage: CoverageIn, patient: PersonIn) -> PersonIn:
    return coverage.subscriber if coverage.relationship_to_subscriber != "18" and coverage.subscriber else patient


def _parties(claim, encounter: EncounterIn, payer_names: dict[str, str]) -> dict:
    """Billing provider, subscriber, payer and patient: the HL levels above loop 2300."""
    coverage, patient = encounter.coverage, encounter.patient
    insured = _insured(coverage, patient)
    subscriber = x12.Subscriber(
        member_id=coverage.member_id, last_name=insured.last_name, first_name=insured.first_name,
        birth_date=insured.birth_date, gender=insured.gender, address=_address(insured.address),
        payer_responsibility=coverage.payer_responsibility, claim_filing_indicator=coverage.claim_filing_indicator,
        group_number=coverage.group_number)
    dependent = None
    if coverage.relationship_to_subscriber != "18":
        dependent = x12.Patient(last_name=patient.last_name, first_name=patient.first_name,
                                birth_date=patient.birth_date, gender=patient.gender,
                                address=_address(patient.address),
                                relationship_to_subscriber=coverage.relationship_to_subscriber)
    billing = encounter.billing_provider
    return dict(
        billing_provider=x12.BillingProvider(npi=billing.npi, tax_id=billing.tax_id or "", name=billing.name or "",
                                             address=_address(billing.address), taxonomy_code=billing.taxonomy_code),
        subscriber=subscriber, payer=x12.Payer(name=payer_names.get(claim.payer_id, claim.payer_id),
                                               payer_id=claim.payer_id),
        patient=dependent)


def _adjustments(items: list[dict]) -> tuple[x12.ClaimAdjustment, ...]:
    return tuple(x12.ClaimAdjustment(item["group_code"], item["carc"], Decimal(item["amount"])) for item in items)


def _adjudications_by_payer(claim) -> dict[tuple[str, str], dict]:
    return {(a["payer_id"], a["payer_responsibility"]): a for a in claim.prior_payer_adjudications or []}


def _other_payers(claim, encounter: EncounterIn, payer_names: dict[str, str]) -> tuple[x12.OtherPayerCoverage, ...]:
    """Loop 2320/2330A/2330B for each other coverage of the encounter, in order of benefits; a
    payer that has adjudicated carries its claim-level CAS, AMT*D (paid) and AMT*EAF (what the
    patient still owes), and DTP*573 here when it reported no lines (else per line in 2430)."""
    adjudicated = _adjudications_by_payer(claim)
    others = sorted(encounter.other_coverages, key=lambda c: PAYER_RESPONSIBILITY_ORDER.index(c.payer_responsibility))
    loops = []
    for coverage in others:
        insured = _insured(coverage, encounter.patient)
        decision = adjudicated.get((coverage.payer_id, coverage.payer_responsibility))
        loops.append(x12.OtherPayerCoverage(
            payer=x12.Payer(name=payer_names.get(coverage.payer_id, coverage.payer_id), payer_id=coverage.payer_id),
            subscriber=x12.OtherSubscriber(member_id=coverage.member_id, last_name=insured.last_name,
                                           first_name=insured.first_name,
                                           address=_address(insured.address) if insured.address else None),
            payer_responsibility=coverage.payer_responsibility,
            relationship_to_patient=coverage.relationship_to_subscriber,
            claim_filing_indicator=coverage.claim_filing_indicator, group_number=coverage.group_number,
            payer_paid_amount=Decimal(decision["paid_amount"]) if decision else None,
            claim_adjustments=_adjustments(decision["claim_adjustments"]) if decision else (),
            remaining_patient_liability=Decimal(decision["patient_responsibility_amount"]) if decision else None,
            adjudication_date=date.fromisoformat(decision["adjudication_date"])
            if decision and not decision["lines"] else None))
    return tuple(loops)


def _line_adjudications(claim, line_number: int, units: Decimal) -> tuple[x12.LineAdjudication, ...]:
    """Loop 2430: each previous payer's decision on this line (SVD, CAS, DTP*573)."""
    found = []
    for decision in claim.prior_payer_adjudications or []:
        for line in decision["lines"]:
            if line["line_number"] == line_number:
                found.append(x12.LineAdjudication(
                    other_payer_id=decision["payer_id"], paid_amount=Decimal(line["paid_amount"]),
                    adjudication_date=date.fromisoformat(decision["adjudication_date"]),
                    adjustments=_adjustments(line["adjustments"]), paid_units=units))
    return tuple(found)


def professional_claim(claim, lines, payer_names: dict[str, str]) -> x12.ProfessionalClaim:
    """One 837P claim from the claims row, its line rows and the practice's payer names."""
    encounter = _stored_encounter(claim)
    return x12.ProfessionalClaim(
        **_parties(claim, encounter, payer_names),
        patient_control_number=claim.patient_control_number, total_charge=Decimal(claim.total_charge),
        place_of_service=claim.place_of_service, diagnosis_codes=tuple(claim.diagnosis_codes),
        frequency_code=claim.frequency_code, payer_claim_control_number=_correction_reference(claim),
        prior_authorization=encounter.prior_authorization,
        referring_provider=_individual(encounter.referring_provider),
        rendering_provider=_individual(encounter.rendering_provider),
        supervising_provider=_individual(encounter.supervising_provider),
        service_facility=_facility(encounter.service_facility),
        other_payers=_other_payers(claim, encounter, payer_names),
        lines=tuple(x12.ProfessionalServiceLine(
            procedure_code=line.procedure_code, modifiers=tuple(line.modifiers), charge=Decimal(line.charge_amount),
            units=Decimal(line.units), service_date=line.service_date, service_end_date=line.service_date_to,
            place_of_service=line.place_of_service, diagnosis_pointers=tuple(line.diagnosis_pointers),
            line_control_number=line_control_number(claim.patient_control_number, line.line_number),
            adjudications=_line_adjudications(claim, line.line_number, Decimal(line.units)))
            for line in lines))


def institutional_claim(claim, lines, payer_names: dict[str, str]) -> x12.InstitutionalClaim:
    """One 837I claim: type of bill = the facility type sent + this claim's frequency (7 and 8 for
    replacements and voids), statement period defaulting to the dates of service."""
    encounter = _stored_encounter(claim)
    details = encounter.institutional
    if details is None:  # the scrubber holds institutional claims without their details
        raise x12.X12ContentError("institutional", "missing")
    admitted_at = details.admission_date
    if admitted_at is not None and details.admission_hour is not None:
        admitted_at = datetime.combine(details.admission_date, time(details.admission_hour))
    return x12.InstitutionalClaim(
        **_parties(claim, encounter, payer_names),
        patient_control_number=claim.patient_control_number, total_charge=Decimal(claim.total_charge),
        type_of_bill=details.facility_type + claim.frequency_code,
        statement_from=details.statement_from or claim.service_date_from,
        statement_to=details.statement_to or claim.service_date_to,
        principal_diagnosis=claim.diagnosis_codes[0], other_diagnoses=tuple(claim.diagnosis_codes[1:]),
        admitting_diagnosis=details.admitting_diagnosis, patient_status_code=details.patient_status,
        admission_type_code=details.admission_type, admission_source_code=details.admission_source,
        admitted_at=admitted_at,
        discharge_hour=time(details.discharge_hour) if details.discharge_hour is not None else None,
        payer_claim_control_number=_correction_reference(claim), prior_authorization=encounter.prior_authorization,
        attending_provider=_individual(encounter.attending_provider),
        service_facility=_facility(encounter.service_facility),
        other_payers=_other_payers(claim, encounter, payer_names),
        lines=tuple(x12.InstitutionalServiceLine(
            revenue_code=line.revenue_code, charge=Decimal(line.charge_amount), units=Decimal(line.units),
            unit_basis=line.unit_basis or "UN", procedure_code=line.procedure_code, modifiers=tuple(line.modifiers),
            service_date=line.service_date, service_end_date=line.service_date_to,
            line_control_number=line_control_number(claim.patient_control_number, line.line_number),
            adjudications=_line_adjudications(claim, line.line_number, Decimal(line.units)))
            for line in lines))


def _correction_reference(claim) -> str | None:
    """REF*F8: the payer's claim control number, sent only on replacements (7) and voids (8)."""
    return claim.payer_claim_control_number if claim.frequency_code in ("7", "8") else None
