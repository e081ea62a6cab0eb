"""270 writer and 271 parser (005010X279A1): the X279 examples, 271s as other systems write them,
every normalized field, and malformed input refused by segment."""

from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal

import pytest

from openrcm_shared.x12.acknowledgment_envelope import InterchangeEnvelope
from openrcm_shared.x12.eligibility_270 import (
    Eligibility270WriteError, EligibilityInquiry, InquiryPerson, parse_270, write_270,
)
from openrcm_shared.x12.eligibility_271 import DateRange, parse_271
from openrcm_shared.x12.reader import X12DataError, X12EnvelopeError, X12Reader, X12StructureError
from shared.tests.unit.x12.x12_test_support import interchange, sample

D = Decimal
X279 = "005010X279A1"


def answer(*body: str, **options) -> str:
    return interchange(["ST*271*0001*005010X279A1", "BHT*0022*11*REQ1*20260301*1200", *body],
                       functional_code="HB", version=X279, **options)


PAYER_AND_PROVIDER = ["HL*1**20*1", "NM1*PR*2*ACME HEALTH*****PI*ACME1", "HL*2*1*21*1",
                      "NM1*1P*2*FAMILY CLINIC*****XX*1234567893"]
SUBSCRIBER = ["HL*3*2*22*0", "TRN*2*TRACE-1*9123456789", "NM1*IL*1*DOE*JANE****MI*M123",
              "REF*6P*G-77*ACME EMPLOYEES", "REF*18*PLAN-9", "DMG*D8*19800203*F",
              "DTP*346*D8*20260101", "DTP*347*D8*20261231", "DTP*356*D8*20250601"]
FULL_BENEFITS = [
    "EB*1*IND*30*C1*GOLD PPO", "EB*C*IND*30***23*1500*****Y", "EB*C*IND*30***29*400*****Y",
    "EB*C*FAM*30***29*2500*****Y", "EB*G*IND*30***23*5000*****Y", "EB*G*IND*30***29*4100.50*****Y",
    "EB*A*IND*98^BZ*****.2****Y", "EB*A*IND*98*****.4****N", "EB*B*IND*98***27*25*****Y",
    "MSG*COPAY WAIVED FOR PREVENTIVE", "EB*F*IND*33***23***VS*20**Y", "DTP*348*D8*20260101",
    "EB*I**AL", "EB*1**62********Y*Y", "REF*G1*AUTH-LINE",
    "EB*R**30*MA", "LS*2120", "NM1*PRP*2*MEDICARE ADVANTAGE CO*****PI*MA01", "PER*IC**TE*8005551212", "LE*2120",
]


def test_x279_subscriber_example_reads_every_eb_of_the_tr3() -> None:
    [response] = parse_271(sample("badx12/X279-response-to-generic-request-by-clinic-for-patient-(subscriber)-"
                                  "eligibility.edi").read_bytes())
    assert response.status == "active"
    assert (response.member_id, response.member.last_name, response.member.birth_date) == \
        ("123456789", "SMITH", date(1963, 5, 19))
    assert response.plan.name == "GOLD 123 PLAN" and response.plan.begin == date(2006, 1, 1)
    assert [t.number for t in response.trace_numbers] == ["93175-012547"]
    assert response.payer.identifier == "842610001"
    # EB03 repeats with ">" (this file's ISA11): 10 service types per EB.
    copays = [b for b in response.benefits if b.kind == "copay"]
    assert [len(b.service_types) for b in copays] == [10, 10] and [b.network for b in copays] == ["in", "out"]
    assert copays[0].service_type_names[:2] == ["Medical Care", "Chiropractic"]
    office = response.summary()["98"]
    assert office.copay == {"in": D("10"), "out": D("30")} and office.coverage_active is True
    # This example puts its LS/LE after the last EB, so the 2120 loop belongs to that EB.
    assert [(e.role, e.name) for e in response.benefits[-1].related_entities] == [("primary_care_provider", "JONES")]


def test_x279_dependent_example_answers_for_the_dependent_only() -> None:
    [response] = parse_271(sample("badx12/X279-response-to-generic-request-by-physician-for-patient-(dependent)-"
                                  "eligibility.edi").read_bytes())
    assert response.status == "active"
    assert response.dependent.first_name == "MARY" and response.subscriber.first_name == "JOHN"
    assert response.dependent.relationship == "19" and response.member_id == "123456789"


