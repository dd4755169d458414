"""Answers: a repo's answers file read, and answers given on the command line (`--data
KEY=VALUE`) checked before copier sees them.

Copier ignores a key that names no question (so `--data trackr=mlflow` silently gave the
default tracker) and fails with a traceback on a multiselect answer typed without YAML
brackets. scaffold reads the questions of the template version it is about to render and
refuses what does not fit with a one-line message naming the fix, before anything is
written.
"""

import difflib
import traceback
import unicodedata
from pathlib import Path
from typing import Any

from scaffold.errors import ScaffoldError

Questions = dict[str, dict[str, Any]]


def project_root(path: Path) -> Path:
    """The generated project holding `path`: the nearest folder from `path` up to the top
    of its git repository that has an answers file (the top itself, for a generated repo;
    a folder within, for a project `scaffold new --no-git` made inside another repository).
    Without one, the top of the git repository, or `path` outside any."""
    from scaffold import git, template_history

    start = path.resolve()
    top = git.repo_root(start)
    for folder in [start, *start.parents]:
        if (folder / template_history.ANSWERS_FILE).is_file():
            return folder
        if folder == top:
            break
    return top or start


def load(path: Path) -> dict[str, Any]:
    """A repo's answers file, read: a file hand-edited into invalid YAML is a one-line error
    that says how to get it back, not a parser's traceback."""
    import yaml

    restore = (
        f"restore it from git (`git log -p -- :/{path.name}` shows its history, and `git "
        f"checkout COMMIT -- :/{path.name}` takes back a good version), and change answers "
        "with `scaffold update --data KEY=VALUE`"
    )
    try:
        answers = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        problem = getattr(error, "problem", None) or "unreadable"
        raise ScaffoldError(f"{path} is not valid YAML{where} ({problem}): {restore}.") from None
    if not isinstance(answers, dict):
        raise ScaffoldError(f"{path} holds no answers (question: answer lines): {restore}.")
    return answers


def parse_pairs(pairs: list[str]) -> dict[str, str]:
    """`["tracker=mlflow", ...]` -> `{"tracker": "mlflow", ...}`; a pair without '=' is refused."""
    data = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ScaffoldError(f"--data {pair!r} is not KEY=VALUE (e.g. --data tracker=mlflow).")
        if key.strip() in data and data[key.strip()] != value:
            raise ScaffoldError(
                f"--data answers {key.strip()} twice ({data[key.strip()]!r}, then {value!r}): "
                "give it once (lists: --data platforms=linux-64,osx-arm64)."
            )
        data[key.strip()] = value
    return data


def questions_from(copier_yml: str) -> Questions:
    """The questions a user may answer, from the text of a template's copier.yml.

    Settings (`_...`) and computed values (`when: false`) are not questions.
    """
    import yaml

    spec = yaml.safe_load(copier_yml) or {}
    return {
        name: details if isinstance(details, dict) else {"default": details}
        for name, details in spec.items()
        if not name.startswith("_")
        and not (isinstance(details, dict) and details.get("when") is False)
    }


def check(data: dict[str, str], questions: Questions) -> dict[str, Any]:
    """Refuse unknown keys and impossible choices; return the answers in copier's types.

    A multiselect answer may be typed as `linux-64`, `linux-64,osx-arm64` or the YAML list
    `[linux-64, osx-arm64]`; copier receives a list.
    """
    checked: dict[str, Any] = {}
    for key, value in data.items():
        if key not in questions:
            raise ScaffoldError(_unknown_key(key, questions))
        question = questions[key]
        choices = _choice_values(question)
        if question.get("multiselect"):
            values = [] if _says_none(value, choices) else _split_list(key, value)
            for item in values:
                _require_choice(key, item, choices)
            checked[key] = values
        elif question.get("type") == "bool":
            checked[key] = _boolean(key, value)
        else:
            if choices:
                _require_choice(key, value, choices)
            checked[key] = value
    return checked


