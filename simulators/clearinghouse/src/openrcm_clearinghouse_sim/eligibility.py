"""Real-time eligibility: the simulated payers answer each 270 with a 271 (005010X279A1).

    POST /v1/eligibility          a 270 (Content-Type: application/edi-x12) -> 200 with the 271
    GET  /v1/eligibility/stats    per payer: inquiries and 270s answered, the largest 270, the most 270s at once

What a payer answers depends on the member id (loop 2100C NM109), by its first three letters:

| member id | answer |
|---|---|
| `INA…` | inactive: EB*6, the plan ended the last day of the month before the date of service |
| `OTH<payer id>-…` | active, and another payer primary: EB*R with 2120 NM1*PRP naming `<payer id>` |
| `BAD…` | AAA*N**72*C in 2100C: invalid member id |
| `UNK…` | AAA*Y**75*C in 2100C: subscriber not found |
| `BSY…` | AAA*Y**42*R in 2100A (payer cannot answer now) for the first two inquiries of that member and date, then active |
| `DWN…` | HTTP 503 for the first two inquiries of that member and date, then active |
| `SLW…` | active, after `CLEARINGHOUSE_ELIGIBILITY_SLOW_SECONDS` (default 5): a payer slower than the real-time timeout |
| `AUT…` | active; every service type asked for other than 30 needs prior authorization (EB11 Y) |
| anything else | active with benefits: plan year, deductible 1500 (400 left), out of pocket 5000 (4100 left), coinsurance 20 % in / 40 % out of network, copay 25 for an office visit (98) and urgent care, 150 for emergency services (86) |

A 270 may ask about many members (a clearinghouse batch 270: one 2000A..2000C/D chain per
inquiry); the 271 answers each in the same order, in one transaction set, each with the TRN of its
inquiry as TRN*2 and names and the date of birth as sent. The payer takes
`CLEARINGHOUSE_ELIGIBILITY_LATENCY_SECONDS` (default 0) per inquiry: a batch of n is answered after
n times that, so batching saves round trips but not the payer's own work. The stats count, per
payer, the exchanges in progress at once (a payer's connection limit is on exchanges).
"""

from __future__ import annotations

import asyncio
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone

from fastapi import APIRouter, Request
from fastapi.responses import Response

from openrcm_clearinghouse_sim.acknowledgements import ControlNumbers
from openrcm_clearinghouse_sim.x12_requests import X12_MEDIA_TYPE, bounded_body, require_x12
from openrcm_shared.http.problems import Problem, field_error
from openrcm_shared.x12.acknowledgment_envelope import (
    InterchangeEnvelope, Segment, TransactionSetBody, format_date, render_interchange,
)
from openrcm_shared.x12.eligibility_270 import InquiryPerson, ReceivedInquiry, parse_270
from openrcm_shared.x12.reader import X12Error

MAX_INQUIRY_BYTES = 1024 * 1024
TRANSIENT_FAILURES = 2  # BSY and DWN members fail this many times per member and date

router = APIRouter(tags=["eligibility"])


