"""Kafka principals and ACLs for the services, derived from the topic catalogue (deploy/topics.toml).

Each service logs in as its own principal (`User:<service>`, the SCRAM user named after it) and
may do exactly what the catalogue says it does:

* WRITE the topic it produces (its outbox relay);
* READ each topic its consumer group subscribes to, READ (join, commit offsets in) that group,
  and WRITE the group's dead-letter topic for that topic (`<topic>.<group>.dlq`).

Nothing else: no topic creation or configuration (the `topics` step does that as the cluster's
admin), no other group, no other topic. An idempotent producer needs no cluster-level
IDEMPOTENT_WRITE once it may WRITE a topic (KIP-679, Kafka 3.0+). With
`allow.everyone.if.no.acl.found=false` on the broker, everything not listed is refused.

`openrcm-stack kafka-acls` prints these as `kafka-configs.sh` (SCRAM users) and `kafka-acls.sh`
commands for a deployer to run, or applies them with the admin API (`--apply`), logged in as the
cluster's admin.
"""

from __future__ import annotations

import asyncio
import base64
import enum
import hashlib
import secrets
import shlex
from collections.abc import Iterable
from dataclasses import dataclass

from aiokafka.errors import for_code
from aiokafka.protocol.admin import CreateAclsRequest_v1, DescribeAclsRequest_v1
from aiokafka.protocol.api import Request, RequestStruct, Response
from aiokafka.protocol.types import CompactArray, CompactBytes, CompactString, Int8, Int16, Int32, Schema, TaggedFields

from openrcm_devstack.topics import TopicSpec, load_catalogue
from openrcm_shared.contracts.topics import dlq_topic
from openrcm_shared.messaging.kafka import KafkaSecurity, admin_client


# The wire codes of Kafka's ACL enums (org.apache.kafka.common.resource.ResourceType,
# PatternType, org.apache.kafka.common.acl.AclOperation and AclPermissionType).
class ResourceType(enum.IntEnum):
    ANY = 1
    TOPIC = 2
    GROUP = 3
    CLUSTER = 4


class PatternType(enum.IntEnum):
    ANY = 1
    LITERAL = 3
    PREFIXED = 4


class Operation(enum.IntEnum):
    ANY = 1
    READ = 3
    WRITE = 4
    DESCRIBE = 8


class Permission(enum.IntEnum):
    ANY = 1
    ALLOW = 3


@dataclass(frozen=True, order=True)
class AclBinding:
    """One ALLOW rule: `principal` may do `operation` on the literally named resource, from any host."""

    principal: str
    resource_type: ResourceType
    resource_name: str
    operation: Operation
    pattern: PatternType = PatternType.LITERAL
    host: str = "*"
    permission: Permission = Permission.ALLOW

    def kafka_acls_arguments(self) -> list[str]:
        """The `kafka-acls.sh --add` arguments that create this rule."""
        resource_option = {ResourceType.TOPIC: "--topic", ResourceType.GROUP: "--group"}[self.resource_type]
        return ["--add", "--allow-principal", self.principal, "--operation", self.operation.name.title(),
                resource_option, self.resource_name, "--resource-pattern-type", self.pattern.name.lower()]


def principal(service: str) -> str:
    """The Kafka principal a service logs in as: its SCRAM user is named after it."""
    return f"User:{service}"


def service_acls(catalogue: Iterable[TopicSpec] | None = None) -> list[AclBinding]:
    """Every rule the services need, from the catalogue's producers and consumer groups."""
    catalogue = load_catalogue() if catalogue is None else catalogue
    bindings: set[AclBinding] = set()
    for topic in catalogue:
        if topic.producer:
            bindings.add(AclBinding(principal(topic.producer), ResourceType.TOPIC, topic.name, Operation.WRITE))
        for group in topic.consumer_groups:
            # The consumer group is the service's name (ServiceDefinition.consumer_group), and so
            # is its principal: a service joins its own group only.
            reader = principal(group)
            bindings.add(AclBinding(reader, ResourceType.TOPIC, topic.name, Operation.READ))
            bindings.add(AclBinding(reader, ResourceType.GROUP, group, Operation.READ))
            bindings.add(AclBinding(reader, ResourceType.TOPIC, dlq_topic(topic.name, group), Operation.WRITE))
    return sorted(bindings)


def service_principals(catalogue: Iterable[TopicSpec] | None = None) -> list[str]:
    """The service names that need a SCRAM user: every producer and consumer group in the catalogue."""
    catalogue = load_catalogue() if catalogue is None else catalogue
    names = set()
    for topic in catalogue:
        names.update([topic.producer] if topic.producer else [])
        names.update(topic.consumer_groups)
    return sorted(names)


