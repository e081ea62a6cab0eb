"""Row-level security on the real PostgreSQL (openrcm_shared.row_security): every table holding a
practice's rows, in every service, shows the app role one practice per transaction and refuses a
row for another; the system role spans practices on its own tables only.

Each service's tables come from its models (every table with a `tenant_id`), so a table added
later is checked without a change here. Rows are made by the owner (no policy applies to a
superuser) in a scratch database migrated with the service's scripts; the roles connect as the
services do.
"""

from __future__ import annotations

import importlib
import random
import uuid
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import asyncpg
import pytest
import sqlalchemy as sa

from openrcm_devstack.postgres import role_password
from openrcm_devstack.services import SERVICES
from openrcm_shared.db import create_engine, role_url
from openrcm_shared.pg_copy import CopyData, copy_data, row as copy_row
from openrcm_shared.row_security import (
    INBOX, NO_PRACTICE_DATA, PARKED_EVENTS, PRACTICE_POLICY, REFERENCE_TABLES, app_role, system_role,
)
from openrcm_shared.security.context import acting_for

pytestmark = pytest.mark.stack

SERVICE_NAMES = [spec.name for spec in SERVICES]
# Written by the system role alone: rows that belong to no practice until the system has read them.
# Readable by the system role alone (forced RLS, no policy): the clearinghouse's raw deliveries, and
# in every service the audit trail's chain heads (openrcm_shared.audit: sealed by the system role)
# and the outbox rows the relay set aside (openrcm_shared.messaging.relay).
SYSTEM_ONLY_TABLES = {"claims": {"clearinghouse_deliveries", "audit_chain_heads", "outbox_set_aside"},
                      "remittance": {"audit_chain_heads", "outbox_set_aside"},
                      "eligibility": {"audit_chain_heads", "outbox_set_aside"},
                      "denials": {"audit_chain_heads", "outbox_set_aside"},
                      "collections": {"audit_chain_heads", "outbox_set_aside"}}
# A reference the database checks without a foreign key (remittance migration 0004's trigger).
HIDDEN_REFERENCES = {("journal_entries", "remittance_id"): ("remittances", "id")}
# Tables each system role must not read at all: it needs none of them to span practices.
NOT_FOR_THE_SYSTEM_ROLE = {
    "claims": {"patients", "coverages", "providers", "service_facilities", "provider_enrollments", "idempotency_keys",
               "coverage_eligibility"},
    "remittance": {"idempotency_keys"},
    "eligibility": {"eligibility_checks", "eligibility_coverages", "eligibility_batches", "fee_schedule_rates",
                    "idempotency_keys"},
    # denial_cases: the worklist pass (SLA breaches, priorities, recategorization) spans practices, as
    # claims' deadline watch does on claims; the notes and tasks people write stay out of its reach.
    "denials": {"denial_case_notes", "denial_case_tasks", "idempotency_keys"},
    "collections": {"patient_accounts", "ledger_entries", "idempotency_keys"},
}


def tables_of(service: str) -> dict[str, sa.Table]:
    metadata = importlib.import_module(f"openrcm_{service}.adapters.tables").target_metadata
    return {name: table for each in metadata for name, table in each.tables.items()}


def practice_tables(service: str) -> list[str]:
    return sorted(name for name, table in tables_of(service).items() if "tenant_id" in table.c)


def practice() -> str:
    return f"practice-{uuid.uuid4().hex[:12]}"


# --- rows for any table -------------------------------------------------------------------------------


def _value(column: sa.Column):
    if isinstance(column.type, sa.JSON):
        return {}
    if isinstance(column.type, sa.ARRAY):
        return []
    kind = column.type.python_type
    if kind is str:
        length = getattr(column.type, "length", None) or 32
        return uuid.uuid4().hex[:length]
    if kind is bool:
        return False
    if kind is int:
        return random.randint(1, 30000) if isinstance(column.type, sa.SmallInteger) else random.randint(1, 10**9)
    if kind is Decimal:
        return Decimal("1.00")
    if kind is datetime:
        return datetime.now(timezone.utc)
    if kind is date:
        return date.today()
    if kind is uuid.UUID:
        return uuid.uuid4()
    if kind is bytes:
        return b"synthetic"
    raise TypeError(f"no synthetic value for {column}")


