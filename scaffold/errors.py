"""The one exception type users see.

Core functions raise `ScaffoldError` for every problem the user can fix; the CLI prints
its message (and `details`, one per line) without a traceback and exits with `exit_code`,
in one place for every command. Anything else is a bug and keeps its traceback.
"""


class ScaffoldError(Exception):
    """A problem the user can fix. The message says what went wrong and what to do next."""

    exit_code = 1

    @property
    def details(self) -> list[str]:
        """Extra lines to show under the message (e.g. the files in conflict)."""
        return []


class Interrupted(ScaffoldError):
    """Ctrl-C, SIGTERM or SIGHUP stopped a command, which undid its work first."""

    def __init__(self, message: str, signal_number: int) -> None:
        super().__init__(message)
        self.exit_code = 128 + signal_number  # as a shell reports a process the signal ended


class ConflictError(ScaffoldError):
    """An update left merge conflicts for the user to resolve."""

    exit_code = 2

    def __init__(self, message: str, files: list[str]) -> None:
        super().__init__(message)
        self.files = files

    @property
    def details(self) -> list[str]:
        return [f"conflict: {name}" for name in self.files]


class EngineError(ScaffoldError):
    """No container engine answers (no Docker, no podman service behind DOCKER_HOST)."""


class ImageError(ScaffoldError):
    """An image cannot be built, found, run or pushed as asked."""