def kafka_acls_commands(bindings: Iterable[AclBinding], *, bootstrap_server: str,
                        command_config: str = "admin.properties") -> list[str]:
    """Shell commands (Apache Kafka's `kafka-acls.sh`) that create `bindings`, run as the admin
    whose client settings (SASL_SSL, SCRAM user and password, CA) are in `command_config`."""
    return [shlex.join(["kafka-acls.sh", "--bootstrap-server", bootstrap_server, "--command-config", command_config,
                        *binding.kafka_acls_arguments()]) for binding in bindings]


def scram_user_commands(usernames: Iterable[str], *, bootstrap_server: str, mechanism: str = "SCRAM-SHA-512",
                        command_config: str = "admin.properties") -> list[str]:
    """`kafka-configs.sh` commands that create or reset each service's SCRAM credential, the
    password taken from `<SERVICE>_KAFKA_SASL_PASSWORD` in the shell that runs them (so no
    password is printed)."""
    return [f"kafka-configs.sh --bootstrap-server {shlex.quote(bootstrap_server)} --command-config "
            f"{shlex.quote(command_config)} --alter --entity-type users --entity-name {shlex.quote(name)} "
            f'--add-config "{mechanism}=[password=${{{name.upper()}_KAFKA_SASL_PASSWORD:?}}]"'
            for name in usernames]


# SCRAM iteration count for credentials this module creates; Kafka refuses fewer than 4096 for
# SCRAM-SHA-512 (ScramMechanism.minIterations) and more than 16384.
SCRAM_ITERATIONS = 8192
# ScramMechanism's wire codes (org.apache.kafka.clients.admin.ScramMechanism) and hashes.
SCRAM_MECHANISMS = {"SCRAM-SHA-256": (1, "sha256"), "SCRAM-SHA-512": (2, "sha512")}


@dataclass(frozen=True)
class ScramCredential:
    """What the broker stores for a SCRAM user: never the password, its salted hash (RFC 5802
    §3: SaltedPassword = Hi(password, salt, i), PBKDF2 with the mechanism's HMAC)."""

    username: str
    mechanism: str
    iterations: int
    salt: bytes
    salted_password: bytes

    @classmethod
    def from_password(cls, username: str, password: str, *, mechanism: str = "SCRAM-SHA-512",
                      iterations: int = SCRAM_ITERATIONS, salt: bytes | None = None) -> "ScramCredential":
        """The credential for `password`, with a fresh random salt unless one is given."""
        salt = secrets.token_bytes(16) if salt is None else salt
        salted = hashlib.pbkdf2_hmac(SCRAM_MECHANISMS[mechanism][1], password.encode(), salt, iterations)
        return cls(username, mechanism, iterations, salt, salted)

    def storage_argument(self) -> str:
        """The `kafka-storage format --add-scram` value: the salted form, so the password itself
        never appears on a command line."""
        return (f'{self.mechanism}=[name={self.username},iterations={self.iterations},'
                f'salt="{base64.b64encode(self.salt).decode()}",'
                f'saltedpassword="{base64.b64encode(self.salted_password).decode()}"]')


class _AlterUserScramCredentialsResponse_v0(Response):
    API_KEY = 51
    API_VERSION = 0
    SCHEMA = Schema(
        ("throttle_time_ms", Int32),
        ("results", CompactArray(("user_name", CompactString("utf-8")), ("error_code", Int16),
                                 ("error_message", CompactString("utf-8")), ("tags", TaggedFields))),
        ("tags", TaggedFields),
    )


class _AlterUserScramCredentialsRequest_v0(RequestStruct):
    """AlterUserScramCredentials (API key 51, KIP-554), which aiokafka does not carry; version 0
    is the only one and is flexible (compact fields, tagged fields)."""

    API_KEY = 51
    API_VERSION = 0
    FLEXIBLE_VERSION = True
    RESPONSE_TYPE = _AlterUserScramCredentialsResponse_v0
    SCHEMA = Schema(
        ("deletions", CompactArray(("name", CompactString("utf-8")), ("mechanism", Int8), ("tags", TaggedFields))),
        ("upsertions", CompactArray(("name", CompactString("utf-8")), ("mechanism", Int8), ("iterations", Int32),
                                    ("salt", CompactBytes), ("salted_password", CompactBytes),
                                    ("tags", TaggedFields))),
        ("tags", TaggedFields),
    )


