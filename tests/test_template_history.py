"""The shipped template history: complete, current, and append-only."""

import filecmp
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import REPO_ROOT

from scaffold import template_history
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


CURRENT = template_history.latest_version()


def test_current_version_is_released_with_the_working_tree_template(tmp_path: Path) -> None:
    """Forgetting scripts/release_template.py after a template change fails here."""
    assert template_history.changelog_version(REPO_ROOT) == CURRENT
    release = checkout(template_history.BUNDLE, CURRENT, tmp_path / "release")
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


def test_released_trees_match_their_pins() -> None:
    """A commit that rewrites a released version (or drops or adds one unpinned) fails here."""
    assert template_history.verify_release_record() == []
    assert set(template_history.read_release_record()) == set(template_history.released_versions())


def test_a_rewritten_release_is_caught(tmp_path: Path) -> None:
    history = tmp_path / "history"
    git("clone", "--quiet", str(template_history.BUNDLE), str(history))
    (history / "CHANGELOG.md").write_text("rewritten\n")
    identity = ["-c", "user.name=x", "-c", "user.email=x@example.org"]
    git(*identity, "commit", "--quiet", "-am", "rewrite", cwd=history)
    git(*identity, "tag", "--force", f"v{CURRENT}", cwd=history)
    bundle = tmp_path / "rewritten.bundle"
    git("bundle", "create", "--quiet", str(bundle), "HEAD", "main", "--tags", cwd=history)
    shutil.copy2(template_history.release_record(), template_history.release_record(bundle))
    problems = template_history.verify_release_record(bundle)
    assert len(problems) == 1 and problems[0].startswith(f"v{CURRENT}: released as tree")


def add_changelog_section(source: Path, version: str) -> None:
    changelog = source / "CHANGELOG.md"
    head, _, rest = changelog.read_text().partition("\n## ")
    changelog.write_text(f"{head}\n## v{version}\n\n- Something new.\n\n## {rest}")


def private_history(tmp_path: Path) -> Path:
    bundle = tmp_path / "history.bundle"
    shutil.copy2(template_history.BUNDLE, bundle)
    shutil.copy2(template_history.release_record(), template_history.release_record(bundle))
    return bundle


def test_record_release_releases_only_a_changed_template_as_a_new_version(
    tmp_path: Path,
) -> None:
    bundle = private_history(tmp_path)
    source = copy_of_source(tmp_path)

    assert template_history.record_release(source, bundle) is None  # nothing changed
    (source / "template" / "NEW.md").write_text("new\n")
    with pytest.raises(ScaffoldError, match="add a section for the next version"):
        template_history.record_release(source, bundle)
    add_changelog_section(source, "99.0.0")
    assert template_history.record_release(source, bundle) == "99.0.0"

    assert template_history.released_versions(bundle)[-2:] == [CURRENT, "99.0.0"]
    assert template_history.verify_release_record(bundle) == []
    new = checkout(bundle, "99.0.0", tmp_path / "new")
    assert (new / "template" / "NEW.md").read_text() == "new\n"
    old = checkout(bundle, CURRENT, tmp_path / "old")
    assert not (old / "template" / "NEW.md").exists()


def test_changelog_since_shows_only_newer_sections(tmp_path: Path) -> None:
    bundle = private_history(tmp_path)
    source = copy_of_source(tmp_path)
    add_changelog_section(source, "99.0.0")
    template_history.record_release(source, bundle)

    excerpt = template_history.changelog_since(CURRENT, bundle)
    assert excerpt.startswith("## v99.0.0")
    assert "Something new." in excerpt
    assert f"v{CURRENT}" not in excerpt


def test_public_url_is_served_from_the_cache_only_inside_the_block() -> None:
    from plumbum import local

    def rewrites(env: dict[str, str]) -> str:
        result = subprocess.run(
            ["git", "config", "--get-regexp", r"^url\..*\.insteadof$"],
            env=env,
            capture_output=True,
            text=True,
        )
        return result.stdout

    repo = template_history.history_repo()
    with template_history.served_from() as url:
        assert f"url.{repo}.insteadof {url}" in rewrites(dict(local.env))
        assert f"refs/tags/v{CURRENT}" in local["git"]("ls-remote", "--tags", url)
    assert rewrites(dict(local.env)) == ""
    assert "COPIER_CACHE_DIR" not in os.environ


def test_histories_are_unpacked_once_each_and_never_mix(tmp_path: Path) -> None:
    """The shipped history and a fork with an extra release get caches of their own."""
    from scaffold.generation import new_project

    fork = private_history(tmp_path)
    source = copy_of_source(tmp_path)
    add_changelog_section(source, "99.0.0")
    template_history.record_release(source, fork)

    shipped_repo, fork_repo = template_history.history_repo(), template_history.history_repo(fork)
    assert shipped_repo != fork_repo
    assert template_history.history_repo() == shipped_repo  # the same bundle: reused
    new_project(tmp_path / "a", defaults=True)
    os.environ[template_history.HISTORY_VARIABLE] = str(fork)
    try:
        new_project(tmp_path / "b", defaults=True)
    finally:
        del os.environ[template_history.HISTORY_VARIABLE]
    mirrors = [
        git("tag", "--list", cwd=mirror)
        for mirror in shipped_repo.with_suffix(".copier").glob("*.git")
    ]
    assert mirrors and all("v99.0.0" not in tags for tags in mirrors)


def test_a_corrupt_history_is_a_clear_error(tmp_path: Path) -> None:
    bundle = tmp_path / "corrupt.bundle"
    bundle.write_bytes(b"not a bundle")
    with pytest.raises(ScaffoldError, match="not a readable git bundle") as raised:
        template_history.released_versions(bundle)
    assert "\n" not in str(raised.value)  # one line, git's own words in it
    assert "does not look like a v2 or v3 bundle file" in str(raised.value)
