"""Redis for the throttling counters that workers and hosts share (`REDIS_URL`), and for the
tests of what happens while it is down: a redis-server that keeps nothing on disk.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
from typing import Self

from tests.services.process import (
    INSTALL_HINT,
    ServiceError,
    _Service,
    _spawn,
    _terminate,
    _wait_until,
)


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
