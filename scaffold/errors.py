"""The one exception type users see.

Core functions raise `ScaffoldError` for every problem the user can fix; the CLI prints
its message without a traceback and exits with `exit_code`. Anything else is a bug.
"""


class ScaffoldError(Exception):
    """A problem the user can fix. The message says what went wrong and what to do next."""

    exit_code = 1


class ConflictError(ScaffoldError):
    """An update left merge conflicts for the user to resolve."""

    exit_code = 2

    def __init__(self, message: str, files: list[str]) -> None:
        super().__init__(message)
        self.files = files
