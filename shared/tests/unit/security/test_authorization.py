"""Route authorization: 401 with RFC 6750 challenges, 403 for a missing scope or practice, the
practice bound for the rest of the request, and OpenAPI that documents each route's scope."""

from __future__ import annotations

import httpx
import pytest
from fastapi import APIRouter, FastAPI, Request

from openrcm_shared.http.problems import install_problem_handlers
from openrcm_shared.security.authorization import (
    SECURITY_SCHEME_NAME, Authorizer, OperationsGateMiddleware, authorize, requires, security_doc,
)
from openrcm_shared.security.context import Principal, current_caller, current_tenant
from openrcm_shared.security.tokens import AuthSettings, InvalidToken

TOKENS = {
    "reader-a": Principal("user-1", "ehr-1", frozenset({"claims:read"}), ("practice-a",)),
    "company": Principal("user-2", "biller", frozenset({"claims:read"}), ("practice-a", "practice-b")),
    "reserved": Principal("user-3", "x", frozenset({"claims:read"}), ("unassigned",)),
    "ops": Principal("ops", "ops", frozenset({"ops:read"}), ("practice-a",)),
}


class FakeVerifier:
    async def verify(self, token: str) -> Principal:
        try:
            return TOKENS[token]
        except KeyError:
            raise InvalidToken("the token's signature does not verify") from None


def app(**settings) -> FastAPI:
    application = FastAPI()
    auth = AuthSettings(issuer="https://issuer.test", jwks_url="https://issuer.test/jwks", **settings)
    application.state.authorizer = Authorizer(auth, FakeVerifier())
    install_problem_handlers(application)
    router = APIRouter(prefix="/v1")

    @router.get("/claims")
    async def claims(tenant_id: requires("claims:read")) -> dict:
        caller = current_caller()
        return {"tenant": tenant_id, "bound": current_tenant(), "actor": caller.actor}

    @router.post("/claims", openapi_extra=security_doc("claims:write"))
    async def post_claim(request: Request) -> dict:
        return {"tenant": (await authorize(request, "claims:write")).tenant_id}

    application.include_router(router)
    application.add_middleware(OperationsGateMiddleware, authorizer=application.state.authorizer)
    return application


async def call(application: FastAPI, method: str, path: str, token: str | None = None, **headers) -> httpx.Response:
    if token:
        headers["Authorization"] = f"Bearer {token}"
    async with httpx.AsyncClient(transport=httpx.ASGITransport(application), base_url="http://test") as client:
        return await client.request(method, path, headers=headers)


async def test_no_token_is_401_with_a_bare_bearer_challenge():
    response = await call(app(), "GET", "/v1/claims")
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["www-authenticate"] == 'Bearer realm="openrcm"'


async def test_a_bad_token_is_401_invalid_token():
    response = await call(app(), "GET", "/v1/claims", "forged")
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["www-authenticate"]
    assert "signature" in response.json()["detail"]


async def test_a_basic_header_is_not_a_bearer_token():
    response = await call(app(), "GET", "/v1/claims", Authorization="Basic Zm9vOmJhcg==")
    assert response.status_code == 401 and 'error="invalid_token"' in response.headers["www-authenticate"]


async def test_the_practice_comes_from_the_token_and_is_bound():
    response = await call(app(), "GET", "/v1/claims", "reader-a")
    assert response.json() == {"tenant": "practice-a", "bound": "practice-a", "actor": "user-1"}


async def test_a_missing_scope_is_403_insufficient_scope():
    response = await call(app(), "POST", "/v1/claims", "reader-a")
    assert response.status_code == 403
    assert response.headers["www-authenticate"] == 'Bearer realm="openrcm", error="insufficient_scope", scope="claims:write"'


async def test_naming_another_practice_is_403():
    response = await call(app(), "GET", "/v1/claims", "reader-a", **{"X-Tenant-Id": "practice-b"})
    assert response.status_code == 403
    assert response.json()["errors"][0]["pointer"] == "/header/X-Tenant-Id"


async def test_a_billing_company_selects_one_of_its_practices():
    assert (await call(app(), "GET", "/v1/claims", "company", **{"X-Tenant-Id": "practice-b"})).json()["tenant"] == \
        "practice-b"
    unselected = await call(app(), "GET", "/v1/claims", "company")
    assert unselected.status_code == 400 and unselected.json()["errors"][0]["pointer"] == "/header/X-Tenant-Id"
    assert (await call(app(), "GET", "/v1/claims", "company", **{"X-Tenant-Id": "practice-c"})).status_code == 403


@pytest.mark.parametrize("name", ["unassigned", "clearinghouse", "system"])
async def test_reserved_practices_cannot_be_selected(name):
    assert (await call(app(), "GET", "/v1/claims", "company", **{"X-Tenant-Id": name})).status_code == 403
    assert (await call(app(), "GET", "/v1/claims", "reserved")).status_code == 403


async def test_docs_and_metrics_are_closed_unless_opened():
    closed = app()
    assert (await call(closed, "GET", "/openapi.json")).status_code == 401
    assert (await call(closed, "GET", "/openapi.json", "reader-a")).status_code == 403
    assert (await call(closed, "GET", "/openapi.json", "ops")).status_code == 200
    assert (await call(app(open_docs=True), "GET", "/openapi.json")).status_code == 200


async def test_openapi_documents_the_scheme_and_each_operations_scope():
    document = (await call(app(open_docs=True), "GET", "/openapi.json")).json()
    scheme = document["components"]["securitySchemes"][SECURITY_SCHEME_NAME]
    assert "claims:write" in scheme["flows"]["clientCredentials"]["scopes"]
    assert document["paths"]["/v1/claims"]["get"]["security"] == [{SECURITY_SCHEME_NAME: ["claims:read"]}]
    assert document["paths"]["/v1/claims"]["post"]["security"] == [{SECURITY_SCHEME_NAME: ["claims:write"]}]


async def test_a_service_without_an_issuer_refuses_to_start():
    from openrcm_shared.service import ServiceDefinition, create_service_app
    from openrcm_shared.settings import ServiceSettings

    definition = ServiceDefinition("unconfigured", "t", "d", "thing", routers=[])
    service = create_service_app(definition, ServiceSettings(database_url="postgresql://nobody@127.0.0.1:1/none"),
                                 AuthSettings(issuer="", jwks_url=""))
    with pytest.raises(RuntimeError, match="OPENRCM_AUTH_ISSUER"):
        async with service.router.lifespan_context(service):
            pass
