"""The five services: migrate each database, then run each app under uvicorn as a child process.

A service with a worker port runs as two processes: its API (role api) on the service's port and
its worker (role worker: consumer, background loops; health, metrics and webhooks only) on the
worker port, so request handling and background work each get an event loop, and a core, of their
own (openrcm_shared.settings.ProcessRole); with a relay port too, its outbox relay runs as a third
process (role relay), which the worker's bulk rounds never hold up. The others run as one process
(role all).

With `OPENRCM_TLS_CERT_FILE` and `OPENRCM_TLS_KEY_FILE` in a service's environment, uvicorn
serves it over HTTPS (openrcm_shared.settings.ServerTls); the launcher then checks readiness over
TLS, trusting `OPENRCM_TLS_CA_FILE` (or the system's CAs).
"""

from __future__ import annotations

import os
import ssl
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from openrcm_devstack.paths import repo_root
from openrcm_devstack.process import ManagedProcess, background_niceness, ensure_port_free
from openrcm_shared.settings import ServerTls


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    default_port: int
    default_worker_port: int | None = None  # the worker process's port; None: one process (role all)
    default_relay_port: int | None = None  # the relay process's port (with a worker); None: the worker relays

    @property
    def package(self) -> str:
        return f"openrcm_{self.name}"

    @property
    def database(self) -> str:
        return f"openrcm_{self.name}"

    @property
    def migrations_dir(self) -> Path:
        return repo_root() / "services" / self.name / "migrations"


SERVICES = (
    ServiceSpec("claims", 8001, default_worker_port=8006, default_relay_port=8007),
    ServiceSpec("eligibility", 8002),
    ServiceSpec("remittance", 8003),
    ServiceSpec("denials", 8004),
    ServiceSpec("collections", 8005),
)


def migrate_service(spec: ServiceSpec, database_url: str) -> None:
    from openrcm_shared.db import migrate

    migrate(database_url, spec.migrations_dir)


@dataclass
class RunningService:
    spec: ServiceSpec
    port: int
    database_url: str
    process: ManagedProcess
    role: str = "all"
    scheme: str = "http"  # https when it serves TLS (ServerTls)
    ca_file: str | None = None  # what its certificate chains to, for the launcher's own checks

    @property
    def name(self) -> str:
        """The process's name: the service's, or `<service>-worker` / `<service>-relay`."""
        return process_name(self.spec, self.role)

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    def client_ssl_context(self) -> ssl.SSLContext | None:
        """A context that verifies this service's certificate (and that it is for 127.0.0.1)."""
        return ssl.create_default_context(cafile=self.ca_file) if self.scheme == "https" else None


def process_name(spec: ServiceSpec, role: str) -> str:
    return f"{spec.name}-{role}" if role in ("worker", "relay") else spec.name


def service_environment(spec: ServiceSpec, *, role: str, database_url: str, kafka_bootstrap: str,
                        system_database_url: str | None = None, extra_env: dict[str, str] | None = None) -> dict[str, str]:
    """The service process's environment: its app role's database URL, its system role's (work
    across practices; openrcm_shared.row_security), the broker and the process role."""
    env = dict(os.environ)
    env.update({
        f"{spec.name.upper()}_DATABASE_URL": database_url,
        f"{spec.name.upper()}_SYSTEM_DATABASE_URL": system_database_url or database_url,
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "OPENRCM_ROLE": role,
        # A service with a relay process: its worker leaves the relaying to it.
        "OPENRCM_RELAY_APART": "true" if spec.default_relay_port and role == "worker" else "false",
        "PYTHONUNBUFFERED": "1",
    })
    env.update(extra_env or {})
    return env


def cpu_niceness(role: str) -> int:
    """How much lower than the stack runner's a service process's CPU priority is. The relay runs
    first with the API: every event of its service waits for it, and it needs little (~5 % of a
    core at 300 claims/s); in the background its outbox fell behind whenever the cores were full."""
    return 0 if role in ("api", "relay") else background_niceness()


# How long a service keeps an idle HTTP/1.1 connection open. Uvicorn's default (5 s) closes
# connections that clients (an EHR's pool, a load balancer, a load generator) still hold as
# reusable: a request sent as the close crosses it on the wire is lost ("connection reset", or
# answered never), and a POST is not retried by the client (RFC 9110 section 9.2.2: not
# idempotent). Longer than the idle timeout of common balancers and clients (60 s), so the client,
# not the service, ends an idle connection. The image sets the same (UVICORN_TIMEOUT_KEEP_ALIVE).
KEEP_ALIVE_SECONDS = 75


def uvicorn_arguments(spec: ServiceSpec, port: int, tls: ServerTls | None = None) -> list[str]:
    return [f"{spec.package}.main:app", "--host", "127.0.0.1", "--port", str(port), "--loop", "uvloop",
            "--http", "httptools", "--no-access-log", "--timeout-graceful-shutdown", "10",
            "--timeout-keep-alive", str(KEEP_ALIVE_SECONDS), *(tls or ServerTls()).uvicorn_arguments()]


def start_service(spec: ServiceSpec, *, port: int, database_url: str, kafka_bootstrap: str, log_dir: Path,
                  role: str = "all", system_database_url: str | None = None,
                  extra_env: dict[str, str] | None = None) -> RunningService:
    name = process_name(spec, role)
    ensure_port_free(name, port)
    env = service_environment(spec, role=role, database_url=database_url, system_database_url=system_database_url,
                              kafka_bootstrap=kafka_bootstrap, extra_env=extra_env)
    tls = ServerTls.from_environment(env)  # refused here, before a process starts, if half set
    argv = [sys.executable, "-m", "uvicorn", *uvicorn_arguments(spec, port, tls)]
    process = ManagedProcess(name, argv, log_file=log_dir / f"{name}.log", env=env, cwd=repo_root(),
                             niceness=cpu_niceness(role))
    process.start()
    return RunningService(spec, port, database_url, process, role, scheme=tls.scheme,
                          ca_file=env.get("OPENRCM_TLS_CA_FILE") or None)


CLEARINGHOUSE = ServiceSpec("clearinghouse", 8010)
ISSUER = ServiceSpec("issuer", 8020)


def start_clearinghouse(*, port: int, env: dict[str, str], log_dir: Path) -> RunningService:
    """The clearinghouse simulator (simulators/clearinghouse), which stands for an external party."""
    ensure_port_free("clearinghouse simulator", port)
    argv = [sys.executable, "-m", "uvicorn", "openrcm_clearinghouse_sim.main:app", "--host", "127.0.0.1",
            "--port", str(port), "--no-access-log"]
    # Background priority: on this machine it stands for a party on someone else's; its bursts
    # (an 837 of a few hundred claims read, a 999 and a 277CA written back) must not delay our API.
    process = ManagedProcess("clearinghouse", argv, log_file=log_dir / "clearinghouse.log",
                             env={**env, "PYTHONUNBUFFERED": "1"}, cwd=repo_root(), niceness=background_niceness())
    process.start()
    return RunningService(CLEARINGHOUSE, port, "", process)


def wait_ready(service: RunningService, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        if not service.process.running():
            raise RuntimeError(f"{service.name} exited during start-up:\n{service.process.tail()}")
        try:
            with urllib.request.urlopen(f"{service.url}/readyz", timeout=3,
                                        context=service.client_ssl_context()) as response:
                if response.status == 200:
                    return
        except Exception as exc:  # not up yet, or 503 while Kafka/DB settle
            last = str(exc)
        time.sleep(0.3)
    raise RuntimeError(f"{service.name} not ready within {timeout:.0f}s ({last}):\n{service.process.tail()}")
