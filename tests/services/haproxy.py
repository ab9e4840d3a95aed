"""HAProxy in front of Stockroom, running the repo's own `deploy/haproxy.cfg` as it is, so the
rolling-restart and slow-client tests check the deployment the README documents.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
from collections.abc import Mapping
from pathlib import Path
from typing import Self

from tests.services.process import (
    INSTALL_HINT,
    ServiceError,
    _Service,
    _spawn,
    _terminate,
    _wait_until,
)


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
