"""Kafka client factories with the delivery and security settings this project relies on.

Every producer, consumer and admin client in the project takes its connection security from a
`KafkaSecurity`: plaintext on the local stack, `SASL_SSL` with SCRAM and a principal per service
in a deployment (the broker's ACLs then decide what each service may read and write, see
`openrcm_devstack.kafka_acls`).
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient

# The protocols Kafka's `security.protocol` names; SASL_* authenticate, *SSL encrypt.
SECURITY_PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
# SCRAM (RFC 5802, RFC 7677): the broker keeps a salted hash, the password never crosses the
# wire. PLAIN, GSSAPI and OAUTHBEARER are not offered: nothing here issues Kerberos tickets or
# tokens, and PLAIN sends the password itself.
SASL_MECHANISMS = ("SCRAM-SHA-512", "SCRAM-SHA-256")


@dataclass(frozen=True)
class KafkaSecurity:
    """How a client authenticates to the brokers and protects the connection.

    The defaults are the local stack's (plaintext on loopback). A value that cannot work (a SASL
    protocol without credentials, an unknown mechanism, a certificate without its key) is
    refused here, when the settings are read, instead of as a connection failure later.
    """

    protocol: str = "PLAINTEXT"
    sasl_mechanism: str = "SCRAM-SHA-512"
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    ca_file: str | None = None  # PEM bundle the brokers' certificates must chain to; None: the system's CAs
    cert_file: str | None = None  # a client certificate (PEM), for brokers that ask for one (mutual TLS)
    key_file: str | None = None
    key_password: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.protocol not in SECURITY_PROTOCOLS:
            raise ValueError(f"KAFKA_SECURITY_PROTOCOL must be one of {', '.join(SECURITY_PROTOCOLS)}, "
                             f"not {self.protocol!r}")
        if self.uses_sasl:
            if self.sasl_mechanism not in SASL_MECHANISMS:
                raise ValueError(f"KAFKA_SASL_MECHANISM must be one of {', '.join(SASL_MECHANISMS)}, "
                                 f"not {self.sasl_mechanism!r}")
            if not self.username or not self.password:
                raise ValueError(f"KAFKA_SECURITY_PROTOCOL={self.protocol} needs KAFKA_SASL_USERNAME and "
                                 "KAFKA_SASL_PASSWORD (or the service's <SERVICE>_KAFKA_SASL_USERNAME/_PASSWORD)")
        if bool(self.cert_file) != bool(self.key_file):
            raise ValueError("KAFKA_SSL_CERT_FILE and KAFKA_SSL_KEY_FILE go together")

    @property
    def uses_sasl(self) -> bool:
        return self.protocol.startswith("SASL_")

    @property
    def uses_tls(self) -> bool:
        return self.protocol.endswith("SSL")

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None, *,
                         service: str | None = None) -> "KafkaSecurity":
        """Read `KAFKA_SECURITY_PROTOCOL`, `KAFKA_SASL_MECHANISM`, `KAFKA_SASL_USERNAME`,
        `KAFKA_SASL_PASSWORD`, `KAFKA_SSL_CA_FILE`, `KAFKA_SSL_CERT_FILE`, `KAFKA_SSL_KEY_FILE` and
        `KAFKA_SSL_KEY_PASSWORD`. With `service`, `<SERVICE>_KAFKA_SASL_USERNAME` and
        `<SERVICE>_KAFKA_SASL_PASSWORD` win over the shared pair, so processes of several services
        started from one environment each log in as their own principal.
        """
        environ = os.environ if environ is None else environ

        def value(name: str, *, per_service: bool = False) -> str | None:
            if per_service and service:
                own = environ.get(f"{service.upper()}_{name}")
                if own:
                    return own
            return environ.get(name) or None

        return cls(protocol=(value("KAFKA_SECURITY_PROTOCOL") or "PLAINTEXT").upper(),
                   sasl_mechanism=(value("KAFKA_SASL_MECHANISM") or "SCRAM-SHA-512").upper(),
                   username=value("KAFKA_SASL_USERNAME", per_service=True),
                   password=value("KAFKA_SASL_PASSWORD", per_service=True),
                   ca_file=value("KAFKA_SSL_CA_FILE"), cert_file=value("KAFKA_SSL_CERT_FILE"),
                   key_file=value("KAFKA_SSL_KEY_FILE"), key_password=value("KAFKA_SSL_KEY_PASSWORD"))

    def ssl_context(self) -> ssl.SSLContext | None:
        """A context that verifies the broker's certificate and host name, or None without TLS."""
        if not self.uses_tls:
            return None
        context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=self.ca_file)
        if self.cert_file:
            context.load_cert_chain(self.cert_file, self.key_file, password=self.key_password)
        return context

    def client_options(self) -> dict[str, Any]:
        """The keyword arguments aiokafka's producer, consumer and admin client take for this."""
        options: dict[str, Any] = {"security_protocol": self.protocol}
        if self.uses_tls:
            options["ssl_context"] = self.ssl_context()
        if self.uses_sasl:
            options.update(sasl_mechanism=self.sasl_mechanism, sasl_plain_username=self.username,
                           sasl_plain_password=self.password)
        return options


def _security(security: KafkaSecurity | None) -> KafkaSecurity:
    """The caller's settings, or the process environment's (so no client is ever built without them)."""
    return security if security is not None else KafkaSecurity.from_environment()


def reliable_producer(bootstrap_servers: str, *, client_id: str,
                      security: KafkaSecurity | None = None) -> AIOKafkaProducer:
    """A producer that waits for all in-sync replicas and never duplicates on its own retries.

    aiokafka defaults to acks=1 without idempotence; the outbox relay needs acks=all and
    idempotence so a row is marked published only once the broker really has it. Security comes
    from `security`, or from the environment (`KafkaSecurity.from_environment`) when None.
    """
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap_servers,
        client_id=client_id,
        acks="all",
        enable_idempotence=True,
        linger_ms=5,
        request_timeout_ms=15000,
        retry_backoff_ms=200,
        **_security(security).client_options(),
    )


def manual_commit_consumer(bootstrap_servers: str, *topics: str, group_id: str, client_id: str,
                           security: KafkaSecurity | None = None, fetch_min_bytes: int = 1,
                           fetch_max_wait_ms: int = 500) -> AIOKafkaConsumer:
    """A consumer whose offsets are committed by the caller, only after the database commit.

    Security as for `reliable_producer`.
    """
    return AIOKafkaConsumer(
        *topics,
        bootstrap_servers=bootstrap_servers,
        group_id=group_id,
        client_id=client_id,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
        max_poll_records=500,
        fetch_min_bytes=fetch_min_bytes,
        fetch_max_wait_ms=fetch_max_wait_ms,
        session_timeout_ms=10000,
        heartbeat_interval_ms=1000,
        retry_backoff_ms=200,
        **_security(security).client_options(),
    )


def reading_consumer(bootstrap_servers: str, *, client_id: str,
                     security: KafkaSecurity | None = None) -> AIOKafkaConsumer:
    """A consumer without a group, for tools that assign partitions themselves and commit nothing
    (events tail, DLQ list). Security as for `reliable_producer`."""
    return AIOKafkaConsumer(bootstrap_servers=bootstrap_servers, client_id=client_id, enable_auto_commit=False,
                            **_security(security).client_options())


def admin_client(bootstrap_servers: str, *, client_id: str,
                 security: KafkaSecurity | None = None) -> AIOKafkaAdminClient:
    """An admin client (topics, ACLs, describing partitions). Security as for `reliable_producer`."""
    return AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, client_id=client_id,
                               **_security(security).client_options())
