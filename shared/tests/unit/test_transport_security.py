"""Transport security settings: the Kafka clients' (KafkaSecurity), the services' HTTPS (ServerTls) and
PostgreSQL's TLS from the database URL (openrcm_shared.db)."""

from __future__ import annotations

import ssl

import pytest
from sqlalchemy import event

from openrcm_devstack.tls import CertificateAuthority
from openrcm_shared.db import LIBPQ_TLS_PARAMETERS, create_engine
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


class _Connecting(Exception):
    """Raised by the test's do_connect listener: the arguments were seen, no server is needed."""


async def connect_arguments(url: str) -> dict:
    """The keyword arguments the engine `create_engine(url)` hands asyncpg.connect()."""
    engine = create_engine(url)
    seen = {}

    @event.listens_for(engine.sync_engine, "do_connect")
    def capture(dialect, connection_record, cargs, cparams):
        seen.update(cparams)
        raise _Connecting

    try:
        with pytest.raises(_Connecting):
            async with engine.connect():
                pass
    finally:
        await engine.dispose()
    return seen


@pytest.fixture(scope="module")
def database_ca(tmp_path_factory):
    return CertificateAuthority.create(tmp_path_factory.mktemp("db-ca"))


async def test_verify_full_connects_with_a_context_that_checks_the_chain_and_the_host(database_ca):
    url = f"postgresql://app:pw@db.example:5432/openrcm_claims?sslmode=verify-full&sslrootcert={database_ca.cert_file}"
    arguments = await connect_arguments(url)
    context = arguments["ssl"]
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert [dict(entry[0] for entry in ca["subject"]) for ca in context.get_ca_certs()] == [
        {"commonName": "OpenRCM throwaway CA"}]  # exactly the CA named, not the system's
    assert not set(LIBPQ_TLS_PARAMETERS) & set(arguments)  # asyncpg.connect() refuses these keywords
    assert (arguments["host"], arguments["database"]) == ("db.example", "openrcm_claims")


@pytest.mark.parametrize("query, verify_mode, check_hostname", [
    ("sslmode=verify-ca&sslrootcert={ca}", ssl.CERT_REQUIRED, False),
    ("sslmode=require", ssl.CERT_NONE, False),
    ("sslmode=require&sslrootcert={ca}", ssl.CERT_REQUIRED, False),  # libpq: a CA given is checked
])
async def test_weaker_modes_check_what_libpq_checks(database_ca, query, verify_mode, check_hostname):
    arguments = await connect_arguments(f"postgresql://app@db/x?{query.format(ca=database_ca.cert_file)}")
    assert (arguments["ssl"].verify_mode, arguments["ssl"].check_hostname) == (verify_mode, check_hostname)


@pytest.mark.parametrize("mode, expected", [("disable", False), ("prefer", "prefer"), ("allow", "allow")])
async def test_modes_asyncpg_handles_itself_are_passed_on(mode, expected):
    assert (await connect_arguments(f"postgresql://app@db/x?sslmode={mode}"))["ssl"] == expected


async def test_a_url_without_tls_parameters_connects_as_before():
    arguments = await connect_arguments("postgresql://app@db/x")
    assert "ssl" not in arguments and arguments["timeout"] == 3


def test_the_engine_keeps_the_parameters_in_its_url_for_whoever_it_hands_the_url_to(database_ca):
    # remittance's posting workers open their own engines from engine.url: they must get TLS too.
    engine = create_engine(f"postgresql://app@db/x?sslmode=verify-full&sslrootcert={database_ca.cert_file}")
    assert engine.url.query["sslmode"] == "verify-full"


@pytest.mark.parametrize("query, error", [("sslmode=verify", ValueError), ("sslmode=verify-full&sslrootcert=/absent.crt",
                                                                           FileNotFoundError)])
def test_a_tls_setting_that_cannot_work_fails_when_the_engine_is_made(query, error):
    with pytest.raises(error):
        create_engine(f"postgresql://app@db/x?{query}")
