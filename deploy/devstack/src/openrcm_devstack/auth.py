"""The local stack's token issuer: its state folder, its process, the demo clients, and tokens for tests.

`./openrcm run` starts the project's small issuer (deploy/issuer) beside the services and points
every service at it (`OPENRCM_AUTH_ISSUER`, `OPENRCM_AUTH_JWKS_URL`). On a state folder's first
start it registers demo clients (secrets stored hashed by the issuer; the plain secrets are kept
for the demo in `auth/demo-clients.json`, mode 0600, and listed in `stack.json`).
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

from openrcm_devstack.paths import repo_root
from openrcm_devstack.process import ManagedProcess, ensure_port_free
from openrcm_issuer.clients import ClientRegistry
from openrcm_issuer.keys import KeyStore, mint_access_token
from openrcm_shared.security.scopes import ALL_SCOPES, PRACTICE_SCOPES, READ_ONLY_SCOPES

AUDIENCE = "openrcm"
DEMO_CLIENTS = (
    {"client_id": "demo-billing", "tenants": ["demo"], "scopes": list(PRACTICE_SCOPES),
     "name": "Full access to practice demo"},
    {"client_id": "demo-2-billing", "tenants": ["demo-2"], "scopes": list(PRACTICE_SCOPES),
     "name": "Full access to practice demo-2"},
    {"client_id": "operations", "tenants": ["demo", "demo-2"], "scopes": list(READ_ONLY_SCOPES),
     "name": "Operations team, read only"},
    # The platform's operator: the CMS code sets every practice shares (`./openrcm codesets import`).
    # One practice, so no call needs X-Tenant-Id: the one its audit entries are filed under.
    {"client_id": "platform-operations", "tenants": ["demo"],
     "scopes": ["codesets:admin", "claims:read", "ops:read"], "name": "Platform operator: shared code sets"},
)


@dataclass
class LocalIssuer:
    state_dir: Path  # <stack state>/auth
    port: int
    process: ManagedProcess | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def token_url(self) -> str:
        return f"{self.url}/oauth/token"

    @property
    def jwks_url(self) -> str:
        return f"{self.url}/.well-known/jwks.json"

    @property
    def clients_file(self) -> Path:
        return self.state_dir / "clients.json"

    @property
    def keys(self) -> KeyStore:
        return KeyStore(self.state_dir / "keys")

    def environment(self) -> dict[str, str]:
        return {"OPENRCM_ISSUER_URL": self.url, "OPENRCM_ISSUER_AUDIENCE": AUDIENCE,
                "OPENRCM_ISSUER_CLIENTS_FILE": str(self.clients_file),
                "OPENRCM_ISSUER_KEYS_DIR": str(self.state_dir / "keys")}

    def service_environment(self) -> dict[str, str]:
        """What a service needs to trust this issuer; docs and metrics stay open on loopback."""
        return {"OPENRCM_AUTH_ISSUER": self.url, "OPENRCM_AUTH_JWKS_URL": self.jwks_url,
                "OPENRCM_AUTH_AUDIENCE": AUDIENCE, "OPENRCM_AUTH_TOKEN_URL": self.token_url,
                "OPENRCM_AUTH_OPEN_DOCS": "true", "OPENRCM_AUTH_OPEN_METRICS": "true"}

    def start(self, log_dir: Path, env: dict[str, str]) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.keys.ensure_key()
        self.ensure_demo_clients()
        ensure_port_free("token issuer", self.port)
        argv = [sys.executable, "-m", "uvicorn", "openrcm_issuer.main:app", "--host", "127.0.0.1",
                "--port", str(self.port), "--no-access-log"]
        self.process = ManagedProcess("issuer", argv, log_file=log_dir / "issuer.log",
                                      env={**env, **self.environment(), "PYTHONUNBUFFERED": "1"}, cwd=repo_root())
        self.process.start()

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()
            self.process = None

    def ensure_demo_clients(self) -> list[dict]:
        """The demo clients with their secrets, registered on the state folder's first start; a
        later version's changes to them (a client added, a scope or practice changed) are applied
        on the next start, each changed client keeping its secret."""
        demo_file = self.state_dir / "demo-clients.json"
        kept = {client["client_id"]: client for client in
                (json.loads(demo_file.read_text()) if demo_file.exists() else [])}
        demo = [_demo_entry(client, kept.get(client["client_id"], {}).get("client_secret"))
                for client in DEMO_CLIENTS]
        if [kept.get(entry["client_id"]) for entry in demo] == demo:
            return demo
        registry = ClientRegistry(self.clients_file)
        for client, entry in zip(DEMO_CLIENTS, demo):
            entry["client_secret"] = registry.add(client_id=client["client_id"], tenants=client["tenants"],
                                                  scopes=client["scopes"], name=client["name"],
                                                  secret=entry["client_secret"])
        demo_file.touch(mode=0o600, exist_ok=True)
        demo_file.write_text(json.dumps(demo, indent=2))
        return demo

    def manifest(self) -> dict:
        return {"issuer": self.url, "token_url": self.token_url, "jwks_url": self.jwks_url,
                "audience": AUDIENCE, "clients": self.ensure_demo_clients()}

    def mint(self, tenants: list[str] | str, scopes: list[str] | tuple[str, ...] = ALL_SCOPES, *,
             subject: str = "test-user", client_id: str = "test-client", lifetime_seconds: int = 3600,
             **overrides) -> str:
        """A token signed with the issuer's current key, as the token endpoint would issue it
        (tests: a fresh practice per test needs no registered client)."""
        tenants = [tenants] if isinstance(tenants, str) else list(tenants)
        return mint_access_token(self.keys.ensure_key(), issuer=overrides.pop("issuer", self.url),
                                 audience=overrides.pop("audience", AUDIENCE), subject=subject, client_id=client_id,
                                 scopes=list(scopes), tenants=tenants, lifetime_seconds=lifetime_seconds, **overrides)


def _demo_entry(client: dict, secret: str | None) -> dict:
    """A demo client as stack.json lists it (`tenant`: the practice, or the list of them)."""
    tenants = client["tenants"]
    return {"client_id": client["client_id"], "client_secret": secret,
            "tenant": tenants[0] if len(tenants) == 1 else tenants, "scopes": list(client["scopes"])}