def refuse_unasked(given: dict[str, Any], recorded: dict[str, Any], questions: Questions) -> None:
    """Refuse the answers given (`--data`) that copier did not record: it drops an answer
    to a question it does not ask (its `when` is false), so the value would vanish."""
    for key in given:
        if key in recorded:
            continue
        when = str(questions.get(key, {}).get("when", ""))
        condition = when.strip().removeprefix("{{").removesuffix("}}").strip()
        raise ScaffoldError(
            f"--data {key}: this question is asked only when {condition}, which these "
            "answers are not: drop it, or change the answer it depends on."
        )


_BOOLEANS = {"true": True, "yes": True, "y": True, "on": True, "1": True}
_BOOLEANS |= {"false": False, "no": False, "n": False, "off": False, "0": False}


def _boolean(key: str, value: str) -> bool:
    answer = _BOOLEANS.get(value.strip().lower())
    if answer is None:
        raise ScaffoldError(f"--data {key}={printable(value)}: answer true or false (or yes/no).")
    return answer


def printable(text: str) -> str:
    """`text` on one line: control and other invisible characters escaped as \\n, \\x00..."""
    return "".join(
        char.encode("unicode_escape").decode("ascii")
        if unicodedata.category(char)[0] == "C"
        else char
        for char in text
    )


def _unknown_key(key: str, questions: Questions) -> str:
    close = difflib.get_close_matches(key.lower(), list(questions), n=1, cutoff=0.6)
    hint = f"did you mean {close[0]}? " if close else ""
    key = printable(key)
    return (
        f"--data {key}: there is no such question; {hint}the questions are {', '.join(questions)}."
    )


def _choice_values(question: dict[str, Any]) -> list[str]:
    choices = question.get("choices") or []
    values = choices.values() if isinstance(choices, dict) else choices
    return [str(value) for value in values]


def _require_choice(key: str, value: str, choices: list[str]) -> None:
    if value not in choices:
        raise ScaffoldError(
            f"--data {key}={printable(value)}: choose one of {', '.join(choices)}."
        )


def _split_list(key: str, value: str) -> list[str]:
    import yaml

    text = value.strip()
    if text.startswith("["):
        try:
            parsed = yaml.safe_load(text)
        except yaml.YAMLError:
            parsed = None
        if not isinstance(parsed, list) or not all(isinstance(item, str) for item in parsed):
            raise ScaffoldError(
                f"--data {key}={printable(value)}: write a list as a,b or [a, b] "
                "(e.g. linux-64,osx-arm64)."
            )
        items = parsed
    else:
        items = text.split(",")
    items = [item.strip() for item in items if item.strip()]
    return list(dict.fromkeys(items))


def _says_none(value: str, choices: list[str]) -> bool:
    """Whether a multiselect answer chooses nothing: `none` (unless that is a choice)."""
    return value.strip().lower() == "none" and "none" not in choices


def local_template_questions(template: str) -> Questions | None:
    """The questions of a template given as a local directory, or None for other sources."""
    for name in ("copier.yml", "copier.yaml"):
        path = Path(template) / name
        if path.is_file():
            return questions_from(path.read_text(encoding="utf-8"))
    return None


def copier_rejection(error: BaseException) -> ScaffoldError | None:
    """The user error behind an exception from copier, or None when it is a bug.

    Copier reports an answer its validator refused as a plain ValueError raised inside
    copier; a ValueError raised anywhere else is a bug and must keep its traceback.
    """
    from copier.errors import CopierError

    if isinstance(error, KeyboardInterrupt):  # copier's Ctrl-C at a question: not an error
        return None
    if isinstance(error, CopierError):
        return ScaffoldError(printable(str(error).strip()))
    if isinstance(error, ValueError):
        frames = traceback.extract_tb(error.__traceback__)
        if frames and "copier" in Path(frames[-1].filename).parts:
            return ScaffoldError(printable(str(error).strip()))
    return None
