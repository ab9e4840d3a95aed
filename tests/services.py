"""Real servers for tests: PostgreSQL, Redis and uvicorn, each on a free port on 127.0.0.1.

Plain classes with no pytest dependency; fixtures wrap them. Every server runs in its own process
group, is killed if the test process dies (PR_SET_PDEATHSIG) and is closed at exit (atexit).
Missing system packages are installed by `.ci/install-system-deps`.
"""

from __future__ import annotations

import atexit
import contextlib
import email
import email.policy
import json
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Collection, Mapping, Sequence
from email.message import EmailMessage
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import psycopg
from sqlalchemy.engine import URL, make_url

REPO_ROOT = Path(__file__).resolve().parent.parent
PG_BIN = Path("/usr/lib/postgresql/15/bin")
PG_USER = "stockroom-test"
INSTALL_HINT = "run `.ci/install-system-deps` as root to install the system packages for tests"

__all__ = [
    "HaproxyServer",
    "PostgresServer",
    "RedisServer",
    "ServiceError",
    "SmtpServer",
    "StockroomServe",
    "TcpRelay",
    "UvicornServer",
    "free_port",
    "sync_url",
    "wait_for",
]


class ServiceError(RuntimeError):
    """A test server could not be found, started or stopped."""


def sync_url(database_url: str) -> URL:
    """A blocking SQLAlchemy URL: psycopg 3 for PostgreSQL (fixtures, operator-style queries and
    the benchmark's baseline app, the plain SQLModel way; Stockroom itself runs on asyncpg)."""
    url = make_url(database_url)
    if url.get_backend_name() == "postgresql":
        return url.set(drivername="postgresql+psycopg")
    return url


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for(
    condition: Callable[[], object], what: str, *, timeout: float = 30.0, interval: float = 0.02
) -> object:
    """Poll until `condition()` is truthy and return it; fail naming `what` after `timeout`.

    The deadline is generous on purpose: it only decides when a broken run gives up, never
    how fast a passing one must be.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


# --- process plumbing ------------------------------------------------------------------------

# One watchdog process per test process holds the read end of a pipe. It learns the process
# groups and temp dirs of live servers; when the pipe reaches EOF (the test process exited or was
# SIGKILLed), it SIGKILLs those groups and deletes the dirs. Unlike PR_SET_PDEATHSIG this also
# reaches uvicorn's worker processes, and it does not fire when the thread that started a server
# ends.
_WATCHDOG = """
import os, shutil, signal, sys, time
groups, dirs = set(), set()
for line in sys.stdin:
    op, kind, value = line[0], line[1], line[2:].rstrip("\\n")
    items = groups if kind == "g" else dirs
    item = int(value) if kind == "g" else value
    (items.add if op == "+" else items.discard)(item)
for pgid in groups:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except OSError:
        pass
if dirs:
    time.sleep(0.5)  # reasoned: SIGKILLed servers let go of their files; no signal says when
for path in dirs:
    shutil.rmtree(path, ignore_errors=True)
"""
_watchdog: subprocess.Popen[str] | None = None
_watchdog_owner = 0


def _tell_watchdog(message: str) -> None:
    global _watchdog, _watchdog_owner
    if _watchdog is None or _watchdog_owner != os.getpid() or _watchdog.poll() is not None:
        _watchdog = subprocess.Popen(
            [sys.executable, "-I", "-S", "-c", _WATCHDOG],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            text=True,
            start_new_session=True,
        )
        _watchdog_owner = os.getpid()
    assert _watchdog.stdin is not None
    _watchdog.stdin.write(message + "\n")
    _watchdog.stdin.flush()


def _children(pid: int) -> list[int]:
    """PIDs whose parent is `pid`, from /proc."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if int(stat.rpartition(")")[2].split()[1]) == pid:
            found.append(int(entry.name))
    return sorted(found)


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


class _Account:
    def __init__(self, uid: int, gid: int) -> None:
        self.uid = uid
        self.gid = gid


