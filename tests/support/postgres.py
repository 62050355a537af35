"""A real PostgreSQL for tests: the server binaries that PyPI's ``pgserver`` wheel ships
(PostgreSQL 16), initialised in a temp directory and listening on 127.0.0.1 on a free port.

PostgreSQL refuses to run as root. Run as root (CI), the server runs as the unprivileged
system user ``pgserver``, created on first use with ``useradd`` exactly as the ``pgserver``
package itself does; run as anyone else, it runs as that user. Its directory is made with
:func:`tempfile.mkdtemp` (not under pytest's per-user temp root, which is mode 0700 and so
closed to that user) and removed at the end.

If PostgreSQL cannot start, the fixtures fail with the reason (the server log included):
the configuration store is tested on PostgreSQL for real, never skipped.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from support.servers import free_port

SERVICE_USER = "pgserver"   # the user the pgserver package runs PostgreSQL as when started by root
SETTINGS = """
listen_addresses = '127.0.0.1'
port = {port}
unix_socket_directories = ''
max_connections = 200
fsync = off
synchronous_commit = off
full_page_writes = off
"""


class PostgresUnavailable(RuntimeError):
    """PostgreSQL could not be set up or started here (the message says why)."""


def binaries() -> Path:
    """The bin/ of the PostgreSQL that the ``pgserver`` wheel ships (found without importing
    the package, whose import touches the runtime directory)."""
    spec = importlib.util.find_spec("pgserver")
    if spec is None or spec.origin is None:
        raise PostgresUnavailable("the pgserver package is not installed (pip install -r requirements/dev.txt)")
    path = Path(spec.origin).parent / "pginstall" / "bin"
    if not (path / "postgres").exists():
        raise PostgresUnavailable(f"no PostgreSQL binaries in {path}")
    return path


def _service_account() -> pwd.struct_passwd | None:
    """Who runs PostgreSQL: None for the current user, or the unprivileged user when we are root."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(SERVICE_USER)
    except KeyError:
        pass
    done = subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", SERVICE_USER],
                          capture_output=True, text=True)
    if done.returncode != 0 and "already exists" not in done.stderr:
        raise PostgresUnavailable(f"PostgreSQL does not run as root and useradd {SERVICE_USER} failed: {done.stderr.strip()}")
    return pwd.getpwnam(SERVICE_USER)


class PostgresServer:
    """One PostgreSQL cluster on 127.0.0.1:<free port>, trust authentication, user ``postgres``."""

    def __init__(self) -> None:
        self.bin = binaries()
        self.account = _service_account()
        self.root = Path(tempfile.mkdtemp(prefix="hibiki-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "postgres.log"
        self.port = free_port()
        if self.account is not None:
            os.chown(self.root, self.account.pw_uid, self.account.pw_gid)

    # --- URLs ----------------------------------------------------------------------
    def url(self, database: str = "postgres") -> str:
        """SQLAlchemy URL (psycopg 3 driver) of *database*."""
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def dsn(self, database: str = "postgres") -> str:
        """libpq URL of *database*, for psycopg directly."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    # --- life cycle ----------------------------------------------------------------
    def _run(self, tool: str, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        kwargs: dict[str, Any] = {}
        if self.account is not None:
            kwargs = {"user": self.account.pw_uid, "group": self.account.pw_gid, "extra_groups": []}
        return subprocess.run([str(self.bin / tool), *args], cwd=self.root, capture_output=True, text=True,
                              timeout=timeout, env={**os.environ, "LC_ALL": "C", "LANG": "C"}, **kwargs)

    def _fail(self, what: str, done: subprocess.CompletedProcess[str]) -> PostgresUnavailable:
        log = self.log.read_text(errors="replace")[-4000:] if self.log.exists() else "(no log)"
        return PostgresUnavailable(f"PostgreSQL {what} failed (exit {done.returncode}) in {self.root}:\n"
                                   f"{done.stdout}{done.stderr}\n--- server log ---\n{log}")

    def init(self) -> None:
        done = self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "--encoding=UTF8",
                         "--no-locale", "--no-sync")
        if done.returncode != 0:
            raise self._fail("initdb", done)
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write(SETTINGS.format(port=self.port))

    def start(self) -> None:
        """Start (or start again, on the same port and data) and wait until it accepts connections."""
        done = self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60", "start")
        if done.returncode != 0:
            raise self._fail("start", done)
        with contextlib.closing(self.connect()):   # ready means: a client gets in
            pass

    def stop(self) -> None:
        """Fast shutdown: open sessions are ended, as in a database outage."""
        if self.running:
            done = self._run("pg_ctl", "-D", str(self.data), "-w", "-t", "60", "-m", "fast", "stop")
            if done.returncode != 0 and self.running:
                raise self._fail("stop", done)

    @property
    def running(self) -> bool:
        return self._run("pg_ctl", "-D", str(self.data), "status").returncode == 0

    def destroy(self) -> None:
        try:
            self.stop()
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    # --- databases -----------------------------------------------------------------
    def connect(self, database: str = "postgres") -> Any:
        import psycopg

        return psycopg.connect(self.dsn(database), autocommit=True, connect_timeout=10)

    def create_database(self) -> str:
        name = f"t_{uuid.uuid4().hex[:16]}"
        with contextlib.closing(self.connect()) as conn:
            conn.execute(f'CREATE DATABASE "{name}" ENCODING \'UTF8\' TEMPLATE template0')
        return name

    def drop_database(self, name: str) -> None:
        with contextlib.closing(self.connect()) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextlib.contextmanager
def postgres_cluster() -> Iterator[PostgresServer]:
    """A started cluster, stopped and removed when the block ends; ``pytest.fail`` if it cannot start."""
    try:
        server = PostgresServer()
    except PostgresUnavailable as exc:
        pytest.fail(f"a real PostgreSQL is needed and cannot be had: {exc}", pytrace=False)
    try:
        server.init()
        server.start()
    except (PostgresUnavailable, OSError, subprocess.SubprocessError) as exc:
        server.destroy()
        pytest.fail(f"a real PostgreSQL is needed and did not start: {exc}", pytrace=False)
    try:
        yield server
    finally:
        server.destroy()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """The session's PostgreSQL. Tests must not stop it: one that needs an outage uses ``private_postgres``."""
    with postgres_cluster() as server:
        yield server


@pytest.fixture(scope="session")
def postgres_url(postgres_server: PostgresServer) -> str:
    """SQLAlchemy URL of the session server's maintenance database (``postgres``)."""
    return postgres_server.url()


@pytest.fixture
def postgres_database_url(postgres_server: PostgresServer) -> Iterator[str]:
    """A fresh, empty database on the session server for one test; dropped afterwards."""
    name = postgres_server.create_database()
    yield postgres_server.url(name)
    postgres_server.drop_database(name)


@pytest.fixture
def private_postgres() -> Iterator[PostgresServer]:
    """A PostgreSQL of the test's own, which it may stop and start (outages)."""
    with postgres_cluster() as server:
        yield server
