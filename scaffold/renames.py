"""The files and folders an update moves, and what the user had in them.

Between two releases the template may rename a file (model.py became models/convnet.py),
and new answers may rename a folder (`--data package_name=new` moves src/<package>/).
Copier follows neither: it writes the new path afresh, dropping the user's edits of the
old one, and leaves the user's own files behind. Here the moves are found before copier
runs, and afterwards edits are merged into the new paths, the user's files follow their
folder, and what cannot be merged is recorded as a conflict in git's index.
"""

import contextlib
import itertools
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scaffold import answers as answers_module
from scaffold import git, template_history
from scaffold.errors import ScaffoldError


@dataclass(frozen=True)
class Rename:
    """A file the template moved between the two versions, as rendered in this repo."""

    old: str
    new: str
    old_template_bytes: bytes  # what the old version rendered at `old`
    user_bytes: bytes  # what the repo held at `old` before the update


def moves(
    current: str, target: str, answers: dict[str, Any], after: dict[str, Any], bundle: Path
) -> list[tuple[str, str]]:
    """The files of the template that this update moves, as paths of the repo (old, new).

    A file moves when the template renamed it between the two versions, or when new
    answers change its path (`--data package_name=...` moves src/<package>/).
    """
    moved = dict(template_moves(current, target, bundle)) if current != target else {}
    moves = []
    for path in _template_files(current, bundle):
        old, new = rendered_path(path, answers), rendered_path(moved.get(path, path), after)
        # e.g. cli.py -> cli.py.jinja renders to the same file: no move
        if old and new and old != new:
            moves.append((old, new))
    return moves


def template_renames(
    moves: list[tuple[str, str]],
    current: str,
    answers: dict[str, Any],
    bundle: Path,
    project: Path,
) -> tuple[list[Rename], list[str]]:
    """Of `moves`, the files the user has edited, and the new paths of those the user has
    deleted (where nothing is yet).

    Copier drops the edits of a moved file silently (it deletes the old path and writes the
    new one fresh), and writes a file the user deleted afresh at its new path, so both are
    collected here, before the update, to be set right afterwards. Files are compared as
    bytes: a renamed image is as ordinary as a renamed module.
    """
    if not moves:
        return [], []
    renames, deleted = [], []
    with tempfile.TemporaryDirectory(prefix="scaffold-renames-") as tmp:
        old_render = _render_version(bundle, current, answers, Path(tmp) / "old")
        for old, new in moves:
            user_file, template_file = project / old, old_render / old
            if not template_file.is_file():
                continue
            if not os.path.lexists(user_file):
                if not os.path.lexists(project / new):
                    deleted.append(new)
                continue
            user_bytes, old_bytes = user_file.read_bytes(), template_file.read_bytes()
            if user_bytes != old_bytes:
                renames.append(Rename(old, new, old_bytes, user_bytes))
    return renames, deleted


def _template_files(version: str, bundle: Path) -> list[str]:
    """The paths of template/'s files at release `version`."""
    listing = git.git(
        "ls-tree",
        "-r",
        "-z",
        "--name-only",
        f"v{version}",
        "--",
        "template/",
        cwd=template_history.history_repo(bundle),
    )
    return [path for path in listing.split("\0") if path]


def renamed_folders(
    version: str, answers: dict[str, Any], after: dict[str, Any], bundle: Path
) -> list[tuple[str, str]]:
    """The folders that new answers rename (old, new), outermost only: `package_name`
    renames src/<package>/, and with it every folder inside."""
    pairs = set()
    for path in _template_files(version, bundle):
        folder = path.rpartition("/")[0]
        while folder and folder != "template":
            old, new = rendered_path(folder, answers), rendered_path(folder, after)
            if old and new and old != new:
                pairs.add((old, new))
            folder = folder.rpartition("/")[0]
    return sorted(
        (old, new)
        for old, new in pairs
        if not any(old.startswith(f"{outer}/") for outer, _ in pairs)
    )


@dataclass(frozen=True)
class OwnFiles:
    """What `move_own_files` did with the user's files in the folders new answers renamed."""

    moved: list[tuple[str, str]]  # (old, new path)
    left: list[tuple[str, str]]  # in place, as the new folder has a file of that name
    ignored: list[str]  # in place: files git ignores, which the user may want moved