def _unprivileged_account() -> _Account | None:
    """None when unprivileged; as root, the `stockroom-test` system user (made if needed)."""
    if os.geteuid() != 0:
        return None
    try:
        entry = pwd.getpwnam(PG_USER)
    except KeyError:
        subprocess.run(
            [
                "useradd",
                "--system",
                "--user-group",
                "--no-create-home",
                "--home-dir",
                "/nonexistent",
                "--shell",
                "/usr/sbin/nologin",
                PG_USER,
            ],
            check=False,
            capture_output=True,
        )
        try:
            entry = pwd.getpwnam(PG_USER)  # made now, or by a parallel test process
        except KeyError:
            entry = pwd.getpwnam("nobody")
    return _Account(entry.pw_uid, entry.pw_gid)


def _spawn(
    argv: Sequence[str],
    *,
    log: Path,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    account: _Account | None = None,
) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        proc = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=dict(env) if env is not None else None,
            cwd=cwd,
            process_group=0,
            user=account.uid if account else None,
            group=account.gid if account else None,
            extra_groups=[] if account else None,
        )
    _tell_watchdog(f"+g{proc.pid}")
    return proc


def _run(
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    account: _Account | None = None,
    timeout: float = 60.0,
) -> None:
    result = subprocess.run(
        list(argv),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        env=dict(env) if env is not None else None,
        cwd=cwd,
        user=account.uid if account else None,
        group=account.gid if account else None,
        extra_groups=[] if account else None,
        timeout=timeout,
        check=False,
    )
    if result.returncode != 0:
        output = (result.stdout + result.stderr).decode(errors="replace")
        raise ServiceError(f"{argv[0]} exited with {result.returncode}:\n{output[-4000:]}")


def _terminate(proc: subprocess.Popen[bytes], first: int, timeout: float) -> None:
    """Send `first` to the leader, wait, then SIGKILL its group and any child left behind.

    PostgreSQL's children run in sessions of their own, so the group alone would miss them.
    """
    children = _children(proc.pid)
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(first)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    for pid in children:
        if _alive(pid):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while any(_alive(pid) for pid in children) and time.monotonic() < deadline:
        time.sleep(0.01)
    _tell_watchdog(f"-g{proc.pid}")


def _tail(path: Path, chars: int = 4000) -> str:
    try:
        text = path.read_text(errors="replace")
    except FileNotFoundError:
        return "(no log)"
    return text[-chars:]


def _wait_until(
    ready: Callable[[], bool],
    *,
    proc: subprocess.Popen[bytes],
    log: Path,
    what: str,
    timeout: float,
) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise ServiceError(f"{what} exited with {proc.returncode}; log:\n{_tail(log)}")
        if ready():
            return
        if time.monotonic() > deadline:
            _terminate(proc, signal.SIGKILL, 0)
            raise ServiceError(f"{what} not ready after {timeout:.0f} s; log:\n{_tail(log)}")
        time.sleep(0.05)


_live: set[_Service] = set()


@atexit.register
def _close_all() -> None:
    for service in list(_live):
        with contextlib.suppress(Exception):
            service.close()


class _Service:
    """Common lifecycle: a temp dir, one child process, context manager, atexit backstop."""

    name = "service"

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.tmpdir = Path(tempfile.mkdtemp(prefix=f"stockroom-{self.name}-"))
        self.log_path = self.tmpdir / f"{self.name}.log"
        self._proc: subprocess.Popen[bytes] | None = None
        self._closed = False
        _live.add(self)
        _tell_watchdog(f"+d{self.tmpdir}")

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def start(self) -> Self:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def restart(self) -> Self:
        """Stop and start again on the same port (and, for PostgreSQL, the same data)."""
        self.stop()
        return self.start()

    def kill(self) -> None:
        """SIGKILL the whole process group at once: a crash, not a shutdown."""
        if self._proc is not None:
            _terminate(self._proc, signal.SIGKILL, 0)
            self._proc = None

    def close(self) -> None:
        """Stop and delete the temp dir. Idempotent."""
        if self._closed:
            return
        try:
            self.stop()
        finally:
            self._closed = True
            _live.discard(self)
            shutil.rmtree(self.tmpdir, ignore_errors=True)
            _tell_watchdog(f"-d{self.tmpdir}")

    def _check_open(self) -> None:
        if self._closed:
            raise ServiceError(f"{self.name} server is closed")

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<{type(self).__name__} 127.0.0.1:{self.port} {state}>"


