"""Security on the running stack: every API behind a verified token, scopes per route, one practice
per token, the local issuer's token endpoint, and no way across practices by id.

Each refusal is checked against the real services started by the test stack (their issuer is the
project's local one, `deploy/issuer`)."""

from __future__ import annotations

import time
import uuid

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from conftest import TEST_PAYER, auth_headers
from tests.support import encounter, eventually, post_when_known, remittance_for

pytestmark = pytest.mark.stack
PROBLEM = "application/problem+json"

# One PHI-bearing route of each service, read with a token of the right practice and scope.
READ_ROUTES = {
    "claims": "/v1/claims",
    "eligibility": "/v1/eligibility-checks",
    "remittance": "/v1/remittances",
    "denials": "/v1/denials",
    "collections": "/v1/accounts/PAT-1",
}


async def get(stack, service: str, path: str, headers: dict | None = None) -> httpx.Response:
    async with httpx.AsyncClient(base_url=stack.services[service].url, timeout=30) as client:
        return await client.get(path, headers=headers or {})


def assert_unauthorized(response: httpx.Response, *, error: str | None = "invalid_token") -> None:
    assert response.status_code == 401, response.text
    assert response.headers["content-type"] == PROBLEM
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith("Bearer")
    assert (f'error="{error}"' in challenge) if error else ("error=" not in challenge)


@pytest.mark.parametrize("service", sorted(READ_ROUTES))
async def test_every_service_refuses_a_call_without_a_token(stack, service):
    assert_unauthorized(await get(stack, service, READ_ROUTES[service]), error=None)
    # The probes stay open: orchestrators call them without credentials.
    assert (await get(stack, service, "/livez")).status_code == 200


async def test_forged_expired_premature_and_misaddressed_tokens_are_refused(stack, tenant):
    foreign_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    real_kid = stack.issuer.keys.ensure_key().kid
    now = int(time.time())
    forged = jwt.encode({"iss": stack.issuer.url, "aud": "openrcm", "sub": "x", "client_id": "x", "iat": now,
                         "exp": now + 300, "scope": "claims:read", "tenant": tenant}, foreign_key,
                        algorithm="RS256", headers={"kid": real_kid, "typ": "at+jwt"})
    cases = {
        "signature": forged,
        "expired": stack.issuer.mint(tenant, now=now - 7200),
        "not valid yet": stack.issuer.mint(tenant, now=now + 3600),
        "audience": stack.issuer.mint(tenant, audience="another-api"),
        "issuer": stack.issuer.mint(tenant, issuer="https://impostor.example.test"),
    }
    for reason, token in cases.items():
        response = await get(stack, "claims", "/v1/claims", {"Authorization": f"Bearer {token}"})
        assert_unauthorized(response)
        assert reason in response.json()["detail"], (reason, response.json())


async def test_a_token_without_the_routes_scope_is_403(stack, tenant):
    reader = auth_headers(stack, tenant, scopes=["claims:read"])
    async with httpx.AsyncClient(base_url=stack.services["claims"].url, headers=reader, timeout=30) as client:
        assert (await client.get("/v1/claims")).status_code == 200
        refused = await client.post("/v1/encounters", json=encounter())
        assert refused.status_code == 403 and refused.headers["content-type"] == PROBLEM
        assert 'error="insufficient_scope"' in refused.headers["www-authenticate"]
        assert (await client.put("/v1/payers/60054", json=TEST_PAYER)).status_code == 403  # reference:admin
    denials_only = auth_headers(stack, tenant, scopes=["denials:work"])
    assert (await get(stack, "collections", "/v1/accounts/PAT-1", denials_only)).status_code == 403
    assert (await get(stack, "denials", "/v1/denials", denials_only)).status_code == 200


async def test_reserved_and_foreign_practices_cannot_be_selected(stack, tenant):
    company = auth_headers(stack, [tenant, f"{tenant}-b"])
    for name in ("unassigned", "clearinghouse", f"{tenant}-c"):
        response = await get(stack, "remittance", "/v1/remittances", {**company, "X-Tenant-Id": name})
        assert response.status_code == 403, (name, response.text)
    reserved_token = {"Authorization": f"Bearer {stack.issuer.mint('unassigned')}"}
    assert (await get(stack, "remittance", "/v1/remittances", reserved_token)).status_code == 403
    chosen = await get(stack, "claims", "/v1/claims", {**company, "X-Tenant-Id": f"{tenant}-b"})
    assert chosen.status_code == 200


