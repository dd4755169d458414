"""Render the template and check every generated file with the real parsers.

Used by the option matrix and the property-based answers test: whatever the answers,
every TOML, YAML, Python and Markdown file must parse, and nothing of Jinja may be left.
"""

import tomllib
from pathlib import Path
from typing import Any

import yaml
from copier import run_copy

BINARY_SUFFIXES = {".gz", ".png"}  # the smoke dataset and sample images


def render(template_dir: Path, dest: Path, data: dict[str, Any]) -> Path:
    """Render the template non-interactively into `dest` (defaults for what `data` omits)."""
    run_copy(str(template_dir), dest, data=data, defaults=True, quiet=True)
    return dest


def generated_files(project: Path) -> list[Path]:
    return sorted(
        path for path in project.rglob("*") if path.is_file() and ".git" not in path.parts
    )


def parse_all(project: Path) -> dict[str, Any]:
    """Parse every generated file; return the parsed TOML/YAML documents by relative path.

    Fails on any file that does not parse, is empty, or still holds template syntax that
    the answers did not bring in.
    """
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text(encoding="utf-8"))
    typed = " ".join(str(value) for value in answers.values())
    parsed: dict[str, Any] = {}
    for path in generated_files(project):
        relative = path.relative_to(project).as_posix()
        if path.suffix in BINARY_SUFFIXES:
            assert path.stat().st_size > 0, f"{relative} is empty"
            continue
        text = path.read_text(encoding="utf-8")
        assert text.strip(), f"{relative} is empty"
        for marker in ("{{", "{%", "{#"):  # openers: closers like '}}' are common in code
            assert marker not in text or marker in typed, f"{relative} holds Jinja: {marker}"
        if path.suffix == ".toml":
            parsed[relative] = tomllib.loads(text)
        elif path.suffix in {".yml", ".yaml"}:
            parsed[relative] = yaml.safe_load(text)
        elif path.suffix == ".py":
            compile(text, relative, "exec")
    return parsed
