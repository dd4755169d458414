"""atomic-commit: refuse a staged change that is too large to review, or that mixes concerns.

Two rules, on what the commit being made changes:

- **Environment changes go in a commit of their own**: environment files, the lock,
  virtual packages, Dockerfiles, and edits of pyproject.toml's dependency tables. Mixed
  with code, the commit that changed behaviour cannot be told from the one that changed
  the environment, and reverting either takes the other along. Always refused.
- **Size**: at most `max-lines` changed lines in at most `max-files` files. Lock files and
  other generated files, binary files, pure renames and whole-file deletions are not
  counted: none of them is read line by line in a review. A deliberately large change
  passes with pre-commit's `SKIP=atomic-commit`, and in `scaffold check-commits` with a
  `Large-commit: REASON` trailer in its message (the hook runs before the message exists).

The first commit, merges, and template updates (a commit that changes the answers in
`.copier-answers.yml`, as `scaffold update` makes) are exempt from both: they are not
written by hand, so there is nothing to split.
"""

import re
import shlex
import sys
import tomllib
from collections.abc import Mapping, Sequence
from typing import Any

from scaffold import lockfile
from scaffold.hooks import changes as git_changes
from scaffold.hooks import settings as settings_module
from scaffold.hooks.changes import Change
from scaffold.hooks.report import HookError, Problem, emit, fail
from scaffold.hooks.settings import Settings

HOOK = "atomic-commit"
ANSWERS_FILE = ".copier-answers.yml"  # as scaffold.template_history.ANSWERS_FILE
PYPROJECT = "pyproject.toml"
SHOWN = 3  # files named in a one-line message before "and N more"
# The trailer that marks a large commit as deliberate. It names what it allows (size, never
# mixing) and is found by `git log --grep='^Large-commit:'`.
LARGE_TRAILER = "Large-commit"


def contents_needed(changes: Sequence[Change]) -> set[str]:
    """The blobs `exemption` and `check` read: both sides of pyproject.toml and answers."""
    wanted = set()
    for change in changes:
        if _name(change.path) == PYPROJECT or change.path == ANSWERS_FILE:
            wanted.update(
                blob for blob in (change.old_blob, change.new_blob) if set(blob) != {"0"}
            )
    return wanted


def exemption(
    changes: Sequence[Change],
    contents: Mapping[str, bytes | None],
    *,
    first: bool = False,
    merge: bool = False,
) -> str | None:
    """Why the rules do not apply to this commit, or None when they do."""
    if first:
        return "the first commit"
    if merge:  # its conflicts resolved, in whatever files they were: nothing to split
        return "a merge"
    for change in changes:
        if change.path != ANSWERS_FILE or not change.exists_after:
            continue
        if _answers(contents.get(change.old_blob)) != _answers(contents.get(change.new_blob)):
            return f"a template update ({ANSWERS_FILE} changed)"
    return None


def check(
    changes: Sequence[Change],
    contents: Mapping[str, bytes | None],
    settings: Settings,
    *,
    large_allowed: bool = False,
) -> list[Problem]:
    """The problems of a commit that is not exempt: mixing first, then size (unless a
    large change is `large_allowed`: see `large_reason`)."""
    problems = []
    if mixed := _mixing(changes, contents, settings):
        problems.append(mixed)
    if not large_allowed and (too_large := _size(changes, settings)):
        problems.append(too_large)
    return problems


def large_reason(message: str) -> str | None:
    """Why a commit message says its commit is deliberately large (its `Large-commit:
    REASON` trailer), or None. It lets `scaffold check-commits` pass a commit made with
    SKIP=atomic-commit, and leaves the reason in the history for whoever reviews it.

    A trailer is a `Key: value` line of the message's last paragraph, never the subject's.
    """
    paragraphs = message.strip().split("\n\n")
    if len(paragraphs) < 2:
        return None
    for line in paragraphs[-1].splitlines():  # as written, so that `git log --grep` finds it
        key, colon, reason = line.partition(":")
        if colon and key == LARGE_TRAILER and reason.strip():
            return reason.strip()
    return None


