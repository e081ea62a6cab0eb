"""Kafka with SASL_SSL, SCRAM-SHA-512 and ACLs, on a real broker: each service is its own principal
and may write and read only what deploy/topics.toml says it does.

A second broker (its own ports and state under the test's tmp folder) is started in secure mode
with a throwaway CA and only its admin's SCRAM login; the admin then creates the catalogue's
topics, a SCRAM user per service and the ACLs derived from the catalogue
(openrcm_devstack.kafka_acls), as a deployment's one-shot set-up step does. The broker is then
driven through the project's own client factories (openrcm_shared.messaging.kafka).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import secrets
import uuid

import pytest
from aiokafka.admin import NewTopic
from aiokafka.errors import (
    GroupAuthorizationFailedError, KafkaConnectionError, TopicAuthorizationFailedError, for_code,
)

from openrcm_devstack import cli
from openrcm_devstack.kafka import BrokerSecurity, KafkaBroker
from openrcm_devstack.kafka_acls import (
    apply_acls, apply_scram_users, describe_acls, service_acls, service_principals,
)
from openrcm_devstack.tls import CertificateAuthority
from openrcm_devstack.topics import apply_catalogue
from openrcm_shared.contracts.topics import CLAIMS, COLLECTIONS, DENIALS, ELIGIBILITY, REMITTANCE
from openrcm_shared.messaging.kafka import KafkaSecurity, admin_client, manual_commit_consumer, reliable_producer
from tests.support import free_port

pytestmark = pytest.mark.stack

# Every step below is bounded; the whole module (broker start included) stays within a few minutes.
STEP_TIMEOUT = 30


@pytest.fixture(scope="module")
async def secure_broker(tmp_path_factory):
    """A SASL_SSL broker with the services' users and ACLs, and its topics created by the admin."""
    state = tmp_path_factory.mktemp("secure-kafka")
    authority = CertificateAuthority.create(state / "tls")
    server = authority.issue("kafka", ["127.0.0.1", "localhost"])
    security = BrokerSecurity(keystore_file=server.keystore_file, ca_file=authority.cert_file,
                              users={"admin": secrets.token_urlsafe(18)})
    broker = KafkaBroker(state / "kafka", free_port(), free_port(), heap="384m", security=security)
    try:
        broker.start(timeout=90)
        await asyncio.wait_for(set_up(broker), 60)
        yield broker
    finally:
        broker.stop()


SERVICE_PASSWORDS = {name: secrets.token_urlsafe(18) for name in service_principals()}


async def set_up(broker: KafkaBroker) -> None:
    admin = broker.security.admin_security()
    await apply_catalogue(broker.bootstrap_servers, security=admin)
    await apply_scram_users(broker.bootstrap_servers, SERVICE_PASSWORDS, security=admin)
    await apply_acls(broker.bootstrap_servers, service_acls(), security=admin)


def as_service(broker: KafkaBroker, name: str, password: str | None = None) -> KafkaSecurity:
    return broker.security.client_security(name, password or SERVICE_PASSWORDS[name])


async def produce(broker: KafkaBroker, service: str, topic: str, value: bytes, *, password: str | None = None) -> None:
    producer = reliable_producer(broker.bootstrap_servers, client_id=f"test-{service}",
                                 security=as_service(broker, service, password))
    try:
        await asyncio.wait_for(producer.start(), STEP_TIMEOUT)
        await asyncio.wait_for(producer.send_and_wait(topic, value, key=b"claim-1"), STEP_TIMEOUT)
    finally:
        await producer.stop()


