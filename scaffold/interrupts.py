"""SIGTERM handled like Ctrl-C, for the commands that must leave nothing half-done.

A cancelled CI job, `kill` and a Slurm time limit send SIGTERM, which Python's default
handling turns into an exit that skips every `finally` and `except`: a generation would
leave its staging directory, an update a half-merged tree.
"""

import logging
import signal
from collections.abc import Iterator
from contextlib import contextmanager


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised as Ctrl-C's KeyboardInterrupt is, so that the same cleanup runs."""


def quiet_abandoned_prompt() -> None:
    """After an interrupt at a question, keep asyncio from reporting, at exit and after
    scaffold's own message, the prompt's task left pending ("Task was destroyed but it is
    pending!"): nothing is wrong, and the line reads as if something were."""
    logging.getLogger("asyncio").setLevel(logging.CRITICAL)


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
