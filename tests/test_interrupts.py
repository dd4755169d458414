"""SIGTERM and SIGHUP raised as interrupts, also where Python would swallow them."""

import signal
import time
import weakref

import pytest

from scaffold.interrupts import Terminated, termination_as_interrupt


@pytest.mark.parametrize("interrupt", [Terminated(signal.SIGTERM), KeyboardInterrupt()])
def test_an_interrupt_python_swallows_is_raised_again(interrupt: KeyboardInterrupt) -> None:
    """A signal's exception raised in a weakref callback (or a `__del__`) is printed as
    "Exception ignored", and the command went on waiting at its question for ever."""

    class Thing:
        pass

    def callback(reference: object) -> None:  # what the signal handler raised in there
        raise interrupt

    # Python's own Ctrl-C handling, as at a terminal (a pytest-xdist worker ignores SIGINT)
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(KeyboardInterrupt) as raised, termination_as_interrupt():
            thing = Thing()
            reference = weakref.ref(thing, callback)
            del thing  # the callback runs, and Python swallows what it raised
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:  # ordinary code: where it is raised again
                time.sleep(0.001)
            del reference
    finally:
        signal.signal(signal.SIGINT, previous)
    assert type(raised.value) is type(interrupt)
    assert getattr(raised.value, "signum", signal.SIGINT) == getattr(
        interrupt, "signum", signal.SIGINT
    )
