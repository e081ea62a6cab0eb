"""Transport security settings: the Kafka clients' (KafkaSecurity) and the services' HTTPS (ServerTls)."""

from __future__ import annotations

import ssl

import pytest

from openrcm_shared.messaging.kafka import KafkaSecurity, admin_client, manual_commit_consumer, reliable_producer
from openrcm_shared.settings import ServerTls, ServiceSettings


def test_plaintext_is_the_default_and_carries_no_tls_or_login():
    security = KafkaSecurity.from_environment({})
    assert security.protocol == "PLAINTEXT"
    assert security.client_options() == {"security_protocol": "PLAINTEXT"}


def test_sasl_ssl_gives_a_verifying_tls_context_and_the_scram_login():
    security = KafkaSecurity.from_environment({
        "KAFKA_SECURITY_PROTOCOL": "sasl_ssl", "KAFKA_SASL_USERNAME": "claims", "KAFKA_SASL_PASSWORD": "s3cret"})
    options = security.client_options()
    assert options["security_protocol"] == "SASL_SSL"
    assert options["sasl_mechanism"] == "SCRAM-SHA-512"
    assert (options["sasl_plain_username"], options["sasl_plain_password"]) == ("claims", "s3cret")
    context = options["ssl_context"]
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname


def test_a_service_logs_in_as_its_own_principal_when_its_variables_are_set():
    environ = {"KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "KAFKA_SASL_USERNAME": "shared", "KAFKA_SASL_PASSWORD": "one",
               "REMITTANCE_KAFKA_SASL_USERNAME": "remittance", "REMITTANCE_KAFKA_SASL_PASSWORD": "two"}
    own = KafkaSecurity.from_environment(environ, service="remittance")
    other = KafkaSecurity.from_environment(environ, service="denials")
    assert (own.username, own.password) == ("remittance", "two")
    assert (other.username, other.password) == ("shared", "one")


def test_the_service_settings_carry_the_services_kafka_login(monkeypatch):
    monkeypatch.setenv("KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("DENIALS_KAFKA_SASL_USERNAME", "denials")
    monkeypatch.setenv("DENIALS_KAFKA_SASL_PASSWORD", "pw")
    settings = ServiceSettings.for_service("denials")
    assert settings.kafka_security.username == "denials"
    assert "pw" not in repr(settings)  # passwords stay out of logs and tracebacks


@pytest.mark.parametrize("environ, variable", [
    ({"KAFKA_SECURITY_PROTOCOL": "TLS"}, "KAFKA_SECURITY_PROTOCOL"),
    ({"KAFKA_SECURITY_PROTOCOL": "SASL_SSL"}, "KAFKA_SASL_USERNAME"),
    ({"KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "KAFKA_SASL_USERNAME": "claims"}, "KAFKA_SASL_PASSWORD"),
    ({"KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "KAFKA_SASL_MECHANISM": "PLAIN", "KAFKA_SASL_USERNAME": "claims",
      "KAFKA_SASL_PASSWORD": "x"}, "KAFKA_SASL_MECHANISM"),
    ({"KAFKA_SECURITY_PROTOCOL": "SSL", "KAFKA_SSL_CERT_FILE": "client.crt"}, "KAFKA_SSL_KEY_FILE"),
])
def test_settings_that_cannot_work_are_refused_naming_the_variable(environ, variable):
    with pytest.raises(ValueError, match=variable):
        KafkaSecurity.from_environment(environ)


def test_a_missing_ca_file_fails_when_the_context_is_made_not_at_the_first_connection(tmp_path):
    security = KafkaSecurity(protocol="SSL", ca_file=str(tmp_path / "absent.crt"))
    with pytest.raises(FileNotFoundError):
        security.ssl_context()


async def test_every_client_factory_takes_the_security_it_is_given():
    security = KafkaSecurity(protocol="SASL_SSL", username="claims", password="pw")
    clients = [reliable_producer("127.0.0.1:1", client_id="t", security=security),
               manual_commit_consumer("127.0.0.1:1", "topic", group_id="claims", client_id="t", security=security),
               admin_client("127.0.0.1:1", client_id="t", security=security)]
    for client in clients:
        inner = getattr(client, "client", None) or getattr(client, "_client")
        assert inner._security_protocol == "SASL_SSL"
        assert inner._sasl_plain_username == "claims"
        assert inner._ssl_context is not None


async def test_a_factory_without_security_reads_the_environment(monkeypatch):
    monkeypatch.setenv("KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("KAFKA_SASL_USERNAME", "ops")
    monkeypatch.setenv("KAFKA_SASL_PASSWORD", "pw")
    producer = reliable_producer("127.0.0.1:1", client_id="t")
    assert producer.client._security_protocol == "SASL_SSL"
    assert producer.client._sasl_plain_username == "ops"


def test_https_needs_both_files_and_they_must_exist(tmp_path):
    assert ServerTls.from_environment({}).uvicorn_arguments() == []
    cert, key = tmp_path / "server.crt", tmp_path / "server.key"
    cert.write_text("-")
    with pytest.raises(ValueError, match="go together"):
        ServerTls.from_environment({"OPENRCM_TLS_CERT_FILE": str(cert)})
    with pytest.raises(ValueError, match="OPENRCM_TLS_KEY_FILE"):
        ServerTls.from_environment({"OPENRCM_TLS_CERT_FILE": str(cert), "OPENRCM_TLS_KEY_FILE": str(key)})
    key.write_text("-")
    tls = ServerTls.from_environment({"OPENRCM_TLS_CERT_FILE": str(cert), "OPENRCM_TLS_KEY_FILE": str(key)})
    assert tls.scheme == "https"
    assert tls.uvicorn_arguments() == ["--ssl-certfile", str(cert), "--ssl-keyfile", str(key)]
