"""The compose files keep no credentials, and docker-compose.tls.yml wires TLS the way the code reads it.

Checked without Docker (none runs here): the override against the Compose Specification schema,
every `${...}` against Compose's interpolation syntax, and the override's settings against what
the services, the ACL derivation and the broker configuration tested on a real broker
(tests/integration/test_kafka_security.py, test_compose_kafka_tls.py) expect.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from openrcm_devstack.cli import DEFAULT_TLS_SERVERS
from openrcm_devstack.kafka import BrokerSecurity
from openrcm_devstack.kafka_acls import service_principals
from openrcm_devstack.services import SERVICES
from tests.contracts.test_compose import COMPOSE_FILE, ROOT, environment, load_compose, schema_errors

TLS_FILE = ROOT / "docker-compose.tls.yml"
COMPOSE_FILES = (COMPOSE_FILE, TLS_FILE)

# Compose's interpolation (compose-spec, "Interpolation"): $$ is a literal dollar; otherwise
# $NAME, ${NAME}, or ${NAME} followed by one of :- - :? ? :+ + and a value without a `$` of its own.
INTERPOLATION = re.compile(r"\$\$|\$\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?+])(?P<arg>[^}$]*))?\}"
                           r"|\$(?P<bare>[A-Za-z_][A-Za-z0-9_]*)")


def interpolate(text: str, variables: dict[str, str]) -> str:
    """`text` as Compose would fill it in from `variables`; an unset `:?` variable raises, as
    `docker compose` refuses to start."""
    def fill(match: re.Match) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group("braced") or match.group("bare")
        op, arg = match.group("op"), match.group("arg") or ""
        value = variables.get(name)
        if op and op.endswith("?") and not value:
            raise KeyError(f"{name}: {arg}")
        if op and op.endswith("-") and not value:
            return arg
        return value or ""

    return INTERPOLATION.sub(fill, text)


def values(document) -> list[str]:
    """Every string in a YAML document (keys of mappings included)."""
    if isinstance(document, dict):
        return [text for key, value in document.items() for text in (str(key), *values(value))]
    if isinstance(document, list):
        return [text for item in document for text in values(item)]
    return [document] if isinstance(document, str) else []


@pytest.fixture(scope="module")
def tls_override() -> dict:
    return load_compose(TLS_FILE)


def merged_environment(base: dict, override: dict, service: str) -> dict[str, str]:
    """A service's environment after `docker compose -f base -f override` (mappings merge by key)."""
    return {**environment(base["services"].get(service, {})), **environment(override["services"].get(service, {}))}


def test_the_tls_override_follows_the_compose_specification(tls_override):
    errors = schema_errors(tls_override)
    assert not errors, "docker-compose.tls.yml breaks the Compose Specification:\n" + "\n".join(errors)


@pytest.mark.parametrize("path", COMPOSE_FILES, ids=lambda p: p.name)
def test_every_dollar_is_an_interpolation_compose_understands(path):
    for text in values(load_compose(path)):
        leftover = INTERPOLATION.sub("", text)
        assert "$" not in leftover, f"{path.name}: {text!r} has a `$` Compose cannot interpolate (write $$)"


def test_the_interpolation_check_catches_what_compose_refuses():
    # Guards the check above: a shell command substitution is not Compose syntax.
    assert "$" in INTERPOLATION.sub("", "${PASSWORD:?run $(openssl rand -hex 24)}")
    with pytest.raises(KeyError, match="POSTGRES_PASSWORD"):
        interpolate("${POSTGRES_PASSWORD:?set it}", {})


# Names whose values are secrets; each must come from the environment, never from the file.
SECRET_NAME = re.compile(r"PASSWORD|SECRET", re.IGNORECASE)
REQUIRED_VARIABLE = re.compile(r"\$\{[A-Z0-9_]+:\?[^}]*\}")


