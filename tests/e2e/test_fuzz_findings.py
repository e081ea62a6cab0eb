"""Input edges the API fuzzer (tests/fuzz) reaches, each pinned by a request like the one that found
it: bad input is a 4xx problem naming the field, never a 500."""

from __future__ import annotations

import json
import uuid

import pytest

from openrcm_shared.http.pagination import encode_cursor
from tests.era import Era, Svc
from tests.support import encounter

pytestmark = pytest.mark.stack

PROBLEM = "application/problem+json"
SOME_ID = str(uuid.uuid4())

# Well-formed cursors (base64 JSON lists of the right length) whose values do not fit the sort key's
# columns: each reached PostgreSQL as a cast that failed (a 500) before cursors were checked.
CRAFTED_CURSORS = [
    ("claims", "/v1/claims", encode_cursor("not a time", SOME_ID)),
    ("claims", "/v1/claims", encode_cursor("2026-01-01T00:00:00+00:00", "not-a-uuid")),
    ("claims", "/v1/providers", encode_cursor("12345\x0067890")),
    ("claims", "/v1/enrollments", encode_cursor("2026-02-30", SOME_ID)),
    ("denials", "/v1/denials", encode_cursor("1e999999", SOME_ID)),
    ("denials", "/v1/denials", encode_cursor("abc", SOME_ID)),
    ("eligibility", "/v1/eligibility-checks", encode_cursor("yesterday", SOME_ID)),
    ("remittance", "/v1/remittances", encode_cursor("9999-99-99", SOME_ID)),
    ("remittance", "/v1/remittances/variances?sort=largest_underpayment",
     encode_cursor("largest_underpayment", encode_cursor("abc", SOME_ID))),
    ("remittance", "/v1/remittances/variances", encode_cursor("recent", encode_cursor("later", SOME_ID))),
    ("remittance", "/v1/deposits", encode_cursor("soon", SOME_ID)),
]


@pytest.mark.parametrize(("service", "path", "cursor"), CRAFTED_CURSORS)
async def test_a_cursor_this_api_did_not_issue_is_a_400(api, service, path, cursor):
    response = await api[service].get(path, params={"cursor": cursor})
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["errors"][0]["pointer"] == "/query/cursor"


PAYER = {"name": "Synthetic Health Plan", "claim_types": ["professional"]}


async def test_a_json_body_sent_as_another_media_type_is_a_415_naming_the_header(api):
    as_text = {"content-type": "text/plain"}
    for response in (
            await api["claims"].put("/v1/payers/60054", content=json.dumps(PAYER), headers=as_text),
            await api["claims"].post("/v1/encounters", content=json.dumps(encounter()), headers=as_text),
            await api["eligibility"].post("/v1/eligibility-checks", content=b"member_id=1",
                                          headers={"content-type": "application/x-www-form-urlencoded"})):
        assert response.status_code == 415, response.text
        assert response.headers["content-type"] == PROBLEM
        assert response.json()["errors"][0]["pointer"] == "/header/Content-Type"
    # A body without a Content-Type is not JSON either (as FastAPI reads bodies), on the hot path too.
    untyped = api["claims"].build_request("POST", "/v1/encounters", content=json.dumps(encounter()))
    untyped.headers.pop("content-type", None)
    assert (await api["claims"].send(untyped)).status_code == 415
    # JSON under its own name or a +json type is taken.
    for content_type in ("application/json; charset=utf-8", "application/merge-patch+json"):
        response = await api["claims"].put("/v1/payers/60054", content=json.dumps(PAYER),
                                           headers={"content-type": content_type})
        assert response.status_code == 200, response.text


async def test_a_fhir_claim_sent_as_another_media_type_is_a_415_operation_outcome(api):
    response = await api["claims"].post("/fhir/Claim", content=b'{"resourceType": "Claim"}',
                                        headers={"content-type": "text/plain"})
    assert response.status_code == 415
    assert response.headers["content-type"] == "application/fhir+json"
    assert response.json()["issue"][0]["code"] == "not-supported"


