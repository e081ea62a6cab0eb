"""The per-claim events are built as JSON payloads directly (speed); here each must be exactly what
its contract produces, field by field."""

from __future__ import annotations

import json

from dataclasses import dataclass
from datetime import date
from decimal import Decimal as D
from uuid import uuid4

import pytest

from openrcm_remittance.domain.posting import post_claim
from openrcm_remittance.service_layer import claim_events
from openrcm_shared.x12.remittance_835 import (
    Adjustment as Adj, AmountReference, ClaimPayment, EntityName, ProcedureCode, RemarkCode, ServiceLine,
)


@dataclass
class Target:
    tenant_id: str = "practice-1"
    payer_id: str = "60054"


@dataclass
class Billed:
    claim_id: object
    patient_id: str = "P-1"
    patient_control_number: str = "RPCN0001"


def era_claim(status: str, sign: int = 1) -> ClaimPayment:
    lines = [ServiceLine(ProcedureCode("HC", "99213", ("25",)), D("125.00") * sign, D("80.00") * sign, 0,
                         units=D(1), service_date=date(2026, 11, 2),
                         adjustments=[Adj("CO", "45", D("25.00") * sign), Adj("PR", "2", D("20.00") * sign)]),
             ServiceLine(ProcedureCode("HC", "36415"), D("15.50") * sign, D("0.00"), 0, service_date=date(2026, 11, 2),
                         adjustments=[Adj("CO", "97", D("15.50") * sign)], remark_codes=[RemarkCode("HE", "M15")])]
    return ClaimPayment("RPCN0001", status, D("140.50") * sign, D("80.00") * sign, 0, payer_claim_control_number="ICN1",
                        crossover_carrier=EntityName("TT", "2", "SECONDARY PLAN", identifier="99999"),
                        amounts=[AmountReference("I", D("1.10"))], service_lines=lines)


@pytest.mark.parametrize("status,sign", [("1", 1), ("19", 1), ("4", 1), ("22", -1)])
def test_built_events_validate_against_their_contracts(status, sign):
    claim = era_claim(status, sign)
    events = claim_events.for_posting(Target(), uuid4(), claim, Billed(uuid4()), post_claim(claim, [1, 2]))
    assert events
    for event in events:
        validated = event.validated()
        assert validated.model_dump(mode="json") == event.payload
        assert json.loads(event.model_dump_json()) == json.loads(validated.model_dump_json())
        assert (event.key(), event.event_type, event.topic) == (validated.key(), validated.event_type, validated.topic)


def test_reversal_event_states_positive_amounts_taken_back():
    claim = era_claim("22", -1)
    [prepared] = claim_events.for_posting(Target(), uuid4(), claim, Billed(uuid4()), post_claim(claim, [1, 2]))
    event = prepared.validated()
    assert (event.reversed_paid_amount, event.reversed_patient_responsibility_amount) == (D("80.00"), D("20.00"))
    assert [(a.group_code, a.carc, a.amount) for a in event.reversed_adjustments] == [
        ("CO", "45", D("25.00")), ("PR", "2", D("20.00")), ("CO", "97", D("15.50"))]


def test_payment_event_carries_status_crossover_interest_and_shares():
    claim = era_claim("19")
    posted, denied = (e.validated() for e in claim_events.for_posting(Target(), uuid4(), claim, Billed(uuid4()),
                                                                        post_claim(claim, [1, 2])))
    assert (posted.claim_status_code, posted.crossover.payer_name, posted.interest_amount) == ("19", "SECONDARY PLAN",
                                                                                              D("1.10"))
    assert [(s.kind, s.amount) for s in posted.patient_shares] == [("coinsurance", D("20.00"))]
    assert [(d.line_number, d.carc, d.rarcs) for d in denied.denials] == [(2, "97", ["M15"])]


def test_plain_payment_without_crossover_or_interest_fits_its_contract():
    claim = era_claim("1")
    claim.crossover_carrier, claim.amounts = None, []
    for event in claim_events.for_posting(Target(), uuid4(), claim, Billed(uuid4()), post_claim(claim, [1, 2])):
        assert event.validated().model_dump(mode="json") == event.payload
