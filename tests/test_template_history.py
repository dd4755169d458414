"""The shipped template history: complete, current, and append-only."""

import filecmp
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import REPO_ROOT

from scaffold import __version__, template_history
from scaffold.errors import ScaffoldError
from scaffold.git import git


def checkout(bundle: Path, version: str, into: Path) -> Path:
    git("clone", "--quiet", "--branch", f"v{version}", str(bundle), str(into))
    return into


def differences(left: Path, right: Path) -> list[str]:
    """Relative paths that differ between two trees (ignoring caches)."""
    comparison = filecmp.dircmp(left, right, ignore=["__pycache__", ".git"])
    found = comparison.left_only + comparison.right_only + comparison.diff_files
    for name, sub in comparison.subdirs.items():
        found += [f"{name}/{path}" for path in differences(Path(sub.left), Path(sub.right))]
    return found


def test_current_version_is_released_with_the_working_tree_template(tmp_path: Path) -> None:
    """Forgetting scripts/release_template.py after a template change fails here."""
    assert template_history.released_versions()[-1] == __version__
    release = checkout(template_history.BUNDLE, __version__, tmp_path / "release")
    for name in template_history.TEMPLATE_FILES:
        if (REPO_ROOT / name).is_dir():
            assert differences(REPO_ROOT / name, release / name) == [], name
        else:
            assert filecmp.cmp(REPO_ROOT / name, release / name, shallow=False), name


def test_changelog_has_a_section_per_release() -> None:
    changelog = (REPO_ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    for version in template_history.released_versions():
        assert f"\n## v{version}\n" in changelog


def copy_of_source(tmp_path: Path) -> Path:
    source = tmp_path / "source"
    source.mkdir()
    template_history.copy_template_files(REPO_ROOT, source)
    return source


def test_record_release_appends_and_refuses_to_rewrite(tmp_path: Path) -> None:
    bundle = tmp_path / "history.bundle"
    shutil.copy2(template_history.BUNDLE, bundle)
    source = copy_of_source(tmp_path)

    assert template_history.record_release(source, __version__, bundle) is False
    (source / "template" / "NEW.md").write_text("new\n")
    with pytest.raises(ScaffoldError, match="already released"):
        template_history.record_release(source, __version__, bundle)
    assert template_history.record_release(source, "99.0.0", bundle) is True

    assert template_history.released_versions(bundle)[-2:] == [__version__, "99.0.0"]
    new = checkout(bundle, "99.0.0", tmp_path / "new")
    assert (new / "template" / "NEW.md").read_text() == "new\n"
    old = checkout(bundle, __version__, tmp_path / "old")
    assert not (old / "template" / "NEW.md").exists()


def test_changelog_since_shows_only_newer_sections(tmp_path: Path) -> None:
    bundle = tmp_path / "history.bundle"
    shutil.copy2(template_history.BUNDLE, bundle)
    source = copy_of_source(tmp_path)
    changelog = source / "CHANGELOG.md"
    head, _, rest = changelog.read_text().partition("\n## ")
    changelog.write_text(f"{head}\n## v99.0.0\n\n- Something new.\n\n## {rest}")
    template_history.record_release(source, "99.0.0", bundle)

    excerpt = template_history.changelog_since(__version__, bundle)
    assert excerpt.startswith("## v99.0.0")
    assert "Something new." in excerpt
    assert f"v{__version__}" not in excerpt


def test_public_url_is_served_from_the_bundle_only_inside_the_block(tmp_path: Path) -> None:
    from plumbum import local

    with template_history.served_from() as url:
        tags = local["git"]("ls-remote", "--tags", url)
        assert f"refs/tags/v{__version__}" in tags
    assert "GIT_CONFIG_COUNT" not in local.env
    outside = subprocess.run(
        ["git", "config", "--get-urlmatch", "url", template_history.PUBLIC_URL],
        capture_output=True,
        text=True,
    )
    assert str(template_history.BUNDLE) not in outside.stdout
