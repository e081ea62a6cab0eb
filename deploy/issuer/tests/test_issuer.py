"""The local issuer: client credentials by both client authentication methods, RFC 6749 errors,
tokens the services' verifier accepts, JWKS rotation, and secrets never stored in the clear."""

from __future__ import annotations

import base64
import json

import httpx
import pytest

from openrcm_issuer.app import IssuerSettings, create_app
from openrcm_issuer.clients import ClientRegistry, hash_secret, secret_matches
from openrcm_issuer.keys import KeyStore
from openrcm_shared.security.tokens import AuthSettings, InvalidToken, JwksKeys, TokenVerifier

ISSUER = "http://issuer.test"
FORM = {"content-type": "application/x-www-form-urlencoded"}


@pytest.fixture
def issuer(tmp_path):
    settings = IssuerSettings(url=ISSUER, clients_file=tmp_path / "clients.json", keys_dir=tmp_path / "keys")
    secret = ClientRegistry(settings.clients_file).add(client_id="ehr-a", tenants=["practice-a"],
                                                        scopes=["claims:write", "claims:read"])
    app = create_app(settings)
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url=ISSUER)
    return settings, secret, client


def basic(client_id: str, secret: str) -> dict:
    return {"Authorization": "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()}


def verifier(client: httpx.AsyncClient) -> TokenVerifier:
    auth = AuthSettings(issuer=ISSUER, jwks_url=f"{ISSUER}/.well-known/jwks.json")
    return TokenVerifier(auth, JwksKeys(auth.jwks_url, min_refetch_seconds=0, client=client))


async def test_client_secret_basic_gets_a_token_the_services_accept(issuer):
    settings, secret, client = issuer
    response = await client.post("/oauth/token", content="grant_type=client_credentials",
                                 headers={**FORM, **basic("ehr-a", secret)})
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3600
    principal = await verifier(client).verify(body["access_token"])
    assert principal.client_id == "ehr-a" and principal.subject == "ehr-a"
    assert principal.tenants == ("practice-a",) and principal.scopes == {"claims:write", "claims:read"}
    assert principal.token_id


async def test_client_secret_post_and_a_narrower_scope(issuer):
    _, secret, client = issuer
    response = await client.post("/oauth/token", headers=FORM, content=(
        f"grant_type=client_credentials&client_id=ehr-a&client_secret={secret}&scope=claims%3Aread"))
    assert response.status_code == 200 and response.json()["scope"] == "claims:read"
    assert (await verifier(client).verify(response.json()["access_token"])).scopes == {"claims:read"}


@pytest.mark.parametrize(("form", "headers", "status", "error"), [
    ("grant_type=client_credentials&client_id=ehr-a&client_secret=wrong", {}, 401, "invalid_client"),
    ("grant_type=client_credentials&client_id=nobody&client_secret=x", {}, 401, "invalid_client"),
    ("grant_type=client_credentials", {}, 401, "invalid_client"),
    ("grant_type=password&client_id=ehr-a&client_secret={secret}", {}, 400, "unsupported_grant_type"),
    ("grant_type=client_credentials&client_id=ehr-a&client_secret={secret}&scope=audit%3Aread", {}, 400,
     "invalid_scope"),
])
async def test_oauth_errors(issuer, form, headers, status, error):
    _, secret, client = issuer
    response = await client.post("/oauth/token", content=form.format(secret=secret), headers={**FORM, **headers})
    assert response.status_code == status and response.json()["error"] == error


async def test_a_wrong_basic_secret_is_challenged(issuer):
    _, _, client = issuer
    response = await client.post("/oauth/token", content="grant_type=client_credentials",
                                 headers={**FORM, **basic("ehr-a", "wrong")})
    assert response.status_code == 401 and response.headers["www-authenticate"].startswith("Basic")


async def test_json_bodies_are_not_the_token_request_format(issuer):
    _, secret, client = issuer
    response = await client.post("/oauth/token", json={"grant_type": "client_credentials"})
    assert response.status_code == 400 and response.json()["error"] == "invalid_request"


async def test_metadata_names_the_endpoints(issuer):
    _, _, client = issuer
    metadata = (await client.get("/.well-known/oauth-authorization-server")).json()
    assert metadata["issuer"] == ISSUER and metadata["token_endpoint"] == f"{ISSUER}/oauth/token"
    assert metadata["jwks_uri"] == f"{ISSUER}/.well-known/jwks.json"
    assert set(metadata["token_endpoint_auth_methods_supported"]) == {"client_secret_basic", "client_secret_post"}
    assert "claims:write" in metadata["scopes_supported"]


async def test_key_rotation_keeps_old_tokens_valid_and_signs_with_the_new_key(issuer):
    settings, secret, client = issuer
    check = verifier(client)

    async def new_token() -> str:
        response = await client.post("/oauth/token", content="grant_type=client_credentials",
                                     headers={**FORM, **basic("ehr-a", secret)})
        return response.json()["access_token"]

    old = await new_token()
    await check.verify(old)
    new_kid = KeyStore(settings.keys_dir).rotate().kid
    fresh = await new_token()
    import jwt
    assert jwt.get_unverified_header(fresh)["kid"] == new_kid
    assert (await check.verify(fresh)).client_id == "ehr-a"
    assert len((await client.get("/.well-known/jwks.json")).json()["keys"]) == 2
    old_kid = jwt.get_unverified_header(old)["kid"]
    assert KeyStore(settings.keys_dir).retire(old_kid)
    with pytest.raises(InvalidToken, match="unknown key"):
        await verifier(client).verify(old)


def test_secrets_are_stored_hashed(tmp_path):
    registry = ClientRegistry(tmp_path / "clients.json")
    secret = registry.add(client_id="c", tenants=["t"], scopes=["claims:read"])
    stored = (tmp_path / "clients.json").read_text()
    assert secret not in stored and json.loads(stored)["clients"][0]["secret_hash"].startswith("scrypt$")
    assert (tmp_path / "clients.json").stat().st_mode & 0o077 == 0
    assert secret_matches(secret, registry.get("c").secret_hash)
    assert not secret_matches(secret + "x", registry.get("c").secret_hash)
    assert not secret_matches(secret, "garbage") and secret_matches("s", hash_secret("s"))


def test_the_local_stacks_demo_clients_follow_the_shipped_definitions_keeping_their_secrets(tmp_path):
    from openrcm_devstack.auth import DEMO_CLIENTS, LocalIssuer
    from openrcm_shared.security.scopes import PRACTICE_SCOPES

    local = LocalIssuer(state_dir=tmp_path, port=1)
    first = {client["client_id"]: client for client in local.ensure_demo_clients()}
    assert set(first) == {client["client_id"] for client in DEMO_CLIENTS}
    assert "codesets:admin" not in first["demo-billing"]["scopes"] == list(PRACTICE_SCOPES)
    assert "codesets:admin" in first["platform-operations"]["scopes"]

    # A state folder from before: every scope for the practice's client, no platform operator.
    demo_file = tmp_path / "demo-clients.json"
    older = [dict(client, scopes=[*client["scopes"], "codesets:admin"]) for client in first.values()
             if client["client_id"] != "platform-operations"]
    demo_file.write_text(json.dumps(older))
    again = {client["client_id"]: client for client in local.ensure_demo_clients()}
    assert again["demo-billing"] == first["demo-billing"]  # same secret, the practice's scopes only
    assert again["platform-operations"]["client_secret"]
    registered = {client.client_id: client for client in ClientRegistry(local.clients_file).all()}
    assert "codesets:admin" not in registered["demo-billing"].scopes
    assert secret_matches(first["demo-billing"]["client_secret"], registered["demo-billing"].secret_hash)
    assert local.ensure_demo_clients() == list(again.values())  # nothing to change the next time
