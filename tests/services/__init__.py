"""Real servers for tests, each on a free port on 127.0.0.1: PostgreSQL, Redis, HAProxy and
Stockroom under uvicorn as child processes; an SMTP server and a TCP relay in threads of the test
process.

Plain classes with no pytest dependency; fixtures wrap them. Every child process runs in a
process group of its own and is stopped by `close()` (or a `with` block), by an atexit hook, or,
if the test process dies before either runs, by the watchdog (see `process.py`). Missing system
packages are installed by `.ci/install-system-deps`.

One module per server; `process.py` holds what the child-process servers share.
"""

from tests.services.haproxy import HaproxyServer
from tests.services.postgres import PG_BIN, PG_USER, PostgresServer
from tests.services.process import (
    INSTALL_HINT,
    REPO_ROOT,
    ServiceError,
    free_port,
    sync_url,
    wait_for,
)
from tests.services.redis import RedisServer
from tests.services.relay import TcpRelay
from tests.services.servers import StockroomServe, UvicornServer
from tests.services.smtp import SmtpServer

__all__ = [
    "INSTALL_HINT",
    "PG_BIN",
    "PG_USER",
    "REPO_ROOT",
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
