"""What a commit changes, read from git in as few processes as possible.

Hooks run on every commit, so each git call counts (~3 ms each): the staged change comes
from one `git diff --cached --raw --numstat -z`, which gives for every file its status,
modes, blob ids and line counts; `scaffold check-commits` parses the same output of one
`git log` for a whole range. Blob contents, when a rule needs them, come from one
`git cat-file --batch`. Paths are read with -z, so spaces, quotes, newlines and bytes
that are not UTF-8 come through exactly (decoded with surrogateescape, as `os` does).
"""

import os
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from scaffold.hooks.report import HookError

SUBMODULE_MODE = "160000"
# Options that make git's diff output the same whatever the user's configuration says.
DIFF_OPTIONS = (
    "--raw",
    "--numstat",
    "-z",
    "--no-abbrev",
    "--find-renames",
    "--no-color",
    "--no-relative",
    "--no-ext-diff",
)


def decode(data: bytes) -> str:
    return data.decode("utf-8", "surrogateescape")


def git(*args: str, cwd: Path | None = None, stdin: bytes | None = None) -> bytes:
    """Run git; return its standard output. Raises HookError with git's message."""
    try:
        result = subprocess.run(
            ["git", *args], cwd=cwd, input=stdin, capture_output=True, check=False
        )
    except FileNotFoundError as error:
        raise HookError("git is not installed: install it and try again.") from error
    if result.returncode != 0:
        message = decode(result.stderr).strip() or f"exit status {result.returncode}"
        raise HookError(f"`git {' '.join(args)}` failed: {message}")
    return result.stdout


@dataclass(frozen=True)
class Change:
    """One file of a diff: git's --raw line joined with its --numstat line."""

    status: str  # A added, M modified, D deleted, R renamed, C copied, T type changed
    path: str  # the path after the change (the removed path, for a deletion)
    old_path: str | None  # where a renamed or copied file came from
    old_mode: str
    new_mode: str
    old_blob: str
    new_blob: str
    added: int | None  # None for a binary file: git counts no lines in it
    deleted: int | None

    @property
    def binary(self) -> bool:
        return self.added is None

    @property
    def submodule(self) -> bool:
        return SUBMODULE_MODE in (self.old_mode, self.new_mode)

    @property
    def lines(self) -> int:
        return (self.added or 0) + (self.deleted or 0)

    @property
    def exists_after(self) -> bool:
        return self.status != "D"


def parse_diff(tokens: list[str]) -> list[Change]:
    """Changes from the NUL-separated tokens of `--raw --numstat -z` output.

    git prints every --raw entry first (`:modes blobs status`, then one path, or two for
    a rename or copy), then the --numstat entries in the same order (`added<TAB>deleted
    <TAB>path`, or an empty path followed by the two paths of a rename).
    """
    raw: list[tuple[str, ...]] = []
    counts: list[tuple[int | None, int | None]] = []
    index = 0
    while index < len(tokens):
        token = tokens[index]
        index += 1
        if not token or token == "\n":
            continue
        if token.startswith(":"):
            old_mode, new_mode, old_blob, new_blob, status = token[1:].split(" ")
            paths = tokens[index : index + (2 if status[0] in "RC" else 1)]
            index += len(paths)
            raw.append((status[0], old_mode, new_mode, old_blob, new_blob, *paths))
        else:
            added, deleted, path = token.split("\t", 2)
            if not path:  # a rename: its two paths follow
                index += 2
            counts.append((None, None) if added == "-" else (int(added), int(deleted)))
    if len(counts) != len(raw):
        raise HookError(f"could not read git's diff output ({len(raw)} != {len(counts)})")
    changes = []
    for (status, old_mode, new_mode, old_blob, new_blob, *paths), (added, deleted) in zip(
        raw, counts, strict=True
    ):
        changes.append(
            Change(
                status=status,
                path=paths[-1],
                old_path=paths[0] if len(paths) == 2 else None,
                old_mode=old_mode,
                new_mode=new_mode,
                old_blob=old_blob,
                new_blob=new_blob,
                added=added,
                deleted=deleted,
            )
        )
    return changes


