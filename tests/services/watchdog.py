"""Kills the test servers when the test process dies without closing them.

`process.py` starts this file once per test process as `python -I -S watchdog.py` (in a session
of its own, so it outlives the test process) and keeps the write end of its stdin. It tells it,
one line each, what to clean up and what is already cleaned up:

    +g<pgid>   a server's process group started        -g<pgid>   it was stopped
    +d<dir>    a server's temp dir was made            -d<dir>    it was deleted

At EOF on stdin (the test process exited, however it exited) it SIGKILLs every group still
listed and deletes every dir still listed. Standard library only, and nothing from `tests`:
it runs isolated (-I) and without site-packages (-S).
"""

import contextlib
import os
import shutil
import signal
import sys
import time
from collections.abc import Iterable

# SIGKILLed servers let go of their files a moment later, and no signal says when.
_GRACE_BEFORE_DELETING = 0.5


def watch(lines: Iterable[str]) -> tuple[set[int], set[str]]:
    """The process groups and dirs still listed when `lines` ends."""
    groups: set[int] = set()
    dirs: set[str] = set()
    for line in lines:
        op, kind, value = line[:1], line[1:2], line[2:].rstrip("\n")
        if kind == "g":
            if op == "+":
                groups.add(int(value))
            elif op == "-":
                groups.discard(int(value))
        elif kind == "d":
            if op == "+":
                dirs.add(value)
            elif op == "-":
                dirs.discard(value)
    return groups, dirs


def clean_up(groups: Iterable[int], dirs: Iterable[str]) -> None:
    """SIGKILL `groups` (gone ones are no error), then delete `dirs`."""
    for pgid in groups:
        with contextlib.suppress(OSError):
            os.killpg(pgid, signal.SIGKILL)
    paths = list(dirs)
    if paths:
        time.sleep(_GRACE_BEFORE_DELETING)
    for path in paths:
        shutil.rmtree(path, ignore_errors=True)


def main() -> None:
    groups, dirs = watch(sys.stdin)
    clean_up(groups, dirs)


if __name__ == "__main__":
    main()
