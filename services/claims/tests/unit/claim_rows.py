"""Claims rows as the service stores them, built from synthetic encounters, and the 837 the
service renders from them (shared by the unit tests; no I/O)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from types import SimpleNamespace
from uuid import uuid4

from openrcm_claims.adapters.x12_claims import build_claim
from openrcm_claims.entrypoints.schemas import EncounterIn
from openrcm_shared.x12 import claim_837 as x12

NAMES = {"60054": "Synthetic Health Plan", "BSI01": "Blue Sample Insurance", "TRI01": "Tertiary Sample Plan"}


def claim_row(document: dict, *, pcn: str = "RTESTPCN0000000001", payer_id: str = "60054", responsibility: str = "P",
              prior: list | None = None, frequency: str = "1"):
    parsed = EncounterIn.model_validate(document)
    lines = [SimpleNamespace(line_number=n, procedure_code=line.procedure_code, revenue_code=line.revenue_code,
                             modifiers=line.modifiers, units=Decimal(line.units),
                             unit_basis=line.unit_basis if parsed.institutional_claim else None,
                             charge_amount=line.charge_amount, service_date=line.service_date,
                             service_date_to=line.service_date_to, place_of_service=line.place_of_service,
                             diagnosis_pointers=line.diagnosis_pointers)
             for n, line in enumerate(parsed.lines, start=1)]
    dates = [line.service_date for line in parsed.lines]
    claim = SimpleNamespace(
        id=uuid4(), claim_type="institutional" if parsed.institutional_claim else "professional",
        encounter_document=parsed.model_dump(mode="json"), payer_id=payer_id, payer_responsibility=responsibility,
        patient_control_number=pcn, total_charge=sum((line.charge_amount for line in parsed.lines), Decimal(0)),
        place_of_service=parsed.place_of_service, diagnosis_codes=parsed.diagnosis_codes, frequency_code=frequency,
        payer_claim_control_number=None, service_date_from=min(dates), service_date_to=max(dates),
        prior_payer_adjudications=prior or [], encounter_id=parsed.encounter_id, split_part=1)
    return claim, lines


def render(*rows) -> str:
    batch = x12.ClaimBatch(submitter=x12.Submitter(name="OPENRCM BILLING", identifier="OPENRCM01",
                                                   contact_name="BILLING OFFICE", contact_phone="5555550100"),
                           receiver=x12.Receiver(name="CLEARINGHOUSE", identifier="CLEARINGHOUSE"),
                           claims=tuple(build_claim(claim, lines, NAMES) for claim, lines in rows))
    groups, sets = x12.envelope_counts(batch)
    return x12.build_837(batch, interchange_control_number=7, group_control_numbers=list(range(1, groups + 1)),
                         transaction_set_control_numbers=list(range(1, sets + 1)),
                         created_at=datetime(2026, 11, 28, 9, 0), usage_indicator="T")
