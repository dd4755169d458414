"""Shared fixtures: an isolated git setup, and the template of this checkout.

Every test runs with HOME in a temporary directory, so neither the developer's git
configuration nor copier's user settings leak in; its git identity is
"Test Author <test@example.org>" unless a test removes it.
"""

import os
import shutil
from pathlib import Path

import pytest
from hypothesis import settings

REPO_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def scaffold_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One scaffold cache for the session: it is keyed by history content, so tests that
    use different histories still never share an entry."""
    return tmp_path_factory.mktemp("scaffold-cache")


@pytest.fixture(autouse=True)
def isolated_home(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch, scaffold_cache: Path
) -> Path:
    home = tmp_path_factory.mktemp("home")
    (home / ".gitconfig").write_text(
        "[user]\n\tname = Test Author\n\temail = test@example.org\n", encoding="utf-8"
    )
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(home / ".gitconfig"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / ".cache"))
    monkeypatch.setenv("SCAFFOLD_CACHE_DIR", str(scaffold_cache))
    monkeypatch.delenv("SCAFFOLD_TEMPLATE_HISTORY", raising=False)
    monkeypatch.delenv("COPIER_CACHE_DIR", raising=False)
    for variable in ("AUTHOR", "COMMITTER"):
        monkeypatch.delenv(f"GIT_{variable}_NAME", raising=False)
        monkeypatch.delenv(f"GIT_{variable}_EMAIL", raising=False)
    return home


@pytest.fixture(scope="session")
def channel(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A local conda channel of fake packages named like conda-forge's; its file:// URL."""
    from conda_channel import realistic_packages, write_channel

    return write_channel(tmp_path_factory.mktemp("conda-channel"), realistic_packages())


@pytest.fixture(scope="session")
def template_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The working tree's template as a plain (non-git) copier source, fast to render."""
    source = tmp_path_factory.mktemp("template-source")
    shutil.copy2(REPO_ROOT / "copier.yml", source / "copier.yml")
    shutil.copytree(REPO_ROOT / "template", source / "template")
    return source


# Property tests: a quick profile while developing, a thorough one in CI (CI=true).
settings.register_profile("dev", max_examples=15)
settings.register_profile("ci", max_examples=60)
settings.load_profile("ci" if os.environ.get("CI") else "dev")
