"""What comes in, on the running services: body-size bounds (at once by Content-Length, while
reading when chunked, webhooks before their signature), JSON nesting, NUL characters and
unpaired surrogates, out-of-range integers and forged cursors, hostile X12, and an X12 upload that
trickles in without holding a database transaction. Every refusal is a 4xx problem+json.

Raw HTTP over loopback where the test must control what is sent when (a Content-Length whose body
never comes, a chunked body sent until the server answers); everything bounded in bytes and time.
"""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from urllib.parse import urlsplit

import pytest

from conftest import auth_headers
import sqlalchemy as sa

from openrcm_shared.db import create_engine
from openrcm_shared.http.inbound import InboundSettings
from tests.era import Era, Svc
from tests.support import encounter

pytestmark = pytest.mark.stack

PROBLEM = "application/problem+json"
X12 = {"content-type": "application/edi-x12"}
BOUNDS = InboundSettings()  # the services run with the defaults


def _port(stack, service: str) -> int:
    return urlsplit(stack.services[service].url).port


def _head(method: str, path: str, headers: dict[str, str]) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", *[f"{k}: {v}" for k, v in headers.items()]]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, dict]:
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 15)
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in header_lines if ": " in line)
    body = await asyncio.wait_for(reader.readexactly(int(headers.get("content-length", "0"))), 15)
    return int(status_line.split()[1]), json.loads(body) if body else {}


async def declared_but_never_sent(port: int, path: str, length: int, headers: dict[str, str]) -> tuple[int, dict]:
    """Send only the head, declaring `length` bytes: a server that answers refused at once."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(_head("POST", path, {**headers, "Content-Length": str(length)}))
        await writer.drain()
        return await _read_response(reader)
    finally:
        writer.close()


async def chunked_until_answered(port: int, path: str, headers: dict[str, str], *, chunk: bytes,
                                 most_bytes: int) -> tuple[int, dict, int]:
    """Send a chunked body until the server answers (or `most_bytes` went out): status, problem, bytes sent."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    answer = asyncio.create_task(_read_response(reader))
    sent = 0
    try:
        writer.write(_head("POST", path, {**headers, "Transfer-Encoding": "chunked"}))
        while not answer.done() and sent < most_bytes:
            writer.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            sent += len(chunk)
            try:
                await asyncio.wait_for(writer.drain(), 15)
            except (ConnectionError, asyncio.TimeoutError):
                break  # the server answered and closed the connection
        if not answer.done():
            writer.write(b"0\r\n\r\n")
        status, problem = await answer
        return status, problem, sent
    finally:
        answer.cancel()
        writer.close()


# -------------------------------------------------------------------------------------------- sizes


async def test_a_declared_length_over_each_bound_is_answered_413_before_any_body_is_sent(stack, tenant):
    cases = [
        ("claims", "/v1/encounters", {"Content-Type": "application/json"}, BOUNDS.max_body_bytes_json),
        ("remittance", "/v1/remittances", {"Content-Type": "application/edi-x12"}, BOUNDS.max_body_bytes_x12),
        ("remittance", "/v1/remittances", {"Content-Type": "application/json"}, BOUNDS.max_body_bytes_json),
        ("claims-worker", "/v1/webhooks/clearinghouse", {"Content-Type": "application/edi-x12"},
         BOUNDS.max_body_bytes_webhook),
        ("remittance", "/v1/webhooks/clearinghouse", {"Content-Type": "application/edi-x12"},
         BOUNDS.max_body_bytes_webhook),
    ]
    for service, path, headers, bound in cases:
        status, problem = await declared_but_never_sent(_port(stack, service), path, bound + 1,
                                                        {**headers, "X-Tenant-Id": tenant})
        assert (status, problem["max_bytes"]) == (413, bound), (service, path, headers)
        assert problem["type"].endswith("/payload-too-large")


