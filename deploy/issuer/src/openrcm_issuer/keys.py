"""The issuer's signing keys: RSA key pairs in a folder, the newest signs, all are published.

Rotation (`openrcm-issuer rotate-key`) adds a key; tokens signed with older keys stay valid until
they expire because the JWKS still lists those keys, and services pick up the new key by its `kid`
without a restart. `retire` removes a key once no live token can carry it.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

ALGORITHM = "RS256"
# RFC 9068 §2.1: access tokens are typed, so they cannot be confused with ID tokens.
ACCESS_TOKEN_TYPE = "at+jwt"


@dataclass(frozen=True)
class SigningKey:
    kid: str
    private_key: rsa.RSAPrivateKey
    created: float

    def public_jwk(self) -> dict:
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.private_key.public_key()))
        return {**jwk, "kid": self.kid, "use": "sig", "alg": ALGORITHM}


def _kid(private_key: rsa.RSAPrivateKey) -> str:
    """RFC 7638-style thumbprint of the public key: stable, and says nothing about the key's origin."""
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(private_key.public_key()))
    canonical = json.dumps({"e": jwk["e"], "kty": "RSA", "n": jwk["n"]}, separators=(",", ":"), sort_keys=True)
    return base64.urlsafe_b64encode(hashlib.sha256(canonical.encode()).digest()).decode().rstrip("=")


class KeyStore:
    """PEM private keys in `folder` (created 0700, files 0600)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def keys(self) -> list[SigningKey]:
        found = []
        for path in sorted(self.folder.glob("*.pem")):
            private_key = serialization.load_pem_private_key(path.read_bytes(), password=None)
            found.append(SigningKey(_kid(private_key), private_key, path.stat().st_mtime))
        return sorted(found, key=lambda key: key.created)

    def ensure_key(self) -> SigningKey:
        """The current signing key, generating the first one when the folder has none."""
        keys = self.keys()
        return keys[-1] if keys else self.rotate()

    def rotate(self) -> SigningKey:
        """Generate a new key; it signs from now on, the older ones stay published."""
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = private_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                        serialization.NoEncryption())
        path = self.folder / f"{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:8]}.pem"
        path.touch(mode=0o600)
        path.write_bytes(pem)
        return SigningKey(_kid(private_key), private_key, path.stat().st_mtime)

    def retire(self, kid: str) -> bool:
        for path in self.folder.glob("*.pem"):
            if _kid(serialization.load_pem_private_key(path.read_bytes(), password=None)) == kid:
                path.unlink()
                return True
        return False

    def jwks(self) -> dict:
        return {"keys": [key.public_jwk() for key in self.keys()]}


def mint_access_token(key: SigningKey, *, issuer: str, audience: str, subject: str, client_id: str,
                      scopes: list[str] | tuple[str, ...], tenants: list[str] | tuple[str, ...],
                      lifetime_seconds: int = 3600, now: float | None = None, extra: dict | None = None) -> str:
    """A signed RFC 9068 access token. The practice claim is a string for one practice and a list
    for a billing company's token serving several."""
    issued_at = int(time.time() if now is None else now)
    claims = {
        "iss": issuer, "sub": subject, "aud": audience, "client_id": client_id,
        "iat": issued_at, "nbf": issued_at, "exp": issued_at + lifetime_seconds, "jti": str(uuid.uuid4()),
        "scope": " ".join(scopes),
        "tenant": tenants[0] if len(tenants) == 1 else list(tenants),
        **(extra or {}),
    }
    return jwt.encode(claims, key.private_key, algorithm=ALGORITHM, headers={"kid": key.kid, "typ": ACCESS_TOKEN_TYPE})
