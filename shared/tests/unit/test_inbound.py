"""What comes in: body-size bounds per route class (at once by Content-Length, while reading when
chunked), JSON nesting and unstorable strings, NUL characters in the URL and headers, per-client
rate limits. On an app built by `create_service_app`, so every service's wiring is what is tested
(no database or broker is touched: every refusal comes before the routes need one)."""

from __future__ import annotations

import json
from typing import Annotated

import httpx
import pytest
from fastapi import APIRouter, Query, Request
from pydantic import BaseModel

from openrcm_shared.http.bodies import json_body
from openrcm_shared.http.inbound import takes_files
from openrcm_shared.http.problems import Problem
from openrcm_shared.http.webhooks import WebhookVerificationError, verify
from openrcm_shared.service import ServiceDefinition, create_service_app
from openrcm_shared.security.practice import ClaimsRead

PROBLEM = "application/problem+json"
JSON_BOUND, FILE_BOUND, WEBHOOK_BOUND, CSV_BOUND = 4_000, 10_000, 5_000, 300


class Note(BaseModel):
    text: str
    tags: list[str] = []


class Seen:
    """What the routes saw: bodies read whole, webhook verifications attempted."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []
        self.verifications = 0


def routes(seen: Seen) -> tuple[APIRouter, APIRouter]:
    api = APIRouter(prefix="/v1")

    @api.post("/raw")  # reads the body itself and parses it with the json module (as the FHIR intake does)
    async def raw(request: Request) -> dict:
        body = await request.body()
        seen.bodies.append(body)
        try:
            json.loads(body)
        except ValueError:
            raise Problem(400, "Not JSON") from None
        return {"bytes": len(body)}

    @api.post("/notes")  # a FastAPI body parameter
    async def notes(note: Note) -> dict:
        return {"text": note.text}

    @api.post("/fast-notes")  # pydantic's own parser, as POST /v1/encounters
    async def fast_notes(request: Request) -> dict:
        return {"text": (await json_body(request, Note)).text}

    @api.post("/files")
    @takes_files()
    async def files(request: Request) -> dict:
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
        return {"bytes": size}

    @api.put("/schedules/{payer_id}")
    @takes_files(max_bytes=CSV_BOUND)
    async def schedule(payer_id: str, request: Request) -> dict:
        return {"bytes": len(await request.body())}

    @api.get("/things/{thing_id}")
    async def thing(thing_id: str, status: str | None = None,
                    limit: Annotated[int, Query(ge=1, le=10)] = 5) -> dict:
        return {"thing_id": thing_id, "status": status}

    webhooks = APIRouter(prefix="/v1/webhooks")

    @webhooks.post("/clearinghouse")
    async def webhook(request: Request) -> dict:
        body = await request.body()  # the signature covers the whole body, as in the services
        seen.verifications += 1
        try:
            verify(["whsec_" + "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0"], request.headers, body)
        except WebhookVerificationError as exc:
            raise Problem(401, "Webhook not authenticated", str(exc)) from None
        return {}

    return api, webhooks


@pytest.fixture
def seen() -> Seen:
    return Seen()


@pytest.fixture
def app(monkeypatch, seen):
    for name, value in {"OPENRCM_MAX_BODY_BYTES_JSON": JSON_BOUND, "OPENRCM_MAX_BODY_BYTES_X12": FILE_BOUND,
                        "OPENRCM_MAX_BODY_BYTES_WEBHOOK": WEBHOOK_BOUND, "OPENRCM_RATE_LIMIT_PER_CLIENT": 1,
                        "OPENRCM_RATE_LIMIT_BURST": 1000}.items():
        monkeypatch.setenv(name, str(value))
    api, webhooks = routes(seen)
    return create_service_app(ServiceDefinition(
        name="inbound", title="t", description="d", aggregate_type="thing", routers=[api], webhook_routers=[webhooks]))


@pytest.fixture
async def client(app):
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test",
                                 headers={"X-Tenant-Id": "practice-1"}) as client:
        yield client


class CountingBody:
    """A chunked request body (no Content-Length) that counts the chunks the server pulled."""

    def __init__(self, chunks: int, size: int = 100, first: bytes = b"") -> None:
        self.chunks, self.size, self.first, self.pulled = chunks, size, first, 0

    async def __aiter__(self):
        for index in range(self.chunks):
            self.pulled += 1
            yield self.first if index == 0 and self.first else b" " * self.size


def assert_problem(response: httpx.Response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    return response.json()


# ------------------------------------------------------------------------------------------ body size


@pytest.mark.parametrize("path", ["/v1/raw", "/v1/notes", "/v1/fast-notes"])
async def test_a_declared_length_over_the_json_bound_is_refused_before_the_route_runs(client, seen, path):
    response = await client.post(path, content=b"{" + b" " * JSON_BOUND + b"}",
                                 headers={"content-type": "application/json"})
    problem = assert_problem(response, 413)
    assert problem["type"].endswith("/payload-too-large") and problem["max_bytes"] == JSON_BOUND
    assert seen.bodies == []


@pytest.mark.parametrize("path", ["/v1/raw", "/v1/notes", "/v1/fast-notes"])
async def test_a_chunked_body_is_refused_as_soon_as_it_passes_the_bound(client, path):
    body = CountingBody(chunks=1000, first=b'{"text": "' + b" " * 90)  # 100 bytes, as the others
    response = await client.post(path, content=body, headers={"content-type": "application/json"})
    assert_problem(response, 413)
    assert body.pulled == JSON_BOUND // 100 + 1  # never read past the chunk that crossed the bound


async def test_a_json_body_within_the_bound_reaches_the_route_whole_however_it_was_chunked(client, seen):
    document = json.dumps({"text": "x" * 1500}).encode()
    chunks = [document[i:i + 100] for i in range(0, len(document), 100)]

    async def chunked():
        for chunk in chunks:
            yield chunk

    response = await client.post("/v1/raw", content=chunked(), headers={"content-type": "application/json"})
    assert response.status_code == 200 and response.json() == {"bytes": len(document)}
    assert seen.bodies == [document]
    fast = await client.post("/v1/fast-notes", content=chunked(), headers={"content-type": "application/json"})
    assert fast.json() == {"text": "x" * 1500}


async def test_files_to_a_route_that_takes_them_have_the_file_bound(client):
    x12 = {"content-type": "application/edi-x12"}
    assert (await client.post("/v1/files", content=b"I" * FILE_BOUND, headers=x12)).json() == {"bytes": FILE_BOUND}
    assert_problem(await client.post("/v1/files", content=b"I" * (FILE_BOUND + 1), headers=x12), 413)
    chunked = CountingBody(chunks=1000)
    assert_problem(await client.post("/v1/files", content=chunked, headers=x12), 413)
    assert chunked.pulled == FILE_BOUND // 100 + 1
    # JSON to the same route keeps the JSON bound.
    assert_problem(await client.post("/v1/files", content=b"[" + b" " * JSON_BOUND + b"]",
                                     headers={"content-type": "application/json"}), 413)


@pytest.mark.parametrize("media_type", ["application/pdf", "image/png", "image/jpeg", "image/tiff"])
async def test_documents_sent_as_they_are_have_the_file_bound_and_no_json_checks(client, media_type):
    # An appeal attachment: larger than a JSON body may be, binary, and no JSON (nesting brackets).
    document = b"%PDF-1.7\n" + b"[" * 100 + b"\x00" * JSON_BOUND
    headers = {"content-type": media_type}
    assert (await client.post("/v1/files", content=document, headers=headers)).json() == {"bytes": len(document)}
    assert_problem(await client.post("/v1/files", content=b"I" * (FILE_BOUND + 1), headers=headers), 413)


async def test_a_route_with_its_own_file_bound_keeps_it(client):
    csv = {"content-type": "text/csv"}
    assert (await client.put("/v1/schedules/60054", content=b"a" * CSV_BOUND, headers=csv)).status_code == 200
    problem = assert_problem(await client.put("/v1/schedules/60054", content=b"a" * (CSV_BOUND + 1), headers=csv), 413)
    assert problem["max_bytes"] == CSV_BOUND


async def test_a_file_media_type_does_not_lift_the_bound_of_a_json_route(client, seen):
    chunked = CountingBody(chunks=100)
    assert_problem(await client.post("/v1/raw", content=chunked, headers={"content-type": "application/edi-x12"}), 413)
    assert chunked.pulled == JSON_BOUND // 100 + 1
    declared = await client.post("/v1/raw", content=b"I" * (JSON_BOUND + 1),
                                 headers={"content-type": "application/edi-x12"})
    assert_problem(declared, 413)
    assert seen.bodies == []


async def test_an_oversized_webhook_is_refused_before_its_signature_is_checked(client, seen):
    assert_problem(await client.post("/v1/webhooks/clearinghouse", content=b"I" * (WEBHOOK_BOUND + 1)), 413)
    chunked = CountingBody(chunks=1000)
    assert_problem(await client.post("/v1/webhooks/clearinghouse", content=chunked), 413)
    assert chunked.pulled == WEBHOOK_BOUND // 100 + 1
    assert seen.verifications == 0
    # Within the bound the route runs, and the signature decides.
    assert_problem(await client.post("/v1/webhooks/clearinghouse", content=b"I" * WEBHOOK_BOUND), 401)
    assert seen.verifications == 1


# ------------------------------------------------------------------------------------------ JSON checks


@pytest.mark.parametrize("path", ["/v1/raw", "/v1/notes", "/v1/fast-notes"])
async def test_json_nested_deeper_than_the_bound_is_a_400_not_a_recursion_error(client, path):
    deep = b"[" * 1500 + b"]" * 1500  # inside the size bound; far past Python's json recursion
    problem = assert_problem(await client.post(path, content=deep, headers={"content-type": "application/json"}), 400)
    assert problem["errors"] == [{"pointer": "", "detail": "nested deeper than 64 levels"}]
    at_the_bound = b'{"text": "x", "tags": []}' if path != "/v1/raw" else b"[" * 64 + b"]" * 64
    assert (await client.post(path, content=at_the_bound, headers={"content-type": "application/json"})).status_code == 200


async def test_brackets_inside_strings_do_not_count_as_nesting(client):
    note = {"text": "[" * 500 + '\\"{' * 100, "tags": ["]" * 300]}
    response = await client.post("/v1/fast-notes", json=note)
    assert response.status_code == 200 and response.json() == {"text": note["text"]}


@pytest.mark.parametrize("path", ["/v1/raw", "/v1/notes", "/v1/fast-notes"])
@pytest.mark.parametrize("bad", ["\u0000", "\ud800", "x\udfffy"])
async def test_strings_postgresql_cannot_store_are_422_naming_the_field(client, path, bad):
    body = json.dumps({"text": "fine", "tags": ["ok", "a" + bad]}).encode()  # \u0000 / \ud800 escapes
    problem = assert_problem(await client.post(path, content=body, headers={"content-type": "application/json"}), 422)
    assert [e["pointer"] for e in problem["errors"]] == ["/tags/1"]


async def test_an_escaped_backslash_before_u0000_is_not_a_nul(client):
    response = await client.post("/v1/fast-notes", content=b'{"text": "C:\\\\u0000"}',
                                 headers={"content-type": "application/json"})
    assert response.status_code == 200 and response.json() == {"text": "C:\\u0000"}


# ------------------------------------------------------------------------------- NUL in the URL and headers


async def test_nul_in_a_query_parameter_is_a_422_naming_it(client):
    problem = assert_problem(await client.get("/v1/things/a", params={"status": "held\x00"}), 422)
    assert problem["errors"] == [{"pointer": "/query/status",
                                  "detail": "contains a NUL character, which cannot be stored"}]


async def test_nul_in_a_path_parameter_is_a_422_naming_it(client):
    problem = assert_problem(await client.get("/v1/things/a%00b"), 422)
    assert [e["pointer"] for e in problem["errors"]] == ["/path/thing_id"]


async def test_nul_in_a_header_is_a_400_naming_it(client):
    problem = assert_problem(await client.post("/v1/files", content=b"ISA", headers={
        "content-type": "application/edi-x12", "x-filename": "era\x00.835"}), 400)
    assert problem["errors"] == [{"pointer": "/header/X-Filename",
                                  "detail": "contains a NUL character, which cannot be stored"}]


async def test_out_of_range_query_integers_stay_422(client):
    assert_problem(await client.get("/v1/things/a", params={"limit": "10000000000000001"}), 422)


# ------------------------------------------------------------------------------------------ rate limits


async def test_a_client_past_its_burst_gets_429_with_retry_after_and_ratelimit_fields(app, client):
    """Counted per OAuth client by the authorization (each request once), not by the middleware."""
    from openrcm_shared.security.context import Principal

    class Tokens:
        async def verify(self, token: str) -> Principal:
            return Principal("user", token.removeprefix("token-"), frozenset({"claims:read"}), ("practice-1",))

    @app.get("/v1/authorized")
    async def authorized(tenant_id: ClaimsRead) -> dict:
        return {"tenant": tenant_id}

    app.state.authorizer.verifier = Tokens()
    clock = [1000.0]
    limiter = app.state.rate_limiter
    limiter.clock, limiter.burst = (lambda: clock[0]), 3  # one a second, three at once
    ehr_1, ehr_2 = {"Authorization": "Bearer token-ehr-1"}, {"Authorization": "Bearer token-ehr-2"}
    assert [(await client.get("/v1/authorized", headers=ehr_1)).status_code for _ in range(3)] == [200] * 3
    refused = await client.get("/v1/authorized", headers=ehr_1)
    problem = assert_problem(refused, 429)
    assert problem["type"] == "https://iana.org/assignments/http-problem-types#quota-exceeded"
    assert problem["violated-policies"] == ["per-client"]
    assert refused.headers["retry-after"] == "1"
    assert refused.headers["ratelimit-policy"] == '"per-client";q=3;w=3'
    assert refused.headers["ratelimit"] == '"per-client";r=0;t=1'
    # Another client has its own bucket; health and webhooks are never limited.
    assert (await client.get("/v1/authorized", headers=ehr_2)).status_code == 200
    assert (await client.get("/livez")).status_code == 200
    assert (await client.post("/v1/webhooks/clearinghouse", content=b"x")).status_code == 401
    clock[0] += 1.0
    assert (await client.get("/v1/authorized", headers=ehr_1)).status_code == 200


