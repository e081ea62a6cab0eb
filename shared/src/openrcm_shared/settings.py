"""Settings every service reads from the environment (12-factor)."""

from __future__ import annotations

import os

from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

# What one process of a service does (OPENRCM_ROLE):
#   all    - everything: the HTTP API, the outbox relay, the event consumer and the service's
#            background work (one process per service; tests, small installations);
#   api    - only the HTTP API; the events it stages are published by the service's worker,
#            which it wakes through PostgreSQL (NOTIFY); needs no broker to take work;
#   worker - the relay, the consumer and the background work; its HTTP port serves only
#            /livez, /readyz and /metrics.
# A service can run one worker beside any number of API processes, so request handling and the
# background loops do not share an event loop (or a core).
ProcessRole = Literal["all", "api", "worker"]


class ServiceSettings(BaseSettings):
    """Per service: `<SERVICE>_DATABASE_URL` wins over the shared `DATABASE_URL`.

    Defaults match the local stack started by `./openrcm run`.
    """

    model_config = SettingsConfigDict(env_prefix="OPENRCM_", extra="ignore")

    service_name: str = "service"
    database_url: str = ""
    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    log_level: str = "INFO"
    role: ProcessRole = "all"
    db_pool_size: int = 20
    # How long audit entries are kept (OPENRCM_AUDIT_RETENTION_DAYS); six years by default, as
    # HIPAA keeps required documentation (45 CFR 164.316(b)(2)(i)).
    audit_retention_days: int = Field(default=2190, ge=1)

    @classmethod
    def for_service(cls, name: str) -> "ServiceSettings":
        database_url = (os.environ.get(f"{name.upper()}_DATABASE_URL") or os.environ.get("DATABASE_URL")
                        or f"postgresql://postgres@127.0.0.1:5432/openrcm_{name}")
        kafka = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
        return cls(service_name=name, database_url=database_url, kafka_bootstrap_servers=kafka)

    @property
    def serves_api(self) -> bool:
        return self.role in ("all", "api")

    @property
    def runs_background(self) -> bool:
        """Relay, consumer and the service's background loops."""
        return self.role in ("all", "worker")
