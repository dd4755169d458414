"""scripts/publish_template_tags.py pushes the released tags, and never moves one.

The remote is a real bare repository on disk; the script runs as maintainers run it, in a
subprocess, importing this checkout's scaffold.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO_ROOT

from scaffold import template_history
from scaffold.git import git

SCRIPT = REPO_ROOT / "scripts" / "publish_template_tags.py"
RELEASED = [f"v{version}" for version in template_history.released_versions()]


def publish(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args], cwd=cwd, capture_output=True, text=True, env=env
    )


def bare_remote(path: Path) -> Path:
    git("init", "--quiet", "--bare", str(path))
    return path


def tags_of(remote: Path) -> dict[str, str]:
    """The remote's tags: name -> the commit it points at."""
    names = git("tag", "--list", cwd=remote).split()
    return {name: git("rev-parse", f"{name}^{{commit}}", cwd=remote) for name in names}


def released_commits() -> dict[str, str]:
    repo = template_history.history_repo()
    return {tag: git("rev-parse", f"{tag}^{{commit}}", cwd=repo) for tag in RELEASED}


def test_pushes_every_release_tag_then_reruns_as_a_no_op(tmp_path: Path) -> None:
    remote = bare_remote(tmp_path / "public.git")

    first = publish(str(remote), cwd=tmp_path)

    assert first.returncode == 0, first.stderr
    assert tags_of(remote) == released_commits()
    for tag in RELEASED:
        assert f"{tag}: pushed commit" in first.stdout
    assert git("for-each-ref", "refs/heads", cwd=remote) == "", "pushed a branch"

    refs = git("for-each-ref", cwd=remote)
    again = publish(str(remote), cwd=tmp_path)

    assert again.returncode == 0, again.stderr
    assert "nothing to push" in again.stdout and "pushed" not in again.stdout
    assert git("for-each-ref", cwd=remote) == refs


def test_dry_run_pushes_nothing(tmp_path: Path) -> None:
    remote = bare_remote(tmp_path / "public.git")

    result = publish("--dry-run", str(remote), cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    assert f"{RELEASED[0]}: would push commit" in result.stdout
    assert tags_of(remote) == {}


def test_refuses_a_tag_at_another_commit_and_pushes_nothing(tmp_path: Path) -> None:
    remote = bare_remote(tmp_path / "public.git")
    other = tmp_path / "other"
    git("init", "--quiet", str(other))
    git("commit", "--quiet", "--allow-empty", "-m", "not the release", cwd=other)
    git("tag", RELEASED[0], cwd=other)
    git("push", "--quiet", str(remote), f"refs/tags/{RELEASED[0]}", cwd=other)
    before = git("for-each-ref", cwd=remote)

    result = publish(str(remote), cwd=tmp_path)

    assert result.returncode != 0
    assert f"already has {RELEASED[0]} at commit" in result.stderr
    assert "nothing was pushed" in result.stderr
    assert git("for-each-ref", cwd=remote) == before, "the conflicting tag was touched"


def test_skips_a_tag_already_published_and_pushes_the_rest(tmp_path: Path) -> None:
    remote = bare_remote(tmp_path / "public.git")
    first, rest = RELEASED[0], RELEASED[1:]
    bundle = str(template_history.BUNDLE)
    git(
        "fetch", "--quiet", "--no-tags", bundle, f"refs/tags/{first}:refs/tags/{first}", cwd=remote
    )

    result = publish(str(remote), cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    assert f"{first}: already on" in result.stdout
    assert all(f"{tag}: pushed commit" in result.stdout for tag in rest)
    assert tags_of(remote) == released_commits()


def test_reads_a_remote_name_of_the_current_repository(tmp_path: Path) -> None:
    remote = bare_remote(tmp_path / "public.git")
    checkout = tmp_path / "checkout"
    git("init", "--quiet", str(checkout))
    git("remote", "add", "public", str(remote), cwd=checkout)

    result = publish("public", cwd=checkout)

    assert result.returncode == 0, result.stderr
    assert tags_of(remote) == released_commits()


def test_refuses_a_history_that_disagrees_with_its_pins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    history = tmp_path / "history"
    git("clone", "--quiet", str(template_history.BUNDLE), str(history))
    (history / "CHANGELOG.md").write_text("rewritten\n")
    git("commit", "--quiet", "-am", "rewrite", cwd=history)
    git("tag", "--force", RELEASED[-1], cwd=history)
    bundle = tmp_path / "rewritten.bundle"
    git("bundle", "create", "--quiet", str(bundle), "HEAD", "main", "--tags", cwd=history)
    shutil.copy2(template_history.release_record(), template_history.release_record(bundle))
    monkeypatch.setenv(template_history.HISTORY_VARIABLE, str(bundle))
    remote = bare_remote(tmp_path / "public.git")

    result = publish(str(remote), cwd=tmp_path)

    assert result.returncode != 0
    assert "disagrees with its pins" in result.stderr
    assert f"{RELEASED[-1]}: released as tree" in result.stderr
    assert tags_of(remote) == {}