def _mixing(
    changes: Sequence[Change], contents: Mapping[str, bytes | None], settings: Settings
) -> Problem | None:
    environment: list[str] = []
    other: list[str] = []
    split_file = None  # a pyproject.toml whose dependencies and other settings both changed
    for change in changes:
        paths = [change.path] if change.old_path is None else [change.old_path, change.path]
        if not change.submodule and any(
            settings_module.match(path, settings.environment) for path in paths
        ):
            environment.append(change.path)
        elif _name(change.path) == PYPROJECT and not change.submodule:
            dependencies, rest = _pyproject_sides(change, contents)
            if dependencies:
                environment.append(f"{change.path}'s dependencies")
            if rest:
                other.append(change.path)
            if dependencies and rest:
                split_file = change.path
        else:
            other.append(change.path)
    if not environment or not other:
        return None
    message = (
        f"environment changes ({_some(environment)}) are mixed with other changes "
        f"({_some(other)}): commit them separately"
    )
    rest = [path for path in other if path != split_file]
    fix = ["Environment changes go in a commit of their own. Commit the environment first:"]
    if rest:
        fix.append(f"  git restore --staged -- {_quoted(rest)}")
    if split_file:
        fix += [
            f"  git restore --staged -- {shlex.quote(split_file)}",
            f"  git add -p -- {shlex.quote(split_file)}   # stage only its dependency hunks",
        ]
    locked = any(_name(path) in lockfile.LOCK_AND_INPUTS for path in environment)
    fix += [
        "  git commit             # the environment change"
        + (f", with its {lockfile.LOCK_FILE}" if locked else ""),
        f"  git add -- {_quoted(other)}",
        "  git commit             # then the rest",
    ]
    return Problem(message, tuple(fix))


def _size(changes: Sequence[Change], settings: Settings) -> Problem | None:
    counted = [change for change in changes if _counted(change, settings)]
    lines = sum(change.lines for change in counted)
    if lines <= settings.max_lines and len(counted) <= settings.max_files:
        return None
    largest = sorted(counted, key=lambda change: change.lines, reverse=True)[:SHOWN]
    shown = ", ".join(f"{c.path} (+{c.added} -{c.deleted})" for c in largest)
    over = [
        f"the limit of {limit} {what}"
        for count, limit, what in (
            (lines, settings.max_lines, "lines"),
            (len(counted), settings.max_files, "files"),
        )
        if count > limit
    ]
    message = (
        f"{lines} changed lines in {len(counted)} file{'s' * (len(counted) != 1)}, over "
        f"{' and '.join(over)}: split it into commits that each do one thing (or, if it is "
        f"deliberate, say why in a `{LARGE_TRAILER}: WHY` trailer)"
    )
    fix = (
        f"The largest: {shown}.",
        "Unstage part of it with `git restore --staged -- FILE...`, or stage hunk by hunk "
        "with `git add -p`; commit; repeat.",
        "Not counted: lock and generated files, binary files, pure renames, deleted files.",
        "A deliberately large change (vendored code, a mass rename): "
        f"SKIP=atomic-commit git commit --trailer '{LARGE_TRAILER}: WHY' "
        "(the trailer lets `scaffold check-commits` in CI pass it too).",
        f"The limits are max-lines and max-files in {PYPROJECT}'s {settings_module.TABLE}.",
    )
    return Problem(message, fix)


def _counted(change: Change, settings: Settings) -> bool:
    """Whether a file counts towards the size limits (see the module docstring)."""
    if change.binary or change.status == "D":
        return False
    if change.status in "RC" and change.lines == 0:
        return False
    return settings_module.match(change.path, settings.generated) is None


