"""From a stored claim to the 837 generator's model (openrcm_shared.x12.claim_837)."""

from __future__ import annotations

from decimal import Decimal

from openrcm_claims.entrypoints.schemas import AddressIn, EncounterIn, ProviderIn
from openrcm_shared.x12 import claim_837 as x12


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


def professional_claim(claim, lines, payer_name: str) -> x12.ProfessionalClaim:
    """One 837P claim from the claims row, its line rows and the payer's registered name."""
    encounter = EncounterIn.model_validate(claim.encounter_document)
    coverage, patient = encounter.coverage, encounter.patient
    insured = coverage.subscriber if coverage.relationship_to_subscriber != "18" and coverage.subscriber else patient
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
    return x12.ProfessionalClaim(
        billing_provider=x12.BillingProvider(npi=billing.npi, tax_id=billing.tax_id or "", name=billing.name or "",
                                             address=_address(billing.address), taxonomy_code=billing.taxonomy_code),
        subscriber=subscriber, payer=x12.Payer(name=payer_name, payer_id=claim.payer_id), patient=dependent,
        patient_control_number=claim.patient_control_number, total_charge=Decimal(claim.total_charge),
        place_of_service=claim.place_of_service, diagnosis_codes=tuple(claim.diagnosis_codes),
        frequency_code=claim.frequency_code, payer_claim_control_number=claim.payer_claim_control_number,
        prior_authorization=encounter.prior_authorization,
        referring_provider=_individual(encounter.referring_provider),
        rendering_provider=_individual(encounter.rendering_provider),
        lines=tuple(_line(claim, line) for line in lines))


def _line(claim, line) -> x12.ProfessionalServiceLine:
    # REF*6R: the claim's control number + line number, at most 20 characters, so the 835's
    # echo matches the line even when the payer renumbers or drops modifiers.
    return x12.ProfessionalServiceLine(
        procedure_code=line.procedure_code, modifiers=tuple(line.modifiers), charge=Decimal(line.charge_amount),
        units=Decimal(line.units), service_date=line.service_date, place_of_service=line.place_of_service,
        diagnosis_pointers=tuple(line.diagnosis_pointers),
        line_control_number=f"{claim.patient_control_number}{line.line_number:03d}")
