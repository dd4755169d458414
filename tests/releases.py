"""Make template releases in tests: a copy of the shipped history plus edited versions."""

import shutil
from collections.abc import Callable
from pathlib import Path

from conftest import REPO_ROOT

from scaffold import template_history


class History:
    """A private copy of the shipped template history that tests can add releases to."""

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.directory = directory
        self.bundle = directory / "history.bundle"
        shutil.copy2(template_history.BUNDLE, self.bundle)
        shutil.copy2(
            template_history.release_record(), template_history.release_record(self.bundle)
        )

    def release(self, version: str, edit: Callable[[Path], None] | None = None) -> None:
        """Record the working tree's template, changed by `edit(source_root)`, as `version`."""
        source = self.directory / f"source-{version}"
        source.mkdir()
        template_history.copy_template_files(REPO_ROOT, source)
        if edit is not None:
            edit(source)
        changelog = source / "CHANGELOG.md"
        head, _, rest = changelog.read_text(encoding="utf-8").partition("\n## ")
        changelog.write_text(f"{head}\n## v{version}\n\n- Made by a test.\n\n## {rest}")
        assert template_history.record_release(source, self.bundle) == version


def replace_in(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
