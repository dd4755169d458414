"""SIGTERM handled like Ctrl-C, for the commands that must leave nothing half-done.

A cancelled CI job, `kill` and a Slurm time limit send SIGTERM, which Python's default
handling turns into an exit that skips every `finally` and `except`: a generation would
leave its staging directory, an update a half-merged tree.
"""

import logging
import signal
from collections.abc import Iterator
from contextlib import contextmanager

from scaffold.errors import Interrupted


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised as Ctrl-C's KeyboardInterrupt is, so that the same cleanup runs."""


def undone(interrupt: KeyboardInterrupt, what: str) -> Interrupted:
    """The error to raise once a command has undone its work after `interrupt`: it says
    `what` was undone and exits as the signal would.

    An interrupt at a question leaves the prompt's asyncio task pending, which asyncio
    would report at exit, after this message ("Task was destroyed but it is pending!"):
    nothing is wrong, and the line reads as if something were, so it is kept quiet.
    """
    logging.getLogger("asyncio").setLevel(logging.CRITICAL)
    return Interrupted(f"interrupted: {what}", signal_of(interrupt))


def signal_of(interrupt: BaseException) -> int:
    """The signal behind an interrupt: SIGTERM where `Terminated` raised it (or raised what
    it became: copier turns an interrupt at a question into an error of its own), else
    Ctrl-C's SIGINT."""
    seen: BaseException | None = interrupt
    while seen is not None:
        if isinstance(seen, Terminated):
            return signal.SIGTERM
        seen = seen.__cause__ or seen.__context__
    return signal.SIGINT


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Raise `Terminated` (a KeyboardInterrupt) on SIGTERM inside the block."""

    def interrupt(signum: int, frame: object) -> None:
        raise Terminated

    try:
        previous = signal.signal(signal.SIGTERM, interrupt)
    except ValueError:  # not the main thread, where Python cannot handle signals
        previous = None
    try:
        yield
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
