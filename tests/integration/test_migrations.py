"""Each service's migrations build exactly the schema its tables describe, and can be undone."""

from __future__ import annotations

import importlib

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from openrcm_devstack.services import SERVICES
from openrcm_shared.db import create_engine

pytestmark = pytest.mark.stack


@pytest.mark.parametrize("service", SERVICES, ids=lambda s: s.name)
async def test_migrated_schema_matches_the_models(infra, service):
    target_metadata = importlib.import_module(f"{service.package}.adapters.tables").target_metadata
    engine = create_engine(infra.database_url(service.name), pool_size=1)
    try:
        async with engine.connect() as conn:
            differences = await conn.run_sync(
                lambda sync_conn: compare_metadata(MigrationContext.configure(sync_conn), target_metadata))
    finally:
        await engine.dispose()
    assert differences == [], f"{service.name}: models and migrations differ: {differences}"


@pytest.mark.parametrize("service", SERVICES, ids=lambda s: s.name)
def test_migrations_downgrade_and_upgrade_again(infra, service):
    from openrcm_shared.db import migrate

    url = infra.scratch_database(f"openrcm_roundtrip_{service.name}", migrations_of=service.name)
    migrate(url, service.migrations_dir, revision="base", direction="downgrade")
    migrate(url, service.migrations_dir)


# JSONB documents no query compares are left out of ANALYZE (openrcm_shared.column_statistics).
_WITHOUT_STATISTICS = {
    "claims": {("claims", "encounter_document"), ("claims", "prior_payer_adjudications"),
               ("claim_history", "detail"), ("scrub_results", "hits")},
    "denials": {("claim_facts", "lines"), ("claim_facts", "diagnosis_codes"), ("claim_timeline", "detail")},
    "remittance": {("expected_claims", "lines")},
    "collections": {("bill_claims", "lines")},
}


@pytest.mark.parametrize("service", SERVICES, ids=lambda s: s.name)
async def test_payload_columns_are_left_out_of_planner_statistics(infra, service):
    engine = create_engine(infra.database_url(service.name), pool_size=1)
    try:
        async with engine.connect() as conn:
            rows = (await conn.exec_driver_sql(
                "SELECT c.relname, a.attname FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
                "WHERE c.relnamespace = 'public'::regnamespace AND a.attnum > 0 AND a.attstattarget = 0")).all()
    finally:
        await engine.dispose()
    assert {tuple(row) for row in rows} == _WITHOUT_STATISTICS.get(service.name, set())


async def test_the_local_postgresql_paces_autovacuum_and_analyzes_young_tables_less_often(infra):
    """The local stack's server settings (openrcm_devstack.postgres): vacuum paced, ANALYZE after
    1,000 rows and half a table have changed. A server of one's own (DATABASE_URL) keeps its own."""
    if infra.postgres is None:
        pytest.skip("PostgreSQL given by DATABASE_URL: its settings are its operator's")
    engine = create_engine(infra.database_url("claims"), pool_size=1)
    try:
        async with engine.connect() as conn:
            settings = dict((await conn.exec_driver_sql(
                "SELECT name, setting FROM pg_settings WHERE name IN ('autovacuum_naptime', "
                "'autovacuum_vacuum_cost_delay', 'autovacuum_vacuum_cost_limit', 'autovacuum_analyze_threshold', "
                "'autovacuum_analyze_scale_factor')")).all())
    finally:
        await engine.dispose()
    assert settings == {"autovacuum_naptime": "10", "autovacuum_vacuum_cost_delay": "20",
                        "autovacuum_vacuum_cost_limit": "100", "autovacuum_analyze_threshold": "1000",
                        "autovacuum_analyze_scale_factor": "0.5"}
