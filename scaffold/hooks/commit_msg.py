"""commit-msg: Conventional Commits subjects that say what changed.

`type(scope)!: description`, the type one of `commit-types`, the whole subject line at
most `max-subject-length` (72) characters (what `git log --oneline` and web views show
uncut), no trailing period, and a description that is more than filler ("wip", "fix",
"misc changes"). A body, if any, is separated from the subject by a blank line.

Messages that git writes are taken as they are: merges (known by git's MERGE_HEAD, or by
their two parents, never by their text: "Merge my pandas work" is a subject like any
other) and reverts (`Revert "..."`, `Reapply "..."`). `fixup!`, `squash!` and `amend!`
commits pass locally, where `git rebase --autosquash` is about to fold them in, and are
refused by `scaffold check-commits`, which sees what would be merged.
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

HOOK = "commit-msg"
SCISSORS = " ------------------------ >8 ------------------------"  # after the comment char
# What git chooses from, in order, when core.commentChar is `auto`.
AUTO_COMMENT_CHARS = "#;@!$%^&|:"
HEADER = re.compile(r"(?P<type>[A-Za-z]+)(?:\((?P<scope>[^()]+)\))?(?P<breaking>!)?: (?P<text>.*)")
WRITTEN_BY_GIT = re.compile(r'(Revert ".*|Reapply ".*)')
AUTOSQUASH = re.compile(r"(fixup|squash|amend)! ")
# Near misses of HEADER, and what each lacks: said before the general advice.
SLIPS = [
    (re.compile(r"[A-Za-z]+\(\s*\)"), " (its scope is empty: name one, or drop the brackets)"),
    (re.compile(r"[A-Za-z]+(\([^()]*\))?!?\s+:"), " (a space before the colon)"),
    (re.compile(r"[A-Za-z]+(\([^()]*\))?!?:(?! )"), " (no space after the colon)"),
]
EXAMPLE = "fix(data): retry interrupted downloads"
# Words that say nothing about a change. A description made only of these is refused;
# one word more ("remove debug code", "add tests", a description in Russian) passes.
FILLER = frozenset(
    """
    a add added adds again an and bug bugfix bugs change changed changes clean cleanup
    code commit done edit edits final fix fixed fixes fixing foo improve improvement
    improvements in it minor misc more new of on progress refactor refactoring remove
    removed save small some stuff temp the things this tmp todo tweak tweaks up update
    updated updates various wip work x
    """.split()  # noqa: SIM905 (a list of 66 words reads better as text)
)


def clean(message: str, comment: str = "#") -> str:
    """The message as git will store it: without comment lines or the verbose diff."""
    message = message.split(comment + SCISSORS, 1)[0]
    lines = [line.rstrip() for line in message.splitlines() if not line.startswith(comment)]
    return "\n".join(lines).strip("\n")


def comment_char(message: str) -> str:
    """What starts git's comment lines in the message file: core.commentChar, `#` unless
    it is set. With `auto`, git picked the first of #;@!$%^&|: that starts no line of the
    message, then added its comments last (or its verbose diff, after the scissors line),
    so the message's own last comment line shows which one it picked."""
    try:
        setting = git_changes.decode(git_changes.git("config", "core.commentChar")).strip()
    except HookError:  # not set
        return "#"
    if setting != "auto":
        return setting or "#"
    lines = [line for line in message.splitlines() if line.strip()]
    for line in lines:
        if line[:1] in AUTO_COMMENT_CHARS and line[1:] == SCISSORS:
            return line[0]
    if lines and lines[-1][0] in AUTO_COMMENT_CHARS:
        return lines[-1][0]
    return "#"


def check(
    message: str,
    settings: Settings,
    *,
    rebase_base: str | None = None,
    comment: str = "#",
) -> list[Problem]:
    """The problems of a commit message (raw or already cleaned; `comment` starts the lines
    git strips).

    Fixups pass without a `rebase_base` (locally, where a rebase is about to fold them in);
    with one (the base of the range `scaffold check-commits` judges, or `--root`) they are
    refused, naming the rebase that folds them in.
    """
    text = clean(message, comment)
    if not text.strip():
        return [Problem(f"the commit message is empty: describe the change, e.g. `{EXAMPLE}`")]
    subject, _, body = text.partition("\n")
    if WRITTEN_BY_GIT.fullmatch(subject):
        return []
    if AUTOSQUASH.match(subject):
        if rebase_base is None:
            return []
        return [
            Problem(
                f"{subject!r} is a fixup: fold it into its commit before merging "
                f"(`git rebase -i --autosquash {rebase_base}`)"
            )
        ]
    problems = []
    header = HEADER.fullmatch(subject)
    if header is None:
        slip = next((why for pattern, why in SLIPS if pattern.match(subject)), "")
        return [
            Problem(
                f"{subject!r} is not a Conventional Commit subject{slip}: write "
                f"`type(scope): what it does`, e.g. `{EXAMPLE}` "
                f"(types: {', '.join(settings.commit_types)})"
            )
        ]
    if header["type"] not in settings.commit_types:
        lower = header["type"].lower()
        case = f" (in lower case: {lower})" if lower in settings.commit_types else ""
        problems.append(
            Problem(
                f"{header['type']!r} is not a commit type{case}: use one of "
                f"{', '.join(settings.commit_types)}"
            )
        )
    if len(subject) > settings.max_subject_length:
        problems.append(
            Problem(
                f"the subject is {len(subject)} characters, over {settings.max_subject_length}: "
                "shorten it and put the details in the body, after a blank line"
            )
        )
    if subject.endswith("."):
        problems.append(Problem(f"{subject!r} ends with a period: drop it"))
    words = re.findall(r"\w+", header["text"].lower())  # any script's letters and digits
    if all(word in FILLER for word in words):
        problems.append(
            Problem(
                f"{header['text']!r} says nothing about the change: say what it does, "
                f"e.g. `{EXAMPLE}`"
            )
        )
    if body and body.split("\n", 1)[0].strip():
        problems.append(
            Problem("the second line is not blank: leave one empty line after the subject")
        )
    return problems


def main(argv: Sequence[str] | None = None) -> int:
    """Check the message file that git passes to the commit-msg hook."""
    args = sys.argv[1:] if argv is None else list(argv)
    if len(args) != 1:
        print("usage: commit_msg MESSAGE_FILE", file=sys.stderr)
        return 2
    path = Path(args[0])
    try:
        message = path.read_bytes().decode("utf-8", "replace")
        repo = git_changes.repo()
        if repo.merging:
            return 0
        settings = settings_module.load(repo.root)
        problems = check(message, settings, comment=comment_char(message))
    except OSError as error:
        return fail(HookError(f"{path}: cannot read the commit message ({error})."))
    except HookError as error:
        return fail(error)
    if problems:
        problems = [Problem(f"commit message: {problem.message}") for problem in problems]
        kept_in = shlex.quote(str(path.resolve()))  # from any folder: git gave it from the top
        kept = (
            f"The message is kept: `git commit -e -F {kept_in}` edits it again (add the "
            "options you gave, e.g. -a: the commit was not made)."
        )
        problems[-1] = Problem(problems[-1].message, (kept,))
    return emit(problems)


if __name__ == "__main__":
    sys.exit(main())