# --- PostgreSQL ------------------------------------------------------------------------------


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
        self._account = _unprivileged_account()
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


# --- Redis -----------------------------------------------------------------------------------


def _redis_binary() -> str:
    found = shutil.which("redis-server")
    if found:
        return found
    if os.access("/usr/bin/redis-server", os.X_OK):
        return "/usr/bin/redis-server"
    raise ServiceError(f"redis-server not found on PATH or in /usr/bin: {INSTALL_HINT}")


def _redis_ping(port: int, timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


class RedisServer(_Service):
    """redis-server with no persistence (`--save '' --appendonly no`)."""

    name = "redis"

    def __init__(self, port: int | None = None, *, start_timeout: float = 30.0) -> None:
        self.binary = _redis_binary()
        super().__init__(port)
        self.start_timeout = start_timeout

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def ping(self) -> bool:
        return _redis_ping(self.port)

    def start(self) -> Self:
        self._check_open()
        if self.running:
            return self
        argv = [
            self.binary,
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--daemonize",
            "no",
            "--dir",
            str(self.tmpdir),
            "--logfile",
            "",
        ]
        self._proc = _spawn(argv, log=self.log_path, cwd=self.tmpdir)
        _wait_until(
            self.ping,
            proc=self._proc,
            log=self.log_path,
            what="redis-server",
            timeout=self.start_timeout,
        )
        return self

    def stop(self, timeout: float = 10.0) -> None:
        if self._proc is not None:
            _terminate(self._proc, signal.SIGTERM, timeout)
            self._proc = None


# --- uvicorn ---------------------------------------------------------------------------------

# uvicorn's own logging set-up with the worker's process id on every line, so a test can tell
# which worker answered a request (`UvicornServer.answered_by`).
_LOG_CONFIG = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "default": {
            "()": "uvicorn.logging.DefaultFormatter",
            "fmt": "%(levelprefix)s [pid %(process)d] %(message)s",
            "use_colors": False,
        },
        "access": {
            "()": "uvicorn.logging.AccessFormatter",
            "fmt": '%(levelprefix)s [pid %(process)d] %(client_addr)s - "%(request_line)s" '
            "%(status_code)s",
            "use_colors": False,
        },
    },
    "handlers": {
        "default": {
            "formatter": "default",
            "class": "logging.StreamHandler",
            "stream": "ext://sys.stderr",
        },
        "access": {
            "formatter": "access",
            "class": "logging.StreamHandler",
            "stream": "ext://sys.stdout",
        },
    },
    "loggers": {
        "uvicorn": {"handlers": ["default"], "level": "INFO", "propagate": False},
        "uvicorn.error": {"level": "INFO"},
        "uvicorn.access": {"handlers": ["access"], "level": "INFO", "propagate": False},
    },
}
_ACCESS_LINE = re.compile(r'\[pid (\d+)\] \S+ - "(\S+) (\S+) HTTP/[\d.]+" (\d+)')


