"""Access-token verification: every way a token can be unacceptable is refused, and keys rotate."""

from __future__ import annotations

import json
import time

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from openrcm_shared.security.tokens import AuthSettings, InvalidToken, JwksKeys, TokenVerifier

ISSUER = "https://issuer.example.test"
JWKS_URL = ISSUER + "/.well-known/jwks.json"


def rsa_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def public_jwk(private_key, kid: str) -> dict:
    algorithm = jwt.algorithms.RSAAlgorithm if isinstance(private_key, rsa.RSAPrivateKey) else jwt.algorithms.ECAlgorithm
    return {**json.loads(algorithm.to_jwk(private_key.public_key())), "kid": kid, "use": "sig"}


class FakeIssuer:
    """The issuer's JWKS endpoint over an in-process transport; counts fetches."""

    def __init__(self, keys: dict) -> None:
        self.keys = dict(keys)
        self.fetches = 0

    def transport(self) -> httpx.MockTransport:
        def handle(request: httpx.Request) -> httpx.Response:
            self.fetches += 1
            return httpx.Response(200, json={"keys": [public_jwk(k, kid) for kid, k in self.keys.items()]})
        return httpx.MockTransport(handle)


def token(private_key, kid="k1", *, alg="RS256", typ="at+jwt", **claims) -> str:
    now = int(time.time())
    body = {"iss": ISSUER, "aud": "openrcm", "sub": "user-1", "client_id": "ehr-1", "iat": now, "exp": now + 300,
            "jti": "t-1", "scope": "claims:read claims:write", "tenant": "practice-a"}
    body.update(claims)
    body = {k: v for k, v in body.items() if v is not None}
    return jwt.encode(body, private_key, algorithm=alg, headers={"kid": kid, "typ": typ})


def verifier(issuer: FakeIssuer, **settings) -> TokenVerifier:
    auth = AuthSettings(issuer=ISSUER, jwks_url=JWKS_URL, **settings)
    keys = JwksKeys(JWKS_URL, min_refetch_seconds=settings.get("jwks_min_refetch_seconds", 0),
                    client=httpx.AsyncClient(transport=issuer.transport()))
    return TokenVerifier(auth, keys)


@pytest.fixture(scope="module")
def key():
    return rsa_key()


async def test_a_good_token_gives_its_principal(key):
    principal = await verifier(FakeIssuer({"k1": key})).verify(token(key))
    assert principal.subject == "user-1" and principal.client_id == "ehr-1"
    assert principal.scopes == {"claims:read", "claims:write"} and principal.tenants == ("practice-a",)
    assert principal.token_id == "t-1"


async def test_a_billing_companys_token_names_several_practices(key):
    principal = await verifier(FakeIssuer({"k1": key})).verify(token(key, tenant=["a", "b"]))
    assert principal.tenants == ("a", "b")


@pytest.mark.parametrize(("claims", "reason"), [
    ({"exp": int(time.time()) - 120}, "expired"),
    ({"nbf": int(time.time()) + 600}, "not valid yet"),
    ({"iss": "https://other.example.test"}, "another issuer"),
    ({"aud": "someone-else"}, "audience"),
    ({"sub": None}, "sub"),
    ({"exp": None}, "exp"),
])
async def test_unacceptable_claims_are_refused(key, claims, reason):
    with pytest.raises(InvalidToken, match=reason):
        await verifier(FakeIssuer({"k1": key})).verify(token(key, **claims))


async def test_a_token_signed_by_another_key_under_a_known_kid_is_refused(key):
    with pytest.raises(InvalidToken, match="signature"):
        await verifier(FakeIssuer({"k1": key})).verify(token(rsa_key(), "k1"))


async def test_symmetric_and_unsigned_tokens_are_refused(key):
    hs = jwt.encode({"iss": ISSUER, "aud": "openrcm", "sub": "x", "iat": 1, "exp": 2**40}, "a-shared-secret-of-thirty-two-bytes!", algorithm="HS256",
                    headers={"kid": "k1", "typ": "at+jwt"})
    unsigned = jwt.encode({"iss": ISSUER, "aud": "openrcm", "sub": "x", "iat": 1, "exp": 2**40}, None,
                          algorithm="none", headers={"kid": "k1", "typ": "at+jwt"})
    for bad in (hs, unsigned, "not-a-jwt", ""):
        with pytest.raises(InvalidToken):
            await verifier(FakeIssuer({"k1": key})).verify(bad)


async def test_the_access_token_type_is_checked_unless_relaxed(key):
    with pytest.raises(InvalidToken, match="access token"):
        await verifier(FakeIssuer({"k1": key})).verify(token(key, typ="JWT"))
    assert (await verifier(FakeIssuer({"k1": key}), required_type="").verify(token(key, typ="JWT"))).subject == "user-1"


async def test_es256_tokens_verify():
    ec_key = ec.generate_private_key(ec.SECP256R1())
    principal = await verifier(FakeIssuer({"e1": ec_key})).verify(token(ec_key, "e1", alg="ES256"))
    assert principal.subject == "user-1"


async def test_a_rotated_key_is_fetched_once_by_its_kid(key):
    issuer = FakeIssuer({"k1": key})
    check = verifier(issuer)
    await check.verify(token(key))
    assert issuer.fetches == 1
    new_key = rsa_key()
    issuer.keys["k2"] = new_key
    assert (await check.verify(token(new_key, "k2", jti="t-2"))).token_id == "t-2"
    assert issuer.fetches == 2
    await check.verify(token(key, jti="t-3"))  # still known: no fetch
    assert issuer.fetches == 2


async def test_unknown_kids_cannot_hammer_the_issuer(key):
    issuer = FakeIssuer({"k1": key})
    check = verifier(issuer, jwks_min_refetch_seconds=60)
    await check.verify(token(key))
    for attempt in range(5):
        with pytest.raises(InvalidToken, match="unknown key"):
            await check.verify(token(rsa_key(), f"forged-{attempt}"))
    assert issuer.fetches == 1


async def test_a_verified_token_is_not_verified_again_until_it_expires(key, monkeypatch):
    issuer = FakeIssuer({"k1": key})
    check = verifier(issuer)
    good = token(key)
    await check.verify(good)
    calls = []
    monkeypatch.setattr(jwt, "decode", lambda *a, **k: calls.append(1))
    assert (await check.verify(good)).subject == "user-1" and calls == []


async def test_a_cached_token_still_expires(key):
    check = verifier(FakeIssuer({"k1": key}), leeway_seconds=0)
    expires = int(time.time()) + 2  # whole seconds: at least one second left to verify it first
    short = token(key, exp=expires)
    await check.verify(short)
    time.sleep(max(0.0, expires - time.time()) + 0.1)
    with pytest.raises(InvalidToken, match="expired"):
        await check.verify(short)


async def test_entra_style_scp_and_azp_claims_are_understood(key):
    principal = await verifier(FakeIssuer({"k1": key})).verify(
        token(key, scope=None, scp="claims:read", client_id=None, azp="app-7"))
    assert principal.scopes == {"claims:read"} and principal.client_id == "app-7"
