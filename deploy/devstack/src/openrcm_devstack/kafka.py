"""Apache Kafka for the stack: resolved from Maven Central, run on the JDK in KRaft mode.

deploy/kafka/pom.xml pins the broker's coordinates; Maven copies its runtime classpath into a
git-ignored cache keyed by the pom's hash, so a version bump resolves afresh. Storage is
formatted once with `kafka.tools.StorageTool`, then `kafka.Kafka` runs as a child process.

The stack's broker speaks plaintext on loopback. Given a `BrokerSecurity`, the same broker
serves its clients over SASL_SSL instead: TLS with a PEM keystore, SCRAM-SHA-512 logins (the
users are written into the metadata log when storage is formatted), and Kafka's
StandardAuthorizer refusing whatever no ACL allows (`openrcm_devstack.kafka_acls`).
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
import shutil
import subprocess
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from string import Template

from openrcm_devstack.kafka_acls import ScramCredential
from openrcm_devstack.paths import local_dir, repo_root
from openrcm_devstack.process import ManagedProcess, background_niceness, ensure_port_free, wait_for_port
from openrcm_shared.messaging.kafka import KafkaSecurity


def kafka_classpath() -> Path:
    """The folder of broker jars, resolved with Maven on first use."""
    pom = repo_root() / "deploy" / "kafka" / "pom.xml"
    digest = hashlib.sha256(pom.read_bytes()).hexdigest()[:12]
    lib = local_dir() / "kafka" / f"lib-{digest}"
    if (lib / ".complete").exists():
        return lib
    if shutil.which("mvn") is None:
        raise RuntimeError("Maven (mvn) is needed to resolve the Kafka broker from Maven Central")
    partial = lib.with_name(lib.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    result = subprocess.run(
        ["mvn", "-q", "-B", "-f", str(pom), "dependency:copy-dependencies", "-DincludeScope=runtime",
         f"-DoutputDirectory={partial}"], capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"resolving the Kafka broker with Maven failed:\n{result.stdout[-3000:]}{result.stderr[-3000:]}")
    shutil.rmtree(lib, ignore_errors=True)
    partial.rename(lib)
    (lib / ".complete").touch()
    return lib


def _java() -> str:
    java_home = os.environ.get("JAVA_HOME")
    if java_home and (Path(java_home) / "bin" / "java").exists():
        return str(Path(java_home) / "bin" / "java")
    found = shutil.which("java")
    if not found:
        raise RuntimeError("a JDK 17+ (java) is needed to run the Kafka broker")
    return found


def _jaas(login_module: str, **options: str) -> str:
    """A `sasl.jaas.config` value (JAAS syntax: quoted options, a closing semicolon)."""
    quoted = " ".join(f'{name}="{value}"' for name, value in options.items())
    return f"{login_module} required {quoted};"


@dataclass(frozen=True)
class BrokerSecurity:
    """SASL_SSL with SCRAM logins and ACLs on the broker's client port.

    `users` maps SCRAM user names to passwords and includes `admin_user`, the super user that
    creates topics, ACLs and further users (`kafka_acls.apply_scram_users`), and is the broker's
    own login on its inter-broker listener; these users are written in at format time. The
    controller listener (loopback, broker to controller inside the one process) authenticates
    with SASL/PLAIN against a password made per broker: KRaft cannot check SCRAM there, since the
    SCRAM credentials live in the metadata the controller serves.
    """

    keystore_file: Path  # PEM: the broker's private key, then its certificate chain
    ca_file: Path  # PEM: the CA the clients (and the broker, as its own client) trust
    users: dict[str, str] = field(repr=False)
    admin_user: str = "admin"
    mechanism: str = "SCRAM-SHA-512"
    controller_password: str = field(default_factory=lambda: secrets.token_urlsafe(24), repr=False)

    def __post_init__(self) -> None:
        if self.admin_user not in self.users:
            raise ValueError(f"the admin user {self.admin_user!r} needs a password in users")

    def client_security(self, username: str, password: str | None = None) -> KafkaSecurity:
        """Client settings for `username` (its own password unless another is given)."""
        return KafkaSecurity(protocol="SASL_SSL", sasl_mechanism=self.mechanism, username=username,
                             password=self.users[username] if password is None else password,
                             ca_file=str(self.ca_file))

    def admin_security(self) -> KafkaSecurity:
        return self.client_security(self.admin_user)

    def scram_arguments(self) -> list[str]:
        """`kafka-storage format` arguments that create every user's SCRAM credential."""
        return [argument for username, password in sorted(self.users.items())
                for argument in ("--add-scram", ScramCredential.from_password(
                    username, password, mechanism=self.mechanism).storage_argument())]

    def server_properties(self, *, port: int, controller_port: int) -> dict[str, str]:
        """The broker settings that replace the plaintext listeners of deploy/kafka/server.properties."""
        mechanism_prefix = f"listener.name.client.{self.mechanism.lower()}"
        return {
            "listeners": f"CLIENT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}",
            "advertised.listeners": f"CLIENT://127.0.0.1:{port}",
            "listener.security.protocol.map": "CLIENT:SASL_SSL,CONTROLLER:SASL_PLAINTEXT",
            "inter.broker.listener.name": "CLIENT",
            "sasl.mechanism.inter.broker.protocol": self.mechanism,
            "listener.name.client.sasl.enabled.mechanisms": self.mechanism,
            f"{mechanism_prefix}.sasl.jaas.config": _jaas(
                "org.apache.kafka.common.security.scram.ScramLoginModule",
                username=self.admin_user, password=self.users[self.admin_user]),
            "sasl.mechanism.controller.protocol": "PLAIN",
            "listener.name.controller.sasl.enabled.mechanisms": "PLAIN",
            "listener.name.controller.plain.sasl.jaas.config": _jaas(
                "org.apache.kafka.common.security.plain.PlainLoginModule",
                username="controller", password=self.controller_password, user_controller=self.controller_password),
            "ssl.keystore.type": "PEM",
            "ssl.keystore.location": str(self.keystore_file),
            "ssl.truststore.type": "PEM",
            "ssl.truststore.location": str(self.ca_file),
            "ssl.client.auth": "none",
            # Clients check the broker's certificate against the name they dialled (the default
            # "https"; spelled out so no one mistakes an empty value for a harmless one).
            "ssl.endpoint.identification.algorithm": "https",
            "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
            "super.users": f"User:{self.admin_user};User:controller",
            "allow.everyone.if.no.acl.found": "false",
        }