async def test_a_chunked_json_body_is_refused_once_it_passes_the_bound(stack, tenant):
    status, problem, sent = await chunked_until_answered(
        _port(stack, "claims"), "/v1/encounters", {"Content-Type": "application/json", **auth_headers(stack, tenant)},
        chunk=b" " * 65536, most_bytes=8 * BOUNDS.max_body_bytes_json)
    assert status == 413 and problem["max_bytes"] == BOUNDS.max_body_bytes_json
    # Answered long before the client would have stopped (the token is verified first, and what the
    # client pushes meanwhile fills the sockets' buffers: a loaded machine lets it push more).
    assert sent < 4 * BOUNDS.max_body_bytes_json


async def test_an_oversized_signed_webhook_is_refused_for_size_and_never_stored(stack):
    webhook_id = f"msg_{uuid.uuid4().hex}"
    headers = {"Content-Type": "application/edi-x12", "webhook-id": webhook_id,
               "webhook-timestamp": "1700000000", "webhook-signature": "v1,bm90LXZlcmlmaWVkLXlldA=="}
    status, problem, _sent = await chunked_until_answered(
        _port(stack, "claims-worker"), "/v1/webhooks/clearinghouse", headers, chunk=b"~" * (1 << 20),
        most_bytes=2 * BOUNDS.max_body_bytes_webhook)
    assert status == 413 and problem["max_bytes"] == BOUNDS.max_body_bytes_webhook  # not 401: never verified
    engine = create_engine(stack.database_url("claims"), pool_size=1)
    try:
        async with engine.connect() as conn:
            stored = (await conn.execute(sa.text("SELECT count(*) FROM clearinghouse_deliveries "
                                                 "WHERE webhook_id = :id"), {"id": webhook_id})).scalar()
    finally:
        await engine.dispose()
    assert stored == 0


