"""no-artifacts: keep what training and merging leave behind out of git.

Refuses, per file: checkpoints and model weights (`*.pt`, `*.ckpt`, `*.safetensors`, ...),
data files and run outputs (`*.npy`, `*.parquet`, `data/**`, `runs/**`, ...), `.rej` and
`.orig` files, files over `max-file-size-kb`, and text with unresolved conflict markers
(`<<<<<<<` or `>>>>>>>` at the start of a line; copier's inline conflicts leave them
without a MERGE_HEAD, so nothing else in git stops them). Patterns and the size limit
are settings (scaffold.hooks.settings).
"""

import re
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path

from scaffold.hooks import changes as git_changes
from scaffold.hooks import settings as settings_module
from scaffold.hooks.report import HookError, Problem, emit, fail
from scaffold.hooks.settings import Settings

HOOK = "no-artifacts"
REGULAR_MODES = ("100644", "100755")  # not symbolic links (120000) or submodules (160000)
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


def check(
    path: str, size: int, content: bytes | None, settings: Settings, *, added: bool = True
) -> list[Problem]:
    """The problems of one file of a commit: its name, its size, and its text.

    `content` is None when it was not read (a file over the size limit). The size limit
    holds for files the commit `added` only, as check-added-large-files: a large file
    already in git is not refused again on each edit, nor on a rename, where the fix
    (`git rm --cached`) would drop it from git.
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
    if added and size > limit:
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
        root = git_changes.repo().root
        settings = settings_module.load(root)
        problems = check_index(root, paths, settings)
    except HookError as error:
        return fail(error)
    return emit(problems)


def check_index(root: Path, paths: Sequence[str], settings: Settings) -> list[Problem]:
    """The problems of `paths` (relative to `root`, as pre-commit passes them) as the index
    holds them: that is what the commit stores (a Git LFS pointer, not the file it points
    to), and what `scaffold check-commits` reads. Paths not in the index (deleted since
    pre-commit listed them), symbolic links and submodules are skipped. A few git calls,
    whatever the number of files."""
    blobs = _index_blobs(root, paths)
    added = _added(root)
    limit = settings.max_file_size_kb * 1024
    sizes = git_changes.object_sizes(root, blobs.values())
    contents = git_changes.read_objects(
        root, [blob for blob in blobs.values() if sizes.get(blob, limit + 1) <= limit]
    )
    problems = []
    for path, blob in blobs.items():
        size, content = sizes.get(blob, 0), contents.get(blob)
        problems += check(path, size, content, settings, added=path in added)
    return problems


def _index_blobs(root: Path, paths: Sequence[str]) -> dict[str, str]:
    """{path: its staged blob} for the regular files among `paths`."""
    if not paths:
        return {}  # ls-files without a path would list every file
    output = git_changes.git(
        "--literal-pathspecs", "ls-files", "--stage", "-z", "--", *paths, cwd=root
    )
    blobs = {}
    for entry in git_changes.decode(output).split("\0"):
        info, _, path = entry.partition("\t")
        if info.count(" ") == 2:
            mode, blob, stage = info.split(" ")
            if stage == "0" and mode in REGULAR_MODES:
                blobs[path] = blob
    return blobs


def _added(root: Path) -> set[str]:
    """The files the commit adds (a copy too, not a rename): the ones the size limit holds.

    With nothing staged (`pre-commit run --all-files`) that is none: every file is then
    already in git, where each commit that added one was judged (`scaffold check-commits`).
    """
    output = git_changes.git(
        "diff",
        "--cached",
        "--name-only",
        "-z",
        "--no-relative",
        "--find-renames",
        "--diff-filter=AC",
        "--",
        cwd=root,
    )
    return {path for path in git_changes.decode(output).split("\0") if path}


if __name__ == "__main__":
    sys.exit(main())