def _generated(table: sa.Table, column: sa.Column) -> bool:
    return (column.server_default is not None or column.identity is not None
            or column is table.autoincrement_column)


async def insert_row(conn, tables: dict[str, sa.Table], name: str, tenant_id: str) -> dict:
    """A row of `name` for the practice (its parents first, for the same practice); the values."""
    values = await row_values(conn, tables, name, tenant_id)
    await conn.execute(tables[name].insert().values(values))
    return values


async def row_values(conn, tables: dict[str, sa.Table], name: str, tenant_id: str) -> dict:
    """Values of a new row of `name` for the practice, its parents inserted (on `conn`)."""
    table = tables[name]
    values = {column.name: _value(column) for column in table.columns
              if not column.nullable and not _generated(table, column) and column.name != "tenant_id"}
    if "tenant_id" in table.c:
        values["tenant_id"] = tenant_id
    for constraint in table.foreign_key_constraints:
        if all(column.nullable for column in constraint.columns):
            continue
        parent = await insert_row(conn, tables, constraint.referred_table.name, tenant_id)
        for element in constraint.elements:
            values[element.parent.name] = parent[element.column.name]
    for (child, column), (parent_name, key) in HIDDEN_REFERENCES.items():
        if child == name:
            values[column] = (await insert_row(conn, tables, parent_name, tenant_id))[key]
    return values


# --- databases and roles ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def scratch(infra) -> dict[str, str]:
    """service -> the URL of a scratch database migrated with its scripts."""
    return {service: infra.scratch_database(f"openrcm_rls_{service}_{uuid.uuid4().hex[:8]}", migrations_of=service)
            for service in SERVICE_NAMES}


@pytest.fixture
async def engines(scratch):
    """(owner, app, system) engines on a service's scratch database; disposed after the test."""
    made = []

    def of(service: str):
        url = scratch[service]
        trio = (create_engine(url, pool_size=1),
                create_engine(role_url(url, app_role(service), role_password()), pool_size=1),
                create_engine(role_url(url, system_role(service), role_password()), pool_size=1))
        made.extend(trio)
        return trio
    yield of
    for engine in made:
        await engine.dispose()


async def two_practices_rows(owner, service: str, table: str) -> tuple[str, str, dict, dict]:
    tables = tables_of(service)
    first, second = practice(), practice()
    async with owner.begin() as conn:
        row_a = await insert_row(conn, tables, table, first)
        row_b = await insert_row(conn, tables, table, second)
    return first, second, row_a, row_b


def refused_by_policy(error: BaseException) -> bool:
    cause = getattr(error, "orig", None)
    cause = getattr(cause, "__cause__", None) or cause
    return isinstance(cause, asyncpg.exceptions.InsufficientPrivilegeError) and "row-level security" in str(cause)


# --- the catalogue: what every migrated service database looks like --------------------------------------