X12 = {"content-type": "application/edi-x12"}


@pytest.mark.parametrize(("charge", "paid", "refused"), [
    # X12 allows 18 digits; the guide 10 with the cents (the ledger's NUMERIC(12, 2) overflowed: a 500).
    ("12345678901234.00", "12345678901234.00", ("BPR", 2)),  # BPR02 is the sum paid
    ("9" * 20 + ".00", "1.00", ("CLP", 3)),  # CLP03 is the sum charged
    ("125.001", "80.00", ("CLP", 3)),  # fractions of a cent (the events' Money refused them: a 500)
])
async def test_an_era_with_amounts_the_guide_does_not_allow_is_rejected_naming_the_element(api, charge, paid, refused):
    era = Era(trace=f"T{uuid.uuid4().hex[:12]}")
    era.claim(f"PCN{uuid.uuid4().hex[:8]}", lines=[Svc("99213", charge, paid)])
    response = await api["remittance"].post("/v1/remittances", content=era.x12().encode(), headers=X12)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/json"  # the stored file's view, as documented
    body = response.json()
    assert body["status"] == "rejected"
    assert (body["error"]["segment_id"], body["error"]["element_position"]) == refused
    assert "monetary amount" in body["error"]["message"]


async def test_a_denial_summary_ending_on_the_calendars_first_day_is_not_a_500(api):
    # opened_to=0001-01-01: the default start (90 days earlier) overflowed the date type.
    response = await api["denials"].get("/v1/denials/summary", params={"opened_to": "0001-01-01"})
    assert response.status_code == 200, response.text


async def test_a_multipart_attachment_sent_with_an_idempotency_key_is_not_a_500(api):
    # The form was read before the key's fingerprint read the body again ("Stream consumed").
    response = await api["denials"].post(
        f"/v1/denials/{SOME_ID}/attachments", headers={"Idempotency-Key": str(uuid.uuid4())},
        files={"file": ("scan.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, "image/png")})
    assert response.status_code == 404, response.text  # no such case in this practice
    assert response.headers["content-type"].startswith(PROBLEM)


async def test_a_statement_run_on_the_calendars_first_day_is_a_422_naming_the_field(api):
    # as_of=0001-01-01: the cycle's start (28 days earlier) overflowed the date type.
    response = await api["collections"].post("/v1/statement-runs", json={"as_of": "0001-01-01"})
    assert response.status_code == 422, response.text
    assert [error["pointer"] for error in response.json()["errors"]] == ["/as_of"]


async def test_an_audit_filter_before_the_first_year_in_utc_is_a_422_naming_it(api):
    # until=0001-01-01T01:00+06:06 is a valid instant as written, but before year 1 in UTC: binding it
    # to PostgreSQL overflowed (a 500 in every service's /v1/audit-events).
    response = await api["claims"].get("/v1/audit-events", params={"until": "0001-01-01T01:00:00+06:06"})
    assert response.status_code == 422, response.text
    assert [error["pointer"] for error in response.json()["errors"]] == ["/query/until"]


async def test_reports_over_the_calendars_first_days_are_a_422_naming_the_field(api):
    # The fuzz tier found GET /v1/reports/kpis?from=0001-01-01&to=0001-01-07 answered 500 (dates of the
    # calendar's first days overflow the period arithmetic); report dates are BusinessDate (1900-2999).
    response = await api["collections"].get("/v1/reports/kpis", params={"from": "0001-01-01", "to": "0001-01-07"})
    assert response.status_code == 422, response.text
    assert [error["pointer"] for error in response.json()["errors"]] == ["/query/from", "/query/to"]
    aging = await api["collections"].get("/v1/reports/ar-aging", params={"as_of": "0001-01-01"})
    assert aging.status_code == 422 and [e["pointer"] for e in aging.json()["errors"]] == ["/query/as_of"]