def test_x279_error_example_is_an_answer_with_the_payer_level_aaa() -> None:
    [response] = parse_271(sample("badx12/X279-error-response-from-payer-to-clinic-not-eligible-for-inquiries-"
                                  "with-payer.edi").read_bytes())
    assert response.status == "error" and response.member is None
    [error] = response.errors
    assert (error.loop, error.code, error.meaning, error.retryable) == \
        ("2100B", "50", "Provider Ineligible for Inquiries", False)
    assert error.follow_up_meaning == "Resubmission Not Allowed"


def test_linuxforhealth_271s_parse_and_a_broken_envelope_is_named() -> None:
    [response] = parse_271(sample("lfh/271_005010X279A1/dependent-health-benefit-check.271").read_bytes())
    assert response.status == "active" and response.dependent.first_name == "MARY"
    primary_care = next(b for b in response.benefits if b.kind == "primary_care_provider")
    assert [(e.role, e.name) for e in primary_care.related_entities] == [("primary_care_provider", "JONES")]
    assert next(b for b in response.benefits if b.kind == "copay" and b.network == "in").amount == D("10.00")
    # Published with SE02 4323 under ST02 4321: refused at the SE, not read as a good answer.
    with pytest.raises(X12EnvelopeError, match=r"segment 10 \(SE\)"):
        list(parse_271(sample("lfh/271_005010X279A1/subscriber-health-benefit-check-error.271").read_bytes()))


def test_every_normalized_field() -> None:
    [response] = parse_271(answer(*PAYER_AND_PROVIDER, *SUBSCRIBER, *FULL_BENEFITS))
    assert response.status == "active"
    plan = response.plan
    assert (plan.name, plan.number, plan.group_number, plan.group_name, plan.insurance_type) == \
        ("GOLD PPO", "PLAN-9", "G-77", "ACME EMPLOYEES", "C1")
    assert (plan.begin, plan.end, plan.dates["eligibility_begin"].start) == \
        (date(2026, 1, 1), date(2026, 12, 31), date(2025, 6, 1))
    deductible_left = next(b for b in response.benefits if b.kind == "deductible" and b.time_period == "remaining"
                           and b.coverage_level == "individual")
    assert (deductible_left.amount, deductible_left.network, deductible_left.service_types) == \
        (D("400"), "in", ["30"])
    coinsurance = [b for b in response.benefits if b.kind == "coinsurance"]
    assert [(b.service_types, b.percent, b.network) for b in coinsurance] == \
        [(["98", "BZ"], D("20"), "in"), (["98"], D("40"), "out")]
    visits = next(b for b in response.benefits if b.kind == "limitation")
    assert (visits.quantity, visits.quantity_qualifier, visits.dates["benefit_begin"].start) == \
        (D("20"), "visits", date(2026, 1, 1))
    mri = next(b for b in response.benefits if b.service_types == ["62"])
    assert mri.authorization_required is True and mri.references == {"G1": "AUTH-LINE"}
    assert [(p.role, p.name, p.identifier, p.contacts) for p in response.other_payers] == \
        [("primary_payer", "MEDICARE ADVANTAGE CO", "MA01", ["8005551212"])]
    summary = response.summary()
    office = summary["98"]
    assert office.copay == {"in": D("25")} and office.coinsurance_percent == {"in": D("20"), "out": D("40")}
    # Plan-level (30) amounts fill the office visit's summary.
    assert (office.deductible_remaining, office.out_of_pocket_remaining, office.family_deductible_remaining) == \
        ({"in": D("400")}, {"in": D("4100.50")}, {"in": D("2500")})
    assert office.deductible == {"in": D("1500")} and office.messages == ["COPAY WAIVED FOR PREVENTIVE"]
    assert summary["62"].prior_authorization_required is True
    assert summary["AL"].non_covered is True