@dataclass(frozen=True)
class Repo:
    """Where the hook runs, and what the commit being made will sit on."""

    root: Path
    git_dir: Path
    head: str | None  # None before the first commit
    head_parents: tuple[str, ...]

    @property
    def merging(self) -> bool:
        """Whether this commit concludes a merge (`git merge` stopped before committing)."""
        return (self.git_dir / "MERGE_HEAD").is_file()


def repo(cwd: Path | None = None) -> Repo:
    """The repository around `cwd`, HEAD and HEAD's parents, from a single git call."""
    result = subprocess.run(
        ["git", "rev-parse", "--show-toplevel", "--absolute-git-dir", "HEAD", "HEAD^@", "--"],
        cwd=cwd,
        capture_output=True,
        check=False,
    )
    lines = [line for line in decode(result.stdout).splitlines() if line != "--"]
    error = decode(result.stderr).strip()
    if len(lines) < 2 or (result.returncode != 0 and "'HEAD'" not in error):
        raise HookError(
            f"not inside a git work tree ({error}): run the hook from inside the repository."
        )
    if result.returncode != 0:  # "bad revision 'HEAD'": no commit yet, this is the first
        return Repo(Path(lines[0]), Path(lines[1]), None, ())
    return Repo(Path(lines[0]), Path(lines[1]), lines[2], tuple(lines[3:]))


def staged_changes(root: Path, base: str | None = None) -> list[Change]:
    """What the index changes relative to `base` (default HEAD; before the first commit,
    the empty tree). Honours GIT_INDEX_FILE, which `git commit -a` and `git commit PATHS`
    point at the index they are about to commit."""
    args = ["diff", "--cached", *DIFF_OPTIONS]
    if base is not None:
        args.append(base)
    return parse_diff(decode(git(*args, "--", cwd=root)).split("\0"))


def empty_tree(root: Path) -> str:
    """The id of the empty tree in this repository's hash (SHA-1 or SHA-256)."""
    return decode(git("hash-object", "-t", "tree", "--stdin", cwd=root, stdin=b"")).strip()


def read_objects(root: Path, names: Iterable[str]) -> dict[str, bytes | None]:
    """The contents of several objects (`<blob id>` or `<commit>:<path>`), in one git call.

    Missing objects map to None.
    """
    wanted = list(dict.fromkeys(name for name in names if name))
    if not wanted:
        return {}
    output = git(
        "cat-file",
        "--batch",
        cwd=root,
        stdin=b"".join(os.fsencode(name) + b"\n" for name in wanted),
    )
    objects: dict[str, bytes | None] = {}
    position = 0
    for name in wanted:
        end = output.index(b"\n", position)
        header = output[position:end].split(b" ")
        position = end + 1
        if header[-1] == b"missing" or len(header) != 3:
            objects[name] = None
            continue
        size = int(header[2])
        objects[name] = output[position : position + size]
        position += size + 1  # the content is followed by a newline
    return objects


def object_sizes(root: Path, blobs: Iterable[str]) -> dict[str, int]:
    """The size in bytes of each blob, in one git call (missing blobs are left out)."""
    wanted = list(dict.fromkeys(blob for blob in blobs if blob))
    if not wanted:
        return {}
    output = git(
        "cat-file",
        "--batch-check",
        cwd=root,
        stdin="".join(f"{blob}\n" for blob in wanted).encode(),
    )
    sizes = {}
    for line in decode(output).splitlines():
        parts = line.split(" ")
        if len(parts) == 3 and parts[1] == "blob":
            sizes[parts[0]] = int(parts[2])
    return sizes


def amending() -> bool:
    """Whether the hook runs under `git commit --amend`.

    git tells pre-commit hooks nothing about it, so on Linux look at the command lines of
    the processes above this one: git is a few parents up (git, pre-commit, this hook).
    Elsewhere the answer is False: the hook then checks what the amend adds to HEAD, and
    `scaffold check-commits` in CI checks the whole amended commit.
    """
    pid = os.getppid()
    for _ in range(8):
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            stat = Path(f"/proc/{pid}/stat").read_bytes()
        except OSError:
            return False
        if os.path.basename(argv[0]) in (b"git", b"git.exe"):
            options = argv[1 : argv.index(b"--")] if b"--" in argv else argv[1:]
            return b"commit" in options and b"--amend" in options
        pid = int(stat.rsplit(b")", 1)[1].split()[1])  # the fields after the name: state, ppid
        if pid <= 1:
            return False
    return False
