"""PostgreSQL row-level security: which practice a transaction may see, and who may span practices.

The model, per service database:

* Every table that holds a practice's rows has ROW LEVEL SECURITY enabled and forced (FORCE: the
  table's owner is held to it too) and one policy, `practice_isolation`, on every command:
  a row is visible, and may be written, only when its `tenant_id` is the transaction's
  `app.tenant_id` setting (USING and WITH CHECK alike). With no practice set, nothing is visible.
* `openrcm_<service>_app` is the role the API and the event consumer log in as: not a superuser,
  no BYPASSRLS, so the policy applies to everything it does. `openrcm_shared.db` sets
  `app.tenant_id` at the BEGIN of each of its transactions from `security.context.current_tenant()`
  (the request's practice, or the consumed event's `ce_tenantid`); a query that forgets its
  `WHERE tenant_id = ...` still sees one practice only, and a row written for another practice is
  refused.
* `openrcm_<service>_system` is the role of the work that must span practices by its nature (the
  outbox relay, the 837 batcher and the deadline watch, the clearinghouse's webhooks, ERA
  attribution and posting). It has BYPASSRLS, and privileges on only the tables that work
  touches (`isolate_practices_v1`'s `system_privileges`): it cannot read a practice's patients,
  say, at all. BYPASSRLS rather than a policy clause for the role because PostgreSQL refuses COPY
  FROM into any table whose policies apply to the session, and the ERA posting and the bulk
  outbox stage their rows by COPY (a role held to policies writes through INSERT, see
  `pg_copy.copy_data`).
* Migrations run as the databases' owner. A table nobody but the system role may read (the
  clearinghouse's raw deliveries, stored before anyone knows whose they are) has row-level
  security forced and no policy at all, so only a role that bypasses it sees a row.
* The inbox holds no practice data (consumer group, event id and type, when): it has no policy;
  the app role records events in it. So for the parked events (a consumer group's keys waiting
  behind an event that failed for good: event ids, types, topics, keys), which the consumer keeps
  as the app role. The outbox rows the relay sets aside (whole events, any practice's) are the
  system role's alone (forced, no policy). Both: `messaging.migrations.grant_delivery_safeguards_v1`.
* The retention pruner deletes every practice's old rows as the system role; of the idempotency
  keys it reads only the time column (their stored responses stay out of its reach).

The roles are cluster objects, made by `provision_roles` with an administrator's connection
(the local stack, compose's migrate step, or a DBA for a real deployment) before migrations
grant them their privileges.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import asyncpg

TENANT_SETTING = "app.tenant_id"
PRACTICE_POLICY = "practice_isolation"
# NULLIF: a setting once made in a session reads as '' (not NULL) after its transaction ends,
# so "no practice" is either; neither matches a row.
PRACTICE_PREDICATE = f"tenant_id = NULLIF(current_setting('{TENANT_SETTING}', true), '')"
# Tables a service keeps whatever it does, with no practice data (see the module docstring).
INBOX = "inbox"
PARKED_EVENTS = "parked_events"
# Messaging plumbing with no practice column and no practice data: no policy.
NO_PRACTICE_DATA = frozenset({INBOX, PARKED_EVENTS})
# Reference data every practice shares, with no practice column and so no policy: the CMS code-set
# files the claims service imports (claims migration 0013).
REFERENCE_TABLES = frozenset({"code_set_files", "code_set_file_chunks"})


def app_role(service: str) -> str:
    """The role the API and the consumer of `service` log in as (held to the practice policies)."""
    return f"openrcm_{service}_app"


def system_role(service: str) -> str:
    """The role of `service`'s work across practices (BYPASSRLS, privileges on few tables)."""
    return f"openrcm_{service}_system"


# --- provisioning: an administrator's connection -------------------------------------------------

# (role, attributes): neither may create roles or databases; only the system role bypasses
# row-level security.
def role_attributes(service: str) -> dict[str, str]:
    common = "LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION"
    return {app_role(service): f"{common} NOBYPASSRLS", system_role(service): f"{common} BYPASSRLS"}


async def provision_roles(connection, service: str, database: str,
                          passwords: Mapping[str, str | None] | None = None) -> None:
    """Create (or bring up to date) `service`'s two login roles and let them connect to `database`.

    `connection` is an asyncpg connection of a role that may create roles with BYPASSRLS (a
    superuser). Idempotent; a password given sets the role's password, none leaves it as it is
    (the local embedded server trusts loopback connections)."""
    passwords = passwords or {}
    for role, attributes in role_attributes(service).items():
        exists = await connection.fetchval("SELECT true FROM pg_roles WHERE rolname = $1", role)
        if not exists:
            try:
                await connection.execute(f'CREATE ROLE "{role}"')
            except asyncpg.exceptions.DuplicateObjectError:  # created meanwhile by another provisioner
                pass
        await connection.execute(f'ALTER ROLE "{role}" {attributes}')
        password = passwords.get(role)
        if password:
            # format(%L) quotes the password server-side; ALTER ROLE takes no parameters.
            await connection.execute(await connection.fetchval(
                "SELECT format('ALTER ROLE %I PASSWORD %L', $1::text, $2::text)", role, password))
        await connection.execute(f'GRANT CONNECT ON DATABASE "{database}" TO "{role}"')


# --- migrations: frozen per version (a migration that ran must keep meaning the same thing) --------


def _enable(op, table: str) -> None:
    op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
    op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")


def isolate_practices_v1(op, service: str, *, practice_tables: Iterable[str],
                         system_privileges: Mapping[str, str], system_only_tables: Iterable[str] = ()) -> None:
    """Row-level security on `service`'s tables and its roles' privileges (v1).

    practice_tables:     tables with a `tenant_id`: forced RLS, the practice policy, and every DML
                         privilege for the app role.
    system_privileges:   table -> privileges of the system role (e.g. "SELECT, UPDATE"), only
                         what its cross-practice work needs; the system role bypasses the policies.
    system_only_tables:  forced RLS and no policy: no role held to policies sees a row.
    The inbox (no practice data) is readable and writable by the app role. Sequences (row ids,
    control numbers) may be used by both roles. The roles must exist (`provision_roles`)."""
    app, system = app_role(service), system_role(service)
    for table in practice_tables:
        _enable(op, table)
        op.execute(f"CREATE POLICY {PRACTICE_POLICY} ON {table} USING ({PRACTICE_PREDICATE}) "
                   f"WITH CHECK ({PRACTICE_PREDICATE})")
        op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {table} TO {app}")
    for table in system_only_tables:
        _enable(op, table)
    op.execute(f"GRANT SELECT, INSERT ON {INBOX} TO {app}")
    for table, privileges in system_privileges.items():
        op.execute(f"GRANT {privileges} ON {table} TO {system}")
    op.execute(f"GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO {app}, {system}")


def share_practices_v1(op, service: str, *, practice_tables: Iterable[str],
                       system_only_tables: Iterable[str] = ()) -> None:
    """Undo `isolate_practices_v1`: no policies, no row-level security, no privileges for the
    service's roles (the roles themselves stay: they are the cluster's, not this database's)."""
    app, system = app_role(service), system_role(service)
    for table in practice_tables:
        op.execute(f"DROP POLICY {PRACTICE_POLICY} ON {table}")
    for table in (*practice_tables, *system_only_tables):
        op.execute(f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")
    op.execute(f"REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {app}, {system}")
    op.execute(f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM {app}, {system}")