@pytest.mark.parametrize("service", SERVICE_NAMES)
async def test_every_table_but_the_inbox_has_forced_row_level_security(infra, service):
    engine = create_engine(infra.database_url(service), pool_size=1)
    try:
        async with engine.connect() as conn:
            security = dict((await conn.execute(sa.text(
                "SELECT relname, relrowsecurity AND relforcerowsecurity FROM pg_class "
                "WHERE relnamespace = 'public'::regnamespace AND relkind = 'r'"))).all())
            policies = (await conn.execute(sa.text(
                "SELECT tablename, policyname, cmd, roles::text[], qual, with_check FROM pg_policies "
                "WHERE schemaname = 'public'"))).all()
            app_on_system_only = [(await conn.execute(sa.text("SELECT has_table_privilege(:role, :table, 'SELECT')"),
                                                      {"role": app_role(service), "table": table})).scalar()
                                  for table in SYSTEM_ONLY_TABLES.get(service, ())]
    finally:
        await engine.dispose()
    unprotected = {name for name, forced in security.items() if not forced}
    assert unprotected - REFERENCE_TABLES == {*NO_PRACTICE_DATA, "alembic_version"}, \
        f"{service}: tables without forced RLS: {unprotected}"
    with_tenant = set(practice_tables(service)) - SYSTEM_ONLY_TABLES.get(service, set())
    assert {table for table, *_ in policies} == with_tenant  # one policy per practice table, none elsewhere
    for table, name, command, roles, using, check in policies:
        assert (name, command, roles) == (PRACTICE_POLICY, "ALL", ["public"]), table
        assert using == check and "current_setting('app.tenant_id'::text, true)" in using, (table, using)
    assert app_on_system_only == [False] * len(SYSTEM_ONLY_TABLES.get(service, ()))
    # The inbox holds no practice data: if it ever gets a practice column, it needs a policy.
    assert {c.name for c in tables_of(service)[INBOX].columns} == {
        "consumer_group", "event_id", "event_type", "processed_at"}
    assert {c.name for c in tables_of(service)[PARKED_EVENTS].columns} == {
        "consumer_group", "event_id", "position", "topic", "event_key", "event_type", "reason", "original_partition",
        "original_offset", "parked_at"}


@pytest.mark.parametrize("service", SERVICE_NAMES)
async def test_the_app_role_is_held_to_the_policies_and_only_the_system_role_bypasses_them(infra, service):
    engine = create_engine(infra.database_url(service), pool_size=1)
    try:
        async with engine.connect() as conn:
            roles = {row.rolname: row for row in (await conn.execute(sa.text(
                "SELECT rolname, rolsuper, rolbypassrls, rolcanlogin, rolcreaterole, rolcreatedb FROM pg_roles "
                "WHERE rolname IN (:app, :system)"), {"app": app_role(service), "system": system_role(service)}))}
    finally:
        await engine.dispose()
    app, system = roles[app_role(service)], roles[system_role(service)]
    assert (app.rolsuper, app.rolbypassrls, app.rolcanlogin) == (False, False, True)
    assert (system.rolsuper, system.rolbypassrls, system.rolcanlogin) == (False, True, True)
    assert not any((app.rolcreaterole, app.rolcreatedb, system.rolcreaterole, system.rolcreatedb))


# --- the app role: one practice per transaction -----------------------------------------------------------


# The audit trail is tested on its own (tests/e2e/test_audit_trail.py, shared/tests/component): its
# entries cannot be updated at all (append-only trigger), and its chain heads are the system role's.
AUDIT_TABLES = {"audit_log", "audit_chain_heads"}
# The system's own tables (no policy) are no practice's to see at all.
PRACTICE_TABLES = [(service, table) for service in SERVICE_NAMES for table in practice_tables(service)
                   if table not in AUDIT_TABLES | SYSTEM_ONLY_TABLES[service]]


@pytest.mark.parametrize(("service", "table"), PRACTICE_TABLES, ids=[f"{s}.{t}" for s, t in PRACTICE_TABLES])
async def test_a_query_without_a_practice_filter_sees_only_the_bound_practice(engines, service, table):
    owner, app, _ = engines(service)
    first, second, _, _ = await two_practices_rows(owner, service, table)
    with acting_for(first):
        async with app.connect() as conn:  # no WHERE tenant_id: the policy is the filter
            seen = (await conn.execute(sa.text(f"SELECT tenant_id FROM {table}"))).scalars().all()
    assert seen and set(seen) == {first}
    async with app.connect() as conn:  # no practice bound: nothing at all
        assert (await conn.execute(sa.text(f"SELECT count(*) FROM {table}"))).scalar() == 0
    async with owner.connect() as conn:  # the other practice's row is there all the same
        assert (await conn.execute(sa.text(f"SELECT count(*) FROM {table} WHERE tenant_id = :t"),
                                   {"t": second})).scalar() >= 1


