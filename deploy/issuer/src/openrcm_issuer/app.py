"""The issuer's HTTP API: the token endpoint (RFC 6749 §4.4, client credentials), the JWKS and the
authorization server metadata (RFC 8414).

    POST /oauth/token                               grant_type=client_credentials[&scope=...]
    GET  /.well-known/jwks.json                     the public signing keys
    GET  /.well-known/oauth-authorization-server    issuer metadata
"""

from __future__ import annotations

import asyncio
import base64
import binascii
from pathlib import Path
from urllib.parse import parse_qs, unquote_plus

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic_settings import BaseSettings, SettingsConfigDict

from openrcm_issuer.clients import Client, ClientRegistry, secret_matches
from openrcm_issuer.keys import ALGORITHM, KeyStore, mint_access_token
from openrcm_shared.security.scopes import SCOPE_DESCRIPTIONS

TOKEN_PATH = "/oauth/token"
JWKS_PATH = "/.well-known/jwks.json"
MAX_FORM_BYTES = 8192


class IssuerSettings(BaseSettings):
    """`OPENRCM_ISSUER_*`."""

    model_config = SettingsConfigDict(env_prefix="OPENRCM_ISSUER_", extra="ignore")

    url: str = "http://127.0.0.1:8020"  # the `iss` of every token, and where this server answers
    audience: str = "openrcm"
    clients_file: Path = Path(".local/auth/clients.json")
    keys_dir: Path = Path(".local/auth/keys")
    token_lifetime_seconds: int = 3600


def _oauth_error(status: int, error: str, description: str, headers: dict | None = None) -> JSONResponse:
    """RFC 6749 §5.2 error response."""
    return JSONResponse({"error": error, "error_description": description}, status_code=status,
                        headers={"Cache-Control": "no-store", "Pragma": "no-cache", **(headers or {})})


def _basic_credentials(header: str | None) -> tuple[str, str] | None:
    """client_secret_basic (RFC 6749 §2.3.1): both parts are form-urlencoded before base64."""
    if not header or not header.lower().startswith("basic "):
        return None
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    client_id, separator, secret = decoded.partition(":")
    if not separator:
        return None
    return unquote_plus(client_id), unquote_plus(secret)


def create_app(settings: IssuerSettings | None = None) -> FastAPI:
    settings = settings or IssuerSettings()
    keys = KeyStore(settings.keys_dir)
    keys.ensure_key()
    clients = ClientRegistry(settings.clients_file)
    app = FastAPI(title="OpenRCM local issuer", version="0.1.0",
                  description="OAuth 2.0 client credentials with JWT access tokens (RFC 9068) for one machine.")

    @app.get("/livez", include_in_schema=False)
    @app.get("/readyz", include_in_schema=False)
    async def alive() -> dict:
        return {"status": "ok"}

    @app.get(JWKS_PATH)
    async def jwks() -> JSONResponse:
        return JSONResponse(keys.jwks(), headers={"Cache-Control": "public, max-age=300"})

    @app.get("/.well-known/oauth-authorization-server")
    async def metadata() -> dict:
        base = settings.url.rstrip("/")
        return {
            "issuer": settings.url, "token_endpoint": base + TOKEN_PATH, "jwks_uri": base + JWKS_PATH,
            "grant_types_supported": ["client_credentials"], "response_types_supported": ["token"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "token_endpoint_auth_signing_alg_values_supported": [ALGORITHM],
            "scopes_supported": sorted(SCOPE_DESCRIPTIONS),
        }

    @app.post(TOKEN_PATH)
    async def token(request: Request) -> JSONResponse:
        if not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
            return _oauth_error(400, "invalid_request", "send the parameters form-encoded "
                                "(application/x-www-form-urlencoded)")
        body = await request.body()
        if len(body) > MAX_FORM_BYTES:
            return _oauth_error(400, "invalid_request", "the request is too large")
        form = {name: values[0] for name, values in parse_qs(body.decode("utf-8", "replace")).items()}
        basic = _basic_credentials(request.headers.get("authorization"))
        client = await _authenticate(clients, basic, form)
        if client is None:
            headers = {"WWW-Authenticate": 'Basic realm="openrcm"'} if basic else None
            return _oauth_error(401, "invalid_client", "client authentication failed", headers)
        if form.get("grant_type") != "client_credentials":
            return _oauth_error(400, "unsupported_grant_type", "only client_credentials is supported")
        requested = form.get("scope", "").split() or client.scopes
        if not set(requested) <= set(client.scopes):
            return _oauth_error(400, "invalid_scope", "the client may not request "
                                + " ".join(sorted(set(requested) - set(client.scopes))))
        access_token = mint_access_token(
            keys.ensure_key(), issuer=settings.url, audience=settings.audience, subject=client.token_subject,
            client_id=client.client_id, scopes=requested, tenants=client.tenants,
            lifetime_seconds=settings.token_lifetime_seconds)
        return JSONResponse({"access_token": access_token, "token_type": "Bearer",
                             "expires_in": settings.token_lifetime_seconds, "scope": " ".join(requested)},
                            headers={"Cache-Control": "no-store", "Pragma": "no-cache"})

    return app


async def _authenticate(clients: ClientRegistry, basic: tuple[str, str] | None, form: dict) -> Client | None:
    """client_secret_basic or client_secret_post (one of them, RFC 6749 §2.3)."""
    if basic is not None:
        client_id, secret = basic
    else:
        client_id, secret = form.get("client_id"), form.get("client_secret")
    if not client_id or not secret:
        return None
    client = clients.get(client_id)
    if client is None:
        return None
    # scrypt takes ~50 ms: off the event loop, so other clients' requests are not held up.
    matches = await asyncio.to_thread(secret_matches, secret, client.secret_hash)
    return client if matches else None
