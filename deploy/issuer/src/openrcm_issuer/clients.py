"""The registered OAuth clients, from a JSON file; secrets are stored hashed (scrypt).

    {"clients": [{"client_id": "ehr-demo", "secret_hash": "scrypt$...", "subject": "ehr-demo",
                  "tenants": ["demo"], "scopes": ["claims:write", "claims:read"], "name": "Demo EHR"}]}

The file is read again when it changes, so `openrcm-issuer add-client` takes effect without a restart.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
from dataclasses import asdict, dataclass, field
from pathlib import Path

# scrypt cost (RFC 7914): N=2^14, r=8, p=1 is ~50 ms and 16 MiB per check on one core, which a
# client pays once per token (an hour), and an attacker with the file pays per guess.
_N, _R, _P = 2**14, 8, 1


def hash_secret(secret: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(secret.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=32)
    return "$".join(["scrypt", str(_N), str(_R), str(_P), base64.b64encode(salt).decode(),
                     base64.b64encode(digest).decode()])


def secret_matches(secret: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        candidate = hashlib.scrypt(secret.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p),
                                   dklen=32)
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(candidate, base64.b64decode(digest))


@dataclass
class Client:
    client_id: str
    secret_hash: str
    tenants: list[str]
    scopes: list[str]
    subject: str = ""
    name: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def token_subject(self) -> str:
        return self.subject or self.client_id


class ClientRegistry:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._mtime: float | None = None
        self._clients: dict[str, Client] = {}

    def get(self, client_id: str) -> Client | None:
        self._reload_if_changed()
        return self._clients.get(client_id)

    def all(self) -> list[Client]:
        self._reload_if_changed()
        return list(self._clients.values())

    def _reload_if_changed(self) -> None:
        try:
            mtime = self.path.stat().st_mtime
        except FileNotFoundError:
            self._clients, self._mtime = {}, None
            return
        if mtime != self._mtime:
            document = json.loads(self.path.read_text())
            self._clients = {entry["client_id"]: Client(**entry) for entry in document.get("clients", [])}
            self._mtime = mtime

    def add(self, *, client_id: str, tenants: list[str], scopes: list[str], subject: str = "", name: str = "",
            secret: str | None = None) -> str:
        """Register (or replace) a client; returns its secret, which is stored only hashed."""
        secret = secret or secrets.token_urlsafe(32)
        clients = {c.client_id: c for c in self.all()}
        clients[client_id] = Client(client_id, hash_secret(secret), list(tenants), list(scopes), subject, name)
        self._write(list(clients.values()))
        return secret

    def _write(self, clients: list[Client]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_suffix(".tmp")
        temporary.touch(mode=0o600)
        temporary.write_text(json.dumps({"clients": [asdict(c) for c in clients]}, indent=2))
        os.replace(temporary, self.path)
