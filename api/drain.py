"""A SIGTERM drains the worker before it stops.

uvicorn stops accepting connections the moment it is told to stop; behind a load balancer that
loses requests, since the balancer goes on sending until its health check notices. So the first
SIGTERM only starts a drain: `/ready` answers 503 and every response says `Connection: close`
(no more work arrives on kept-alive connections) while the worker goes on serving for the drain
time. Then uvicorn's own handler runs its shutdown: stop accepting, finish the requests in
flight, run the app's shutdown (the pool closes), exit. SIGINT (Ctrl-C) and a second SIGTERM
are handed to uvicorn at once.

Installed at start-up from the app's lifespan, so it works under `stockroom serve` and plain
`uvicorn`, one worker or many; only where signals can be caught (the main thread).
"""

import asyncio
import logging
import signal
import threading
import time
from types import FrameType

logger = logging.getLogger("stockroom")


class Drain:
    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.started_at: float | None = None

    @property
    def active(self) -> bool:
        return self.started_at is not None

    def install(self) -> None:
        """Stand in front of the server's SIGTERM handler (call from the running event loop)."""
        if self.seconds <= 0 or threading.current_thread() is not threading.main_thread():
            return
        stop = signal.getsignal(signal.SIGTERM)
        if not callable(stop):
            return  # nobody stops gracefully on SIGTERM here: nothing to delay
        loop = asyncio.get_running_loop()

        def begin() -> None:
            logger.warning(
                "SIGTERM: /ready answers 503; serving %.1f s more, then shutting down",
                self.seconds,
            )
            loop.call_later(self.seconds, stop, signal.SIGTERM, None)

        def on_sigterm(sig: int, frame: FrameType | None) -> None:
            if self.started_at is not None:
                stop(sig, frame)  # a second SIGTERM: stop now
                return
            self.started_at = time.monotonic()
            # A signal handler runs between two bytecodes of whatever the loop was doing:
            # hand the work to the loop rather than touch its timers (or a logger's lock) here.
            loop.call_soon_threadsafe(begin)

        signal.signal(signal.SIGTERM, on_sigterm)