@pytest.mark.parametrize(("service", "table"), PRACTICE_TABLES, ids=[f"{s}.{t}" for s, t in PRACTICE_TABLES])
async def test_a_row_for_another_practice_is_refused_and_its_rows_are_out_of_reach(engines, service, table):
    owner, app, _ = engines(service)
    first, second, _, _ = await two_practices_rows(owner, service, table)
    tables = tables_of(service)
    async with owner.begin() as conn:  # its parents, if any, are there: only the row itself is refused
        foreign = await row_values(conn, tables, table, second)
    with acting_for(first):
        with pytest.raises(sa.exc.DBAPIError) as written:  # WITH CHECK on INSERT
            async with app.begin() as conn:
                await conn.execute(tables[table].insert().values(foreign))
        assert refused_by_policy(written.value), written.value
        with pytest.raises(sa.exc.DBAPIError) as moved:  # WITH CHECK on UPDATE: no moving a row away
            async with app.begin() as conn:
                await conn.execute(sa.text(f"UPDATE {table} SET tenant_id = :other"), {"other": second})
        assert refused_by_policy(moved.value), moved.value
        async with app.begin() as conn:  # USING: the other practice's rows cannot be touched
            assert (await conn.execute(sa.text(f"DELETE FROM {table} WHERE tenant_id = :other"),
                                       {"other": second})).rowcount == 0
    async with owner.connect() as conn:
        assert (await conn.execute(sa.text(f"SELECT count(*) FROM {table} WHERE tenant_id = :t"),
                                   {"t": second})).scalar() >= 1


# --- the system role: across practices, on its own tables only ---------------------------------------------


@pytest.mark.parametrize("service", SERVICE_NAMES)
async def test_the_system_role_sees_every_practice_on_its_tables_and_nothing_else(engines, service):
    owner, _, system = engines(service)
    async with owner.connect() as conn:
        readable = set((await conn.execute(sa.text(
            "SELECT table_name FROM information_schema.role_table_grants WHERE grantee = :role "
            "AND privilege_type = 'SELECT'"), {"role": system_role(service)})).scalars())
    assert "outbox" in readable  # the relay
    assert not readable & NOT_FOR_THE_SYSTEM_ROLE[service]
    for table in practice_tables(service):
        first, second, _, _ = await two_practices_rows(owner, service, table)
        if table in readable:
            async with system.connect() as conn:  # no practice bound, and no filter: both practices
                seen = set((await conn.execute(sa.text(f"SELECT tenant_id FROM {table} WHERE tenant_id IN (:a, :b)"),
                                               {"a": first, "b": second})).scalars())
            assert seen == {first, second}, table
        else:
            with pytest.raises(sa.exc.ProgrammingError, match="permission denied"):
                async with system.connect() as conn:  # the retention pruner may read a time column, no more
                    await conn.execute(sa.text(f"SELECT * FROM {table} LIMIT 1"))


async def test_raw_deliveries_are_the_system_roles_alone(engines):
    owner, app, system = engines("claims")
    tables = tables_of("claims")
    async with owner.begin() as conn:
        delivery = await insert_row(conn, tables, "clearinghouse_deliveries", "none")
    async with system.connect() as conn:
        assert (await conn.execute(sa.text("SELECT count(*) FROM clearinghouse_deliveries WHERE webhook_id = :id"),
                                   {"id": delivery["webhook_id"]})).scalar() == 1
    with pytest.raises(sa.exc.ProgrammingError, match="permission denied"):
        with acting_for(practice()):
            async with app.connect() as conn:
                await conn.execute(sa.text("SELECT 1 FROM clearinghouse_deliveries"))


# --- retention and the delivery safeguards as the services run them ----------------------------------------


