"""no-artifacts: keep what training and merging leave behind out of git.

Refuses, per file: checkpoints and model weights (`*.pt`, `*.ckpt`, `*.safetensors`, ...),
data files and run outputs (`*.npy`, `*.parquet`, `data/**`, `runs/**`, ...), `.rej` and
`.orig` files, files over `max-file-size-kb`, and text with unresolved conflict markers
(`<<<<<<<` or `>>>>>>>` at the start of a line; copier's inline conflicts leave them
without a MERGE_HEAD, so nothing else in git stops them). Patterns and the size limit
are settings (scaffold.hooks.settings).
"""

import os
import re
import shlex
import stat
import sys
from collections.abc import Sequence
from pathlib import Path

from scaffold.hooks import changes as git_changes
from scaffold.hooks import settings as settings_module
from scaffold.hooks.report import HookError, Problem, emit, fail
from scaffold.hooks.settings import Settings

HOOK = "no-artifacts"
# A line that opens or closes a conflict, as git and copier write them: `<<<<<<< HEAD`,
# `>>>>>>> after updating`, or the bare marker. (`scaffold update` looks for them too.)
CONFLICT_MARKER = re.compile(rb"^(?:<{7}|>{7})(?: |$)", re.MULTILINE)
REASONS = {
    **dict.fromkeys(
        settings_module.CHECKPOINTS,
        "a checkpoint or model weights: keep it in runs/ or an artifact store, not in git",
    ),
    **dict.fromkeys(
        settings_module.DATA,
        "data or a run's output: keep it under data/ or runs/ (git-ignored) or in an "
        "artifact store, not in git",
    ),
    **dict.fromkeys(
        settings_module.LEFTOVERS,
        "left over from a merge or a patch: apply what it holds by hand, then delete it",
    ),
}


def check(path: str, size: int, content: bytes | None, settings: Settings) -> list[Problem]:
    """The problems of one file of a commit: its name, its size, and its text.

    `content` is None when it was not read (a file over the size limit).
    """
    untrack = (
        f"Keep it out of git and on disk: `git rm --cached -- {shlex.quote(path)}`, "
        "and add it to .gitignore.",
    )
    problems = []
    if pattern := settings_module.match(path, settings.artifacts):
        reason = REASONS.get(
            pattern, f"matches {pattern!r}, one of {settings_module.TABLE} artifacts"
        )
        problems.append(Problem(f"{path}: {reason}", untrack))
    limit = settings.max_file_size_kb * 1024
    if size > limit:
        problems.append(
            Problem(
                f"{path}: {-(-size // 1024):,} KB, over the {settings.max_file_size_kb:,} KB "
                "limit: keep large files out of git (an artifact store, Git LFS)",
                (
                    *untrack,
                    f"Or raise max-file-size-kb in pyproject.toml's {settings_module.TABLE}.",
                ),
            )
        )
    text = content is not None and b"\0" not in content[:8000]
    if text and (marker := CONFLICT_MARKER.search(content)):
        line = content.count(b"\n", 0, marker.start()) + 1
        problems.append(
            Problem(
                f"{path}:{line}: an unresolved conflict marker: resolve the conflict "
                "and delete the <<<<<<< ======= >>>>>>> lines"
            )
        )
    return problems


def main(argv: Sequence[str] | None = None) -> int:
    """Check the files pre-commit passes (the staged ones, or all with --all-files)."""
    paths = sys.argv[1:] if argv is None else list(argv)
    try:
        settings = settings_module.load(git_changes.repo().root)
    except HookError as error:
        return fail(error)
    problems = []
    limit = settings.max_file_size_kb * 1024
    for path in paths:
        try:
            info = os.lstat(path)
            if not stat.S_ISREG(info.st_mode):
                continue  # symlinks, submodules
            content = Path(path).read_bytes() if info.st_size <= limit else None
        except OSError:
            continue  # deleted since pre-commit listed it
        problems += check(path, info.st_size, content, settings)
    return emit(problems)


if __name__ == "__main__":
    sys.exit(main())
