"""Any answer text that passes the validators lands in every generated file exactly.

Hypothesis generates project names, descriptions and author names from the whole of
Unicode (quotes, backslashes, `#`, `{{ }}`, `{% %}`, emoji, right-to-left text, ...). Each
rendered project is parsed with the real parsers (tomllib, PyYAML, `compile`, a
CommonMark renderer), and the parsed values must equal what was typed.
"""

from pathlib import Path

from checks import parse_all, render
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt

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
    max_examples=60,
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