def _pyproject_sides(change: Change, contents: Mapping[str, bytes | None]) -> tuple[bool, bool]:
    """Whether a pyproject.toml change touches its dependency tables, and anything else.

    Compared as parsed TOML, so comments and formatting elsewhere are "anything else" only
    when they change a value. A side that cannot be parsed counts as "anything else".
    """
    old = _toml(contents.get(change.old_blob)) if change.status != "A" else {}
    new = _toml(contents.get(change.new_blob)) if change.exists_after else {}
    if old is None or new is None:
        return False, True
    old_dependencies, old_rest = _split_dependencies(old)
    new_dependencies, new_rest = _split_dependencies(new)
    return old_dependencies != new_dependencies, old_rest != new_rest


def _split_dependencies(document: dict[str, Any]) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """(the dependency tables, everything else) of a parsed pyproject.toml."""
    project = dict(document.get("project", {}))
    dependencies = (
        project.pop("dependencies", None),
        project.pop("optional-dependencies", None),
        document.get("dependency-groups"),
    )
    rest = {key: value for key, value in document.items() if key != "dependency-groups"}
    rest["project"] = project
    return dependencies, rest


def _toml(data: bytes | None) -> dict[str, Any] | None:
    if data is None:
        return None
    try:
        return tomllib.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError):
        return None


def _answers(data: bytes | None) -> dict[str, list[str]] | bytes | None:
    """The answers the file holds: {key: its value's parts}, read without a YAML parser
    (the hooks need only the standard library) from the flat mapping copier writes. Its
    comment (copier rewrites it on every update), blank lines, quoting, flow or block lists
    and key order change no answer, nor make a template update."""
    if data is None:
        return None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return data  # unreadable: compared as it is
    answers: dict[str, list[str]] = {}
    key = None
    for line in text.splitlines():
        if not line.strip() or line.startswith("#") or line.strip() in {"---", "..."}:
            continue
        top = re.match(r"([^\s#'\"][^:]*):(\s.*|)$", line)
        if top:  # `key: value`, or `key:` and its list below
            key = top.group(1).strip()
            answers[key] = _parts(top.group(2))
        elif key is not None:  # a list item, or a long value wrapped onto the next line
            answers[key] += _parts(line.strip().removeprefix("- "))
    return answers


def _parts(value: str) -> list[str]:
    """A YAML value as plain parts: quotes, a trailing comment and flow brackets dropped."""
    value = value.strip()
    if not value:
        return []
    if value[:1] not in {"'", '"'}:
        value = re.sub(r"\s+#.*$", "", value)  # a comment (inside quotes, it is text)
    if value.startswith("[") and value.endswith("]"):
        return [part for item in value[1:-1].split(",") for part in _parts(item)]
    return [value[1:-1] if value[:1] in {"'", '"'} and value[-1:] == value[:1] else value]


def _name(path: str) -> str:
    return path.rsplit("/", 1)[-1]


def _some(paths: Sequence[str]) -> str:
    if len(paths) <= SHOWN:
        return ", ".join(paths)
    return f"{', '.join(paths[:SHOWN])} and {len(paths) - SHOWN} more"


def _quoted(paths: Sequence[str]) -> str:
    return " ".join(shlex.quote(path) for path in paths)


def main(argv: Sequence[str] | None = None) -> int:
    """Check the staged change (pre-commit passes no file names: the whole index counts)."""
    del argv
    try:
        repo = git_changes.repo()
        base, first, merge = _what_it_commits_on(repo)
        if first or merge:
            return 0
        staged = git_changes.staged_changes(repo.root, base)
        contents = git_changes.read_objects(repo.root, contents_needed(staged))
        if exemption(staged, contents):
            return 0
        return emit(check(staged, contents, settings_module.load(repo.root)))
    except HookError as error:
        return fail(error)


def _what_it_commits_on(repo: git_changes.Repo) -> tuple[str | None, bool, bool]:
    """(the base to diff the index against, whether it is the first commit, a merge).

    `git commit --amend` replaces HEAD, so the commit it makes sits on HEAD's parents.
    """
    if repo.head is None:
        return None, True, False
    if not git_changes.amending():
        return None, False, repo.merging
    if not repo.head_parents:
        return None, True, False
    return repo.head_parents[0], False, len(repo.head_parents) > 1


if __name__ == "__main__":
    sys.exit(main())
