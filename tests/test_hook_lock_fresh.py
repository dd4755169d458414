"""lock-fresh: environment changes must come with a conda-lock.yml that matches them."""

from pathlib import Path

import pytest
from gitrepo import GitRepo, write_lock

from scaffold import lockfile
from scaffold.hooks import lock_fresh

ENVIRONMENT = (
    "name: demo\nplatforms:\n  - linux-64\n  - osx-arm64\ndependencies:\n  - python 3.11.*\n"
)


@pytest.fixture
def repo(tmp_path: Path) -> GitRepo:
    repo = GitRepo(tmp_path / "repo")
    repo.write("environment.yml", ENVIRONMENT)
    write_lock(repo.path, ["linux-64", "osx-arm64"])
    repo.commit("build: pin the environment")
    return repo


def test_a_matching_lock_passes(repo: GitRepo) -> None:
    assert lock_fresh.check(repo.path) == []


def test_a_stale_lock_names_the_command(repo: GitRepo, monkeypatch, capsys) -> None:
    repo.write("environment.yml", ENVIRONMENT + "  - numpy >=2\n")
    repo.stage()
    monkeypatch.chdir(repo.path)
    assert lock_fresh.main([]) == 1
    output = capsys.readouterr().err
    assert "conda-lock.yml: does not match the environment files" in output
    assert "linux-64, osx-arm64" in output and "`scaffold lock`" in output
    write_lock(repo.path, ["linux-64", "osx-arm64"])
    assert lock_fresh.check(repo.path) == []


def test_a_platform_missing_from_the_lock(repo: GitRepo) -> None:
    repo.write(
        "environment.yml", ENVIRONMENT.replace("  - osx-arm64\n", "  - osx-arm64\n  - win-64\n")
    )
    write_lock(repo.path, ["linux-64", "osx-arm64"])
    (problem,) = lock_fresh.check(repo.path)
    assert "win-64 not locked" in problem.message


def test_a_dev_or_virtual_packages_edit_counts_too(repo: GitRepo) -> None:
    repo.write(
        "virtual-packages.yml", "subdirs:\n  linux-64:\n    packages:\n      __cuda: '12.9'\n"
    )
    assert lock_fresh.check(repo.path) != []


def test_no_lock_yet_is_left_to_the_doctor(tmp_path: Path) -> None:
    repo = GitRepo(tmp_path / "unlocked")
    repo.write("environment.yml", ENVIRONMENT)
    repo.stage()
    assert lock_fresh.check(repo.path) == []


def test_deleting_the_lock_is_refused(repo: GitRepo, monkeypatch, capsys) -> None:
    repo.git("rm", "--quiet", lockfile.LOCK_FILE)
    monkeypatch.chdir(repo.path)
    assert lock_fresh.main([]) == 1
    assert "conda-lock.yml: deleted" in capsys.readouterr().err
