"""What a hook found, and how it is shown: one `path: problem` line, then how to fix it."""

import sys
from collections.abc import Iterable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Problem:
    """One violation of a rule.

    `message` is one line (`path: problem`, or a summary when no single path is at fault):
    `scaffold check-commits` prints exactly it after the commit id. `fix` holds the lines
    that tell someone at a `git commit` prompt what to type next; CI shows only `message`.
    """

    message: str
    fix: tuple[str, ...] = field(default=())


class HookError(Exception):
    """The hook could not run (not a git repository, an unreadable setting): its message
    says what to fix. Hooks print it and fail, rather than pass without checking."""


def emit(problems: Iterable[Problem]) -> int:
    """Print the problems on stderr; return the hook's exit status (1 if there were any)."""
    found = False
    for problem in problems:
        found = True
        print(problem.message, file=sys.stderr)
        for line in problem.fix:
            print(f"  {line}", file=sys.stderr)
    return 1 if found else 0


def fail(error: HookError) -> int:
    """Print why the hook could not run; return its exit status."""
    print(f"error: {error}", file=sys.stderr)
    return 1
