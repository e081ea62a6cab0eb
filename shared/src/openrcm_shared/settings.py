"""Settings every service reads from the environment (12-factor)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from openrcm_shared.messaging.kafka import KafkaSecurity

# What one process of a service does (OPENRCM_ROLE):
#   all    - everything: the HTTP API, the outbox relay, the event consumer and the service's
#            background work (one process per service; tests, small installations);
#   api    - only the HTTP API; the events it stages are published by the service's relay,
#            which it wakes through PostgreSQL (NOTIFY); needs no broker to take work;
#   worker - the consumer and the background work, and the relay unless `relay_apart`; its HTTP
#            port serves only /livez, /readyz, /metrics and the partners' webhooks;
#   relay  - only the outbox relay (with `relay_apart` on the worker): every event the service
#            stages waits for the relay, so it gets a process, and a share of the cores, that a
#            worker's bulk rounds (an 837 of a thousand claims, a 277CA for hundreds) never hold up.
# A service can run one worker (and one relay) beside any number of API processes, so request
# handling and the background loops do not share an event loop (or a core).
ProcessRole = Literal["all", "api", "worker", "relay"]


class ServiceSettings(BaseSettings):
    """Per service: `<SERVICE>_DATABASE_URL` wins over the shared `DATABASE_URL`; it names the
    app role (held to the practice policies, see openrcm_shared.row_security).
    `<SERVICE>_SYSTEM_DATABASE_URL` names the system role, for the work that spans practices
    (outbox relay, batching, webhooks, ERA posting); unset, the same URL as the app's (enough
    only when that URL's role is the owner or a superuser, which no policy holds).

    Defaults match the local stack started by `./openrcm run`.
    """

    model_config = SettingsConfigDict(env_prefix="OPENRCM_", extra="ignore")

    service_name: str = "service"
    database_url: str = ""
    system_database_url: str = ""
    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    log_level: str = "INFO"
    role: ProcessRole = "all"
    # The outbox relay runs in a process of its own (role relay) beside this worker, which then
    # only wakes it (NOTIFY), as an API process does.
    relay_apart: bool = False
    db_pool_size: int = 20
    # How this service's producer and consumer reach the brokers (KAFKA_SECURITY_PROTOCOL and
    # friends; the service's own SASL principal: <SERVICE>_KAFKA_SASL_USERNAME/_PASSWORD).
    kafka_security: KafkaSecurity = KafkaSecurity()
    # The system role's pool: the relay's leader connection, the background loops, webhooks.
    db_system_pool_size: int = 4
    # How long audit entries are kept (OPENRCM_AUDIT_RETENTION_DAYS); six years by default, as
    # HIPAA keeps required documentation (45 CFR 164.316(b)(2)(i)).
    audit_retention_days: int = Field(default=2190, ge=1)
    # Background tasks that end are restarted (openrcm_shared.supervisor): the first wait, its cap,
    # and how many ends within the window make the process no longer live.
    task_restart_first_backoff_seconds: float = 1.0
    task_restart_max_backoff_seconds: float = 60.0
    task_max_restarts: int = 5
    task_restart_window_seconds: float = 300.0
    # The largest event the outbox relay sends (a larger one is set aside): at most the smallest
    # max.message.bytes of the service's topics (openrcm_shared.messaging.relay).
    outbox_max_event_bytes: int = 1_000_000
    # How the consumer fetches (Kafka's fetch.min.bytes / fetch.max.wait.ms): the broker answers a
    # fetch once this many bytes are waiting for it, or after the wait. Under load the consumer
    # then takes its records in larger runs, each run one transaction
    # (openrcm_shared.messaging.consumer), where fetches of whatever had arrived brought a few
    # records per partition (bench/consumer_apply: a third less CPU per event at 16 records a
    # partition than at 3); when the stream is quiet an event waits at most the wait. Each fetch
    # costs the broker too, quiet or not: at 100 ms and 64 KiB, the intake benchmark's broker took
    # 13.6 % of a core at 250 FHIR Claims/s, 8.4 % at 400 ms and 256 KiB (docs/benchmarks.md).
    consumer_fetch_min_bytes: int = Field(default=262144, ge=1)
    consumer_fetch_max_wait_ms: int = Field(default=400, ge=0)

    @classmethod
    def for_service(cls, name: str) -> "ServiceSettings":
        database_url = (os.environ.get(f"{name.upper()}_DATABASE_URL") or os.environ.get("DATABASE_URL")
                        or f"postgresql://postgres@127.0.0.1:5432/openrcm_{name}")
        system_database_url = os.environ.get(f"{name.upper()}_SYSTEM_DATABASE_URL") or database_url
        kafka = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
        return cls(service_name=name, database_url=database_url, system_database_url=system_database_url,
                   kafka_bootstrap_servers=kafka, kafka_security=KafkaSecurity.from_environment(service=name))

    @property
    def serves_api(self) -> bool:
        return self.role in ("all", "api")

    @property
    def runs_background(self) -> bool:
        """The consumer and the service's background loops."""
        return self.role in ("all", "worker")

    @property
    def runs_relay(self) -> bool:
        """The outbox relay: in a process of its own (role relay) when the worker sets it apart."""
        return self.role == "relay" or (self.runs_background and not self.relay_apart)

    @property
    def publishes(self) -> bool:
        """Needs the broker: it relays events, or consumes them (and dead-letters the poison)."""
        return self.runs_relay or self.runs_background


@dataclass(frozen=True)
class ServerTls:
    """HTTPS for a service's own port: `OPENRCM_TLS_CERT_FILE` (PEM, the server certificate with
    any intermediates after it) and `OPENRCM_TLS_KEY_FILE` (its private key, unencrypted and
    readable by the service's user only, as PostgreSQL's server key is). Both or neither: a
    certificate without its key cannot serve, and serving plain HTTP when HTTPS was asked for
    would be worse than not starting.
    """

    cert_file: str | None = None
    key_file: str | None = None

    def __post_init__(self) -> None:
        if bool(self.cert_file) != bool(self.key_file):
            raise ValueError("OPENRCM_TLS_CERT_FILE and OPENRCM_TLS_KEY_FILE go together")
        for variable, path in (("OPENRCM_TLS_CERT_FILE", self.cert_file), ("OPENRCM_TLS_KEY_FILE", self.key_file)):
            if path and not os.path.isfile(path):
                raise ValueError(f"{variable} names {path!r}, which is not a file")

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> "ServerTls":
        """`OPENRCM_TLS_CERT_FILE` and `OPENRCM_TLS_KEY_FILE` of `environ` (the process's by default)."""
        environ = os.environ if environ is None else environ
        return cls(cert_file=environ.get("OPENRCM_TLS_CERT_FILE") or None,
                   key_file=environ.get("OPENRCM_TLS_KEY_FILE") or None)

    @property
    def enabled(self) -> bool:
        return self.cert_file is not None

    @property
    def scheme(self) -> str:
        return "https" if self.enabled else "http"

    def uvicorn_arguments(self) -> list[str]:
        """uvicorn's command-line options for this (none without TLS)."""
        if not self.enabled:
            return []
        return ["--ssl-certfile", self.cert_file, "--ssl-keyfile", self.key_file]
