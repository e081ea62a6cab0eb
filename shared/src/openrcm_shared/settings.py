"""Settings every service reads from the environment (12-factor)."""

from __future__ import annotations

import os

from pydantic_settings import BaseSettings, SettingsConfigDict


class ServiceSettings(BaseSettings):
    """Per service: `<SERVICE>_DATABASE_URL` wins over the shared `DATABASE_URL`.

    Defaults match the local stack started by `./openrcm run`.
    """

    model_config = SettingsConfigDict(env_prefix="OPENRCM_", extra="ignore")

    service_name: str = "service"
    database_url: str = ""
    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    log_level: str = "INFO"
    relay_enabled: bool = True
    consumer_enabled: bool = True
    db_pool_size: int = 10

    @classmethod
    def for_service(cls, name: str) -> "ServiceSettings":
        database_url = (os.environ.get(f"{name.upper()}_DATABASE_URL") or os.environ.get("DATABASE_URL")
                        or f"postgresql://postgres@127.0.0.1:5432/openrcm_{name}")
        kafka = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
        return cls(service_name=name, database_url=database_url, kafka_bootstrap_servers=kafka)
