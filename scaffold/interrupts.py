"""SIGTERM handled like Ctrl-C, for the commands that must leave nothing half-done.

A cancelled CI job, `kill` and a Slurm time limit send SIGTERM, which Python's default
handling turns into an exit that skips every `finally` and `except`: a generation would
leave its staging directory, an update a half-merged tree.
"""

import signal
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Raise KeyboardInterrupt on SIGTERM inside the block, so the same cleanup runs."""

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, interrupt)
    except ValueError:  # not the main thread, where Python cannot handle signals
        previous = None
    try:
        yield
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