async def consume_until(broker: KafkaBroker, service: str, topic: str, wanted: bytes, *, group: str | None = None):
    """Read `topic` as `service` in consumer group `group` (its own by default) until `wanted`
    arrives, then commit the offset as the services do."""
    consumer = manual_commit_consumer(broker.bootstrap_servers, topic, group_id=group or service,
                                      client_id=f"test-{service}", security=as_service(broker, service))
    try:
        await asyncio.wait_for(consumer.start(), STEP_TIMEOUT)
        async with asyncio.timeout(STEP_TIMEOUT):
            while True:
                batches = await consumer.getmany(timeout_ms=500)
                if any(record.value == wanted for records in batches.values() for record in records):
                    await consumer.commit()
                    return
    finally:
        await consumer.stop()


async def test_the_acls_derived_from_the_catalogue_are_on_the_broker(secure_broker):
    on_broker = await describe_acls(secure_broker.bootstrap_servers, security=secure_broker.security.admin_security())
    assert set(service_acls()) <= set(on_broker)


async def test_claims_writes_its_topic_and_remittance_reads_it_as_its_group(secure_broker):
    marker = f"claim-submitted-{uuid.uuid4()}".encode()
    await produce(secure_broker, "claims", CLAIMS, marker)
    await consume_until(secure_broker, "remittance", CLAIMS, marker)


async def test_claims_consumes_the_topics_it_subscribes_to_as_its_own_group(secure_broker):
    for producer, topic in (("remittance", REMITTANCE), ("eligibility", ELIGIBILITY)):
        marker = f"{producer}-{uuid.uuid4()}".encode()
        await produce(secure_broker, producer, topic, marker)
        await consume_until(secure_broker, "claims", topic, marker)


async def test_denials_cannot_write_the_claims_topic(secure_broker):
    with pytest.raises(TopicAuthorizationFailedError):
        await produce(secure_broker, "denials", CLAIMS, b"forged")


async def test_a_service_cannot_read_a_topic_it_does_not_subscribe_to(secure_broker):
    # remittance consumes the claims topic only (deploy/topics.toml); the denials topic is not for it.
    with pytest.raises(TopicAuthorizationFailedError):
        await consume_until(secure_broker, "remittance", DENIALS, b"anything")


async def test_a_service_cannot_join_another_services_consumer_group(secure_broker):
    with pytest.raises(GroupAuthorizationFailedError):
        await consume_until(secure_broker, "claims", REMITTANCE, b"anything", group="denials")


@pytest.mark.parametrize("username", ["claims", "mallory"])
async def test_a_wrong_password_or_an_unknown_user_is_refused(secure_broker, username, caplog):
    security = KafkaSecurity(protocol="SASL_SSL", username=username, password="not-the-password",
                             ca_file=str(secure_broker.security.ca_file))
    producer = reliable_producer(secure_broker.bootstrap_servers, client_id="test-intruder", security=security)
    with caplog.at_level(logging.ERROR, logger="aiokafka"), pytest.raises(KafkaConnectionError):
        await asyncio.wait_for(producer.start(), STEP_TIMEOUT)
    await producer.stop()
    # aiokafka reports the broker's answer in its log and raises a bootstrap failure: the answer
    # is what shows the refusal was the login's, and not a broker that was away.
    assert "SaslAuthenticationFailed" in caplog.text


@pytest.mark.parametrize("protocol", ["PLAINTEXT", "SASL_PLAINTEXT", "SSL"])
async def test_a_client_without_tls_or_without_a_login_is_refused(secure_broker, protocol):
    """Plaintext, SCRAM without TLS, and TLS without a SCRAM login all fail at the SASL_SSL port,
    where the admin's own settings (the same client, the right protocol) get in."""
    admin_security = secure_broker.security.admin_security()
    security = dataclasses.replace(admin_security, protocol=protocol)
    admin = admin_client(secure_broker.bootstrap_servers, client_id="test-plaintext", security=security)
    with pytest.raises(KafkaConnectionError):
        await asyncio.wait_for(admin.start(), STEP_TIMEOUT)
    await admin.close()
    admin = admin_client(secure_broker.bootstrap_servers, client_id="test-admin", security=admin_security)
    await asyncio.wait_for(admin.start(), STEP_TIMEOUT)
    await admin.close()


