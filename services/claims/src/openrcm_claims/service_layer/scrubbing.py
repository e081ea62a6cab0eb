"""Scrubbing a claim version with the rule engine (domain.scrubber) and recording the result."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncConnection

from openrcm_claims.adapters import claim_writes
from openrcm_claims.domain.lifecycle import ClaimStatus
from openrcm_claims.domain.scrubber import (
    INSTITUTIONAL, PROFESSIONAL, CodeSets, ScrubClaim, ScrubInstitutional, ScrubLine, ScrubLineAdjudication,
    ScrubPayer, ScrubPriorPayer, ScrubProvider, scrub,
)
from openrcm_claims.entrypoints.schemas import EncounterIn, ProviderIn, ServiceFacilityIn
from openrcm_claims.service_layer.code_sets_in_force import IN_FORCE
from openrcm_claims.service_layer.eligibility_answers import eligibility_answers
from openrcm_claims.service_layer.holds import record_scrub
from openrcm_claims.service_layer.reference_data import require_payer
from openrcm_claims.service_layer.transitions import Emit
from openrcm_shared.contracts.claims import ClaimStatusChanged

def code_sets() -> CodeSets:
    """The code sets this process scrubs with (code_sets_in_force)."""
    return IN_FORCE.now()


async def ready_code_sets() -> CodeSets:
    """The code sets once this process has loaded them, without blocking the event loop."""
    return await IN_FORCE.ready()


@dataclass(frozen=True)
class EnrollmentSpans:
    """The enrollment spans of the claim's providers with its payer, read before scrubbing so the
    engine itself does no I/O."""

    spans: tuple[tuple[str, str, date, date | None], ...]

    def is_enrolled(self, npi: str, payer_id: str, on: date) -> bool:
        return any(n == npi and p == payer_id and start <= on and (end is None or on <= end)
                   for n, p, start, end in self.spans)


NO_ENROLLMENTS = EnrollmentSpans(())


async def _enrollments(conn: AsyncConnection, tenant_id: str, npis: list[str], payer_id: str) -> EnrollmentSpans:
    return EnrollmentSpans(tuple(await claim_writes.enrollment_spans(conn, tenant_id, npis, payer_id)))


def _provider(provider: ProviderIn | ServiceFacilityIn | None) -> ScrubProvider | None:
    if provider is None:
        return None
    address = provider.address
    name = provider.name if isinstance(provider, ServiceFacilityIn) else (
        provider.name or " ".join(p for p in (provider.first_name, provider.last_name) if p) or None)
    return ScrubProvider(npi=provider.npi, tax_id=getattr(provider, "tax_id", None), name=name,
                         address_line1=address.line1 if address else None, city=address.city if address else None,
                         state=address.state if address else None,
                         postal_code=address.postal_code.replace("-", "") if address else None)


def _institutional(encounter: EncounterIn) -> ScrubInstitutional | None:
    details = encounter.institutional
    if details is None:
        return None
    first_day = min(line.service_date for line in encounter.lines)
    last_day = max(line.service_date_to or line.service_date for line in encounter.lines)
    return ScrubInstitutional(
        type_of_bill=details.type_of_bill[-3:], admission_date=details.admission_date,
        admission_type=details.admission_type, admission_source=details.admission_source,
        patient_status=details.patient_status, statement_from=details.statement_from or first_day,
        statement_to=details.statement_to or last_day)


def _prior_payers(adjudications: list[dict]) -> tuple[ScrubPriorPayer, ...]:
    def total(adjustments: list[dict]) -> Decimal:
        return sum((Decimal(a["amount"]) for a in adjustments), Decimal(0))
    return tuple(ScrubPriorPayer(
        payer_id=adjudication["payer_id"], paid_amount=Decimal(adjudication["paid_amount"]),
        claim_adjustment_total=total(adjudication["claim_adjustments"]),
        lines=tuple(ScrubLineAdjudication(line_number=line["line_number"], paid_amount=Decimal(line["paid_amount"]),
                                          adjustment_total=total(line["adjustments"]))
                    for line in adjudication["lines"]))
        for adjudication in adjudications)


def scrub_view(encounter: EncounterIn, *, patient_control_number: str, total_charge: Decimal, payer,
               prior_adjudications: list[dict] | tuple = (), eligibility: tuple = ()) -> ScrubClaim:
    """The scrubber's neutral view of one claim."""
    coverage = encounter.coverage
    insured = coverage.subscriber if coverage.relationship_to_subscriber != "18" and coverage.subscriber \
        else encounter.patient
    institutional = encounter.institutional_claim
    return ScrubClaim(
        claim_type=INSTITUTIONAL if institutional else PROFESSIONAL, patient_control_number=patient_control_number,
        total_charge=total_charge,
        billing_provider=_provider(encounter.billing_provider),
        rendering_provider=_provider(encounter.rendering_provider),
        referring_provider=_provider(encounter.referring_provider),
        supervising_provider=_provider(encounter.supervising_provider),
        attending_provider=_provider(encounter.attending_provider),
        service_facility=_provider(encounter.service_facility),
        institutional=_institutional(encounter),
        prior_payers=_prior_payers(list(prior_adjudications)), eligibility=eligibility,
        subscriber_member_id=coverage.member_id, subscriber_last_name=insured.last_name if insured else None,
        subscriber_birth_date=insured.birth_date if insured else None,
        payer=ScrubPayer(payer_id=payer.payer_id, name=payer.name, timely_filing_days=payer.timely_filing_days,
                         enrollment_required=payer.enrollment_required, claim_types=frozenset(payer.claim_types)),
        diagnosis_codes=tuple(encounter.diagnosis_codes),
        place_of_service=None if institutional else encounter.place_of_service,
        prior_authorization=encounter.prior_authorization,
        lines=tuple(ScrubLine(line_number=n, procedure_code=line.procedure_code or "", modifiers=tuple(line.modifiers),
                              units=Decimal(line.units), charge_amount=line.charge_amount,
                              service_date=line.service_date, service_date_to=line.service_date_to,
                              place_of_service=None if institutional else line.place_of_service,
                              diagnosis_pointers=() if institutional else tuple(line.diagnosis_pointers),
                              revenue_code=line.revenue_code)
                    for n, line in enumerate(encounter.lines, start=1)))