@pytest.mark.parametrize("service", SERVICE_NAMES)
async def test_the_system_role_prunes_every_practices_old_rows(engines, service):
    # The pruner runs on the system engine (openrcm_shared.service): it deletes across practices.
    from openrcm_shared.retention import SHARED_RULES, RetentionPruner, RetentionSettings, retention_days

    owner, _, system = engines(service)
    tables = tables_of(service)
    old = datetime.now(timezone.utc) - timedelta(days=400)
    first, second, group = practice(), practice(), f"rls-{uuid.uuid4().hex[:8]}"
    async with owner.begin() as conn:
        for tenant in (first, second):
            await conn.execute(tables["idempotency_keys"].insert().values(
                tenant_id=tenant, idempotency_key="old", request_fingerprint="-", response_status=201,
                response_body=b"{}", created_at=old))
        await conn.execute(tables[INBOX].insert().values(consumer_group=group, event_id=uuid.uuid4(),
                                                         event_type="test", processed_at=old))
    definition_rules = importlib.import_module(f"openrcm_{service}.main").DEFINITION.retention
    rules = [*SHARED_RULES, *definition_rules]
    pruner = RetentionPruner(system, rules, service_name=f"rls-{service}",
                             settings=RetentionSettings(pause_seconds=0), days=retention_days(rules, {}))
    assert await pruner.prune_if_leader() is not None
    async with owner.connect() as conn:
        left = (await conn.execute(sa.text("SELECT count(*) FROM idempotency_keys WHERE tenant_id IN (:a, :b)"),
                                   {"a": first, "b": second})).scalar()
        inbox_left = (await conn.execute(sa.text("SELECT count(*) FROM inbox WHERE consumer_group = :g"),
                                         {"g": group})).scalar()
    assert (left, inbox_left) == (0, 0)


async def test_the_consumer_parks_keys_as_the_app_role_and_only_the_relay_sees_rows_set_aside(engines):
    from openrcm_shared.messaging.parking import ParkedEvent, ParkedKeys

    owner, app, system = engines("denials")
    parked = ParkedKeys(f"rls-{uuid.uuid4().hex[:8]}")
    event = ParkedEvent(uuid.uuid4(), "test.v1", "t", b"key", 0, 1)
    with acting_for(practice()):  # as the consumer applies a record
        async with app.begin() as conn:
            await parked.park(conn, event, reason="failed")
            assert await parked.head(conn, "t", b"key") == event.event_id  # SELECT ... FOR UPDATE
            assert await parked.release(conn, event.event_id) == ("t", b"key")
    async with owner.begin() as conn:
        await insert_row(conn, tables_of("denials"), "outbox_set_aside", practice())
    async with system.connect() as conn:
        assert (await conn.execute(sa.text("SELECT count(*) FROM outbox_set_aside"))).scalar() >= 1
    with acting_for(practice()):
        with pytest.raises(sa.exc.ProgrammingError, match="permission denied"):
            async with app.connect() as conn:
                await conn.execute(sa.text("SELECT 1 FROM outbox_set_aside"))


# --- bulk rows (COPY) under both roles ----------------------------------------------------------------------


def outbox_lines(tenant_id: str, count: int) -> CopyData:
    columns = ("event_id", "tenant_id", "aggregate_type", "aggregate_id", "event_type", "topic", "payload",
               "headers")
    return CopyData("outbox", columns, [copy_row((uuid.uuid4(), tenant_id, "test", "AGG", "test.v1", "t", b"{}", {}))
                                        for _ in range(count)])


async def outbox_count(owner, tenant_id: str) -> int:
    async with owner.connect() as conn:
        return (await conn.execute(sa.text("SELECT count(*) FROM outbox WHERE tenant_id = :t"),
                                   {"t": tenant_id})).scalar()


async def test_bulk_rows_of_the_app_role_pass_the_policy_row_by_row(engines):
    # PostgreSQL refuses COPY FROM under row-level security: pg_copy inserts through a temporary table.
    owner, app, _ = engines("denials")
    mine, theirs = practice(), practice()
    with acting_for(mine):
        async with app.begin() as conn:
            await copy_data(conn, outbox_lines(mine, 60))
            await copy_data(conn, outbox_lines(mine, 2))  # twice in one transaction
        # On the driver connection: asyncpg's own error, not wrapped by SQLAlchemy.
        with pytest.raises(asyncpg.exceptions.InsufficientPrivilegeError, match="row-level security"):
            async with app.begin() as conn:
                await copy_data(conn, outbox_lines(theirs, 3))
    assert (await outbox_count(owner, mine), await outbox_count(owner, theirs)) == (62, 0)


