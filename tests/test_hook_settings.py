"""scaffold.hooks.settings: defaults in code, [tool.scaffold.hooks] over them, typos refused."""

import re
import tomllib
from dataclasses import asdict
from pathlib import Path

import pytest
from conftest import REPO_ROOT

from scaffold.hooks import settings
from scaffold.hooks.report import HookError
from scaffold.hooks.settings import Settings


def write_pyproject(root: Path, text: str) -> Path:
    (root / "pyproject.toml").write_text(text, encoding="utf-8")
    return root


def test_no_pyproject_or_no_table_gives_the_defaults(tmp_path: Path) -> None:
    assert settings.load(tmp_path) == Settings()
    assert settings.load(write_pyproject(tmp_path, "[project]\nname = 'x'\n")) == Settings()


def test_the_table_overrides_and_lists_replace(tmp_path: Path) -> None:
    root = write_pyproject(
        tmp_path,
        "[tool.scaffold.hooks]\nmax-lines = 1000\nartifacts = ['*.bin']\n",
    )
    loaded = settings.load(root)
    assert loaded.max_lines == 1000 and loaded.artifacts == ("*.bin",)
    assert loaded.max_files == Settings().max_files


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ("max-line = 10", "no setting 'max-line'; the settings are: .*max-lines"),
        ("max-lines = '10'", "max-lines must be a positive whole number"),
        ("max-lines = 0", "max-lines must be a positive whole number"),
        ("max-files = true", "max-files must be a positive whole number"),
        ("artifacts = '*.pt'", "artifacts must be a list of strings"),
        ("artifacts = [1]", "artifacts must be a list of strings"),
    ],
)
def test_wrong_settings_name_the_key(tmp_path: Path, table: str, message: str) -> None:
    root = write_pyproject(tmp_path, f"[tool.scaffold.hooks]\n{table}\n")
    with pytest.raises(HookError, match=message):
        settings.load(root)


@pytest.mark.parametrize("table", ["[tool.scaffold.hook]", "[tool.scaffold.Hooks]"])
def test_a_misspelt_table_names_the_right_one(tmp_path: Path, table: str) -> None:
    """A typo in the table's name would otherwise turn every setting in it off."""
    root = write_pyproject(tmp_path, f"{table}\nmax-lines = 10\n")
    with pytest.raises(
        HookError, match=rf"no table {re.escape(table)}.*\[tool\.scaffold\.hooks\]"
    ):
        settings.load(root)


def test_invalid_toml_says_where(tmp_path: Path) -> None:
    with pytest.raises(HookError, match=r"pyproject.toml: not valid TOML"):
        settings.load(write_pyproject(tmp_path, "[tool\n"))


@pytest.mark.parametrize(
    ("path", "decided_by"),
    [
        ("model.pt", "*.pt"),
        ("checkpoints/last.pt", "*.pt"),
        ("runs/a/checkpoints/last.pt", "runs/**"),
        ("data/raw/train.csv", "data/**"),
        ("data/README.md", None),
        ("docs/data/notes.md", None),
        ("src/pkg/data.py", None),
        ("runs/2024-01-01/metrics.jsonl", "runs/**"),
        ("patch.py.rej", "*.rej"),
    ],
)
def test_patterns_match_like_gitignore(path: str, decided_by: str | None) -> None:
    assert settings.match(path, Settings().artifacts) == decided_by


@pytest.mark.parametrize(
    ("pattern", "matched", "unmatched"),
    [
        ("/data/**", ["data/x.csv", "data/raw/a.bin"], ["src/data/x.csv"]),  # anchored
        ("outputs/", ["outputs/a.txt", "exp/outputs/b/c.png"], ["outputs", "src/outputs.py"]),
        ("/outputs/", ["outputs/a/b.txt"], ["exp/outputs/b.txt"]),
        ("exp/ckpt/", ["exp/ckpt/a.bin", "exp/ckpt/b/c.bin"], ["ckpt/a.bin", "x/exp/ckpt/a"]),
        ("**/checkpoints/*", ["checkpoints/a.bin", "x/y/checkpoints/b.bin"], ["checkpoints"]),
    ],
)
def test_gitignore_s_folder_and_anchor_forms_match_as_there(
    pattern: str, matched: list[str], unmatched: list[str]
) -> None:
    """A user who writes `outputs/` or `/data/**`, as in .gitignore, must get its meaning,
    not a pattern that silently matches nothing."""
    for path in matched:
        assert settings.match(path, (pattern,)) == pattern, path
    for path in unmatched:
        assert settings.match(path, (pattern,)) is None, path


def test_the_last_matching_pattern_wins() -> None:
    patterns = ("*.csv", "!tests/fixtures/*", "tests/fixtures/huge.csv")
    assert settings.match("tests/fixtures/small.csv", patterns) is None
    assert settings.match("tests/fixtures/huge.csv", patterns) == "tests/fixtures/huge.csv"
    assert settings.match("results.csv", patterns) == "*.csv"


def test_the_template_shows_exactly_the_defaults() -> None:
    """template/pyproject.toml.jinja lists every setting, commented out, at its default."""
    text = (REPO_ROOT / "template" / "pyproject.toml.jinja").read_text(encoding="utf-8")
    block = text.split("[tool.scaffold.hooks]\n", 1)[1]
    uncommented = "\n".join(
        re.sub(r"^# ?", "", line) for line in block.splitlines() if line.startswith("#")
    )
    shown = tomllib.loads(uncommented)
    defaults = {key.replace("_", "-"): value for key, value in asdict(Settings()).items()}
    assert shown == {key: list(v) if isinstance(v, tuple) else v for key, v in defaults.items()}
