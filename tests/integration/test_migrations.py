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