@dataclass
class EligibilityDesk:
    """The payers' side of real-time eligibility, with what it saw (for tests and benchmarks)."""

    latency_seconds: float = 0.0
    slow_seconds: float = 5.0
    control_numbers: ControlNumbers = field(default_factory=ControlNumbers)
    attempts: Counter = field(default_factory=Counter)  # (member id, date) -> inquiries seen
    answered: Counter = field(default_factory=Counter)  # payer id -> inquiries answered
    exchanges: Counter = field(default_factory=Counter)  # payer id -> 270s answered
    largest: dict = field(default_factory=lambda: defaultdict(int))  # payer id -> most inquiries in one 270
    in_flight: Counter = field(default_factory=Counter)
    max_in_flight: dict = field(default_factory=lambda: defaultdict(int))

    async def answer(self, inquiry_text: bytes) -> tuple[int, str]:
        """(HTTP status, body): the 271 text, or a problem detail for a simulated outage."""
        inquiries = parse_270(inquiry_text)
        if not inquiries:
            raise ValueError("the 270 holds no inquiry")
        payer = inquiries[0].payer_id or ""
        self.in_flight[payer] += 1
        self.max_in_flight[payer] = max(self.max_in_flight[payer], self.in_flight[payer])
        try:
            delay = self.latency_seconds * len(inquiries) + \
                (self.slow_seconds if any(_rule(i) == "SLW" for i in inquiries) else 0)
            if delay:
                await asyncio.sleep(delay)
            if any(self._still_failing(i, "DWN") for i in inquiries):
                return 503, "payer system unavailable"
            self.answered[payer] += len(inquiries)
            self.exchanges[payer] += 1
            self.largest[payer] = max(self.largest[payer], len(inquiries))
            return 200, self._271(inquiries)
        finally:
            self.in_flight[payer] -= 1

    def stats(self) -> dict:
        return {payer: {"answered": self.answered[payer], "max_in_flight": self.max_in_flight[payer],
                        "exchanges": self.exchanges[payer], "largest_exchange": self.largest[payer]}
                for payer in sorted(set(self.answered) | set(self.max_in_flight))}

    def _still_failing(self, inquiry: ReceivedInquiry, rule: str) -> bool:
        if _rule(inquiry) != rule:
            return False
        key = (inquiry.member_id, inquiry.service_date, rule)
        self.attempts[key] += 1
        return self.attempts[key] <= TRANSIENT_FAILURES

    def _271(self, inquiries: list[ReceivedInquiry]) -> str:
        now = datetime.now(timezone.utc)
        number = self.control_numbers.next()
        envelope = InterchangeEnvelope("ZZ", "SIMPAYER", "ZZ", "OPENRCM", "SIMPAYER", "OPENRCM", number, number, now)
        segments: list[Segment] = [("BHT", ["0022", "11", inquiries[0].reference or "0", format_date(now.date()),
                                             now.strftime("%H%M")])]
        hl = 0
        for inquiry in inquiries:
            hl = self._answer_segments(segments, inquiry, hl)
        return render_interchange(envelope, functional_id="HB", transaction_set_id="271", version="005010X279A1",
                                  transaction_sets=[TransactionSetBody("0001", segments)])

    def _answer_segments(self, segments: list[Segment], inquiry: ReceivedInquiry, hl: int) -> int:
        rule = _rule(inquiry)
        segments += [("HL", [str(hl + 1), None, "20", "1"]),
                     ("NM1", ["PR", "2", f"SIMULATED PAYER {inquiry.payer_id}", None, None, None, None, "PI",
                              inquiry.payer_id])]
        if self._still_failing(inquiry, "BSY"):
            segments.append(("AAA", ["Y", None, "42", "R"]))
            return hl + 1
        segments += [("HL", [str(hl + 2), str(hl + 1), "21", "1"]),
                     ("NM1", ["1P", "2", "PROVIDER", None, None, None, None, "XX", inquiry.provider_id])]
        dependent = inquiry.dependent
        segments.append(("HL", [str(hl + 3), str(hl + 2), "22", "1" if dependent else "0"]))
        if dependent is None:
            segments.append(("TRN", ["2", inquiry.trace_number, "9SIMPAYER0"]))
        segments.extend(_member(inquiry.subscriber, "IL", inquiry.member_id))
        last = hl + 3
        if dependent is not None:
            last = hl + 4
            segments += [("HL", [str(last), str(hl + 3), "23", "0"]),
                         ("TRN", ["2", inquiry.trace_number, "9SIMPAYER0"]), *_member(dependent, "03", None)]
        segments.extend(_benefits(rule, inquiry))
        return last


def _rule(inquiry: ReceivedInquiry) -> str:
    return (inquiry.member_id or "")[:3].upper()


def _member(person: InquiryPerson | None, entity: str, member_id: str | None) -> list[Segment]:
    person = person or InquiryPerson("UNKNOWN")
    segments: list[Segment] = [("NM1", [entity, "1", person.last_name or "UNKNOWN", person.first_name, None, None,
                                        None, "MI" if member_id else None, member_id])]
    if person.birth_date:
        segments.append(("DMG", ["D8", format_date(person.birth_date), person.gender]))
    return segments


