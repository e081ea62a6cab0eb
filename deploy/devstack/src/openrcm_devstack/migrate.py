"""`python -m openrcm_devstack.migrate`: make every service's roles, upgrade every service database, exit.

For containers (docker-compose.yml's one-shot `migrate` service), where PostgreSQL is not ours to
start: each database's owner URL comes from `<NAME>_ADMIN_DATABASE_URL` (a superuser's: it also
makes the service's app and system roles, openrcm_shared.row_security, with the password in
`OPENRCM_DB_ROLE_PASSWORD`, which the services' own URLs carry). The services themselves read
`<NAME>_DATABASE_URL` (app role) and `<NAME>_SYSTEM_DATABASE_URL` (system role).
"""

from __future__ import annotations

import os
import sys

from openrcm_devstack.postgres import provision_service_roles, role_password
from openrcm_devstack.services import SERVICES, migrate_service


def main() -> int:
    # Check every variable first, so a half-configured run migrates nothing.
    urls = {spec.name: os.environ.get(f"{spec.name.upper()}_ADMIN_DATABASE_URL", "") for spec in SERVICES}
    missing = [f"{name.upper()}_ADMIN_DATABASE_URL" for name, url in urls.items() if not url]
    if missing:
        print(f"missing environment: {', '.join(missing)}", file=sys.stderr)
        return 2
    for spec in SERVICES:
        print(f"roles of {spec.name}, then migrating {spec.database}", flush=True)
        provision_service_roles(urls[spec.name], {spec.name: spec.database}, role_password())
        migrate_service(spec, urls[spec.name])
    return 0


if __name__ == "__main__":
    sys.exit(main())