@pytest.mark.parametrize("path", COMPOSE_FILES, ids=lambda p: p.name)
def test_no_credential_is_written_in_a_compose_file(path):
    document = load_compose(path)
    for name, service in document["services"].items():
        for variable, value in environment(service).items():
            if SECRET_NAME.search(variable):
                assert REQUIRED_VARIABLE.fullmatch(value), f"{name}: {variable} must be ${{VAR:?...}}, not {value!r}"
            for user_info in re.findall(r"://[^/@\s]*:([^/@\s]*)@", value):  # passwords inside URLs
                assert REQUIRED_VARIABLE.fullmatch(user_info), f"{name}: {variable} has a password in its URL"
            for jaas_password in re.findall(r'password="([^"]*)"', value):  # and inside JAAS settings
                assert REQUIRED_VARIABLE.fullmatch(jaas_password), f"{name}: {variable} has a JAAS password"


def test_the_credential_check_catches_a_default_password():
    # Guards the check above with the very default the compose file used to carry.
    assert not REQUIRED_VARIABLE.fullmatch("postgres")
    assert re.findall(r"://[^/@\s]*:([^/@\s]*)@", "postgresql://postgres:postgres@postgres:5432/x") == ["postgres"]


def _containers(spec) -> dict[str, str]:
    """Container name -> role for one service, as docker-compose.yml runs it."""
    return {spec.name: "api", f"{spec.name}-worker": "worker"} if spec.default_worker_port else {spec.name: "all"}


@pytest.mark.parametrize("spec", SERVICES, ids=lambda s: s.name)
def test_every_service_container_serves_https_and_reaches_postgresql_with_verify_full(tls_override, spec):
    for container in _containers(spec):
        service = tls_override["services"][container]
        command = service["command"]
        assert command[command.index("--ssl-certfile") + 1] == f"/tls/{container}.crt"
        assert command[command.index("--ssl-keyfile") + 1] == f"/tls/{container}.key"
        assert f"{spec.package}.main:app" in command
        url = environment(service)[f"{spec.name.upper()}_DATABASE_URL"]
        assert url.endswith(f"@postgres:5432/{spec.database}?sslmode=verify-full&sslrootcert=/tls/ca.crt")
        assert "https://localhost:8000/readyz" in " ".join(service["healthcheck"]["test"])
        assert "tls:/tls:ro" in service["volumes"]


