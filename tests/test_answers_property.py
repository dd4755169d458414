"""Any answer text that passes the validators lands in every generated file exactly.

The first test: Hypothesis generates project names, descriptions and author names from the whole of
Unicode (quotes, backslashes, `#`, `{{ }}`, `{% %}`, emoji, right-to-left text, ...). Each
rendered project is parsed with the real parsers (tomllib, PyYAML, `compile`, a
CommonMark renderer), and the parsed values must equal what was typed. The second: a
wrong value for any question gets a one-line error and leaves nothing on disk.

Examples per test: a quick profile by default, a thorough one in CI (tests/conftest.py).
"""

from pathlib import Path

import yaml
from checks import parse_all, render
from conftest import REPO_ROOT
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt
from typer.testing import CliRunner

from scaffold.cli import app

# What the validators refuse in one-line answers: control characters, lone surrogates
# (undecodable bytes on the command line) and the non-characters U+FFFE/U+FFFF.
REFUSED = {
    chr(c) for c in [*range(0x20), *range(0x7F, 0xA0), *range(0xD800, 0xE000), 0xFFFE, 0xFFFF]
}
SPECIALS = [
    *list("\"'\\:#{}%[]&*!|>-<`~_=+.()@$"),
    "{{",
    "}}",
    "{%",
    "%}",
    "🚀",
    "é",
    "中",
    "\u200f",
]

one_line = (
    st.lists(
        st.one_of(st.characters(exclude_characters=REFUSED), st.sampled_from(SPECIALS)),
        min_size=1,
        max_size=30,
    )
    .map("".join)
    .map(str.strip)
    .filter(bool)
)


# Shrinking a failure re-renders hundreds of projects (minutes): report it unshrunk instead.
@settings(
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(project_name=one_line, description=one_line, author_name=one_line)
def test_answers_round_trip(
    template_dir: Path, tmp_path_factory, project_name: str, description: str, author_name: str
) -> None:
    project = render(
        template_dir,
        tmp_path_factory.mktemp("prop") / "p",
        {
            "project_name": project_name,
            "description": description,
            "author_name": author_name,
            "author_email": "a@example.org",
        },
    )
    parsed = parse_all(project)

    answers = parsed[".copier-answers.yml"]
    assert (answers["project_name"], answers["description"], answers["author_name"]) == (
        project_name,
        description,
        author_name,
    )
    metadata = parsed["pyproject.toml"]["project"]
    assert metadata["description"] == description
    assert metadata["authors"] == [{"name": author_name, "email": "a@example.org"}]

    readme = MarkdownIt().parse((project / "README.md").read_text(encoding="utf-8"))
    inline = [token for token in readme if token.type == "inline"]
    assert _plain(inline[0]) == project_name
    assert _plain(inline[1]) == description
    assert author_name in (project / "LICENSE").read_text(encoding="utf-8")


def _plain(token) -> str:
    """The text a reader sees in one inline Markdown token."""
    return "".join(
        child.content if child.type in {"text", "code_inline"} else "" for child in token.children
    )


QUESTIONS = {
    name: spec
    for name, spec in yaml.safe_load((REPO_ROOT / "copier.yml").read_text()).items()
    if isinstance(spec, dict) and not name.startswith("_") and spec.get("when") is not False
}


def _choices(name: str) -> list[str]:
    choices = QUESTIONS[name]["choices"]
    return [str(value) for value in (choices.values() if isinstance(choices, dict) else choices)]


@st.composite
def wrong_answer(draw: st.DrawFn) -> tuple[str, str]:
    """A question and a value for it that must be refused."""
    name = draw(st.sampled_from(sorted(QUESTIONS)))
    spec = QUESTIONS[name]
    text = st.text(min_size=1, max_size=12)
    if spec.get("multiselect"):
        good = st.sampled_from(_choices(name))
        bad = text.filter(lambda item: item.strip() and item.strip() not in _choices(name))
        items = draw(
            st.lists(st.one_of(good, bad), min_size=1, max_size=3).filter(
                lambda items: any(item.strip() not in _choices(name) for item in items)
            )
        )
        form = draw(st.sampled_from(["comma", "yaml", "broken-yaml"]))
        if form == "broken-yaml":
            return name, "[" + ", ".join(items)
        if form == "yaml":
            return name, yaml.safe_dump(items, default_flow_style=True).strip()
        if any("," in item for item in items):
            return name, "[" + ", ".join(items)
        return name, ",".join(items)
    if "choices" in spec:
        return name, draw(text.filter(lambda value: value not in _choices(name)))
    if name == "package_name":
        return name, draw(st.sampled_from(["json", "1abc", "My-Pkg", "a" * 51, "torch", "é"]))
    if name == "author_email":
        return name, draw(text.filter(lambda value: "@" not in value and value.strip() == value))
    bad_char = st.sampled_from(["\n", "\t", "\x00", "\x7f"])
    return name, draw(text) + draw(bad_char) + draw(text)


@settings(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(answer=wrong_answer())
def test_a_wrong_answer_is_one_line_and_leaves_nothing(tmp_path_factory, answer) -> None:
    name, value = answer
    parent = tmp_path_factory.mktemp("wrong")
    result = CliRunner().invoke(
        app, ["new", str(parent / "p"), "--defaults", "--data", f"{name}={value}"]
    )
    assert result.exit_code == 1, (result.output, result.exception)
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    assert list(parent.iterdir()) == []
