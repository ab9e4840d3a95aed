"""Stockroom itself as a real server: `python -m uvicorn api.main:app` (UvicornServer), or the
`stockroom serve` console script a user runs (StockroomServe), for the tests that need real
sockets, real worker processes, signals and restarts rather than the in-process TestClient.
"""

from __future__ import annotations

import json
import os
import re
import signal
import sys
import urllib.error
import urllib.request
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path
from typing import Self

from tests.services.process import (
    REPO_ROOT,
    _children,
    _cmdline,
    _Service,
    _spawn,
    _terminate,
    _wait_until,
)

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

    `env` is merged over os.environ, less the variables named in `unset`. `cwd` defaults to the
    temp dir (so relative paths such as the development key file stay out of the repo); the app
    is imported from the repo root. Access-log lines carry the worker's process id.
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
    """`stockroom serve`, README command 1: configured by its environment, apart from `--port`
    (and `--workers` and `extra_args` when given) on its command line.

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
