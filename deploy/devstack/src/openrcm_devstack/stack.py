"""The whole local stack: PostgreSQL, Kafka, topics, migrations and the five services.

Used by `./openrcm run` (foreground, default ports) and by the test suite (its own ports and
state folder, so tests can run beside a running stack). The endpoints are written to
`stack.json` in the state folder for tools and tests.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from openrcm_devstack.auth import LocalIssuer
from openrcm_devstack.kafka import KafkaBroker
from openrcm_devstack.paths import repo_root
from openrcm_devstack.postgres import (
    PostgresServer, create_databases, provision_service_roles, role_password, with_database,
)
from openrcm_devstack.process import background_niceness
from openrcm_devstack.services import (
    ISSUER, SERVICES, RunningService, migrate_service, start_clearinghouse, start_service, wait_ready,
)
from openrcm_devstack.topics import ensure_topics
from openrcm_shared.settings import ServerTls


@dataclass
class StackPorts:
    postgres: int = 5432
    kafka: int = 9092
    kafka_controller: int = 9093
    services: dict[str, int] = field(default_factory=lambda: {s.name: s.default_port for s in SERVICES})
    clearinghouse: int = 8010
    issuer: int = 8020  # the local OAuth token issuer (deploy/issuer)
    # Worker processes of the services that run one (ServiceSpec.default_worker_port).
    workers: dict[str, int] = field(default_factory=lambda: {
        s.name: s.default_worker_port for s in SERVICES if s.default_worker_port})
    # Relay processes of the services that run one (ServiceSpec.default_relay_port).
    relays: dict[str, int] = field(default_factory=lambda: {
        s.name: s.default_relay_port for s in SERVICES if s.default_relay_port})

    def processes(self, service: str) -> dict[str, int]:
        """Role -> port of a service's processes: its API, its worker and its relay, or one doing all."""
        if service in self.workers:
            relay = {"relay": self.relays[service]} if service in self.relays else {}
            return {"api": self.services[service], "worker": self.workers[service], **relay}
        return {"all": self.services[service]}

    def webhook_url(self, service: str, scheme: str = "http") -> str:
        """Where the clearinghouse calls `service` back: its worker when it has one (see
        ServiceDefinition.webhook_routers), so acknowledgements are applied off the API process."""
        port = self.workers.get(service, self.services[service])
        return f"{scheme}://127.0.0.1:{port}/v1/webhooks/clearinghouse"

    def shifted(self, offset: int, **infrastructure: int) -> "StackPorts":
        """These HTTP ports moved by `offset` (a second stack beside the first), with its own
        PostgreSQL and Kafka ports."""
        return StackPorts(**infrastructure, clearinghouse=self.clearinghouse + offset, issuer=self.issuer + offset,
                          services={name: port + offset for name, port in self.services.items()},
                          workers={name: port + offset for name, port in self.workers.items()},
                          relays={name: port + offset for name, port in self.relays.items()})


DEFAULT_PORTS = StackPorts()
# OPENRCM_TEST_PORT_OFFSET moves the whole test stack (one hundred apart is enough), so two test
# runs (two checkouts of the project) can share a machine.
_TEST_OFFSET = int(os.environ.get("OPENRCM_TEST_PORT_OFFSET", "0") or 0)
TEST_PORTS = DEFAULT_PORTS.shifted(10000 + _TEST_OFFSET, postgres=55433 + _TEST_OFFSET, kafka=19092 + _TEST_OFFSET,
                                   kafka_controller=19093 + _TEST_OFFSET)
# What the simulated payer decides under `./openrcm run` (simulators/clearinghouse, adjudication_rules.py).
DEFAULT_ADJUDICATION_RULES = Path("deploy", "clearinghouse", "adjudication-rules.json")  # in the checkout
# The benchmarks' stack moves by the same offset, so a helper's bench never takes another's ports.
BENCH_PORTS = DEFAULT_PORTS.shifted(20100 + _TEST_OFFSET, postgres=55434 + _TEST_OFFSET, kafka=29192 + _TEST_OFFSET,
                                    kafka_controller=29193 + _TEST_OFFSET)


