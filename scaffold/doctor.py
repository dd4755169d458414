"""`scaffold doctor`: diagnose a generated repo and say what to do about each finding.

Each check is a small function returning a `Finding`; `diagnose` runs them all on the top
of the repo holding the given path (found as git finds it). Later checks (GPU driver
against the locked CUDA, lock freshness, hooks installed) join the list in `CHECKS`.
"""

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from scaffold import git, template_history, update
from scaffold.errors import ScaffoldError

# Untracked files with these suffixes are code or configuration the next commit would miss.
SOURCE_SUFFIXES = (".py", ".pyi", ".yaml", ".yml", ".toml", ".cfg", ".jinja", ".sh")


@dataclass(frozen=True)
class Finding:
    """One check's verdict: `ok` False means the user should act on `message`."""

    check: str
    ok: bool
    message: str


def check_git(project: Path) -> Finding:
    if not git.is_repo_root(project):
        return Finding(
            "git", False, f"{project} is not inside a git repository: run `git init` there."
        )
    entries = git.status_entries(project)
    if any(path == template_history.ANSWERS_FILE for _, path in entries):
        return Finding(
            "git",
            False,
            f"a template update is not committed ({template_history.ANSWERS_FILE} changed): "
            "review it with `git diff --staged`, then `git add --all && git commit`.",
        )
    untracked = [path for code, path in entries if code == "??" and path.endswith(SOURCE_SUFFIXES)]
    if untracked:
        listing = ", ".join(untracked[:5]) + (", ..." if len(untracked) > 5 else "")
        return Finding(
            "git",
            False,
            f"{len(untracked)} untracked source file(s) that commits would miss: {listing}; "
            "`git add` them (or list them in .gitignore).",
        )
    if entries:
        return Finding("git", True, f"{len(entries)} uncommitted change(s).")
    return Finding("git", True, "clean work tree.")


def check_template(project: Path) -> Finding:
    status = update.check(project)
    if status.available:
        return Finding(
            "template",
            False,
            f"template v{status.current}; v{status.latest} is available: "
            "run `scaffold update` (see `scaffold update --check` for what changed).",
        )
    return Finding("template", True, f"template v{status.current}, the newest.")


CHECKS: list[Callable[[Path], Finding]] = [check_git, check_template]


def diagnose(path: Path) -> list[Finding]:
    """Run every check on the repo holding `path`; a check that cannot run is a failure."""
    try:
        project = git.repo_root(path) or path.resolve()
    except ScaffoldError as error:  # e.g. git is not installed
        return [Finding("git", False, str(error))]
    findings = []
    for check in CHECKS:
        name = check.__name__.removeprefix("check_")
        try:
            findings.append(check(project))
        except ScaffoldError as error:
            findings.append(Finding(name, False, str(error)))
    return findings
