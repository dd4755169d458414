"""lock-fresh: a commit that changes the environment files must carry a matching lock.

`conda-lock.yml` records a fingerprint of `environment.yml`, `environment-dev.yml` and
`virtual-packages.yml` per platform (scaffold.lockfile), so whether it still matches them
is answered from the first lines of the lock, without conda or a YAML parser. A repo that
has no lock at all (generated where the channels were unreachable) is left to
`scaffold doctor` and CI's `scaffold lock --check`; deleting the lock is refused.
"""

import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from scaffold import lockfile
from scaffold.hooks import changes as git_changes
from scaffold.hooks.report import HookError, Problem, emit, fail

HOOK = "lock-fresh"
FILES = lockfile.LOCK_AND_INPUTS  # what makes a commit an environment one
FIX = (
    "Re-pin it and commit it with the environment change: "
    f"`scaffold lock`, then `git add {lockfile.LOCK_FILE}`.",
)


def check(project: Path, *, lock_deleted: bool = False) -> list[Problem]:
    """The problems of the lock in `project` (a work tree, or a commit's files in a folder).
    `lock_deleted`: the commit deletes the lock (from git: the file may stay on disk)."""
    if lock_deleted or not (project / lockfile.LOCK_FILE).is_file():
        if not lock_deleted:
            return []
        return [
            Problem(
                f"{lockfile.LOCK_FILE}: deleted, while the environment files still declare "
                "the environment: keep it (`git restore --staged --worktree -- "
                f"{lockfile.LOCK_FILE}`) or re-pin it",
                FIX,
            )
        ]
    freshness = lockfile.check_freshness(project)
    if freshness.fresh:
        return []
    if freshness.conflicted:  # relocking alone would not do: the lock must parse first
        return [Problem(freshness.describe().rstrip("."))]
    reasons = []
    if freshness.stale_platforms:
        reasons.append(f"the environment files changed for {', '.join(freshness.stale_platforms)}")
    if freshness.missing_platforms:
        reasons.append(f"{', '.join(freshness.missing_platforms)} not locked")
    return [
        Problem(
            f"{lockfile.LOCK_FILE}: does not match the environment files ({'; '.join(reasons)})",
            FIX,
        )
    ]


def check_files(files: Mapping[str, bytes | None], *, lock_deleted: bool = False) -> list[Problem]:
    """`check` on the environment files a commit holds (`files`: name -> content, None where
    it holds none). Deleting the lock is refused only while the environment files remain:
    a commit that removes all of them leaves conda."""
    lock_deleted = lock_deleted and any(files.get(name) for name in lockfile.INPUT_FILES)
    with tempfile.TemporaryDirectory(prefix="scaffold-lock-fresh-") as tree:
        for name in FILES:
            if (data := files.get(name)) is not None:
                (Path(tree) / name).write_bytes(data)
        return check(Path(tree), lock_deleted=lock_deleted)


def main(argv: Sequence[str] | None = None) -> int:
    """Check the lock that the commit holds: the staged files, not the work tree's (where a
    file taken out of git, or a lock never added, stays).

    pre-commit runs this on every commit (`always_run`): it passes no hook the files a
    commit deletes, so a filter on the environment files would skip deleting the lock.
    """
    del argv
    try:
        root = git_changes.repo().root
        diff = ["diff", "--cached", "--name-status", "--no-renames", "-z", "--", *FILES]
        fields = git_changes.git(*diff, cwd=root).split(b"\0")
        staged = dict(zip(fields[1::2], fields[0::2], strict=False))  # path -> status letter
        if not staged:
            return 0  # no environment change: the lock is judged when one comes
        index = git_changes.read_objects(root, [f":{name}" for name in FILES])
        files = {name: index.get(f":{name}") for name in FILES}
        deleted = staged.get(lockfile.LOCK_FILE.encode()) == b"D"
        return emit(check_files(files, lock_deleted=deleted))
    except HookError as error:
        return fail(error)


if __name__ == "__main__":
    sys.exit(main())
