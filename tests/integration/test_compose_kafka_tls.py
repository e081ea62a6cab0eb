"""docker-compose.tls.yml's Kafka, run for real without Docker (none runs here).

The kafka container's environment (docker-compose.yml with the TLS override, filled in as Compose
would) becomes broker settings the way the apache/kafka image writes them; its entrypoint script
(deploy/kafka/compose-tls-entrypoint.sh) runs with the storage tool and the broker from this
project's Maven classpath standing in for the image's copies. Only what cannot be the same
outside Docker is moved: the compose network's names and fixed ports to loopback and free
ports, the volumes to the test's folder. Then the one-shots' commands (`tls-certs`, `topics`,
`kafka-acls --apply`) run with their containers' environments, and a service logs in with its
container's, as in compose.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import stat

import pytest
from aiokafka.errors import TopicAuthorizationFailedError

from openrcm_devstack import cli
from openrcm_devstack.kafka import KafkaBroker, _java, kafka_classpath
from openrcm_devstack.kafka_acls import service_principals
from openrcm_devstack.process import ManagedProcess, wait_for_port
from openrcm_shared.contracts.topics import CLAIMS
from openrcm_shared.messaging.kafka import KafkaSecurity, admin_client, reliable_producer
from tests.contracts.test_compose import ROOT, load_compose
from tests.contracts.test_compose_security import TLS_FILE, broker_properties, interpolate, merged_environment
from tests.support import free_port

pytestmark = pytest.mark.stack

ENTRYPOINT = ROOT / "deploy" / "kafka" / "compose-tls-entrypoint.sh"


class ComposeKafka:
    """The compose kafka container's settings and start, on this machine."""

    def __init__(self, folder, variables: dict[str, str]) -> None:
        self.folder = folder
        self.variables = variables
        self.base, self.override = load_compose(), load_compose(TLS_FILE)
        self.client_port, self.controller_port, self.host_port = free_port(), free_port(), free_port()
        self.process: ManagedProcess | None = None

    def relocate(self, value: str) -> str:
        """A value of the compose network, moved to loopback, free ports and the test's folder."""
        for compose, here in (("kafka:9092", f"127.0.0.1:{self.client_port}"),
                              ("127.0.0.1:9094", f"127.0.0.1:{self.host_port}"),
                              ("kafka:9093", f"127.0.0.1:{self.controller_port}"),
                              ("://:9092", f"://127.0.0.1:{self.client_port}"),
                              ("://:9093", f"://127.0.0.1:{self.controller_port}"),
                              ("://:9094", f"://127.0.0.1:{self.host_port}"),
                              ("/tls/", f"{self.folder / 'tls'}/"),
                              ("/var/lib/kafka/data", str(self.folder / "data"))):
            value = value.replace(compose, here)
        return value

    def environment(self, service: str) -> dict[str, str]:
        """A container's environment, filled in as Compose does and relocated."""
        return {name: self.relocate(interpolate(value, self.variables))
                for name, value in merged_environment(self.base, self.override, service).items()}

    def start(self) -> None:
        env = self.environment("kafka")
        home = self.folder / "kafka-home"
        (home / "bin").mkdir(parents=True, exist_ok=True)
        # The image's kafka-storage.sh and start-up, as this project's classpath runs them.
        storage = home / "bin" / "kafka-storage.sh"
        storage.write_text(f'#!/bin/sh\nexec "{_java()}" -cp "{kafka_classpath()}/*" kafka.tools.StorageTool "$@"\n')
        storage.chmod(0o755)
        config = self.folder / "server.properties"
        config.write_text("".join(f"{key}={value}\n" for key, value in broker_properties(env).items()))
        launcher = KafkaBroker(self.folder, self.client_port, self.controller_port, heap="384m")
        start = self.folder / "image-start.sh"
        start.write_text("#!/bin/sh\nexec " + " ".join(f"'{arg}'" for arg in launcher._java_argv("kafka.Kafka", str(config)))
                         + "\n")
        start.chmod(0o755)
        process_env = {"PATH": os.environ["PATH"], **env, "OPENRCM_KAFKA_HOME": str(home),
                       "OPENRCM_KAFKA_IMAGE_START": str(start), "ADMIN_CLIENT_CONFIG": str(self.folder / "admin.properties")}
        self.process = ManagedProcess("compose-kafka", ["bash", str(ENTRYPOINT)], log_file=self.folder / "kafka.log",
                                      env=process_env)
        self.process.start()
        wait_for_port(self.process, "127.0.0.1", self.client_port, 90)

    def stop(self) -> None:
        if self.process:
            self.process.stop(timeout=30)