def move_own_files(project: Path, folders: list[tuple[str, str]]) -> OwnFiles:
    """Move the user's files from each renamed folder into its new name, as a rename of the
    folder would: copier moved only the template's. Python's caches are dropped; other
    files git ignores stay, and are named."""
    moved, left, ignored = [], [], []
    for old, new in folders:
        tracked = git.git("ls-files", "-z", "--", old, cwd=project).split("\0")
        for path in (path for path in tracked if path and os.path.lexists(project / path)):
            destination = new + path.removeprefix(old)
            if os.path.lexists(project / destination):
                left.append((path, destination))
                continue
            (project / destination).parent.mkdir(parents=True, exist_ok=True)
            (project / path).rename(project / destination)
            moved.append((path, destination))
        for cache in list((project / old).rglob("__pycache__")):  # the old name's bytecode
            shutil.rmtree(cache, ignore_errors=True)
        for folder, _, _ in sorted(os.walk(project / old), reverse=True):  # deepest first
            with contextlib.suppress(OSError):  # not empty: files git ignores, or one left
                os.rmdir(folder)
        if (project / old).is_dir():
            ignored += [
                path.relative_to(project).as_posix()
                for path in sorted((project / old).rglob("*"))
                if not path.is_dir() and path.relative_to(project).as_posix() not in dict(left)
            ]
    return OwnFiles(moved, left, ignored)


def still_named(project: Path, folders: list[tuple[str, str]]) -> dict[str, list[str]]:
    """For each renamed folder that is a Python package, the files (tracked, or new and not
    ignored) that still name it by its old name as code does: `import name`, `from name`,
    `-m name` (also as `"-m", "name"`), a quoted module path ('name.train.x',
    "name.cli:app"), `--cov=name`. A quoted name alone may be a project's name: not one."""
    found = {}
    for old, new in folders:
        name = old.rpartition("/")[2]
        if not (name.isidentifier() and new.rpartition("/")[2].isidentifier()):
            continue
        end = "([^[:alnum:]_]|$)"
        patterns = [
            rf"(^|[^.[:alnum:]_])(from|import|-m)[[:space:]]+{name}{end}",
            rf"-m[\"'],[[:space:]]*[\"']{name}[\"']",
            rf"[\"']{name}[.:][[:alpha:]_]",
            rf"--cov={name}{end}",
        ]
        options = [argument for pattern in patterns for argument in ("-e", pattern)]
        files = git.git(
            "grep", "--untracked", "-l", "-I", "-E", *options, cwd=project, check=False
        )
        if files:
            found[name] = files.splitlines()
    return found


def describe_old_names(old_names: dict[str, list[str]]) -> str:
    """What to tell the user of the files `still_named` found."""
    return "\n".join(
        f"These files still name the package by its old name, {name}: change it in them "
        "before you commit:\n  " + "\n  ".join(files)
        for name, files in old_names.items()
    )


def describe_folders(folders: list[tuple[str, str]], ignored: list[str]) -> str:
    """What to tell the user of the folders new answers renamed: the package must be
    installed again under its new name, and files git ignores stayed behind."""
    lines = []
    for old, new in folders:
        before, after = old.rpartition("/")[2], new.rpartition("/")[2]
        lines.append(
            f"{old}/ is now {new}/: install the project again under its new name (`pip "
            f"uninstall {before.replace('_', '-')}`, then as its README says, e.g. `pip "
            "install --editable .`). Environment variables named after the package change "
            f"too: {before.upper()}_* is now {after.upper()}_* (e.g. {after.upper()}_RUNS_DIR)."
        )
    if ignored:
        lines.append(
            "Files git ignores stayed in the old folder: move them, or delete them: "
            + ", ".join(ignored)
        )
    return "\n".join(lines)


RENAME_SIMILARITY = "40%"  # git's default is 50%: a file moved and rewritten is still moved


def template_moves(current: str, target: str, bundle: Path | None = None) -> list[tuple[str, str]]:
    """(path at `current`, path at `target`) of each template file moved in between.

    Followed one release at a time: a file moved in one release and rewritten in later
    ones (or moved and rewritten at once, as model.py became models/convnet.py in v0.6.0)
    resembles its first self too little for git to pair the two in one diff.
    """
    versions = template_history.released_versions(bundle)
    if current in versions and target in versions:
        steps = versions[versions.index(current) : versions.index(target) + 1]
    else:
        steps = [current, target]
    now_at: dict[str, str] = {}  # path at `current` -> its path after the releases so far
    for before, after in itertools.pairwise(steps):
        fields = template_changes(before, after, f"--find-renames={RENAME_SIMILARITY}", bundle)
        for index, status in enumerate(fields[:-2]):
            if status.startswith("R"):
                old, new = fields[index + 1], fields[index + 2]
                origin = next((first for first, path in now_at.items() if path == old), old)
                now_at[origin] = new
    return [(old, new) for old, new in now_at.items() if old != new]


