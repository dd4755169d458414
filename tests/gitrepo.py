"""Real git repositories in temporary folders, for the commit hook tests.

The identity comes from the isolated HOME of conftest.py. `install_hook` wires one of our
hooks straight into .git/hooks (no pre-commit in between), so that tests can drive the
real `git commit` (-a, --amend, a merge) and see exactly what git hands the hook.
"""

import os
import subprocess
import sys
from pathlib import Path

from conftest import REPO_ROOT

from scaffold import lockfile

RUN = REPO_ROOT / "scaffold" / "hooks" / "run"
HOOK_ENV = {"SCAFFOLD_HOOKS_PYTHON": sys.executable}  # python3 on PATH may be another one


class GitRepo:
    """A git repository at `path`, created empty on branch main."""

    def __init__(self, path: Path) -> None:
        path.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.git("init", "--quiet", "--initial-branch=main")

    def git(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            ["git", *args],
            cwd=self.path,
            capture_output=True,
            text=True,
            env={**os.environ, **HOOK_ENV},
            check=False,
        )
        if check:
            assert result.returncode == 0, f"git {' '.join(args)}:\n{result.stderr}"
        return result

    def write(self, relative: str, content: str | bytes) -> Path:
        path = self.path / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
        return path

    def stage(self, *paths: str) -> None:
        self.git("add", "--all", "--", *paths)

    def commit(self, message: str = "feat: add a change") -> str:
        """Stage everything and commit it past any hook; return the commit's sha."""
        self.stage()
        self.git("commit", "--quiet", "--no-verify", "--allow-empty", "-m", message)
        return self.git("rev-parse", "HEAD").stdout.strip()

    def install_hook(self, stage: str, module: str) -> None:
        """Make git run scaffold.hooks.MODULE as its STAGE hook (pre-commit, commit-msg)."""
        hook = self.path / ".git" / "hooks" / stage
        hook.write_text(f'#!/bin/sh\nexec "{RUN}" {module} "$@"\n', encoding="utf-8")
        hook.chmod(0o755)


def lines(count: int, prefix: str = "line") -> str:
    """`count` distinct lines of text."""
    return "".join(f"{prefix} {number}\n" for number in range(count))


def write_lock(project: Path, platforms: list[str]) -> None:
    """A conda-lock.yml whose fingerprints match `project`'s environment files now, as
    `scaffold lock` writes them (lock-fresh reads nothing else of a lock)."""
    hashes = "".join(
        f"    {platform}: {lockfile.fingerprint(project, platform)}\n" for platform in platforms
    )
    (project / lockfile.LOCK_FILE).write_text(
        f"version: 1\nmetadata:\n  content_hash:\n{hashes}  channels: []\npackage: []\n",
        encoding="utf-8",
    )