async def test_a_broker_certificate_from_another_ca_is_refused(secure_broker, tmp_path):
    stranger = CertificateAuthority.create(tmp_path / "other-ca")
    security = KafkaSecurity(protocol="SASL_SSL", username="claims", password=SERVICE_PASSWORDS["claims"],
                             ca_file=str(stranger.cert_file))
    admin = admin_client(secure_broker.bootstrap_servers, client_id="test-untrusted", security=security)
    with pytest.raises(KafkaConnectionError):
        await asyncio.wait_for(admin.start(), STEP_TIMEOUT)
    await admin.close()


async def test_a_service_cannot_create_topics(secure_broker):
    # No ACL names the cluster, so only allow.everyone.if.no.acl.found=false keeps this out:
    # topics come from the catalogue, applied by the admin, never from a service.
    admin = admin_client(secure_broker.bootstrap_servers, client_id="test-claims-admin",
                         security=as_service(secure_broker, "claims"))
    await asyncio.wait_for(admin.start(), STEP_TIMEOUT)
    try:
        response = await asyncio.wait_for(admin.create_topics([NewTopic(f"rcm.unlisted.{uuid.uuid4().hex[:8]}", 1, 1)]),
                                          STEP_TIMEOUT)
    finally:
        await admin.close()
    [(name, error_code, *_)] = response.topic_errors
    assert for_code(error_code) is TopicAuthorizationFailedError, f"{name}: error {error_code}"


async def test_a_rotated_password_replaces_the_old_one(secure_broker):
    admin = secure_broker.security.admin_security()
    old, new = SERVICE_PASSWORDS["collections"], secrets.token_urlsafe(18)
    await apply_scram_users(secure_broker.bootstrap_servers, {"collections": new}, security=admin)
    try:
        marker = f"balance-{uuid.uuid4()}".encode()
        await produce(secure_broker, "collections", COLLECTIONS, marker, password=new)
        with pytest.raises(KafkaConnectionError):
            await produce(secure_broker, "collections", COLLECTIONS, marker, password=old)
    finally:
        await apply_scram_users(secure_broker.bootstrap_servers, {"collections": old}, security=admin)


def test_the_operations_tools_log_in_from_the_environment(secure_broker, monkeypatch, capsys):
    """`topics`, `kafka-acls --apply` and `dlq list` take the admin's login from KAFKA_* (a
    sync test: the CLI runs its own event loop)."""
    security = secure_broker.security
    monkeypatch.setenv("KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("KAFKA_SASL_USERNAME", security.admin_user)
    monkeypatch.setenv("KAFKA_SASL_PASSWORD", security.users[security.admin_user])
    monkeypatch.setenv("KAFKA_SSL_CA_FILE", str(security.ca_file))
    bootstrap = ["--bootstrap-servers", secure_broker.bootstrap_servers]

    assert cli.main([*bootstrap, "kafka-acls", "--apply"]) == 2  # the services' passwords are not set
    assert "CLAIMS_KAFKA_SASL_PASSWORD" in capsys.readouterr().err
    for name, password in SERVICE_PASSWORDS.items():
        monkeypatch.setenv(f"{name.upper()}_KAFKA_SASL_PASSWORD", password)
    assert cli.main([*bootstrap, "kafka-acls", "--apply"]) == 0  # again: the same users and rules
    assert f"{len(service_acls())} ACL(s) applied" in capsys.readouterr().out
    assert cli.main([*bootstrap, "topics"]) == 0
    assert "unchanged  rcm.claims.events.v1" in capsys.readouterr().out
    assert cli.main([*bootstrap, "dlq", "list"]) == 0
    assert "0 dead letter(s)" in capsys.readouterr().out

    monkeypatch.setenv("KAFKA_SASL_PASSWORD", "not-the-password")
    with pytest.raises(KafkaConnectionError):
        cli.main([*bootstrap, "topics"])
