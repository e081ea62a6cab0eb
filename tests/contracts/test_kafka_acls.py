"""The services' Kafka ACLs, as derived from deploy/topics.toml (openrcm_devstack.kafka_acls).

Whether they are enough and no more is shown on a real broker (tests/integration/test_kafka_security.py);
here: exactly which rules one service gets, and the commands printed for deployers.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import shlex

from openrcm_devstack import cli
from openrcm_devstack.kafka_acls import (
    AclBinding, Operation, ResourceType, ScramCredential, kafka_acls_commands, service_acls, service_principals,
)
from openrcm_devstack.topics import TopicSpec


def test_a_service_may_write_its_topic_and_dlqs_and_read_what_it_consumes_as_its_group():
    denials = {(b.resource_type, b.resource_name, b.operation) for b in service_acls() if b.principal == "User:denials"}
    assert denials == {
        (ResourceType.TOPIC, "rcm.denials.events.v1", Operation.WRITE),
        (ResourceType.TOPIC, "rcm.remittance.events.v1", Operation.READ),
        (ResourceType.GROUP, "denials", Operation.READ),
        (ResourceType.TOPIC, "rcm.remittance.events.v1.denials.dlq", Operation.WRITE),
        (ResourceType.TOPIC, "rcm.claims.events.v1", Operation.READ),
        (ResourceType.TOPIC, "rcm.claims.events.v1.denials.dlq", Operation.WRITE),
    }


def test_the_rules_follow_the_catalogue_it_is_given():
    catalogue = [TopicSpec("rcm.a.v1", 1, 1, "delete", 1, 1, producer="a", consumer_groups=("b",)),
                 TopicSpec("rcm.b.v1", 1, 1, "delete", 1, 1, producer="b")]
    assert service_acls(catalogue) == sorted([
        AclBinding("User:a", ResourceType.TOPIC, "rcm.a.v1", Operation.WRITE),
        AclBinding("User:b", ResourceType.TOPIC, "rcm.a.v1", Operation.READ),
        AclBinding("User:b", ResourceType.GROUP, "b", Operation.READ),
        AclBinding("User:b", ResourceType.TOPIC, "rcm.a.v1.b.dlq", Operation.WRITE),
        AclBinding("User:b", ResourceType.TOPIC, "rcm.b.v1", Operation.WRITE),
    ])
    assert service_principals(catalogue) == ["a", "b"]


def test_every_service_is_a_principal():
    assert service_principals() == ["claims", "collections", "denials", "eligibility", "remittance"]


def test_the_printed_commands_are_kafka_acls_invocations_deployers_can_run():
    [command] = kafka_acls_commands([AclBinding("User:claims", ResourceType.GROUP, "claims", Operation.READ)],
                                    bootstrap_server="kafka:9092", command_config="admin.properties")
    assert shlex.split(command) == [
        "kafka-acls.sh", "--bootstrap-server", "kafka:9092", "--command-config", "admin.properties", "--add",
        "--allow-principal", "User:claims", "--operation", "Read", "--group", "claims",
        "--resource-pattern-type", "literal"]


def test_the_cli_prints_users_without_their_passwords_and_every_rule(capsys, monkeypatch):
    monkeypatch.setenv("CLAIMS_KAFKA_SASL_PASSWORD", "do-not-print-me")
    assert cli.main(["--bootstrap-servers", "kafka:9092", "kafka-acls"]) == 0
    out = capsys.readouterr().out
    assert "do-not-print-me" not in out
    assert '--entity-name claims --add-config "SCRAM-SHA-512=[password=${CLAIMS_KAFKA_SASL_PASSWORD:?}]"' in out
    assert sum(line.startswith("kafka-acls.sh ") for line in out.splitlines()) == len(service_acls())


def test_a_scram_credential_is_salted_and_never_the_password():
    first = ScramCredential.from_password("claims", "pencil")
    second = ScramCredential.from_password("claims", "pencil")
    assert first.salt != second.salt and first.salted_password != second.salted_password
    assert "pencil" not in first.storage_argument()
    assert first.storage_argument().startswith("SCRAM-SHA-512=[name=claims,iterations=8192,salt=")
    assert len(first.salted_password) == 64  # SHA-512's output: PBKDF2 with HMAC-SHA-512, one block


def test_the_salted_password_is_scrams_by_the_rfc_7677_example():
    """RFC 7677 §3: user "user", password "pencil"; from SaltedPassword the client proves itself
    with ClientProof = ClientKey XOR HMAC(H(ClientKey), AuthMessage) (RFC 5802 §3), which the
    RFC gives. A broker holding our salted form checks exactly this."""
    salt = base64.b64decode("W22ZaJ0SNY7soEsUEjb6gQ==")
    credential = ScramCredential.from_password("user", "pencil", mechanism="SCRAM-SHA-256", iterations=4096, salt=salt)
    server_nonce = "rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
    auth_message = (f"n=user,r=rOprNGfwEbeRWgbNEkqO,r={server_nonce},s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096,"
                    f"c=biws,r={server_nonce}").encode()
    client_key = hmac.digest(credential.salted_password, b"Client Key", "sha256")
    signature = hmac.digest(hashlib.sha256(client_key).digest(), auth_message, "sha256")
    proof = bytes(a ^ b for a, b in zip(client_key, signature))
    assert base64.b64encode(proof).decode() == "dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
