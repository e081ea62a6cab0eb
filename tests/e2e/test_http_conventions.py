"""HTTP conventions on the running services: idempotency, problem+json, tenancy, pagination."""

from __future__ import annotations

import asyncio

import pytest

from tests.support import encounter

pytestmark = pytest.mark.stack

PROBLEM = "application/problem+json"


async def test_twenty_concurrent_posts_with_one_key_create_one_claim_with_identical_responses(api):
    body = encounter()
    headers = {"Idempotency-Key": "ehr-batch-7-encounter-1"}
    responses = await asyncio.gather(*[api["claims"].post("/v1/encounters", json=body, headers=headers)
                                       for _ in range(20)])
    assert {r.status_code for r in responses} == {201}, [r.text for r in responses if r.status_code != 201]
    assert len({r.content for r in responses}) == 1
    claim_id = responses[0].json()["id"]
    listed = (await api["claims"].get("/v1/claims")).json()["items"]
    assert [c["id"] for c in listed] == [claim_id]
    assert sum(r.headers.get("idempotent-replayed") == "true" for r in responses) == 19

    other = encounter()
    reused = await api["claims"].post("/v1/encounters", json=other, headers=headers)
    assert reused.status_code == 422
    assert reused.headers["content-type"] == PROBLEM
    assert reused.json()["errors"] == [{"pointer": "/header/Idempotency-Key", "detail": "reused with another body"}]


async def test_same_encounter_id_without_a_key_is_a_conflict_naming_the_field(api):
    body = encounter()
    assert (await api["claims"].post("/v1/encounters", json=body)).status_code == 201
    again = await api["claims"].post("/v1/encounters", json=body)
    assert again.status_code == 409
    assert again.json()["errors"] == [{"pointer": "/encounter_id", "detail": "already submitted"}]


async def test_bad_input_is_a_problem_naming_each_field_never_a_500(api):
    body = encounter()
    body["billing_provider"]["npi"] = "1234567890"  # wrong check digit
    body["diagnosis_codes"] = ["E11.9", "not-a-code"]
    body["lines"][0]["charge_amount"] = 125.1  # a float: refused, money is a decimal string
    body["lines"][1]["diagnosis_pointers"] = [1]
    body["lines"][0]["service_date"] = "2999-01-01"
    response = await api["claims"].post("/v1/encounters", json=body)
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM
    pointers = {e["pointer"] for e in response.json()["errors"]}
    assert pointers == {"/billing_provider/npi", "/diagnosis_codes", "/lines/0/charge_amount",
                        "/lines/0/service_date"}

    pointer_out_of_range = encounter()
    pointer_out_of_range["lines"][1]["diagnosis_pointers"] = [1, 3]
    response = await api["claims"].post("/v1/encounters", json=pointer_out_of_range)
    assert response.status_code == 422
    assert response.json()["errors"][0]["pointer"] == "/lines/1/diagnosis_pointers/1"

    malformed = await api["claims"].post("/v1/encounters", content=b'{"encounter_id": ',
                                         headers={"content-type": "application/json"})
    assert malformed.status_code == 400 and malformed.headers["content-type"] == PROBLEM

    wrong_type = await api["remittance"].post("/v1/remittances", json={"payer_id": "60054", "claims": "x"})
    assert wrong_type.status_code == 422
    assert {"/trace_number", "/payment_amount", "/payment_date", "/claims"} <= {
        e["pointer"] for e in wrong_type.json()["errors"]}


async def test_every_call_is_authorized_and_practices_do_not_see_each_other(api, stack):
    import httpx

    from conftest import auth_headers

    async with httpx.AsyncClient(base_url=stack.services["claims"].url) as anonymous:
        response = await anonymous.get("/v1/claims")
        assert response.status_code == 401 and response.headers["content-type"] == PROBLEM
        assert response.headers["www-authenticate"].startswith("Bearer")
        created = (await api["claims"].post("/v1/encounters", json=encounter())).json()
        other = await anonymous.get(f"/v1/claims/{created['id']}", headers=auth_headers(stack, "another-practice"))
        assert other.status_code == 404