@pytest.mark.parametrize("spec", SERVICES, ids=lambda s: s.name)
def test_every_process_that_uses_kafka_logs_in_as_its_service_after_its_acls_exist(tls_override, spec):
    base = load_compose()
    for container, role in _containers(spec).items():
        env = merged_environment(base, tls_override, container)
        if role == "api":  # publishes nothing itself, so it has no Kafka login at all
            assert "KAFKA_SASL_PASSWORD" not in env
            continue
        assert env["KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL" and env["KAFKA_SSL_CA_FILE"] == "/tls/ca.crt"
        # The principal the ACLs are derived for (kafka_acls.principal) is the service's name.
        assert env["KAFKA_SASL_USERNAME"] == spec.name
        assert env["KAFKA_SASL_PASSWORD"].startswith(f"${{{spec.name.upper()}_KAFKA_SASL_PASSWORD:?")
        assert tls_override["services"][container]["depends_on"]["kafka-access"] == {
            "condition": "service_completed_successfully"}


def test_the_access_one_shot_creates_every_principal_the_acls_name_as_the_admin(tls_override):
    access = tls_override["services"]["kafka-access"]
    assert access["command"][-2:] == ["kafka-acls", "--apply"]
    env = environment(access)
    assert env["KAFKA_SASL_USERNAME"] == "admin"
    assert {name for name in env if name.endswith("_KAFKA_SASL_PASSWORD")} == {
        f"{name.upper()}_KAFKA_SASL_PASSWORD" for name in service_principals()}
    assert environment(tls_override["services"]["topics"])["KAFKA_SASL_USERNAME"] == "admin"


def broker_properties(env: dict[str, str]) -> dict[str, str]:
    """The broker settings the apache/kafka image writes for KAFKA_* variables (its
    KafkaDockerWrapper: prefix dropped, lower case, `___` -> `-`, `__` -> `_`, `_` -> `.`)."""
    properties = {}
    for name, value in env.items():
        if name.startswith("KAFKA_") and name not in ("KAFKA_HEAP_OPTS", "KAFKA_OPTS", "KAFKA_JMX_OPTS"):
            key = name.removeprefix("KAFKA_").lower().replace("_", ".").replace("...", "-").replace("..", "_")
            properties[key] = value
    return properties


def test_the_compose_broker_is_configured_as_the_broker_tested_in_secure_mode(tls_override):
    env = merged_environment(load_compose(), tls_override, "kafka")
    compose = broker_properties(env)
    tested = BrokerSecurity(keystore_file=Path("/tls/kafka.pem"), ca_file=Path("/tls/ca.crt"),
                            users={"admin": "-"}).server_properties(port=9092, controller_port=9093)
    for key in ("authorizer.class.name", "allow.everyone.if.no.acl.found", "sasl.mechanism.inter.broker.protocol",
                "listener.name.client.sasl.enabled.mechanisms", "sasl.mechanism.controller.protocol",
                "listener.name.controller.sasl.enabled.mechanisms", "ssl.keystore.type", "ssl.keystore.location",
                "ssl.truststore.type", "ssl.truststore.location", "super.users", "inter.broker.listener.name"):
        assert compose.get(key) == tested[key], key
    # Every listener clients reach is SASL_SSL; only the controller's (never published) is not.
    protocols = dict(item.split(":") for item in compose["listener.security.protocol.map"].split(","))
    assert protocols == {"CLIENT": "SASL_SSL", "HOST": "SASL_SSL", "CONTROLLER": "SASL_PLAINTEXT"}
    assert "9093" not in " ".join(load_compose()["services"]["kafka"].get("ports", []))
    for listener in ("client", "host"):
        assert "ScramLoginModule" in compose[f"listener.name.{listener}.scram-sha-512.sasl.jaas.config"]


def test_the_webhooks_between_simulator_and_services_go_over_https(tls_override):
    simulator = environment(tls_override["services"]["clearinghouse"])
    assert simulator["CLEARINGHOUSE_WEBHOOK_URL"].startswith("https://claims-worker:8000/")
    assert simulator["CLEARINGHOUSE_REMITTANCE_WEBHOOK_URL"].startswith("https://remittance:8000/")
    assert simulator["SSL_CERT_FILE"] == "/tls/ca.crt"
    worker = environment(tls_override["services"]["claims-worker"])
    assert worker["OPENRCM_CLAIMS_CLEARINGHOUSE_URL"] == "https://clearinghouse:8000"


def test_postgresql_serves_tls_and_requires_it_of_other_containers(tls_override):
    postgres = tls_override["services"]["postgres"]
    command = " ".join(postgres["command"])
    assert "ssl=on" in command and "ssl_cert_file=/tls/postgres.crt" in command
    assert environment(postgres)["POSTGRES_REQUIRE_TLS"] == "on"
    script = (ROOT / "deploy" / "postgres" / "init" / "20-require-tls.sh").read_text()
    assert "hostssl" in script and "POSTGRES_REQUIRE_TLS" in script
    # The plaintext file's own settings survive the override (it replaces the command as a whole).
    for setting in load_compose()["services"]["postgres"]["command"]:
        assert setting in postgres["command"]


def test_the_certificate_one_shot_makes_a_certificate_for_every_container_that_serves_tls(tls_override):
    command = tls_override["services"]["tls-certs"]["command"]
    owned = {value.split("=")[0] for flag, value in zip(command, command[1:]) if flag == "--owner"}
    served = {name for service in tls_override["services"].values() for argument in service.get("command", [])
              for name in re.findall(r"/tls/([a-z-]+)\.(?:crt|key|pem)", str(argument))}
    served |= {name for value in environment(tls_override["services"]["kafka"]).values()
               for name in re.findall(r"/tls/([a-z-]+)\.pem", value)}
    assert served == owned
    assert owned == {server.split("=")[0] for server in DEFAULT_TLS_SERVERS}  # what `tls-certs` makes
