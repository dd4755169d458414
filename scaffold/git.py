"""The few git operations scaffold needs, as plain subprocess calls.

scaffold talks to git through its command line (not a library) so that users' own git
configuration, hooks and credentials apply exactly as they do in their terminal.
"""

import subprocess
from pathlib import Path

from scaffold.errors import ScaffoldError


def git(*args: str, cwd: Path | None = None, check: bool = True, stdin: str | None = None) -> str:
    """Run `git ARGS` in `cwd` (with `stdin` as its input) and return its stripped output."""
    result = _run(args, cwd, stdin)
    if check and result.returncode != 0:
        command = " ".join(["git", *args])
        said = " ".join(result.stderr.split())  # one line: an error never spans the screen
        raise ScaffoldError(f"`{command}` failed in {cwd or Path.cwd()}: {said}")
    return result.stdout.rstrip()


def exit_code(*args: str, cwd: Path | None = None) -> int:
    """Run `git ARGS` in `cwd` for its exit code, which some commands count with (merge-file:
    the conflicts it left)."""
    return _run(args, cwd, None).returncode


def _run(
    args: tuple[str, ...], cwd: Path | None, stdin: str | None
) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(
            ["git", *args], cwd=cwd, input=stdin, capture_output=True, text=True, check=False
        )
    except FileNotFoundError as error:
        raise ScaffoldError("git is not installed: install it and try again.") from error


def config_value(key: str, cwd: Path | None = None) -> str:
    """The value git would use for `key` here, or '' when it is not set."""
    return git("config", "--get", key, cwd=cwd, check=False)


def repo_root(path: Path) -> Path | None:
    """The top of the git work tree holding `path` (as git finds it), or None outside one."""
    start = path if path.is_dir() else path.parent
    if not start.is_dir():
        return None
    top = git("rev-parse", "--show-toplevel", cwd=start, check=False)
    return Path(top).resolve() if top else None


def is_repo_root(path: Path) -> bool:
    """Whether `path` is the top of a git work tree."""
    return repo_root(path) == path.resolve()


def status_entries(repo: Path) -> list[tuple[str, str]]:
    """`git status` as (two-letter code, path) pairs; untracked files are code '??'.

    Read with -z, so paths with spaces, quotes or non-ASCII characters come back exactly,
    and a rename yields its new path.
    """
    output = git("status", "--porcelain", "-z", "--untracked-files=all", cwd=repo)
    fields = output.split("\0")
    entries = []
    index = 0
    while index < len(fields):
        field = fields[index]
        index += 1
        if not field:
            continue
        code, path = field[:2], field[3:]
        if code[0] in "RC":  # a rename or copy is followed by its source path
            index += 1
        entries.append((code, path))
    return entries


def dirty_paths(repo: Path) -> list[str]:
    """Modified, staged and untracked (not ignored) paths: what `git status` would show."""
    return [path for _, path in status_entries(repo)]


def head_commit(repo: Path) -> str:
    """The full sha of HEAD."""
    return git("rev-parse", "HEAD", cwd=repo)


def commit_all(repo: Path, message: str, fallback_name: str, fallback_email: str) -> bool:
    """Stage everything and commit it.

    Where git has no identity configured (a fresh machine, a CI container) the commit is
    made as `fallback_name <fallback_email>` instead of failing. Returns whether the
    fallback was used, so the caller can tell the user.
    """
    identity: list[str] = []
    use_fallback = not (config_value("user.name", repo) and config_value("user.email", repo))
    if use_fallback:
        identity = ["-c", f"user.name={fallback_name}", "-c", f"user.email={fallback_email}"]
    git("add", "--all", cwd=repo)
    git(*identity, "commit", "--quiet", "--no-verify", "--message", message, cwd=repo)
    return use_fallback