async def test_unbalanced_remittance_posts_nothing_and_names_the_amounts(api):
    from tests.support import post_when_known, remittance_for

    claim = (await api["claims"].post("/v1/encounters", json=encounter())).json()
    unbalanced = remittance_for(claim)
    unbalanced["claims"][0]["lines"][0]["paid_amount"] = "80.01"
    response = await post_when_known(api["remittance"], "/v1/remittances", unbalanced)
    assert response.status_code == 422
    assert [e["pointer"] for e in response.json()["errors"]] == ["/claims/0/lines/0/paid_amount"]

    bad_total = remittance_for(claim)
    bad_total["payment_amount"] = "79.99"
    response = await api["remittance"].post("/v1/remittances", json=bad_total)
    assert response.status_code == 422
    assert [e["pointer"] for e in response.json()["errors"]] == ["/payment_amount"]

    good = remittance_for(claim)
    assert (await api["remittance"].post("/v1/remittances", json=good)).status_code == 201
    duplicate = await api["remittance"].post("/v1/remittances", json={**good, "claims": good["claims"]})
    assert duplicate.status_code == 409
    assert duplicate.json()["type"].endswith("/duplicate-payment")


async def test_operability_endpoints(stack):
    import httpx

    roles = {name: service.role for name, service in stack.services.items()}
    # claims runs as three processes: its API, its worker, its outbox relay
    assert (roles["claims"], roles["claims-worker"], roles["claims-relay"]) == ("api", "worker", "relay")
    for name, service in stack.services.items():
        async with httpx.AsyncClient(base_url=service.url) as client:
            assert (await client.get("/livez")).json() == {"status": "ok"}
            ready = await client.get("/readyz")
            assert ready.status_code == 200, ready.text
            checks = ready.json()["checks"]
            assert checks["database"] == "ok"
            assert checks["database:system"] == "ok"  # the system role (work across practices) logs in too
            # An API process (role api) publishes and consumes nothing itself: no broker check.
            assert checks.get("kafka") == (None if service.role == "api" else "ok"), (name, checks)
            metrics = (await client.get("/metrics")).text
            assert "openrcm_http_request_duration_seconds_bucket" in metrics
            assert (await client.get("/docs")).status_code == 200
            assert (await client.get("/openapi.json")).json()["info"]["title"] == f"OpenRCM {service.spec.name}"
            tasks = {check.removeprefix("task:") for check in checks if check.startswith("task:")}
            # The relay runs only where nothing else relays: the relay process, or one doing everything;
            # a process that stages events beside it wakes it.
            relays = {"relay": {"outbox_relay"}, "all": {"outbox_relay"}}.get(service.role, {"relay_waker"})
            assert tasks & {"outbox_relay", "relay_waker"} == relays, (name, tasks)
            if service.role == "relay":  # the relay alone: no API, no partner's webhook, no consumer
                assert (await client.post("/v1/webhooks/clearinghouse", content=b"ISA")).status_code == 404
                assert tasks == {"outbox_relay"}, tasks
            if service.role == "worker":  # health, metrics and webhooks: the service's API is its API process's
                assert (await client.post("/v1/encounters", json={})).status_code == 404
                unsigned = await client.post("/v1/webhooks/clearinghouse", content=b"ISA")
                assert unsigned.status_code == 401, unsigned.text  # the webhook route is there (and checks signatures)

async def test_an_idle_keep_alive_connection_stays_open_past_a_few_seconds(stack):
    # A client's pool keeps idle connections to reuse; a service that closes them after uvicorn's
    # default 5 s races the client's next request on them ("connection reset by peer"), and an
    # EHR's POST so lost is not retried by its HTTP client. The services keep them for 75 s.
    from urllib.parse import urlsplit

    claims = stack.services["claims"]
    url = urlsplit(claims.url)
    tls = claims.client_ssl_context()  # None on a plain-HTTP stack
    reader, writer = await asyncio.open_connection(url.hostname, url.port, ssl=tls,
                                                   server_hostname=url.hostname if tls else None)
    request = f"GET /livez HTTP/1.1\r\nHost: {url.netloc}\r\n\r\n".encode()
    try:
        for attempt in range(2):
            writer.write(request)
            await writer.drain()
            status = await asyncio.wait_for(reader.readline(), 5)
            assert status.startswith(b"HTTP/1.1 200"), (attempt, status)
            headers = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
            length = next(int(line.split(b":")[1]) for line in headers.split(b"\r\n")
                          if line.lower().startswith(b"content-length:"))
            await reader.readexactly(length)
            if attempt == 0:
                await asyncio.sleep(6.5)
    finally:
        writer.close()