def template_changes(before: str, after: str, renames: str, bundle: Path | None) -> list[str]:
    """`git diff --name-status -z` of template/ between two releases, split into its fields
    (a status, then its path or paths); `renames` says whether to pair renamed files."""
    status = git.git(
        "diff",
        "-z",
        renames,
        "--name-status",
        f"v{before}",
        f"v{after}",
        "--",
        "template/",
        cwd=template_history.history_repo(bundle),
    )
    return status.split("\0")


def _render_version(bundle: Path, version: str, answers: dict[str, Any], dest: Path) -> Path:
    from copier import run_copy

    data = {key: value for key, value in answers.items() if not key.startswith("_")}
    try:
        with template_history.served_from(bundle) as url:
            run_copy(url, dest, data=data, defaults=True, vcs_ref=f"v{version}", quiet=True)
    except Exception as error:
        if user_error := answers_module.copier_rejection(error):
            raise ScaffoldError(
                f"Could not regenerate template v{version} with this repo's answers to find "
                f"the files it renamed: {user_error}"
            ) from error
        raise
    return dest


def rendered_path(template_path: str, answers: dict[str, Any]) -> str:
    """Where a file of template/ lands in a generated repo ('' when it is not generated)."""
    from jinja2 import ChainableUndefined, Environment

    relative = template_path.removeprefix("template/").removesuffix(".jinja")
    environment = Environment(undefined=ChainableUndefined)  # copier's own: _copier_conf
    parts = [environment.from_string(part).render(**answers) for part in relative.split("/")]
    return "" if "" in parts else "/".join(parts)


def _is_text(content: bytes) -> bool:
    try:
        content.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return b"\0" not in content


def carry_edits_over_renames(project: Path, renames: list[Rename]) -> list[str]:
    """Bring the user's edits of each renamed file to its new path.

    Text is 3-way merged into the new path (base: the old render). An edited binary cannot
    be merged: the user's version is kept at its old path and returned, to be reported as a
    conflict for the user to settle.
    """
    kept = []
    for rename in renames:
        new_path = project / rename.new
        if not new_path.exists():
            continue
        old_path = project / rename.old
        texts = (rename.old_template_bytes, rename.user_bytes, new_path.read_bytes())
        if not all(_is_text(content) for content in texts):
            old_path.parent.mkdir(parents=True, exist_ok=True)
            old_path.write_bytes(rename.user_bytes)
            with tempfile.TemporaryDirectory(prefix="scaffold-merge-") as tmp:
                (Path(tmp) / "base").write_bytes(rename.old_template_bytes)
                record_unmerged(project, rename.old, {1: Path(tmp) / "base", 3: new_path})
            kept.append(rename.old)
            continue
        with tempfile.TemporaryDirectory(prefix="scaffold-merge-") as tmp:
            names = ("merged", "base", "user", "template")
            merged, base, user, template = (Path(tmp) / name for name in names)
            merged.write_bytes(rename.user_bytes)
            user.write_bytes(rename.user_bytes)
            base.write_bytes(rename.old_template_bytes)
            template.write_bytes(new_path.read_bytes())
            # The user's side first, as in the files copier merged: before, then after.
            collisions = git.exit_code(
                "merge-file",
                "-L",
                f"before updating (your edits of {rename.old})",
                "-L",
                "last update",
                "-L",
                "after updating",
                str(merged),
                str(base),
                str(template),
                cwd=project,
            )
            new_path.write_bytes(merged.read_bytes())
            if collisions:  # merge-file's exit code: how many
                record_unmerged(project, rename.new, {1: base, 2: user, 3: template})
        old_path.unlink(missing_ok=True)
        # With --conflict rej, copier's patch of the old path failed: its hunks are merged.
        (project / f"{rename.old}.rej").unlink(missing_ok=True)
    return kept


def record_unmerged(project: Path, path: str, stages: dict[int, Path]) -> None:
    """Mark `path` as unmerged in git's index, as copier marks the conflicts of its own
    merges: git then lists it as conflicted (as does `scaffold doctor`) and refuses to
    commit it until it is resolved and added. `stages` holds the files of git's sides: 1
    the base, 2 yours (default: `path` as it is), 3 the template's."""
    mode = "100755" if (project / path).stat().st_mode & 0o111 else "100644"
    entries = [f"0 {'0' * 40}\t{path}"]  # no stage-0 entry beside the others
    for stage, content in sorted({2: project / path, **stages}.items()):
        blob = git.git("hash-object", "-w", str(content), cwd=project)
        entries.append(f"{mode} {blob} {stage}\t{path}")
    git.git("update-index", "--index-info", cwd=project, stdin="\n".join(entries) + "\n")
