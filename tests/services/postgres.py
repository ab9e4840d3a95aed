"""PostgreSQL 15 for the PostgreSQL pass of the suite (`STOCKROOM_TEST_DATABASE=postgres`), the
outage and pool tests, and the benchmark: a throwaway cluster in a temp dir, tuned for speed
rather than durability. As root it runs as an unprivileged account, since postgres refuses root.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Self

import psycopg

from tests.services.process import (
    INSTALL_HINT,
    ServiceError,
    _run,
    _Service,
    _spawn,
    _terminate,
    _unprivileged_account,
    _wait_until,
)

PG_BIN = Path("/usr/lib/postgresql/15/bin")
PG_USER = "stockroom-test"  # the account postgres runs as when the tests run as root


class PostgresServer(_Service):
    """PostgreSQL 15 with trust auth; role `stockroom` (superuser) owns database `stockroom`."""

    name = "postgres"
    user = "stockroom"
    database = "stockroom"

    def __init__(
        self, port: int | None = None, *, bin_dir: Path = PG_BIN, start_timeout: float = 30.0
    ) -> None:
        for tool in ("initdb", "postgres"):
            if not (bin_dir / tool).is_file():
                raise ServiceError(f"{bin_dir / tool} not found: {INSTALL_HINT}")
        super().__init__(port)
        self.bin_dir = bin_dir
        self.start_timeout = start_timeout
        self.data_dir = self.tmpdir / "data"
        self.socket_dir = self.tmpdir / "socket"
        self._account = _unprivileged_account(PG_USER)
        self._initialised = False
        self._env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        self._env.update(LC_ALL="C", LANG="C", TZ="UTC")
        if self._account is not None:
            os.chown(self.tmpdir, self._account.uid, self._account.gid)

    @property
    def url(self) -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{self.database}"

    def url_for(self, database: str) -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{database}"

    def start(self) -> Self:
        """initdb on first start, then run postgres and wait until it accepts connections."""
        self._check_open()
        if self.running:
            return self
        if not self._initialised:
            self._initdb()
        self.socket_dir.mkdir(exist_ok=True)
        if self._account is not None:
            os.chown(self.socket_dir, self._account.uid, self._account.gid)
        settings = {
            "listen_addresses": "127.0.0.1",
            "port": str(self.port),
            "unix_socket_directories": str(self.socket_dir),
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            "max_connections": "200",
            "max_wal_size": "1GB",
            "checkpoint_timeout": "1h",
            "timezone": "UTC",
            "log_min_messages": "warning",
        }
        argv = [str(self.bin_dir / "postgres"), "-D", str(self.data_dir)]
        for key, value in settings.items():
            argv += ["-c", f"{key}={value}"]
        self._proc = _spawn(
            argv, log=self.log_path, env=self._env, cwd=self.tmpdir, account=self._account
        )
        _wait_until(
            self._accepts_connections,
            proc=self._proc,
            log=self.log_path,
            what="postgres",
            timeout=self.start_timeout,
        )
        if not self._initialised:
            self._execute(f'CREATE DATABASE "{self.database}" OWNER "{self.user}"')
            self._initialised = True
        return self

    start_again = start

    def stop(self, timeout: float = 30.0) -> None:
        """Fast shutdown (SIGINT: roll back sessions, checkpoint, exit); SIGKILL after timeout."""
        if self._proc is not None:
            _terminate(self._proc, signal.SIGINT, timeout)
            self._proc = None

    def create_database(self, name: str) -> str:
        """A new empty database on this server; its URL."""
        self._execute(f'CREATE DATABASE "{name}" OWNER "{self.user}"')
        return self.url_for(name)

    def reset(self) -> None:
        """Drop and recreate the `stockroom` database, ending any connection to it."""
        self._execute(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')
        self._execute(f'CREATE DATABASE "{self.database}" OWNER "{self.user}"')

    def _initdb(self) -> None:
        _run(
            [
                str(self.bin_dir / "initdb"),
                "--pgdata",
                str(self.data_dir),
                "--username",
                self.user,
                "--auth",
                "trust",
                "--encoding",
                "UTF8",
                "--locale",
                "C",
                "--no-sync",
                "--no-instructions",
            ],
            env=self._env,
            cwd=self.tmpdir,
            account=self._account,
        )

    def _accepts_connections(self) -> bool:
        try:
            with psycopg.connect(self.url_for("postgres"), connect_timeout=2):
                return True
        except psycopg.OperationalError:
            return False

    def _execute(self, sql: str) -> None:
        if not self.running:
            raise ServiceError("postgres is not running")
        with psycopg.connect(self.url_for("postgres"), autocommit=True, connect_timeout=5) as conn:
            conn.execute(sql.encode())
