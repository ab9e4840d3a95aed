"""Process plumbing shared by the servers that run as child processes (PostgreSQL, Redis,
uvicorn, HAProxy): spawning, stopping, waiting, and cleaning up even when the test process dies.

Every server runs in a process group of its own. Three things stop it: its own `close()` (or
`with` block), an atexit hook that closes what is still open when the interpreter exits, and the
watchdog (`watchdog.py`), which kills the groups and deletes the temp dirs when the test process
dies without running either.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Self

from sqlalchemy.engine import URL, make_url

REPO_ROOT = Path(__file__).resolve().parents[2]
INSTALL_HINT = "run `.ci/install-system-deps` as root to install the system packages for tests"
WATCHDOG = Path(__file__).with_name("watchdog.py")


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


# --- the watchdog ----------------------------------------------------------------------------

# One watchdog process per test process (started on first use, again after a fork) holds the
# read end of a pipe and learns the process groups and temp dirs of live servers. When the pipe
# reaches EOF (the test process exited or was SIGKILLed) it SIGKILLs those groups and deletes the
# dirs. Unlike PR_SET_PDEATHSIG this also reaches uvicorn's worker processes, and it does not fire
# when the thread that started a server ends.
_watchdog: subprocess.Popen[str] | None = None
_watchdog_owner = 0


def _tell_watchdog(message: str) -> None:
    global _watchdog, _watchdog_owner
    if _watchdog is None or _watchdog_owner != os.getpid() or _watchdog.poll() is not None:
        _watchdog = subprocess.Popen(
            [sys.executable, "-I", "-S", str(WATCHDOG)],
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


# --- /proc -----------------------------------------------------------------------------------


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


# --- running as someone else -----------------------------------------------------------------


class _Account:
    def __init__(self, uid: int, gid: int) -> None:
        self.uid = uid
        self.gid = gid


def _unprivileged_account(name: str) -> _Account | None:
    """None when unprivileged; as root, the system user `name` (made if needed; `nobody` if it
    cannot be). For servers that refuse to run as root, such as PostgreSQL."""
    if os.geteuid() != 0:
        return None
    try:
        entry = pwd.getpwnam(name)
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
                name,
            ],
            check=False,
            capture_output=True,
        )
        try:
            entry = pwd.getpwnam(name)  # made now, or by a parallel test process
        except KeyError:
            entry = pwd.getpwnam("nobody")
    return _Account(entry.pw_uid, entry.pw_gid)


# --- starting, stopping, waiting -------------------------------------------------------------


def _spawn(
    argv: Sequence[str],
    *,
    log: Path,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    account: _Account | None = None,
) -> subprocess.Popen[bytes]:
    """Start `argv` as the leader of a new process group, output to `log`; tell the watchdog."""
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
    """Run `argv` to completion; ServiceError with the end of its output if it fails."""
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
    """Poll `ready()`; ServiceError with the log's end if `proc` exits or `timeout` passes."""
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


# --- the base class --------------------------------------------------------------------------

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