@pytest.fixture
def compose_variables() -> dict[str, str]:
    """What a deployer exports before `docker compose ... up` (letters and digits, as the file asks)."""
    names = ["POSTGRES_PASSWORD", "OPENRCM_DB_ROLE_PASSWORD", "KAFKA_ADMIN_PASSWORD", "KAFKA_CONTROLLER_PASSWORD", "CLEARINGHOUSE_WEBHOOK_SECRETS",
             *(f"{name.upper()}_KAFKA_SASL_PASSWORD" for name in service_principals())]
    return {name: secrets.token_hex(16) for name in names}


async def produce_as(env: dict[str, str], bootstrap: str, topic: str) -> None:
    producer = reliable_producer(bootstrap, client_id="compose-test", security=KafkaSecurity.from_environment(env))
    try:
        await asyncio.wait_for(producer.start(), 30)
        await asyncio.wait_for(producer.send_and_wait(topic, b"from-compose-settings"), 30)
    finally:
        await producer.stop()


async def admin_connects(bootstrap: str, security: KafkaSecurity) -> None:
    admin = admin_client(bootstrap, client_id="compose-test", security=security)
    try:
        await asyncio.wait_for(admin.start(), 30)
    finally:
        await admin.close()


def test_the_compose_tls_kafka_starts_and_enforces_the_services_acls(tmp_path, compose_variables, monkeypatch):
    kafka = ComposeKafka(tmp_path, compose_variables)
    # tls-certs one-shot: the same command, into the folder standing for the `tls` volume.
    assert cli.main(["tls-certs", str(tmp_path / "tls"), "--discard-ca-key"]) == 0
    kafka.start()
    try:
        bootstrap = f"127.0.0.1:{kafka.client_port}"
        admin_config = tmp_path / "admin.properties"
        assert stat.S_IMODE(admin_config.stat().st_mode) == 0o600
        assert "security.protocol=SASL_SSL" in admin_config.read_text()

        # topics and kafka-access one-shots, with their containers' environments.
        for one_shot, arguments in (("topics", ["topics"]), ("kafka-access", ["kafka-acls", "--apply"])):
            with monkeypatch.context() as patch:
                for name, value in kafka.environment(one_shot).items():
                    patch.setenv(name, value)
                assert cli.main(["--bootstrap-servers", bootstrap, *arguments]) == 0

        # A service logs in with its container's settings: its own topic yes, another's no.
        asyncio.run(produce_as(kafka.environment("claims-worker"), bootstrap, CLAIMS))
        with pytest.raises(TopicAuthorizationFailedError):
            asyncio.run(produce_as(kafka.environment("denials"), bootstrap, CLAIMS))

        # The host's listener (127.0.0.1:9094 in compose) takes the admin over SASL_SSL, as the file's header says.
        admin = KafkaSecurity(protocol="SASL_SSL", username="admin", password=compose_variables["KAFKA_ADMIN_PASSWORD"],
                              ca_file=str(tmp_path / "tls" / "ca.crt"))
        asyncio.run(admin_connects(f"127.0.0.1:{kafka.host_port}", admin))

        # A restart finds the storage formatted and keeps the users (the entrypoint formats once).
        kafka.stop()
        kafka.start()
        asyncio.run(produce_as(kafka.environment("claims-worker"), bootstrap, CLAIMS))
    finally:
        kafka.stop()
