"""The problems a user can fix: the command line shows them as one line, not a traceback.

A module of its own, importing nothing, so that commands which never touch torch (download,
preprocess, --help) can recognise every such problem without importing the modules that
raise them. Anything else that goes wrong is a bug, and keeps its traceback.
"""

import difflib
import signal
from collections.abc import Iterable

# The signals that stop a run as a first Ctrl-C does, to be resumed (exit status 75): a
# scheduler's preemption, and a closed terminal or SSH session (SIGHUP: Windows has none).
STOP_SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name)
)


def did_you_mean(word: str, known: Iterable[str]) -> str:
    """'; did you mean X?' for the known word closest to a typo, else nothing."""
    close = difflib.get_close_matches(word, list(known), n=1)
    return f"; did you mean {close[0]}?" if close else ""


class UserError(Exception):
    """Base of the errors whose message says what went wrong and what to do about it."""

    exit_code = 1


class MissingInputError(UserError, FileNotFoundError):
    """A file or run that a command reads is not there; the message says what makes it."""


class InvalidInputError(UserError, ValueError):
    """A file, run or option that a command reads is there but unusable; the message says why."""


class MissingExtraError(UserError, ImportError):
    """An optional dependency (an extra) is not installed; the message names the pip command."""


class StoppedError(UserError):
    """A command was stopped (SIGTERM, Ctrl-C) before it finished; it exits as training does
    when stopped (75, or 130 for Ctrl-C), and the message says what was kept."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code
