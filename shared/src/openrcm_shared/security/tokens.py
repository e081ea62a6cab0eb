"""Verification of OAuth 2.0 JWT access tokens (RFC 9068) against an issuer's JWKS.

Any standards-compliant issuer works (the project's local issuer, Keycloak, Auth0, Entra ID…): a
deployment names its issuer (`OPENRCM_AUTH_ISSUER`), where its signing keys are published
(`OPENRCM_AUTH_JWKS_URL`) and the audience our APIs answer to (`OPENRCM_AUTH_AUDIENCE`).

Guarantees:
* only asymmetric signatures (RS256, ES256) are accepted, never `none` or HMAC (a public key can't
  be used as an HMAC secret: the algorithm comes from our list, not from the token);
* `iss`, `aud`, `exp`, `iat` and `sub` are required and checked (`nbf` when present), with a small
  clock-skew leeway;
* keys are looked up by `kid` in a cached JWKS; a token signed with a key the cache does not know
  makes one refetch (at most every `jwks_min_refetch_seconds`), so an issuer's key rotation is
  picked up without a restart, and a flood of forged `kid`s cannot hammer the issuer;
* a verified token's principal is cached until the token expires (an EHR sends the same token with
  every request for an hour; an RSA verification costs ~40 us of CPU, the cache lookup ~1 us).
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

import httpx
import jwt
from pydantic_settings import BaseSettings, SettingsConfigDict

from openrcm_shared.security.context import Principal

log = logging.getLogger(__name__)

ALLOWED_ALGORITHMS = ("RS256", "ES256")
_REQUIRED_CLAIMS = ["iss", "aud", "exp", "iat", "sub"]


class AuthSettings(BaseSettings):
    """`OPENRCM_AUTH_*`: which issuer's tokens a service accepts, and what stays open."""

    model_config = SettingsConfigDict(env_prefix="OPENRCM_AUTH_", extra="ignore")

    issuer: str = ""  # the `iss` tokens must carry
    jwks_url: str = ""  # where the issuer publishes its signing keys
    audience: str = "openrcm"  # the `aud` tokens must be meant for
    tenant_claim: str = "tenant"  # the claim naming the practice (a string, or a list of them)
    # RFC 9068 §4: resource servers check the `typ` header is `at+jwt`; some issuers still write
    # `JWT` for access tokens, so a deployment can relax it (empty: not checked).
    required_type: str = "at+jwt"
    token_url: str = ""  # the issuer's token endpoint, shown in OpenAPI (default: <issuer>/oauth/token)
    leeway_seconds: int = 30
    jwks_cache_seconds: int = 300
    jwks_min_refetch_seconds: int = 10
    # /docs, /openapi.json and /metrics: open (loopback development) or behind a token with ops:read.
    open_docs: bool = False
    open_metrics: bool = False

    @property
    def token_endpoint(self) -> str:
        return self.token_url or self.issuer.rstrip("/") + "/oauth/token"

    @property
    def configured(self) -> bool:
        return bool(self.issuer and self.jwks_url)


class InvalidToken(Exception):
    """The bearer token is not acceptable (RFC 6750 `invalid_token`); the message says why, without the token."""


@dataclass(slots=True)
class _CachedPrincipal:
    principal: Principal
    expires_at: float


class JwksKeys:
    """The issuer's public keys by `kid`, fetched over HTTP and cached."""

    def __init__(self, url: str, *, cache_seconds: int = 300, min_refetch_seconds: int = 10,
                 client: httpx.AsyncClient | None = None) -> None:
        self.url = url
        self.cache_seconds = cache_seconds
        self.min_refetch_seconds = min_refetch_seconds
        self._client = client
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at = float("-inf")
        self._lock = asyncio.Lock()

    async def key(self, kid: str | None) -> jwt.PyJWK:
        now = time.monotonic()
        if now - self._fetched_at > self.cache_seconds or (kid not in self._keys and
                                                           now - self._fetched_at > self.min_refetch_seconds):
            await self._refresh()
        if kid is None and len(self._keys) == 1:  # an issuer with one key may leave kid out
            return next(iter(self._keys.values()))
        try:
            return self._keys[kid]
        except KeyError:
            raise InvalidToken("the token is signed with an unknown key") from None

    async def _refresh(self) -> None:
        async with self._lock:
            if time.monotonic() - self._fetched_at <= self.min_refetch_seconds:
                return  # another request refreshed while this one waited
            try:
                client = self._client or httpx.AsyncClient(timeout=5)
                try:
                    response = await client.get(self.url)
                    response.raise_for_status()
                    document = response.json()
                finally:
                    if self._client is None:
                        await client.aclose()
                self._keys = _signing_keys(document)
            except Exception as error:  # keep the keys we had; the next unknown kid tries again
                log.warning("JWKS fetch failed", extra={"error_class": type(error).__name__})
            finally:
                self._fetched_at = time.monotonic()