class Stack:
    def __init__(self, state_dir: Path, ports: StackPorts, *, fresh: bool = False) -> None:
        background_niceness()  # a bad OPENRCM_BACKGROUND_NICE is refused before anything starts
        self.state_dir = state_dir
        self.ports = ports
        if fresh:
            shutil.rmtree(state_dir, ignore_errors=True)
        state_dir.mkdir(parents=True, exist_ok=True)
        self.external_database_url = os.environ.get("DATABASE_URL")
        self.postgres: PostgresServer | None = None
        self.kafka = KafkaBroker(state_dir / "kafka", ports.kafka, ports.kafka_controller)
        self.services: dict[str, RunningService] = {}
        self.clearinghouse: RunningService | None = None
        self.issuer = LocalIssuer(state_dir / "auth", ports.issuer)

    # --- infrastructure ---------------------------------------------------------------------------

    def database_url(self, service_name: str) -> str:
        """The service's database as its owner (a superuser locally): migrations, and tests that
        look at rows whatever their practice. The services themselves get `app_database_url`
        and `system_database_url`."""
        per_service = os.environ.get(f"{service_name.upper()}_DATABASE_URL")
        if per_service:
            return per_service
        database = f"openrcm_{service_name}"
        if self.external_database_url:
            return with_database(self.external_database_url, database)
        assert self.postgres is not None
        return self.postgres.database_url(database)

    def app_database_url(self, service_name: str) -> str:
        """The service's database as its app role (API, consumer: one practice per transaction)."""
        from openrcm_shared.db import role_url
        from openrcm_shared.row_security import app_role

        return role_url(self.database_url(service_name), app_role(service_name), role_password())

    def system_database_url(self, service_name: str) -> str:
        """The service's database as its system role (work across practices)."""
        from openrcm_shared.db import role_url
        from openrcm_shared.row_security import system_role

        return role_url(self.database_url(service_name), system_role(service_name), role_password())

    def scratch_database(self, name: str, migrations_of: str) -> str:
        """A database beside the services' ones, migrated with one service's scripts (component tests)."""
        from openrcm_devstack.services import SERVICES

        admin_url = self.external_database_url or (self.postgres.admin_url if self.postgres else None)
        assert admin_url, "PostgreSQL is not started"
        create_databases(admin_url, [name])
        url = with_database(admin_url, name)
        spec = next(s for s in SERVICES if s.name == migrations_of)
        migrate_service(spec, url)
        return url

    def start_postgres(self) -> None:
        """The server (or the one DATABASE_URL names), each service's database, and its roles."""
        if not self.external_database_url:
            if self.postgres is None:
                self.postgres = PostgresServer(self.state_dir / "postgres" / "data", self.ports.postgres,
                                               self.state_dir / "postgres" / "server.log")
            self.postgres.start()
        admin_url = self.external_database_url or self.postgres.admin_url
        create_databases(admin_url, [s.database for s in SERVICES])
        provision_service_roles(admin_url, {s.name: s.database for s in SERVICES}, role_password())

    def stop_postgres(self) -> None:
        if self.postgres:
            self.postgres.stop()

    def start_kafka(self) -> None:
        self.kafka.start()
        ensure_topics(self.kafka.bootstrap_servers)

    def stop_kafka(self) -> None:
        self.kafka.stop()

    def start_infrastructure(self) -> None:
        self.start_postgres()
        self.start_kafka()
        for spec in SERVICES:
            migrate_service(spec, self.database_url(spec.name))

    # --- services ---------------------------------------------------------------------------------

    @property
    def clearinghouse_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.clearinghouse}"

    def webhook_secret(self) -> str:
        """The secret the clearinghouse signs webhooks with; made once per state folder."""
        path = self.state_dir / "clearinghouse-webhook-secret"
        if not path.exists():
            path.write_text("whsec_" + base64.b64encode(secrets.token_bytes(32)).decode())
            path.chmod(0o600)
        return path.read_text().strip()

    def payment_webhook_secret(self) -> str:
        """The secret the payment processor signs its settlement webhooks with (collections)."""
        path = self.state_dir / "payment-processor-webhook-secret"
        if not path.exists():
            path.write_text("whsec_" + base64.b64encode(secrets.token_bytes(32)).decode())
            path.chmod(0o600)
        return path.read_text().strip()

    def start_clearinghouse(self) -> None:
        """The clearinghouse simulator (an external party in real life): takes 837s, answers by
        webhook with 999/277CA (to claims) and, once its payer has adjudicated, 835s (to remittance)."""
        env = dict(os.environ)
        # Services serving HTTPS (OPENRCM_TLS_CERT_FILE/_KEY_FILE) are called back over it; the
        # simulator's HTTP client (httpx) then trusts OPENRCM_TLS_CA_FILE.
        scheme = ServerTls.from_environment().scheme
        if scheme == "https" and os.environ.get("OPENRCM_TLS_CA_FILE"):
            env["SSL_CERT_FILE"] = os.environ["OPENRCM_TLS_CA_FILE"]
        env.update({
            "CLEARINGHOUSE_WEBHOOK_URL": self.ports.webhook_url("claims", scheme),
            "CLEARINGHOUSE_REMITTANCE_WEBHOOK_URL": self.ports.webhook_url("remittance", scheme),
            "CLEARINGHOUSE_WEBHOOK_SECRETS": self.webhook_secret(),
            "CLEARINGHOUSE_ADJUDICATION_RULES_FILE": self._adjudication_rules_file(),
        })
        self.clearinghouse = start_clearinghouse(port=self.ports.clearinghouse, env=env,
                                                 log_dir=self.state_dir / "logs")
        wait_ready(self.clearinghouse)

    def _adjudication_rules_file(self) -> str:
        """`./openrcm run` adjudicates with the shipped rules (or the file CLEARINGHOUSE_ADJUDICATION_RULES_FILE
        names); the test and bench stacks start with none, so no 835 reaches a test that did not ask
        for one (tests opt in with PUT /v1/adjudication-rules). Empty means no rules."""
        if self.ports != DEFAULT_PORTS:
            return ""
        return os.environ.get("CLEARINGHOUSE_ADJUDICATION_RULES_FILE") or str(repo_root() / DEFAULT_ADJUDICATION_RULES)

    def start_issuer(self) -> None:
        """The local token issuer every service trusts (a deployment points at its own instead)."""
        self.issuer.start(self.state_dir / "logs", dict(os.environ))
        wait_ready(RunningService(ISSUER, self.ports.issuer, "", self.issuer.process))

    def mailbox_environment(self) -> dict[str, str]:
        """The local stack reconciles with the simulator's mailbox every 10 s, taking documents
        whose webhook has not come 30 s after they were produced (a deployment's defaults are 5
        minutes and 2 minutes: a real clearinghouse's webhooks may take longer)."""
        return {"OPENRCM_CLEARINGHOUSE_MAILBOX_URL": self.clearinghouse_url,
                "OPENRCM_CLEARINGHOUSE_MAILBOX_INTERVAL_SECONDS": "10",
                "OPENRCM_CLEARINGHOUSE_MAILBOX_SETTLE_SECONDS": "30"}

    def _service_env(self, spec, extra_env: dict[str, str] | None) -> dict[str, str]:
        env = {**self.issuer.service_environment(), **(extra_env or {})}
        if spec.name in ("claims", "remittance"):  # what a webhook did not deliver, from the mailbox
            for name, value in self.mailbox_environment().items():
                env.setdefault(name, value)
        if spec.name == "claims":
            env.setdefault("OPENRCM_CLAIMS_CLEARINGHOUSE_URL", self.clearinghouse_url)
            env.setdefault("CLEARINGHOUSE_WEBHOOK_SECRETS", self.webhook_secret())
        if spec.name == "denials":  # appeals submitted electronically go to the clearinghouse
            env.setdefault("OPENRCM_DENIALS_PAYER_APPEALS_URL", self.clearinghouse_url)
        if spec.name == "eligibility":  # 270s go out, and 271s come back, through the clearinghouse
            env.setdefault("OPENRCM_ELIGIBILITY_CLEARINGHOUSE_URL", self.clearinghouse_url)
        if spec.name == "remittance":  # 835 ERAs arrive by the same signed webhooks
            env.setdefault("CLEARINGHOUSE_WEBHOOK_SECRETS", self.webhook_secret())
        if spec.name == "collections":  # the payment processor's settlement webhooks
            env.setdefault("COLLECTIONS_PAYMENT_WEBHOOK_SECRETS", self.payment_webhook_secret())
            if self.ports != DEFAULT_PORTS:  # tests run statement cycles as of the days they choose
                env.setdefault("COLLECTIONS_STATEMENT_RUN_TIME", "")
        return env

    def start_services(self, names: list[str] | None = None, extra_env: dict[str, str] | None = None) -> None:
        if self.issuer.process is None:
            self.start_issuer()
        if self.clearinghouse is None:
            self.start_clearinghouse()
        started = []
        for spec in SERVICES:
            if names is None or spec.name in names:
                for role, port in self.ports.processes(spec.name).items():
                    started.append(start_service(
                        spec, port=port, database_url=self.app_database_url(spec.name),
                        system_database_url=self.system_database_url(spec.name), role=role,
                        kafka_bootstrap=self.kafka.bootstrap_servers, log_dir=self.state_dir / "logs",
                        extra_env=self._service_env(spec, extra_env)))
        for service in started:
            self.services[service.name] = service
        for service in started:
            wait_ready(service)
        self.write_manifest()

    def kill_and_restart(self, process_name: str) -> None:
        """SIGKILL one service process (its whole process group: posting workers too), as a crash
        would, then start it again on the same port and role and wait until it is ready."""
        import signal

        running = self.services[process_name]
        if running.process.popen is not None and running.process.running():
            os.killpg(running.process.popen.pid, signal.SIGKILL)
            running.process.popen.wait(timeout=30)
        restarted = start_service(
            running.spec, port=running.port, database_url=running.database_url, role=running.role,
            system_database_url=self.system_database_url(running.spec.name), kafka_bootstrap=self.kafka.bootstrap_servers, log_dir=self.state_dir / "logs",
            extra_env=self._service_env(running.spec, None))
        self.services[process_name] = restarted
        wait_ready(restarted)

    def stop_services(self, names: list[str] | None = None) -> None:
        """Stop the named services (every process of each), or all and the clearinghouse simulator."""
        for name, service in list(self.services.items()):
            if names is None or service.spec.name in names:
                self.services.pop(name).process.stop()
        if names is None and self.clearinghouse is not None:
            self.clearinghouse.process.stop()
            self.clearinghouse = None
        if names is None:
            self.issuer.stop()

    def stop(self) -> None:
        """Stop everything this stack started, services first."""
        errors = []
        for step in (self.stop_services, self.stop_kafka, self.stop_postgres):
            try:
                step()
            except Exception as exc:  # keep stopping the rest
                errors.append(exc)
        if errors:
            raise errors[0]

    # --- manifest ---------------------------------------------------------------------------------

    def manifest(self) -> dict:
        return {
            "kafka": {"bootstrap_servers": self.kafka.bootstrap_servers},
            "postgres": {"databases": {spec.name: self.database_url(spec.name) for spec in SERVICES},
                         # The services' own URLs, their roles' passwords (if any) masked.
                         "app_roles": {spec.name: _masked(self.app_database_url(spec.name)) for spec in SERVICES},
                         "system_roles": {spec.name: _masked(self.system_database_url(spec.name))
                                          for spec in SERVICES}},
            "services": {
                name: {"url": svc.url, "docs": f"{svc.url}/docs", "readyz": f"{svc.url}/readyz",
                       "metrics": f"{svc.url}/metrics", "pid": svc.process.pid}
                for name, svc in self.services.items()
            },
            "clearinghouse_simulator": {"url": self.clearinghouse_url} if self.clearinghouse else None,
            "auth": self.issuer.manifest() if self.issuer.process else None,
        }

    def write_manifest(self) -> Path:
        path = self.state_dir / "stack.json"
        path.write_text(json.dumps(self.manifest(), indent=2))
        return path


def _masked(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)
