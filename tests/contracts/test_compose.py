"""docker-compose.yml: valid Compose, and wired the way the services and the stack expect.

No Docker is needed: the file is checked against the Compose Specification's JSON schema (vendored
in schemas/, see its README) and against services.SERVICES, so a new service or a renamed
package cannot be forgotten here.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from jsonschema import Draft7Validator

from openrcm_devstack.services import SERVICES
from openrcm_shared.row_security import app_role, system_role

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
SCHEMA_FILE = Path(__file__).parent / "schemas" / "compose-spec.json"


def load_compose(path: Path = COMPOSE_FILE) -> dict:
    # safe_load resolves the file's anchors and `<<` merge keys, as Compose does.
    return yaml.safe_load(path.read_text())


def schema_errors(document: dict) -> list[str]:
    schema = json.loads(SCHEMA_FILE.read_text())
    # The schema declares draft-07 by an https URI that jsonschema does not map; name the draft.
    Draft7Validator.check_schema(schema)
    errors = sorted(Draft7Validator(schema).iter_errors(document), key=lambda e: list(e.absolute_path))
    return [f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}" for e in errors]


def environment(service: dict) -> dict[str, str]:
    """A service's environment as a dict, whichever of Compose's two forms it uses."""
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {key: "" if value is None else str(value) for key, value in env.items()}


def published_ports(service: dict) -> set[str]:
    """Host ports, from the short ("[ip:]host:container") or the long (published:) syntax."""
    ports = set()
    for port in service.get("ports", []):
        if isinstance(port, dict):
            ports.add(str(port.get("published", "")))
        elif str(port).count(":"):
            ports.add(str(port).rsplit(":", 2)[-2])
    return ports


def healthcheck_command(service: dict) -> str:
    test = (service.get("healthcheck") or {}).get("test") or []
    return test if isinstance(test, str) else " ".join(test)


@pytest.fixture(scope="module")
def compose() -> dict:
    return load_compose()


def test_compose_file_follows_the_compose_specification(compose):
    errors = schema_errors(compose)
    assert not errors, "docker-compose.yml breaks the Compose Specification:\n" + "\n".join(errors)


def test_the_schema_check_rejects_an_unknown_key(compose):
    # Guards the check above: a schema that loads but accepts anything would pass it silently.
    broken = {**compose, "services": {**compose["services"], "claims": {**compose["services"]["claims"],
                                                                         "helthcheck": {}}}}
    assert any("helthcheck" in error for error in schema_errors(broken))


@pytest.mark.parametrize("spec", SERVICES, ids=lambda s: s.name)
def test_every_service_has_a_container(compose, spec):
    service = compose["services"].get(spec.name)
    assert service is not None, f"docker-compose.yml has no container for {spec.name}"
    command = " ".join(service["command"]) if isinstance(service["command"], list) else service["command"]
    assert f"{spec.package}.main:app" in command
    assert str(spec.default_port) in published_ports(service), f"{spec.name}: host port {spec.default_port}"
    env = environment(service)
    assert env.get(f"{spec.name.upper()}_DATABASE_URL", "").endswith(f"@postgres:5432/{spec.database}")
    # Its two roles (openrcm_shared.row_security), never the superuser.
    assert env[f"{spec.name.upper()}_DATABASE_URL"].startswith(f"postgresql://{app_role(spec.name)}:")
    assert env.get(f"{spec.name.upper()}_SYSTEM_DATABASE_URL", "").startswith(
        f"postgresql://{system_role(spec.name)}:")
    assert env[f"{spec.name.upper()}_SYSTEM_DATABASE_URL"].endswith(f"@postgres:5432/{spec.database}")
    assert env.get("KAFKA_BOOTSTRAP_SERVERS") == "kafka:9092"
    assert env.get("OPENRCM_ROLE", "all") == ("api" if spec.default_worker_port else "all")


# The extra processes of a service, as the stack runner starts them (StackPorts.processes).
_EXTRA_PROCESSES = [(spec, role, port) for spec in SERVICES
                    for role, port in (("worker", spec.default_worker_port), ("relay", spec.default_relay_port)) if port]


@pytest.mark.parametrize("spec,role,port", _EXTRA_PROCESSES, ids=lambda value: getattr(value, "name", str(value)))
def test_a_service_process_has_its_container_like_the_stack_runner(compose, spec, role, port):
    api, process = compose["services"][spec.name], compose["services"].get(f"{spec.name}-{role}")
    assert process is not None, f"docker-compose.yml has no {spec.name}-{role} container"
    assert environment(process)["OPENRCM_ROLE"] == role
    assert process["command"] == api["command"]
    assert str(port) in published_ports(process)
    assert "/readyz" in healthcheck_command(process)
    if role == "worker":  # it sends the 837s, so it is the one that needs the clearinghouse's address
        assert "OPENRCM_CLAIMS_CLEARINGHOUSE_URL" in environment(process) or spec.name != "claims"
        # with a relay process it leaves the relaying to it (else both compete for the relay's lock)
        assert environment(process).get("OPENRCM_RELAY_APART", "false") == str(bool(spec.default_relay_port)).lower()


def test_the_clearinghouse_calls_back_where_the_stack_runner_points_it(compose):
    # Like StackPorts.webhook_url: a service's worker takes its webhooks when it has one.
    simulator = environment(compose["services"]["clearinghouse"])
    for variable, service in (("CLEARINGHOUSE_WEBHOOK_URL", "claims"), ("CLEARINGHOUSE_REMITTANCE_WEBHOOK_URL", "remittance")):
        spec = next(s for s in SERVICES if s.name == service)
        container = f"{service}-worker" if spec.default_worker_port else service
        assert simulator[variable] == f"http://{container}:8000/v1/webhooks/clearinghouse"


@pytest.mark.parametrize("spec", SERVICES, ids=lambda s: s.name)
def test_every_service_waits_for_its_dependencies_and_reports_readiness(compose, spec):
    service = compose["services"][spec.name]
    assert "/readyz" in healthcheck_command(service), f"{spec.name}'s healthcheck must hit /readyz"
    conditions = {name: rule.get("condition") for name, rule in service["depends_on"].items()}
    assert conditions == {"postgres": "service_healthy", "kafka": "service_healthy",
                          "migrate": "service_completed_successfully", "topics": "service_completed_successfully"}


def test_kafka_is_apache_kafka_4_in_kraft_mode(compose):
    kafka = compose["services"]["kafka"]
    assert re.fullmatch(r"apache/kafka:4\.\d+(\.\d+)?", kafka["image"]), kafka["image"]
    assert environment(kafka)["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert healthcheck_command(kafka) and healthcheck_command(compose["services"]["postgres"])


def test_kafka_creates_no_topic_by_itself(compose):
    # Topics come only from deploy/topics.toml, as on the local stack.
    assert environment(compose["services"]["kafka"]).get("KAFKA_AUTO_CREATE_TOPICS_ENABLE", "").lower() == "false"


def test_migrate_and_topics_cover_every_database_and_the_catalogue(compose):
    migrate_env = environment(compose["services"]["migrate"])
    for spec in SERVICES:
        assert migrate_env.get(f"{spec.name.upper()}_ADMIN_DATABASE_URL", "").endswith(f"/{spec.database}")
    assert compose["services"]["topics"]["command"][-1] == "topics"
    init_sql = "\n".join(p.read_text() for p in sorted((ROOT / "deploy" / "postgres" / "init").glob("*.sql")))
    for spec in SERVICES:
        assert re.search(rf"CREATE DATABASE {spec.database};", init_sql), f"no database for {spec.name}"


def test_the_migrate_one_shot_makes_the_roles_and_migrates_each_database_from_its_variable(compose, monkeypatch):
    from openrcm_devstack import migrate

    migrated, provisioned = [], []
    monkeypatch.setattr(migrate, "migrate_service", lambda spec, url: migrated.append((spec.name, url)))
    monkeypatch.setattr(migrate, "provision_service_roles",
                        lambda url, databases, password: provisioned.append((url, databases, password)))
    env = environment(compose["services"]["migrate"])
    for name, url in env.items():
        monkeypatch.setenv(name, url)
    monkeypatch.setenv("OPENRCM_DB_ROLE_PASSWORD", "s3cret")  # compose fills it in from the shell
    assert migrate.main() == 0
    assert migrated == [(spec.name, env[f"{spec.name.upper()}_ADMIN_DATABASE_URL"]) for spec in SERVICES]
    assert provisioned == [(env[f"{spec.name.upper()}_ADMIN_DATABASE_URL"], {spec.name: spec.database}, "s3cret")
                           for spec in SERVICES]

    monkeypatch.delenv("DENIALS_ADMIN_DATABASE_URL")
    migrated.clear()
    provisioned.clear()
    assert migrate.main() != 0 and migrated == [] and provisioned == []  # nothing half-done


def test_the_role_password_comes_from_the_shell_and_reaches_every_role_url(compose):
    required = environment(compose["services"]["migrate"])["OPENRCM_DB_ROLE_PASSWORD"]
    assert required.startswith("${OPENRCM_DB_ROLE_PASSWORD:?"), "compose must refuse to start without it"
    for spec in SERVICES:
        env = environment(compose["services"][spec.name])
        for variable in (f"{spec.name.upper()}_DATABASE_URL", f"{spec.name.upper()}_SYSTEM_DATABASE_URL"):
            assert ":${OPENRCM_DB_ROLE_PASSWORD:?" in env[variable], variable  # required there too


def test_the_image_is_built_from_an_existing_dockerfile_and_runs_as_non_root(compose):
    build = compose["services"]["claims"]["build"]
    dockerfile = ROOT / build["context"] / build["dockerfile"]
    users = re.findall(r"^USER\s+(\S+)", dockerfile.read_text(), flags=re.MULTILINE)
    assert users and users[-1].split(":")[0] not in ("root", "0")
