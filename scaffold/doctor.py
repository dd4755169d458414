"""`scaffold doctor`: diagnose a generated repo and say what to do about each finding.

Each check is a small function returning a `Finding`; `diagnose` runs them all. Later
checks (GPU driver against the locked CUDA, lock freshness, hooks installed) join the
list in `CHECKS`.
"""

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from scaffold import git, update
from scaffold.errors import ScaffoldError


@dataclass(frozen=True)
class Finding:
    """One check's verdict: `ok` False means the user should act on `message`."""

    check: str
    ok: bool
    message: str


def check_git(project: Path) -> Finding:
    if not git.is_repo_root(project):
        return Finding("git", False, "not the top of a git repository: run `git init`.")
    dirty = git.dirty_paths(project)
    if dirty:
        return Finding("git", True, f"{len(dirty)} uncommitted change(s).")
    return Finding("git", True, "clean work tree.")


def check_template(project: Path) -> Finding:
    try:
        status = update.check(project)
    except ScaffoldError as error:
        return Finding("template", False, str(error))
    if status.available:
        return Finding(
            "template",
            False,
            f"template v{status.current}; v{status.latest} is available: "
            "run `scaffold update` (see `scaffold update --check` for what changed).",
        )
    return Finding("template", True, f"template v{status.current}, the newest.")


CHECKS: list[Callable[[Path], Finding]] = [check_git, check_template]


def diagnose(project: Path) -> list[Finding]:
    """Run every check on `project`."""
    return [check(project) for check in CHECKS]
