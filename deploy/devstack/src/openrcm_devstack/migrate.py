"""`python -m openrcm_devstack.migrate`: upgrade every service database, then exit.

For containers (docker-compose.yml's one-shot `migrate` service), where PostgreSQL is not ours to
start: each database URL comes from `<NAME>_DATABASE_URL`, the variable the service itself reads.
"""

from __future__ import annotations

import os
import sys

from openrcm_devstack.services import SERVICES, migrate_service


def main() -> int:
    # Check every variable first, so a half-configured run migrates nothing.
    urls = {spec.name: os.environ.get(f"{spec.name.upper()}_DATABASE_URL", "") for spec in SERVICES}
    missing = [f"{name.upper()}_DATABASE_URL" for name, url in urls.items() if not url]
    if missing:
        print(f"missing environment: {', '.join(missing)}", file=sys.stderr)
        return 2
    for spec in SERVICES:
        print(f"migrating {spec.database}", flush=True)
        migrate_service(spec, urls[spec.name])
    return 0


if __name__ == "__main__":
    sys.exit(main())
