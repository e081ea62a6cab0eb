"""The simulated payers answer 270s with 271s by member-id rules (eligibility.py)."""

from __future__ import annotations

import time
from datetime import date, datetime, timezone

import pytest

from openrcm_clearinghouse_sim.eligibility import EligibilityDesk
from openrcm_clearinghouse_sim.settings import Settings
from openrcm_shared.x12.acknowledgment_envelope import InterchangeEnvelope
from openrcm_shared.x12.eligibility_270 import EligibilityInquiry, InquiryPerson, combine_270s, write_270
from openrcm_shared.x12.eligibility_271 import parse_271

X12 = {"content-type": "application/edi-x12"}


@pytest.fixture
def settings() -> Settings:
    return Settings(eligibility_slow_seconds=0.2)


def inquiry_270(member_id: str, *, service_types=("30", "98"), dependent: bool = False) -> str:
    envelope = InterchangeEnvelope("ZZ", "OPENRCM", "ZZ", "SIM", "OPENRCM", "SIM", 7, 7,
                                   datetime(2026, 3, 1, 9, 0, tzinfo=timezone.utc))
    inquiry = EligibilityInquiry(
        trace_number=f"T-{member_id}", payer_id="60054", payer_name="ACME", provider_npi="1234567893",
        provider_name="CLINIC", subscriber=InquiryPerson("DOE", "JANE", date(1980, 2, 3), "F", member_id),
        service_date=date(2026, 3, 16), service_types=service_types,
        dependent=InquiryPerson("DOE", "KID", date(2015, 1, 1), "M") if dependent else None,
        relationship="19" if dependent else None)
    return write_270(envelope, [inquiry], control_number="0001", reference="R1")


async def ask(clearinghouse, member_id: str, **options):
    response = await clearinghouse.post("/v1/eligibility", content=inquiry_270(member_id, **options), headers=X12)
    if response.status_code != 200:
        return response.status_code, None
    [answer] = parse_271(response.text)
    return 200, answer


async def test_active_member_gets_benefits_echoing_the_trace(clearinghouse) -> None:
    status, answer = await ask(clearinghouse, "M100")
    assert status == 200 and answer.status == "active"
    assert [t.number for t in answer.trace_numbers] == ["T-M100"]
    office = answer.summary()["98"]
    assert (office.copay["in"], office.coinsurance_percent["in"], office.deductible_remaining["in"]) == \
        (25, 20, 400)
    assert (answer.plan.begin, answer.plan.end) == (date(2026, 1, 1), date(2026, 12, 31))


async def test_dependent_answered_in_2000d(clearinghouse) -> None:
    _, answer = await ask(clearinghouse, "M101", dependent=True)
    assert answer.dependent.first_name == "KID" and answer.trace_numbers[0].number == "T-M101"


@pytest.mark.parametrize(("member_id", "status", "code"), [("INA1", "inactive", None), ("BAD1", "error", "72"),
                                                          ("UNK1", "error", "75")])
async def test_member_rules(clearinghouse, member_id: str, status: str, code: str | None) -> None:
    _, answer = await ask(clearinghouse, member_id)
    assert answer.status == status
    assert [e.code for e in answer.errors] == ([code] if code else [])
    if status == "inactive":
        assert answer.plan.end == date(2026, 2, 28)


async def test_other_payer_primary_and_prior_authorization(clearinghouse) -> None:
    _, answer = await ask(clearinghouse, "OTH87726-5")
    assert [(p.entity_code, p.identifier) for p in answer.other_payers] == [("PRP", "87726")]
    _, answer = await ask(clearinghouse, "AUT9", service_types=("30", "62"))
    assert answer.summary()["62"].prior_authorization_required is True


async def test_transient_failures_then_an_answer(clearinghouse) -> None:
    busy = [await ask(clearinghouse, "BSY1") for _ in range(3)]
    assert [a.errors[0].code if a.errors else a.status for _, a in busy] == ["42", "42", "active"]
    assert busy[0][1].errors[0].retryable is True
    down = [(await ask(clearinghouse, "DWN1"))[0] for _ in range(3)]
    assert down == [503, 503, 200]


async def test_stats_and_refusals(clearinghouse) -> None:
    await ask(clearinghouse, "M102")
    stats = (await clearinghouse.get("/v1/eligibility/stats")).json()
    assert stats["60054"]["answered"] >= 1 and stats["60054"]["max_in_flight"] >= 1
    assert (await clearinghouse.post("/v1/eligibility", content="ISA*bad", headers=X12)).status_code == 400
    assert (await clearinghouse.post("/v1/eligibility", content=inquiry_270("M1"))).status_code == 415


async def test_a_batch_270_is_answered_member_by_member_in_one_271() -> None:
    desk = EligibilityDesk(latency_seconds=0.02)
    members = ["M200", "INA201", "BSY202", "BAD203"]
    singles = [inquiry_270(m) for m in members] + [inquiry_270("M204", dependent=True)]
    envelope = InterchangeEnvelope("ZZ", "OPENRCM", "ZZ", "SIM", "OPENRCM", "SIM", 8, 8,
                                   datetime(2026, 3, 1, 9, 0, tzinfo=timezone.utc))
    started = time.monotonic()
    status, text = await desk.answer(combine_270s(envelope, singles, control_number="0001", reference="B1").encode())
    assert status == 200 and time.monotonic() - started >= 5 * 0.02  # the payer's time is per inquiry
    answers = {t.number: a for a in parse_271(text) for t in a.trace_numbers}
    # The busy payer's AAA 42 (2100A) carries no trace: that inquiry goes unanswered in the batch.
    assert {trace: a.status for trace, a in answers.items()} == \
        {"T-M200": "active", "T-INA201": "inactive", "T-BAD203": "error", "T-M204": "active"}
    assert answers["T-M204"].dependent.first_name == "KID"
    assert desk.stats()["60054"] == {"answered": 5, "max_in_flight": 1, "exchanges": 1, "largest_exchange": 5}