async def test_bulk_rows_of_the_system_role_are_copied_for_any_practice(engines):
    owner, _, system = engines("claims")  # its system role stages events (the 837 batcher)
    first, second = practice(), practice()
    async with system.begin() as conn:  # no practice bound: the system role is not held to the policy
        await copy_data(conn, outbox_lines(first, 5))
        await copy_data(conn, outbox_lines(second, 5))
    assert (await outbox_count(owner, first), await outbox_count(owner, second)) == (5, 5)


# --- making the roles ------------------------------------------------------------------------------------


async def test_provisioning_makes_both_roles_idempotently_with_a_password_given(infra):
    from openrcm_shared.row_security import provision_roles

    service, database = f"rlscheck{uuid.uuid4().hex[:6]}", "postgres"
    admin = await asyncpg.connect(infra.postgres.admin_url)
    try:
        await provision_roles(admin, service, database)
        await provision_roles(admin, service, database, {app_role(service): "it's a p\\assword"})  # again: fine
        roles = {row["rolname"]: row for row in await admin.fetch(
            "SELECT rolname, rolsuper, rolbypassrls, rolcanlogin, rolpassword IS NOT NULL AS has_password "
            "FROM pg_authid WHERE rolname = ANY($1::text[])", [app_role(service), system_role(service)])}
        may_connect = await admin.fetchval("SELECT has_database_privilege($1, $2, 'CONNECT')",
                                           system_role(service), database)
        for role in roles:
            await admin.execute(f'DROP OWNED BY "{role}"; DROP ROLE "{role}"')
    finally:
        await admin.close()
    app, system = roles[app_role(service)], roles[system_role(service)]
    assert (app["rolsuper"], app["rolbypassrls"], app["rolcanlogin"], app["has_password"]) == (False, False, True, True)
    assert (system["rolsuper"], system["rolbypassrls"], system["rolcanlogin"], system["has_password"]) == (
        False, True, True, False)
    assert may_connect


def test_a_stack_on_a_server_named_by_database_url_makes_the_roles_there(infra, monkeypatch, tmp_path):
    from openrcm_devstack import stack as stack_module
    from openrcm_devstack.stack import Stack, StackPorts

    made = []
    monkeypatch.setattr(stack_module, "provision_service_roles",
                        lambda url, databases, password: made.append((url, databases, password)))
    monkeypatch.setenv("DATABASE_URL", infra.postgres.admin_url)
    monkeypatch.setenv("OPENRCM_DB_ROLE_PASSWORD", "s3cret")
    external = Stack(tmp_path, StackPorts(postgres=1, kafka=2, kafka_controller=3))
    external.start_postgres()  # no server of its own: the databases and roles on the one named
    assert external.postgres is None
    assert made == [(infra.postgres.admin_url, {spec.name: spec.database for spec in SERVICES}, "s3cret")]
    url = sa.engine.make_url(external.app_database_url("claims"))
    assert (url.username, url.password, url.database) == (app_role("claims"), "s3cret", "openrcm_claims")
    assert sa.engine.make_url(external.system_database_url("claims")).username == system_role("claims")


async def test_readiness_tells_the_system_role_from_a_role_held_to_the_policies(engines):
    # Given the app role's URL as its system URL, a service's relay would publish nothing, silently:
    # /readyz says so instead (database:system).
    from openrcm_shared.health import _check_system_database

    owner, app, system = engines("denials")
    assert await _check_system_database(system) is None
    assert await _check_system_database(owner) is None  # a superuser: no policy holds it either
    assert await _check_system_database(app) == "held to the practice policies: not a system role"