def test_inactive_and_aaa_at_the_subscriber_level() -> None:
    inactive = [*PAYER_AND_PROVIDER, "HL*3*2*22*0", "TRN*2*T-2*9123456789", "NM1*IL*1*DOE*JANE****MI*M123",
                "DTP*347*D8*20251231", "EB*6**30"]
    [response] = parse_271(answer(*inactive))
    assert response.status == "inactive" and response.plan.end == date(2025, 12, 31)
    not_found = [*PAYER_AND_PROVIDER, "HL*3*2*22*0", "TRN*2*T-3*9123456789", "NM1*IL*1*DOE*JANE****MI*BAD",
                 "AAA*Y**75*C"]
    [response] = parse_271(answer(*not_found))
    [error] = response.errors
    assert (response.status, error.loop, error.code, error.retryable) == ("error", "2100C", "75", False)
    assert "registration" in error.human_action and error.follow_up_meaning == "Please Correct and Resubmit"
    busy = [*PAYER_AND_PROVIDER, "AAA*Y**42*R"]
    [response] = parse_271(answer(*busy))
    assert response.errors[0].retryable is True and response.status == "error"


@pytest.mark.parametrize("delimiters", [
    {"element": "|", "component": ">", "repetition": "!", "terminator": "\n"},
    {"element": "*", "component": ":", "repetition": "^", "terminator": "~", "line_break": "\r\n"},
    {"element": "^", "component": "\\", "repetition": "}", "terminator": "'"},
])
def test_other_separators(delimiters: dict) -> None:
    body = [*PAYER_AND_PROVIDER, *SUBSCRIBER, "EB*A*IND*98^BZ*****.2****Y", "EB*1**30"]
    repetition = delimiters["repetition"]
    text = answer(*(s.replace("^", "\x01") for s in body), **delimiters).replace("\x01", repetition)
    [response] = parse_271(text)
    assert [b.service_types for b in response.benefits if b.kind == "coinsurance"] == [["98", "BZ"]]


def test_missing_optional_loops_and_several_members_in_one_transaction() -> None:
    body = [*PAYER_AND_PROVIDER, "HL*3*2*22*0", "NM1*IL*1*ONE*****MI*A1", "EB*1",
            "HL*4*2*22*1", "NM1*IL*1*TWO*****MI*A2", "HL*5*4*23*0", "TRN*2*T-5*9123456789", "NM1*03*1*KID",
            "EB*6"]
    first, second = parse_271(answer(*body))
    assert (first.member_id, first.status, first.trace_numbers) == ("A1", "active", [])
    assert (second.member_id, second.dependent.last_name, second.status) == ("A2", "KID", "inactive")


@pytest.mark.parametrize(("segment", "where", "kind"), [
    ("EB*1**30***23*12.X", r"segment 11 \(EB\), element EB07", X12DataError),
    ("EB*A**30*****1.5", r"segment 11 \(EB\), element EB08", X12DataError),
    ("EB*ZZ", r"segment 11 \(EB\), element EB01", X12DataError),
    ("DTP*346*D8*20261340", r"segment 11 \(DTP\), element DTP03", X12DataError),
    ("CLP*1*1*1*1", r"segment 11 \(CLP\)", X12StructureError),
    ("AAA*Y", r"segment 11 \(AAA\), element AAA03", X12DataError),
])
def test_malformed_271_names_its_segment(segment: str, where: str, kind: type) -> None:
    body = [*PAYER_AND_PROVIDER, "HL*3*2*22*0", "NM1*IL*1*DOE****MI*M1", segment]
    with pytest.raises(kind, match=where):
        list(parse_271(answer(*body)))


def _members_with_their_deductible_left(*amounts: str) -> list[str]:
    body = [*PAYER_AND_PROVIDER]
    for number, amount in enumerate(amounts, 3):
        body += [f"HL*{number}*2*22*0", f"NM1*IL*1*DOE{number}****MI*M{number}", "EB*1*IND*30*C1*GOLD PPO",
                 f"EB*C*IND*30***29*{amount}*****Y", "MSG*LEFT AS OF TODAY"]
    return body


def test_members_of_one_plan_each_read_their_own_deductible_left() -> None:
    # The second and later EB*C differ from the first only in EB07: each is the same benefit with
    # the member's own amount, the MSG after it the member's own as well.
    answers = list(parse_271(answer(*_members_with_their_deductible_left("400", "12.50", "400", "0"))))
    left = [next(b for b in response.benefits if b.kind == "deductible") for response in answers]
    assert [b.amount for b in left] == [D("400"), D("12.50"), D("400"), D("0")]
    assert {(b.code, b.coverage_level, tuple(b.service_types), b.time_period, b.authorization_required, b.network,
             tuple(b.messages)) for b in left} == {("C", "individual", ("30",), "remaining", None, "in",
                                                   ("LEFT AS OF TODAY",))}
    assert [response.status for response in answers] == ["active"] * 4


