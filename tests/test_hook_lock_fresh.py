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


def test_a_lock_left_in_conflict_says_to_take_one_side(repo: GitRepo) -> None:
    """Markers among the packages leave the fingerprints intact: it is stale all the same,
    and the fix is to take one side's lock first (relocking reads the lock)."""
    lock = repo.path / lockfile.LOCK_FILE
    lock.write_text(lock.read_text() + "<<<<<<< HEAD\n  - name: a\n=======\n>>>>>>> side\n")
    (problem,) = lock_fresh.check(repo.path)
    assert problem.message.startswith("conda-lock.yml holds a merge's conflict markers")
    assert "git checkout --theirs -- conda-lock.yml" in problem.message


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


@pytest.mark.parametrize("untrack", [[], ["--cached"]], ids=["rm", "rm-cached"])
def test_deleting_the_lock_is_refused(
    repo: GitRepo, monkeypatch, capsys, untrack: list[str]
) -> None:
    """Deleted, or only taken out of git (the file stays on disk): the commit drops it."""
    repo.git("rm", "--quiet", *untrack, lockfile.LOCK_FILE)
    monkeypatch.chdir(repo.path)
    assert lock_fresh.main([]) == 1
    assert "conda-lock.yml: deleted" in capsys.readouterr().err


@pytest.mark.parametrize(
    "platforms",
    ["platforms: [linux-64, osx-arm64]\n", "platforms:\n- linux-64\n- osx-arm64\n"],
    ids=["flow", "unindented"],
)
def test_the_platform_list_is_read_in_any_style(tmp_path: Path, platforms: str) -> None:
    repo = GitRepo(tmp_path / "repo")
    repo.write("environment.yml", f"name: demo\n{platforms}dependencies:\n  - python 3.11.*\n")
    write_lock(repo.path, ["linux-64", "osx-arm64"])
    assert lock_fresh.check(repo.path) == []
    with (repo.path / "environment.yml").open("a") as stream:
        stream.write("  - tqdm >=4.99\n")
    (problem,) = lock_fresh.check(repo.path)
    assert "the environment files changed for linux-64, osx-arm64" in problem.message


def test_every_platform_the_lock_holds_is_judged(repo: GitRepo) -> None:
    """Even one that environment.yml no longer lists, or lists where the reader cannot see."""
    repo.write("environment.yml", "name: demo\ndependencies:\n  - python 3.11.*\n")
    (problem,) = lock_fresh.check(repo.path)
    assert "the environment files changed for linux-64, osx-arm64" in problem.message


def test_a_crlf_checkout_matches_the_lock(repo: GitRepo) -> None:
    """Git for Windows checks text out with CRLF line ends; the lock was made from LF."""
    environment = repo.path / "environment.yml"
    environment.write_bytes(environment.read_bytes().replace(b"\n", b"\r\n"))
    assert lock_fresh.check(repo.path) == []


def test_the_commit_s_files_are_judged_not_the_work_tree_s(
    repo: GitRepo, monkeypatch, capsys
) -> None:
    """A file taken out of git stays on disk, where pre-commit's stash leaves it."""
    repo.write("environment-dev.yml", "dependencies:\n  - pytest\n")
    write_lock(repo.path, ["linux-64", "osx-arm64"])
    repo.commit("build: add the dev environment")
    repo.git("rm", "--quiet", "--cached", "environment-dev.yml")
    monkeypatch.chdir(repo.path)
    assert lock_fresh.main([]) == 1
    assert "does not match the environment files" in capsys.readouterr().err


def test_removing_conda_altogether_is_no_deleted_lock(repo: GitRepo, monkeypatch) -> None:
    repo.git("rm", "--quiet", "environment.yml", lockfile.LOCK_FILE)
    monkeypatch.chdir(repo.path)
    assert lock_fresh.main([]) == 0