async def test_a_trickling_x12_upload_holds_no_database_transaction(stack, api):
    era = Era(trace=f"SLOW{uuid.uuid4().hex[:10].upper()}")
    era.claim("UNKNOWNPCN1", lines=[Svc("99213", "125.00", "80.00", [("CO", "45", "45.00")], line=1)])
    text = era.x12().encode()
    halfway, rest_may_come = len(text) // 2, asyncio.Event()

    async def trickle():
        yield text[:halfway]
        await rest_may_come.wait()
        yield text[halfway:]

    upload = asyncio.create_task(api["remittance"].post("/v1/remittances", content=trickle(), headers=X12))
    engine = create_engine(stack.database_url("remittance"), pool_size=1)
    try:
        await asyncio.sleep(2.0)  # the first half has long arrived; the rest is held back
        async with engine.connect() as conn:
            waiting = (await conn.execute(sa.text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND state = 'idle in transaction' AND xact_start < now() - interval '1 second'"))).scalar()
    finally:
        rest_may_come.set()
        await engine.dispose()
    response = await asyncio.wait_for(upload, 30)
    assert waiting == 0
    assert response.status_code == 202, response.text  # stored; the unknown claim is held for review


# --------------------------------------------------------------------------------------- JSON bodies


async def test_json_nested_past_the_bound_is_a_400_on_every_json_route(api):
    deep = b"[" * 3000 + b"]" * 3000  # far past Python's json recursion
    routes = [("claims", "/v1/encounters"), ("claims", "/v1/encounter-batches"), ("claims", "/fhir/Claim"),
              ("eligibility", "/v1/eligibility-checks"), ("remittance", "/v1/remittances"),
              ("remittance", "/v1/deposits"), ("claims", "/v1/patients/P-1")]
    for service, path in routes:
        method = "PUT" if path.startswith("/v1/patients") else "POST"
        response = await api[service].request(method, path, content=deep,
                                              headers={"content-type": "application/json"})
        assert response.status_code == 400, (path, response.text)
        assert response.headers["content-type"] == PROBLEM
        assert response.json()["errors"] == [{"pointer": "", "detail": "nested deeper than 64 levels"}]


@pytest.mark.parametrize("bad", ["\u0000", "\ud800"])
async def test_strings_postgresql_cannot_store_are_422_naming_the_field_and_nothing_is_stored(api, bad):
    body = encounter()
    body["patient"]["last_name"] = "Synth" + bad + "etic"
    body["coverage"]["member_id"] = "XJ" + bad
    response = await api["claims"].post("/v1/encounters", content=json.dumps(body),
                                        headers={"content-type": "application/json"})
    assert response.status_code == 422 and response.headers["content-type"] == PROBLEM
    assert {e["pointer"] for e in response.json()["errors"]} == {"/patient/last_name", "/coverage/member_id"}
    assert (await api["claims"].get("/v1/claims")).json()["items"] == []


# ---------------------------------------------------------------------------------- URL and headers


async def test_nul_in_a_query_parameter_path_parameter_or_header_is_refused_naming_it(api, stack, tenant):
    query = await api["denials"].get("/v1/denials", params={"payer_id": "600\x0054"})
    assert query.status_code == 422 and query.json()["errors"][0]["pointer"] == "/query/payer_id"
    path = await api["collections"].get("/v1/accounts/P%00X")
    assert path.status_code == 422 and path.json()["errors"][0]["pointer"] == "/path/patient_id"
    for response in (query, path):
        assert response.headers["content-type"] == PROBLEM
    # HTTP clients will not send a NUL in a header; a raw request gets a 400 (from the HTTP server
    # itself here; the guard names the header where a server lets one through: unit tests).
    reader, writer = await asyncio.open_connection("127.0.0.1", _port(stack, "remittance"))
    try:
        writer.write(_head("POST", "/v1/remittances", {"X-Tenant-Id": tenant, "Content-Type": "application/edi-x12",
                                                       "X-Filename": "a\x00.835", "Content-Length": "3"}) + b"ISA")
        await writer.drain()
        status_line = await asyncio.wait_for(reader.readline(), 15)
    finally:
        writer.close()
    assert status_line.split()[1] == b"400"


async def test_out_of_range_integers_and_forged_cursors_are_4xx(api):
    version = await api["remittance"].get("/v1/fee-schedules/60054", params={"version": "10000000000000001"})
    assert version.status_code == 422 and version.json()["errors"][0]["pointer"] == "/query/version"
    huge_limit = await api["claims"].get("/v1/claims", params={"limit": str(10 ** 20)})
    assert huge_limit.status_code == 422
    forged = base64.urlsafe_b64encode(json.dumps(["not-a-time", "not-a-uuid"]).encode()).decode()
    too_big = base64.urlsafe_b64encode(json.dumps(["9" * 40, str(uuid.uuid4())]).encode()).decode()
    for service, path, cursor in [("claims", "/v1/claims", forged), ("denials", "/v1/denials", too_big),
                                  ("collections", "/v1/accounts/P-1", forged),
                                  ("eligibility", "/v1/eligibility-checks", forged),
                                  ("remittance", "/v1/remittances/variances",
                                   base64.urlsafe_b64encode(json.dumps(["recent", forged]).encode()).decode())]:
        response = await api[service].get(path, params={"cursor": cursor})
        assert response.status_code in (400, 404), (path, response.text)  # 404: no such account
        if response.status_code == 400:
            assert response.json()["errors"][0]["pointer"] == "/query/cursor"


# -------------------------------------------------------------------------------------------- X12


async def test_hostile_x12_is_refused_naming_the_segment(api):
    isa = ("ISA*00*          *00*          *ZZ*PAYERSIM       *ZZ*OPENRCM01      *261125*1200*^*00501*"
           "000000001*0*T*:~")
    no_terminator = (isa + "GS*HP*PAYERSIM*OPENRCM01*20261125*1200*1*X*005010X221A1" + "A" * (8 << 20)).encode()
    response = await asyncio.wait_for(api["remittance"].post("/v1/remittances", content=no_terminator,
                                                             headers=X12), 60)
    assert response.status_code == 422, response.text
    assert "no segment terminator within 65536 characters" in response.json()["error"]["message"]

    era = Era(trace=f"NUL{uuid.uuid4().hex[:10].upper()}")
    era.claim("PCN\x00X", lines=[Svc("99213", "125.00", "80.00", [("CO", "45", "45.00")], line=1)])
    response = await api["remittance"].post("/v1/remittances", content=era.x12().encode(), headers=X12)
    assert response.status_code == 422, response.text
    assert "NUL" in response.json()["error"]["message"]