class _UpsertScramCredentials(Request[_AlterUserScramCredentialsRequest_v0]):
    API_KEY = 51

    def __init__(self, credentials: list[ScramCredential]) -> None:
        self.credentials = credentials

    def build(self, request_struct_class):
        return request_struct_class([], [
            (c.username, SCRAM_MECHANISMS[c.mechanism][0], c.iterations, c.salt, c.salted_password, {})
            for c in self.credentials], {})


async def apply_scram_users(bootstrap_servers: str, passwords: dict[str, str], *, mechanism: str = "SCRAM-SHA-512",
                            security: KafkaSecurity | None = None) -> None:
    """Create each user's SCRAM credential, or replace it (a password rotation), as the admin.

    Raises the broker's error for the first user it refused. A client logged in with the old
    password stays connected; the next login needs the new one.
    """
    credentials = [ScramCredential.from_password(name, password, mechanism=mechanism)
                   for name, password in sorted(passwords.items())]
    admin = admin_client(bootstrap_servers, client_id="openrcm-scram", security=security)
    await admin.start()
    try:
        response = await admin._send_request(_UpsertScramCredentials(credentials))
    finally:
        await admin.close()
    for user_name, error_code, error_message, _tags in response.results:
        if error_code:
            raise for_code(error_code)(f"SCRAM credential of {user_name}: {error_message}")


class _CreateAcls(Request[CreateAclsRequest_v1]):
    """CreateAcls (API key 30) with many bindings in one request: aiokafka's own request class
    carries one. Version 1 (pattern types) is the oldest Kafka 4 still accepts (KIP-896)."""

    API_KEY = 30

    def __init__(self, bindings: list[AclBinding]) -> None:
        self.bindings = bindings

    def build(self, request_struct_class: type[CreateAclsRequest_v1]) -> CreateAclsRequest_v1:
        return request_struct_class([
            (b.resource_type, b.resource_name, b.pattern, b.principal, b.host, b.operation, b.permission)
            for b in self.bindings])


class _DescribeAllAcls(Request[DescribeAclsRequest_v1]):
    """DescribeAcls (API key 29) matching every binding."""

    API_KEY = 29

    def build(self, request_struct_class: type[DescribeAclsRequest_v1]) -> DescribeAclsRequest_v1:
        return request_struct_class(ResourceType.ANY, None, PatternType.ANY, None, None, Operation.ANY,
                                    Permission.ANY)


async def apply_acls(bootstrap_servers: str, bindings: list[AclBinding], *,
                     security: KafkaSecurity | None = None, settle_timeout: float = 15.0) -> None:
    """Create `bindings` on the cluster and return once the broker enforces them all.

    An existing rule is left as it is (CreateAcls is idempotent). Needs a principal allowed to
    ALTER the cluster: the admin (a super user). Raises the broker's error for the first rule it
    refused. In KRaft the controller accepts ACLs into the metadata log and each broker applies
    them a moment later; a service started in that moment would be refused, so this waits
    (at most `settle_timeout` seconds) until the broker describes every one of them.
    """
    admin = admin_client(bootstrap_servers, client_id="openrcm-acls", security=security)
    await admin.start()
    try:
        response = await admin._send_request(_CreateAcls(bindings))
        for binding, (error_code, error_message) in zip(bindings, response.creation_responses):
            if error_code:
                raise for_code(error_code)(f"{binding}: {error_message}")
        async with asyncio.timeout(settle_timeout):
            while not set(bindings) <= set(await _describe(admin)):
                await asyncio.sleep(0.2)
    finally:
        await admin.close()


async def _describe(admin) -> list[AclBinding]:
    response = await admin._send_request(_DescribeAllAcls())
    if response.error_code:
        raise for_code(response.error_code)(response.error_message)
    found = []
    for resource_type, resource_name, pattern, acls in response.resources:
        for acl_principal, host, operation, permission in acls:
            if permission == Permission.ALLOW and resource_type in ResourceType._value2member_map_ \
                    and operation in Operation._value2member_map_:
                found.append(AclBinding(acl_principal, ResourceType(resource_type), resource_name,
                                        Operation(operation), PatternType(pattern), host))
    return sorted(found)


async def describe_acls(bootstrap_servers: str, *, security: KafkaSecurity | None = None) -> list[AclBinding]:
    """Every ALLOW rule on the cluster (needs DESCRIBE on the cluster: the admin)."""
    admin = admin_client(bootstrap_servers, client_id="openrcm-acls", security=security)
    await admin.start()
    try:
        return await _describe(admin)
    finally:
        await admin.close()
