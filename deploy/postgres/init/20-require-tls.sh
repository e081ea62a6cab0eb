#!/bin/sh
# Runs once, when the postgres image initialises an empty data volume (after 01-databases.sql).
# With POSTGRES_REQUIRE_TLS=on (docker-compose.tls.yml), connections from other containers must
# use TLS: the image's catch-all `host all all all <method>` rule becomes `hostssl`, so a client
# that does not ask for TLS is refused. Connections inside the container (the health check) keep
# their local rules. No `set -e`: the image sources scripts that are not executable.
if [ "${POSTGRES_REQUIRE_TLS:-off}" = "on" ]; then
    sed -i 's/^host\([[:space:]]\+all[[:space:]]\+all[[:space:]]\+all[[:space:]]\)/hostssl\1/' "$PGDATA/pg_hba.conf"
fi