@pytest.mark.parametrize("amount", ["12.X", "NaN", "1,000"])
def test_a_member_amount_is_checked_even_when_the_rest_of_its_eb_was_read_before(amount: str) -> None:
    # The first member's EB*C is read whole; the second's differs only in EB07, which must still be a number.
    with pytest.raises(X12DataError, match=r"segment 17 \(EB\), element EB07"):
        list(parse_271(answer(*_members_with_their_deductible_left("400", amount))))


def test_details_after_the_same_eb_stay_with_their_member() -> None:
    # The same EB*B in every member loop, followed by different MSG, DTP and REF segments (or none).
    details = [["MSG*FIRST"], ["MSG*SECOND", "DTP*348*D8*20260101"], [], ["MSG*FIRST"], ["REF*G1*AUTH-1", "MSG*"],
               ["MSG*FIRST", "MSG*SECOND"]]
    body = [*PAYER_AND_PROVIDER]
    for number, after in enumerate(details, 3):
        body += [f"HL*{number}*2*22*0", f"NM1*IL*1*DOE{number}****MI*M{number}", "EB*B*IND*98***27*25*****Y",
                 *after]
    copays = [response.benefits[0] for response in parse_271(answer(*body))]
    assert [list(b.messages) for b in copays] == [["FIRST"], ["SECOND"], [], ["FIRST"], [], ["FIRST", "SECOND"]]
    assert [dict(b.dates) for b in copays][1] == {"benefit_begin": DateRange(date(2026, 1, 1))}
    assert [dict(b.references) for b in copays] == [{}, {}, {}, {}, {"G1": "AUTH-1"}, {}]
    assert {b.amount for b in copays} == {D("25")}


def test_contacts_in_the_same_2120_loop_stay_with_their_member() -> None:
    # The same EB*R and 2120 NM1 in every member loop; some members' loops add a PER (or two loops).
    loops = [[], ["PER*IC**TE*8005551212"], [], ["PER*IC**TE*8005550000", "PER*IC**FX*8005559999"], [],
             ["LE*2120", "LS*2120", "PER*IC**TE*8005551111", "NM1*PRP*2*SECOND CO*****PI*SC01"]]
    body = [*PAYER_AND_PROVIDER]
    for number, inside in enumerate(loops, 3):
        body += [f"HL*{number}*2*22*0", f"NM1*IL*1*DOE{number}****MI*M{number}", "EB*R**30*MA", "LS*2120",
                 "NM1*PRP*2*OTHER PAYER*****PI*OP1", *inside, "LE*2120"]
    responses = list(parse_271(answer(*body)))
    assert [[(e.name, e.contacts) for e in r.other_payers] for r in responses] == [
        [("OTHER PAYER", [])], [("OTHER PAYER", ["8005551212"])], [("OTHER PAYER", [])],
        [("OTHER PAYER", ["8005550000", "8005559999"])], [("OTHER PAYER", [])],
        [("OTHER PAYER", []), ("SECOND CO", [])]]
    assert responses[0].benefits[0] is responses[2].benefits[0]  # shared while no PER made it an answer's own


def test_the_same_eb_text_under_another_repetition_separator_is_read_again() -> None:
    # Two answers with the same EB at the same place; ISA11 makes "^" a repetition separator in the
    # first interchange and a plain character in the second.
    body = [*PAYER_AND_PROVIDER, *SUBSCRIBER, "EB*1*IND*30", "EB*A*IND*1^33*****.2"]
    [repeating] = parse_271(answer(*body))
    [plain] = parse_271(answer(*body, repetition="!"))
    assert repeating.benefits[1].service_types == ["1", "33"]
    assert plain.benefits[1].service_types == ["1^33"]
    [again] = parse_271(answer(*body))
    assert again.benefits[1].service_types == ["1", "33"]


def test_a_270_is_not_a_271() -> None:
    with pytest.raises(X12StructureError, match="not a 271"):
        list(parse_271(sample("lfh/270_005010X279A1/subscriber-health-benefit-check.270").read_bytes()))