async def test_practice_a_gets_404_for_every_kind_of_practice_b_id(api, stack, tenant):
    """Claim, patient, remittance, denial case and account of practice B, read with A's token."""
    claim = (await api["claims"].post("/v1/encounters", json=encounter())).json()
    posted = await post_when_known(api["remittance"], "/v1/remittances", remittance_for(claim))
    assert posted.status_code == 201, posted.text
    remittance_id = posted.json()["id"]

    async def denial_case():
        cases = (await api["denials"].get("/v1/denials")).json()["items"]
        assert len(cases) == 1, cases
        return cases[0]
    case = await eventually(denial_case, timeout=45)

    async def account():
        response = await api["collections"].get(f"/v1/accounts/{claim['patient_id']}")
        assert response.status_code == 200 and response.json()["balance"] == "20.00", response.text
        return response.json()
    await eventually(account, timeout=45)

    other = auth_headers(stack, f"other-{uuid.uuid4().hex[:8]}")
    for service, path in [
        ("claims", f"/v1/claims/{claim['id']}"),
        ("claims", f"/v1/patients/{claim['patient_id']}"),
        ("remittance", f"/v1/remittances/{remittance_id}"),
        ("remittance", f"/v1/claims/{claim['id']}/ledger"),
        ("denials", f"/v1/denials/{case['id']}"),
    ]:
        assert (await get(stack, service, path, other)).status_code == 404, (service, path)
    foreign_account = await get(stack, "collections", f"/v1/accounts/{claim['patient_id']}", other)
    assert foreign_account.status_code == 404 or foreign_account.json()["balance"] == "0.00", foreign_account.text
    assert (await get(stack, "claims", f"/v1/claims/{claim['id']}", auth_headers(stack, tenant))).status_code == 200


async def test_the_local_issuers_token_endpoint_gives_tokens_the_services_accept(stack):
    clients = {client["client_id"]: client for client in stack.issuer.manifest()["clients"]}
    full = clients["demo-billing"]
    async with httpx.AsyncClient(timeout=30) as client:
        basic = await client.post(stack.issuer.token_url, data={"grant_type": "client_credentials"},
                                  auth=(full["client_id"], full["client_secret"]))
        assert basic.status_code == 200, basic.text
        token = basic.json()["access_token"]
        response = await client.get(f"{stack.services['claims'].url}/v1/claims",
                                    headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 200, response.text

        operations = clients["operations"]
        posted = await client.post(stack.issuer.token_url, data={
            "grant_type": "client_credentials", "client_id": operations["client_id"],
            "client_secret": operations["client_secret"]})
        ops_token = posted.json()["access_token"]
        ops = {"Authorization": f"Bearer {ops_token}", "X-Tenant-Id": "demo-2"}
        assert (await client.get(f"{stack.services['claims'].url}/v1/claims", headers=ops)).status_code == 200
        write = await client.post(f"{stack.services['claims'].url}/v1/encounters", json=encounter(), headers=ops)
        assert write.status_code == 403

        wrong = await client.post(stack.issuer.token_url, data={"grant_type": "client_credentials"},
                                  auth=(full["client_id"], "not-the-secret"))
        assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_client"


async def test_openapi_documents_the_scope_of_every_operation(stack):
    from openrcm_shared.security.authorization import SECURITY_SCHEME_NAME

    for service in READ_ROUTES:
        document = (await get(stack, service, "/openapi.json")).json()
        scheme = document["components"]["securitySchemes"][SECURITY_SCHEME_NAME]
        assert scheme["flows"]["clientCredentials"]["tokenUrl"] == stack.issuer.token_url
        for path, operations in document["paths"].items():
            if not (path.startswith(("/v1/", "/fhir/")) or path == "/fhir") or path.startswith("/v1/webhooks/"):
                continue
            for method, operation in operations.items():
                assert operation.get("security"), (service, method, path)
                [requirement] = operation["security"]
                assert requirement[SECURITY_SCHEME_NAME], (service, method, path)


async def test_a_persons_decision_records_the_tokens_subject(api, stack, tenant):
    """A manual ERA match is recorded as made by the token's `sub`; the body no longer says who."""
    from tests.e2e.test_era_posting import PARTIAL, X12, Era, billed_claim, trace

    claim = await billed_claim(api)
    era = Era(trace=trace())
    era.claim(claim["patient_control_number"] + "X", lines=PARTIAL)  # a PCN the payer mistyped
    held = await api["remittance"].post("/v1/remittances", content=era.x12().encode(), headers=X12)
    assert held.status_code == 202, held.text
    [item] = (await api["remittance"].get("/v1/remittances/unmatched")).json()["items"]
    poster = auth_headers(stack, tenant, subject="poster@clinic.example")
    async with httpx.AsyncClient(base_url=stack.services["remittance"].url, headers=poster, timeout=30) as client:
        says_who = await client.post(f"/v1/remittances/unmatched/{item['id']}/match", json={
            "claim_id": claim["id"], "matched_by": "someone-else", "reason": "typo"})
        assert says_who.status_code == 422  # who decided is not the body's to say
        matched = await client.post(f"/v1/remittances/unmatched/{item['id']}/match",
                                    json={"claim_id": claim["id"], "reason": "payer keyed the PCN with a typo"})
    assert matched.status_code == 200, matched.text
    assert matched.json()["item"]["matched_by"] == "poster@clinic.example"