def _signing_keys(document: dict) -> dict[str, jwt.PyJWK]:
    """The JWKS's asymmetric signing keys by kid; keys for encryption or of other types are skipped."""
    keys = {}
    for entry in document.get("keys", []):
        if entry.get("use", "sig") != "sig" or entry.get("kty") not in ("RSA", "EC"):
            continue
        try:
            key = jwt.PyJWK.from_dict(entry)
        except jwt.PyJWTError:
            continue
        keys[entry.get("kid")] = key
    return keys


class TokenVerifier:
    """Turns a bearer token into a `Principal`, or raises `InvalidToken`."""

    MAX_CACHED = 10_000

    def __init__(self, settings: AuthSettings, keys: JwksKeys | None = None) -> None:
        self.settings = settings
        self.keys = keys or JwksKeys(settings.jwks_url, cache_seconds=settings.jwks_cache_seconds,
                                     min_refetch_seconds=settings.jwks_min_refetch_seconds)
        self._verified: dict[str, _CachedPrincipal] = {}

    async def verify(self, token: str) -> Principal:
        cached = self._verified.get(token)
        if cached is not None and time.time() < cached.expires_at:
            return cached.principal
        principal, expires_at = await self._verify_signed(token)
        if len(self._verified) >= self.MAX_CACHED:
            self._verified.clear()  # simple and bounded: the live tokens are verified again once
        self._verified[token] = _CachedPrincipal(principal, expires_at)
        return principal

    async def _verify_signed(self, token: str) -> tuple[Principal, float]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise InvalidToken("the token is not a JWT") from None
        if header.get("alg") not in ALLOWED_ALGORITHMS:
            raise InvalidToken("the token's signing algorithm is not accepted (RS256 or ES256)")
        required_type = self.settings.required_type
        if required_type and str(header.get("typ", "")).lower() not in (required_type,
                                                                        "application/" + required_type):
            raise InvalidToken(f"the token is not an access token (typ {required_type})")
        key = await self.keys.key(header.get("kid"))
        try:
            claims = jwt.decode(
                token, key=key.key, algorithms=list(ALLOWED_ALGORITHMS), audience=self.settings.audience,
                issuer=self.settings.issuer, leeway=self.settings.leeway_seconds,
                options={"require": _REQUIRED_CLAIMS})
        except jwt.ExpiredSignatureError:
            raise InvalidToken("the token has expired") from None
        except jwt.ImmatureSignatureError:
            raise InvalidToken("the token is not valid yet") from None
        except jwt.InvalidAudienceError:
            raise InvalidToken("the token is not meant for this API (audience)") from None
        except jwt.InvalidIssuerError:
            raise InvalidToken("the token comes from another issuer") from None
        except jwt.MissingRequiredClaimError as missing:
            raise InvalidToken(f"the token lacks the {missing.claim} claim") from None
        except jwt.InvalidSignatureError:
            raise InvalidToken("the token's signature does not verify") from None
        except jwt.PyJWTError:
            raise InvalidToken("the token is malformed") from None
        return self._principal(claims), float(claims["exp"])

    def _principal(self, claims: dict) -> Principal:
        return Principal(
            subject=str(claims["sub"]),
            # RFC 9068 names it client_id; Auth0 and Entra ID write azp (or appid).
            client_id=str(claims.get("client_id") or claims.get("azp") or claims.get("appid") or claims["sub"]),
            scopes=frozenset(_scopes(claims)),
            tenants=_tenants(claims.get(self.settings.tenant_claim)),
            token_id=claims.get("jti"),
            issuer=claims.get("iss"),
        )


def _scopes(claims: dict) -> list[str]:
    """RFC 9068's `scope` (space-separated); Entra ID writes `scp`, sometimes as a list."""
    raw = claims.get("scope", claims.get("scp", ""))
    if isinstance(raw, str):
        return raw.split()
    if isinstance(raw, list):
        return [str(scope) for scope in raw]
    return []


def _tenants(raw) -> tuple[str, ...]:
    if isinstance(raw, str):
        return (raw,) if raw else ()
    if isinstance(raw, list):
        return tuple(str(tenant) for tenant in raw if isinstance(tenant, str) and tenant)
    return ()