class UvicornServer(_Service):
    """`python -m uvicorn APP` as a subprocess, its output in a log file in a temp dir.

    `env` is merged over os.environ, less the variables named in `unset`. `cwd` defaults to the temp dir (so relative paths such as
    the development key file stay out of the repo); the app is imported from the repo root.
    Access-log lines carry the worker's process id.
    """

    name = "uvicorn"

    def __init__(
        self,
        env: Mapping[str, str] | None = None,
        *,
        cwd: Path | str | None = None,
        port: int | None = None,
        workers: int | None = None,
        app: str = "api.main:app",
        ready_path: str = "/docs",
        extra_args: Sequence[str] = (),
        start_timeout: float = 60.0,
        python: str = sys.executable,
        unset: Collection[str] = (),
    ) -> None:
        super().__init__(port)
        inherited = {k: v for k, v in os.environ.items() if k not in unset}
        self.env = {**inherited, "PYTHONUNBUFFERED": "1", **(env or {})}
        self.cwd = Path(cwd) if cwd is not None else self.tmpdir
        self.workers = workers
        self.app = app
        self.ready_path = ready_path
        self.extra_args = list(extra_args)
        self.start_timeout = start_timeout
        self.python = python
        self.log_config = self.tmpdir / "logging.json"
        self.log_config.write_text(json.dumps(_LOG_CONFIG))

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def argv(self) -> list[str]:
        argv = [
            self.python,
            "-m",
            "uvicorn",
            self.app,
            "--app-dir",
            str(REPO_ROOT),
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--no-server-header",
            "--log-config",
            str(self.log_config),
        ]
        if self.workers is not None:
            argv += ["--workers", str(self.workers)]
        return argv + self.extra_args

    def start(self) -> Self:
        self._check_open()
        if self.running:
            return self
        with self.log_path.open("ab") as out:
            out.write(f"$ {' '.join(self.argv())}\n".encode())
        self._proc = _spawn(self.argv(), log=self.log_path, env=self.env, cwd=self.cwd)
        _wait_until(
            self._answers,
            proc=self._proc,
            log=self.log_path,
            what=self.name,
            timeout=self.start_timeout,
        )
        return self

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM (graceful shutdown), SIGKILL to the whole process group after `timeout`."""
        if self._proc is not None:
            _terminate(self._proc, signal.SIGTERM, timeout)
            self._proc = None

    def worker_pids(self) -> list[int]:
        """PIDs of the worker processes (children of the main one); [] without --workers."""
        if self._proc is None or self._proc.poll() is not None:
            return []
        return [
            pid for pid in _children(self._proc.pid) if b"resource_tracker" not in _cmdline(pid)
        ]

    def answered_by(self, method: str, path: str, status: int | None = None) -> list[int]:
        """Process ids of the workers that answered `method path` (with `status`), in order."""
        return [
            int(pid)
            for pid, m, p, code in _ACCESS_LINE.findall(self.log())
            if m == method and p == path and (status is None or int(code) == status)
        ]

    def _answers(self) -> bool:
        try:
            url = self.base_url + self.ready_path
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 (http only)
                status: int = response.status
        except urllib.error.HTTPError as error:
            status = error.code
        except (OSError, ValueError):
            return False
        return status < 500


class StockroomServe(UvicornServer):
    """`stockroom serve`, README command 1, configured only by its environment.

    The console script installed next to this interpreter, so the test runs what a user runs.
    Its log is uvicorn's own, without process ids.
    """

    name = "stockroom-serve"

    def argv(self) -> list[str]:
        script = Path(self.python).with_name("stockroom")
        command = [str(script)] if script.is_file() else [self.python, "-m", "api.cli"]
        argv = [*command, "serve", "--port", str(self.port)]
        if self.workers is not None:
            argv += ["--workers", str(self.workers)]
        return argv + self.extra_args


# --- network faults --------------------------------------------------------------------------


class TcpRelay:
    """Forwards 127.0.0.1:`port` to 127.0.0.1:`target_port`, one thread for every connection.

    `partition()` makes the link go silent the way a dropped network does: no byte moves in
    either direction, nothing is closed or reset, and new connections are accepted but hear
    nothing. `heal()` lets the bytes held meanwhile through, as TCP would after retransmitting.
    """

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._flowing = threading.Event()
        self._flowing.set()
        self._sockets: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._closed = False
        threading.Thread(target=self._accept, daemon=True, name="relay-accept").start()

    def partition(self) -> None:
        self._flowing.clear()

    def heal(self) -> None:
        self._flowing.set()

    def close(self) -> None:
        self._closed = True
        self._flowing.set()
        self._listener.close()
        with self._lock:
            for sock in self._sockets:
                with contextlib.suppress(OSError):
                    sock.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self._lock:
                self._sockets |= {client, upstream}
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while True:
                self._flowing.wait()  # a partition holds the bytes here, in the kernel
                data = source.recv(65536)
                self._flowing.wait()  # read just before the link went silent: hold it too
                if not data:
                    break
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)


# --- HAProxy ---------------------------------------------------------------------------------


class HaproxyServer(_Service):
    """Debian's `haproxy` running a configuration file as it is, in the foreground; `env` fills
    the file's `${...}` variables. Its admin socket answers `command()`."""

    name = "haproxy"

    def __init__(self, config: Path, env: Mapping[str, str], *, port: int | None = None) -> None:
        binary = shutil.which("haproxy") or "/usr/sbin/haproxy"
        if not os.access(binary, os.X_OK):
            raise ServiceError(f"haproxy not found: {INSTALL_HINT}")
        super().__init__(port)
        self.binary = binary
        self.config = config
        self.socket_path = self.tmpdir / "admin.sock"
        self.env = {
            **os.environ,
            "STOCKROOM_LISTEN": f"127.0.0.1:{self.port}",
            "STOCKROOM_HAPROXY_SOCKET": str(self.socket_path),
            **env,
        }

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Self:
        self._check_open()
        if self.running:
            return self
        argv = [self.binary, "-db", "-f", str(self.config)]
        self._proc = _spawn(argv, log=self.log_path, env=self.env, cwd=self.tmpdir)
        _wait_until(
            lambda: self.socket_path.exists() and _port_open(self.port),
            proc=self._proc,
            log=self.log_path,
            what="haproxy",
            timeout=30,
        )
        return self

    def stop(self, timeout: float = 10.0) -> None:
        if self._proc is not None:
            _terminate(self._proc, signal.SIGTERM, timeout)
            self._proc = None

    def command(self, line: str) -> str:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(5)
            sock.connect(str(self.socket_path))
            sock.sendall(line.encode() + b"\n")
            chunks = []
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        return b"".join(chunks).decode()

    def server_states(self, backend: str) -> dict[str, str]:
        """Each server of `backend` and its state as health checks see it: UP, DOWN, ..."""
        states = {}
        for line in self.command("show stat").splitlines():
            fields = line.split(",")
            if (
                len(fields) > 17
                and fields[0] == backend
                and fields[1] not in ("FRONTEND", "BACKEND")
            ):
                states[fields[1]] = fields[17].split(" ")[0]
        return states


