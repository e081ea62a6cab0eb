from alembic import context

from openrcm_collections.adapters.tables import target_metadata
from openrcm_shared.db import run_migrations_online

run_migrations_online(context, target_metadata)