def _benefits(rule: str, inquiry: ReceivedInquiry) -> list[Segment]:
    if rule == "BAD":
        return [("AAA", ["N", None, "72", "C"])]
    if rule == "UNK":
        return [("AAA", ["Y", None, "75", "C"])]
    service_date = inquiry.service_date or date.today()
    year_start, year_end = date(service_date.year, 1, 1), date(service_date.year, 12, 31)
    if rule == "INA":
        ended = service_date.replace(day=1) - timedelta(days=1)
        return [("DTP", ["346", "D8", format_date(min(year_start, ended.replace(day=1)))]),
                ("DTP", ["347", "D8", format_date(ended)]), ("EB", ["6", None, "30"])]
    segments: list[Segment] = [
        ("REF", ["6P", "GRP001", "SIMULATED EMPLOYER GROUP"]),
        ("DTP", ["346", "D8", format_date(year_start)]), ("DTP", ["347", "D8", format_date(year_end)]),
        ("EB", ["1", "IND", "30", "C1", "SIMULATED PPO"]),
        _amount("C", "IND", "30", "23", "1500", "Y"), _amount("C", "IND", "30", "29", "400", "Y"),
        _amount("C", "FAM", "30", "29", "2500", "Y"), _amount("G", "IND", "30", "23", "5000", "Y"),
        _amount("G", "IND", "30", "29", "4100", "Y"),
        ("EB", ["A", "IND", "30", None, None, None, None, ".2", None, None, None, "Y"]),
        ("EB", ["A", "IND", "30", None, None, None, None, ".4", None, None, None, "N"]),
        _amount("B", "IND", "98", "27", "25", "Y"), _amount("B", "IND", "UC", "27", "25", "Y"),
        _amount("B", "IND", "86", "27", "150", "Y"),
        ("MSG", ["COPAY DOES NOT APPLY TO PREVENTIVE CARE"]),
    ]
    for service_type in inquiry.service_types:
        if service_type not in ("30", "98", "UC", "86"):
            authorization = "Y" if rule == "AUT" else None
            segments.append(("EB", ["1", None, service_type, None, None, None, None, None, None, None,
                                    authorization, "Y" if authorization else None]))
        elif rule == "AUT" and service_type != "30":
            segments.append(("EB", ["1", None, service_type, None, None, None, None, None, None, None, "Y", "Y"]))
    if rule == "OTH":
        primary = (inquiry.member_id or "")[3:].split("-")[0] or "OTHER"
        segments += [("EB", ["R", None, "30", "C1"]), ("LS", ["2120"]),
                     ("NM1", ["PRP", "2", f"SIMULATED PAYER {primary}", None, None, None, None, "PI", primary]),
                     ("LE", ["2120"])]
    return segments


def _amount(code: str, level: str, service_type: str, period: str, amount: str, network: str) -> Segment:
    return ("EB", [code, level, service_type, None, None, period, amount, None, None, None, None, network])


def _desk(request: Request) -> EligibilityDesk:
    return request.app.state.eligibility_desk


@router.post("/v1/eligibility", response_class=Response,
             openapi_extra={"requestBody": {"content": {X12_MEDIA_TYPE: {"schema": {"type": "string"}}},
                                            "required": True}},
             responses={200: {"content": {X12_MEDIA_TYPE: {}}, "description": "The 271"},
                        400: {"description": "Not a readable 270"}, 415: {"description": "Not application/edi-x12"},
                        503: {"description": "A simulated payer outage (member ids DWN…)"}})
async def answer_inquiry(request: Request) -> Response:
    """Answer a 270 with a 271 in the same response, as a real-time clearinghouse connection does."""
    require_x12(request)
    body = await bounded_body(request, MAX_INQUIRY_BYTES)
    try:
        status, text = await _desk(request).answer(body)
    except (X12Error, ValueError) as exc:
        raise Problem(400, "Not a readable 270", str(exc), type_="not-a-270",
                      errors=[field_error("", str(exc))]) from None
    if status != 200:
        raise Problem(status, "Payer unavailable", text, type_="payer-unavailable")
    return Response(text, media_type=X12_MEDIA_TYPE)


@router.get("/v1/eligibility/stats")
async def eligibility_stats(request: Request) -> dict:
    """Per payer: inquiries and 270s answered, the most inquiries in one 270, the most 270s in progress at once."""
    return _desk(request).stats()
