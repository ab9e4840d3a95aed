"""A network fault on demand: a TCP relay, in threads of the test process, between Stockroom
and its PostgreSQL or Redis, that can go silent the way a dropped network does. Stopping the
server cannot stand for that: a stopped server refuses or resets, a lost link says nothing.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from typing import Self


class TcpRelay:
    """Forwards 127.0.0.1:`port` to 127.0.0.1:`target_port`: one thread accepts, and every
    connection gets two more, one for each direction.

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