def _override_properties(text: str, overrides: dict[str, str]) -> str:
    """`text` (a .properties file) with each key in `overrides` set to its value: replaced where
    the key is, appended where it is not."""
    lines, seen = [], set()
    for line in text.splitlines():
        key = line.split("=", 1)[0].strip()
        if not line.lstrip().startswith("#") and "=" in line and key in overrides:
            lines.append(f"{key}={overrides[key]}")
            seen.add(key)
        else:
            lines.append(line)
    lines += [f"{key}={value}" for key, value in overrides.items() if key not in seen]
    return "\n".join(lines) + "\n"


@dataclass
class KafkaBroker:
    state_dir: Path
    port: int
    controller_port: int
    heap: str = "768m"
    process: ManagedProcess | None = None
    security: BrokerSecurity | None = None  # None: plaintext on loopback, no authorisation

    @property
    def bootstrap_servers(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def data_dir(self) -> Path:
        return self.state_dir / "data"

    def _write_config(self) -> Path:
        template = Template((repo_root() / "deploy" / "kafka" / "server.properties").read_text())
        config = self.state_dir / "server.properties"
        text = template.substitute(port=self.port, controller_port=self.controller_port, data_dir=self.data_dir)
        if self.security is not None:
            text = _override_properties(text, self.security.server_properties(
                port=self.port, controller_port=self.controller_port))
        # Owner-only: with security on, the file holds the admin's and the controller's passwords.
        config.touch(mode=0o600)
        config.chmod(0o600)
        config.write_text(text)
        return config

    def _java_argv(self, main_class: str, *args: str) -> list[str]:
        lib = kafka_classpath()
        # TieredStopAtLevel=1: the JIT's quick tier only. On a machine the broker shares with
        # everything else, the optimising tier (C2) kept compiling for minutes after each start,
        # 7-9 % of a core, half of the broker's CPU under the intake benchmark at 300 claims/s;
        # quick-tier code carries this stack's few thousand records a second with room to spare
        # (broker 22 % -> 13 % of a core at 300/s; session 6 in the git history of docs/benchmarks.md). A dedicated
        # production broker keeps the JVM's default (docker-compose.yml).
        return [
            _java(), "-Xms256m", f"-Xmx{self.heap}", "-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20", "-XX:TieredStopAtLevel=1",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={repo_root() / 'deploy' / 'kafka' / 'log4j2.properties'}",
            f"-Dkafka.log.file={self.state_dir / 'server.log'}",
            "-cp", f"{lib}/*", main_class, *args,
        ]

    def format_storage(self, config: Path) -> None:
        if (self.data_dir / "meta.properties").exists():
            return
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        # KRaft keeps SCRAM credentials in the metadata log: the first ones (the admin's at
        # least, who can add others later) are written in when the log is created.
        scram = self.security.scram_arguments() if self.security is not None else []
        result = subprocess.run(self._java_argv("kafka.tools.StorageTool", "format", f"--cluster-id={cluster_id}",
                                                "-c", str(config), *scram), capture_output=True, text=True)
        if result.returncode != 0:
            raise RuntimeError(f"formatting Kafka storage failed:\n{result.stdout}{result.stderr}")

    def start(self, timeout: float = 90) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        config = self._write_config()
        self.format_storage(config)
        ensure_port_free("Kafka", self.port)
        ensure_port_free("Kafka controller", self.controller_port)
        # Background priority (process.background_niceness): no API request waits on the broker;
        # events do, and they are background work.
        self.process = ManagedProcess("kafka", self._java_argv("kafka.Kafka", str(config)),
                                      log_file=self.state_dir / "stdout.log", niceness=background_niceness())
        self.process.start()
        wait_for_port(self.process, "127.0.0.1", self.port, timeout)

    def stop(self) -> None:
        if self.process:
            self.process.stop(timeout=30)
            self.process = None