ENVELOPE = InterchangeEnvelope("ZZ", "OPENRCM", "ZZ", "CLEARINGHOUSE", "OPENRCM", "CLEARINGHOUSE", 42, 42,
                               datetime(2026, 3, 1, 9, 30, tzinfo=timezone.utc))


def inquiry(**changes) -> EligibilityInquiry:
    fields = dict(trace_number="TRACE-1", payer_id="ACME1", payer_name="ACME HEALTH", provider_npi="1234567893",
                  provider_name="FAMILY CLINIC", subscriber=InquiryPerson("DOE", "JANE", date(1980, 2, 3), "F", "M123"),
                  service_date=date(2026, 3, 2), service_types=("30", "98"))
    return EligibilityInquiry(**{**fields, **changes})


def test_270_for_a_subscriber_and_a_dependent_reads_back() -> None:
    dependent = inquiry(trace_number="TRACE-2", dependent=InquiryPerson("DOE", "KID", date(2015, 1, 1), "M"),
                        relationship="19", service_types=("30",))
    text = write_270(ENVELOPE, [inquiry(), dependent], control_number="0001", reference="BATCH-1")
    segments = list(X12Reader(text))  # envelope counts and control numbers checked by the reader
    assert segments[2] == ["ST", "270", "0001", X279] and segments[1][1] == "HS" and segments[1][8] == X279
    assert ["TRN", "1", "TRACE-1", "9123456789"] in segments
    assert ["INS", "Y", "19"] in segments and ["EQ", "98"] in segments
    assert ["DTP", "291", "D8", "20260302"] in segments
    first, second = parse_270(text)
    assert (first.trace_number, first.member_id, first.service_types, first.subscriber.birth_date) == \
        ("TRACE-1", "M123", ["30", "98"], date(1980, 2, 3))
    assert (second.trace_number, second.dependent.first_name, second.member_id) == ("TRACE-2", "KID", "M123")


def test_270_matches_the_x279_example_shape() -> None:
    """The TR3's dependent example, segment for segment from HL*1 (names and ids are the example's)."""
    example = [s for s in X12Reader(sample("lfh/270_005010X279A1/dependent-health-benefit-check.270").read_bytes())]
    ours = list(X12Reader(write_270(ENVELOPE, [inquiry(
        trace_number="93175-012547", payer_name="ABC COMPANY", payer_id="842610001", provider_npi="2000034000",
        provider_name="CLINIC", subscriber=InquiryPerson("", None, member_id="11122333301"),
        dependent=InquiryPerson("SMITH", "MARY", date(1978, 10, 14)), relationship="19",
        service_date=date(2006, 5, 1), service_types=("30",))], control_number="1234", reference="10001234")))
    # Ours adds INS*Y*19 (situational in 2100D: the relationship the registration holds).
    between = slice(3, -3)  # ST .. before SE
    assert [s[0] for s in ours[between] if s[0] != "INS"] == [s[0] for s in example[between]]
    assert [s[:4] for s in ours if s[0] == "HL"] == [s[:4] for s in example if s[0] == "HL"]


@pytest.mark.parametrize(("changes", "field"), [
    ({"provider_npi": "123"}, "inquiries[0].provider_npi"),
    ({"subscriber": InquiryPerson("DOE")}, "inquiries[0].subscriber.member_id"),
    ({"dependent": InquiryPerson("KID"), "relationship": "20"}, "inquiries[0].relationship"),
    ({"service_types": ()}, "inquiries[0].service_types"),
    ({"payer_name": "ACME*HEALTH"}, "inquiries"),
])
def test_270_refuses_what_it_cannot_write(changes: dict, field: str) -> None:
    with pytest.raises(Eligibility270WriteError) as raised:
        write_270(ENVELOPE, [inquiry(**changes)], control_number="1", reference="R")
    assert raised.value.field == field


def test_270_refusal_names_the_segment_never_the_value() -> None:
    with pytest.raises(Eligibility270WriteError) as raised:
        write_270(ENVELOPE, [inquiry(subscriber=InquiryPerson("O*BRIEN", "JANE", member_id="M1"))],
                  control_number="1", reference="R")
    assert "NM1" in raised.value.reason and "BRIEN" not in str(raised.value)