def _port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


# --- SMTP ------------------------------------------------------------------------------------


class SmtpServer:
    """A real SMTP server (aiosmtpd) in a thread of the test process, on a free port.

    It keeps every message it accepts; `stop()` and `start()` again on the same port stand for
    an outage of the mail server.
    """

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.messages: list[EmailMessage] = []
        self._lock = threading.Lock()
        self._controller: Any = None

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def start(self) -> Self:
        from aiosmtpd.controller import Controller

        self._controller = Controller(_Collector(self), hostname="127.0.0.1", port=self.port)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def received(self, to: str | None = None) -> list[EmailMessage]:
        with self._lock:
            return [m for m in self.messages if to is None or m["To"] == to]

    def wait_for_mail(self, to: str, subject: str = "", count: int = 1) -> EmailMessage:
        """The `count`-th message to `to` whose subject has `subject` in it."""

        def arrived() -> EmailMessage | None:
            matching = [m for m in self.received(to) if subject in str(m["Subject"])]
            return matching[count - 1] if len(matching) >= count else None

        found = wait_for(arrived, f"mail to {to} about {subject!r}")
        assert isinstance(found, EmailMessage)
        return found

    def _accept(self, content: bytes) -> None:
        message = email.message_from_bytes(content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        with self._lock:
            self.messages.append(message)


class _Collector:
    def __init__(self, server: SmtpServer) -> None:
        self.server = server

    async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:
        self.server._accept(envelope.original_content or envelope.content)
        return "250 Message accepted for delivery"