async def scrub_encounter(conn: AsyncConnection | None, *, tenant_id: str, encounter: EncounterIn,
                          patient_control_number: str, total_charge: Decimal, payer,
                          prior_adjudications: list[dict] | tuple = ()) -> tuple[str, list[dict]]:
    """(rule set version, hits as dicts) for one claim version; reads enrollments on `conn` (only for
    a payer that requires enrollment: None will do for the others), writes nothing."""
    rendering = encounter.attending_provider if encounter.institutional_claim else encounter.rendering_provider
    npis = [p.npi for p in (encounter.billing_provider, rendering) if p is not None]
    # Only ENROLL.NOT_ENROLLED reads enrollments, and only for a payer that requires enrollment:
    # for the others the lookup (a statement on every claim taken in) would be read for nothing.
    enrollments = (await _enrollments(conn, tenant_id, npis, payer.payer_id) if payer.enrollment_required
                   else NO_ENROLLMENTS)
    answers = await eligibility_answers(conn, tenant_id, encounter.patient.id if encounter.patient else None,
                                        payer.payer_id, (line.service_date for line in encounter.lines))
    result = scrub(scrub_view(encounter, patient_control_number=patient_control_number, total_charge=total_charge,
                              payer=payer, prior_adjudications=prior_adjudications, eligibility=answers),
                   today=date.today(), code_sets=await ready_code_sets(), enrollments=enrollments)
    return result.rule_set_version, [{"rule_id": h.rule_id, "severity": h.severity, "message": h.message,
                                      "pointer": h.pointer} for h in result.hits]


async def scrub_and_record(conn: AsyncConnection, *, tenant_id: str, claim_id, version: int,
                           from_status: ClaimStatus | None, encounter: EncounterIn, patient_control_number: str,
                           total_charge: Decimal, payer, prior_adjudications: list[dict] | tuple = ()
                           ) -> tuple[ClaimStatus, list[dict]]:
    """Scrub this version, store the result, move the claim to ready or held; returns both."""
    rule_set_version, hits = await scrub_encounter(conn, tenant_id=tenant_id, encounter=encounter,
                                                   patient_control_number=patient_control_number,
                                                   total_charge=total_charge, payer=payer,
                                                   prior_adjudications=prior_adjudications)
    status = await record_scrub(conn, tenant_id=tenant_id, claim_id=claim_id, version=version,
                                from_status=from_status, rule_set_version=rule_set_version, hits=hits)
    return status, hits


async def scrub_again(conn: AsyncConnection, claim, *, emit: Emit) -> ClaimStatus:
    """Scrub the claim's current version again, unchanged, because a fact its rules read changed
    (the payer's eligibility answer for one of its dates). The caller holds the claim's row lock
    and the claim is held or ready (not yet sent). A claim it holds is announced by ClaimHeld (as
    every scrub); one it releases (held to ready) by ClaimStatusChanged, as it moves without a new
    version."""
    current = ClaimStatus(claim.status)
    payer = await require_payer(conn, claim.tenant_id, claim.payer_id, "/coverage/payer_id")
    status, _ = await scrub_and_record(
        conn, tenant_id=claim.tenant_id, claim_id=claim.id, version=claim.version, from_status=current,
        encounter=EncounterIn.model_validate(claim.encounter_document),
        patient_control_number=claim.patient_control_number, total_charge=claim.total_charge, payer=payer,
        prior_adjudications=claim.prior_payer_adjudications)
    if current == ClaimStatus.HELD and status == ClaimStatus.READY:
        await emit(ClaimStatusChanged(tenant_id=claim.tenant_id, claim_id=claim.id, from_status=current.value,
                                      to_status=status.value))
    return status
