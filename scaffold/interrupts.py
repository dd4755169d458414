"""SIGTERM and SIGHUP handled like Ctrl-C, for the commands that must leave nothing half-done.

A cancelled CI job, `kill` and a Slurm time limit send SIGTERM, and a closed terminal or a
dropped SSH connection SIGHUP, which Python's default handling turns into an exit that
skips every `finally` and `except`: a generation would leave its staging directory, an
update a half-merged tree.
"""

import logging
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from scaffold.errors import Interrupted

STOPPING = (signal.SIGTERM, signal.SIGHUP)


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP, raised as Ctrl-C's KeyboardInterrupt is, so that the same cleanup
    runs."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


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
    """The signal behind an interrupt: the one `Terminated` was raised for (or what it
    became: copier turns an interrupt at a question into an error of its own), else
    Ctrl-C's SIGINT."""
    seen: BaseException | None = interrupt
    while seen is not None:
        if isinstance(seen, Terminated):
            return seen.signum
        seen = seen.__cause__ or seen.__context__
    return signal.SIGINT


@contextmanager
def termination_as_interrupt() -> Iterator[None]:
    """Raise `Terminated` (a KeyboardInterrupt) on SIGTERM or SIGHUP inside the block.

    A signal's exception is raised wherever the main thread is, and where that is a
    weakref callback or a `__del__` run by the garbage collector, Python prints it as
    "Exception ignored" and goes on: the command then waited at its question for ever.
    Inside the block, such a swallowed interrupt is sent again, to be raised in ordinary
    code (Ctrl-C's too).
    """

    def interrupt(signum: int, frame: object) -> None:
        raise Terminated(signum)

    def send_again(unraisable: "sys.UnraisableHookArgs") -> None:
        if isinstance(unraisable.exc_value, KeyboardInterrupt):
            # From another thread, a moment later: sent from here, or while this hook still
            # runs, its handler would raise in here again. (Swallowed again, it is sent again.)
            again = threading.Timer(0.05, signal.raise_signal, (signal_of(unraisable.exc_value),))
            again.daemon = True
            again.start()
        else:
            hook(unraisable)

    previous = {}
    try:
        for signum in STOPPING:
            previous[signum] = signal.signal(signum, interrupt)
    except ValueError:  # not the main thread, where Python cannot handle signals
        pass
    hook, sys.unraisablehook = sys.unraisablehook, send_again
    try:
        yield
    finally:
        sys.unraisablehook = hook
        for signum, handler in previous.items():
            signal.signal(signum, handler)
