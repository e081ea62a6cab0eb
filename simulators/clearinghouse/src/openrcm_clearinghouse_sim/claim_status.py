"""The simulated payer answers claim status inquiries (276 in, 277 out, 005010X212), in real time.

Each claim asked about (TRN*1, REF*EJ patient control number) is looked up in what the simulator
has seen, and answered with a claim status category and status code (X12 external code lists 507
and 508), the newest fact first:
  * remitted in an 835: F1:65 (finalized, paid) with the amount paid, or F2:104 (finalized, denied:
    processed according to plan provisions) when the 835 denied it (CLP02 4);
  * accepted by the payer in a 277CA and not remitted yet: P1:20 (pending, accepted for processing);
  * rejected by the 277CA: A3:21 (returned as unprocessable, missing or invalid information);
  * never seen: A4:35 (not found).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal

from openrcm_shared.x12.acknowledgment_envelope import InterchangeEnvelope
from openrcm_shared.x12.claim_status_277 import AnsweredClaim, StatusCode, build_277
from openrcm_shared.x12.reader import X12Reader, element

PAID = StatusCode("F1", "65")
DENIED = StatusCode("F2", "104")
PENDING = StatusCode("P1", "20")
REJECTED = StatusCode("A3", "21")
NOT_FOUND = StatusCode("A4", "35")
DENIED_CLAIM_STATUS = "4"  # 835 CLP02


@dataclass
class _Inquiry:
    trace_number: str = ""
    member_id: str = ""
    subscriber_last_name: str = ""
    patient_control_number: str | None = None
    payer_claim_control_number: str | None = None
    total_charge: Decimal = Decimal("0")


@dataclass
class _Request:
    sender_id: str = ""
    payer_name: str = ""
    payer_id: str = ""
    receiver_name: str = ""
    receiver_id: str = ""
    provider_name: str = ""
    provider_npi: str = ""
    reference: str = ""


def read_276(raw_x12: bytes) -> tuple[_Request, list[_Inquiry]]:
    """The parties and the claims asked about (the reader checks the envelopes; ValueError if broken)."""
    request, inquiries, current = _Request(), [], None
    reader = X12Reader(raw_x12.decode("latin-1"))
    for segment in reader:
        tag = segment[0]
        if tag == "ISA":
            request.sender_id = element(segment, 6).strip()
        elif tag == "ST" and element(segment, 1) != "276":
            raise ValueError(f"transaction set {element(segment, 1)} is not a 276")
        elif tag == "BHT":
            request.reference = element(segment, 3)
        elif tag == "NM1":
            current = _name(request, segment, inquiries, current)
        elif tag == "TRN" and element(segment, 1) == "1":
            if current is None:
                raise ValueError("a claim (TRN*1) before its subscriber (NM1*IL)")
            current.trace_number = element(segment, 2)
            inquiries.append(current)
        elif tag == "REF" and current is not None:
            if element(segment, 1) == "EJ":
                current.patient_control_number = element(segment, 2)
            elif element(segment, 1) == "1K":
                current.payer_claim_control_number = element(segment, 2)
        elif tag == "AMT" and element(segment, 1) == "T3" and current is not None:
            current.total_charge = Decimal(element(segment, 2))
    return request, inquiries


def _name(request: _Request, segment: list[str], inquiries: list, current: _Inquiry | None) -> _Inquiry | None:
    entity, name, identifier = element(segment, 1), element(segment, 3), element(segment, 9)
    if entity == "PR":
        request.payer_name, request.payer_id = name, identifier
    elif entity == "41":
        request.receiver_name, request.receiver_id = name, identifier
    elif entity == "1P":
        request.provider_name, request.provider_npi = name, identifier
    elif entity == "IL":
        return _Inquiry(member_id=identifier, subscriber_last_name=name)
    return current


def _status_of(clearinghouse, inquiry: _Inquiry) -> tuple[StatusCode, Decimal | None, str | None]:
    pcn = inquiry.patient_control_number
    for record in reversed(clearinghouse.remittances):
        for claim in record.remittance.claims:
            if claim.patient_control_number == pcn and claim.status_code != "22":
                if claim.status_code == DENIED_CLAIM_STATUS:
                    return DENIED, Decimal("0"), claim.payer_claim_control_number
                return PAID, claim.paid, claim.payer_claim_control_number
    for batch in reversed(list(clearinghouse.batches.values())):
        acknowledgements = batch.acknowledgements
        for outcome in (acknowledgements.claims if acknowledgements else []):
            if outcome.patient_control_number == pcn:
                if outcome.status == "accepted":
                    return PENDING, None, outcome.payer_claim_control_number
                return REJECTED, None, None
    return NOT_FOUND, None, None


def answer_276(clearinghouse, raw_x12: bytes, *, now: datetime | None = None) -> str:
    """The 277 answering every claim of the 276."""
    now = now or datetime.now(timezone.utc)
    request, inquiries = read_276(raw_x12)
    answers = []
    for inquiry in inquiries:
        status, paid, payer_claim_control_number = _status_of(clearinghouse, inquiry)
        answers.append(AnsweredClaim(
            trace_number=inquiry.trace_number, member_id=inquiry.member_id,
            subscriber_last_name=inquiry.subscriber_last_name, status=status, status_date=now.date(),
            total_charge=inquiry.total_charge, paid_amount=paid,
            payer_claim_control_number=payer_claim_control_number or inquiry.payer_claim_control_number,
            patient_control_number=inquiry.patient_control_number))
    identity = clearinghouse.identity
    envelope = InterchangeEnvelope(
        sender_qualifier="ZZ", sender_id=identity.name[:15].upper().replace(" ", ""), receiver_qualifier="ZZ",
        receiver_id=request.sender_id or request.receiver_id, application_sender_code="CLEARINGHOUSE",
        application_receiver_code=request.receiver_id or "OPENRCM", interchange_control_number=identity.control_numbers.next(),
        group_control_number=identity.control_numbers.next(), created_at=now, usage_indicator="T")
    return build_277(envelope, payer_name=request.payer_name, payer_id=request.payer_id,
                     receiver_name=request.receiver_name, receiver_id=request.receiver_id,
                     provider_name=request.provider_name, provider_npi=request.provider_npi, claims=answers,
                     reference=(request.reference or "277")[:30])
