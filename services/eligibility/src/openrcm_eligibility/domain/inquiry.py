"""A 270 inquiry from a registered coverage: who the payer knows (subscriber, and the patient as a
dependent when the patient is not the subscriber), for which date and service types."""

from __future__ import annotations

from datetime import date

from openrcm_shared.x12.eligibility_270 import EligibilityInquiry, InquiryPerson

# Registration (837 SBR02/PAT01) relationship codes -> the 270's INS02 (X279 2100D allows 01
# spouse, 19 child, 34 other adult): any other relationship is asked as "other adult".
_INS02 = {"01": "01", "19": "19"}


def _person(person: dict, member_id: str | None = None) -> InquiryPerson:
    birth = person.get("birth_date")
    return InquiryPerson(last_name=person["last_name"], first_name=person.get("first_name"),
                         birth_date=date.fromisoformat(birth) if isinstance(birth, str) else birth,
                         gender=person.get("gender"), member_id=member_id)


def inquiry_for(coverage, *, trace_number: str, service_date: date, service_types: list[str], provider_npi: str,
                provider_name: str) -> EligibilityInquiry:
    """`coverage` is a row of eligibility_coverages."""
    self_insured = coverage.relationship_to_subscriber == "18" or not coverage.subscriber
    subscriber = _person(coverage.patient if self_insured else coverage.subscriber, coverage.member_id)
    return EligibilityInquiry(
        trace_number=trace_number, payer_id=coverage.payer_id, payer_name=coverage.payer_name or coverage.payer_id,
        provider_npi=provider_npi, provider_name=provider_name, subscriber=subscriber, service_date=service_date,
        service_types=tuple(service_types), dependent=None if self_insured else _person(coverage.patient),
        relationship=None if self_insured else _INS02.get(coverage.relationship_to_subscriber, "34"))
