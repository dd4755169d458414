"""scaffold.hooks.changes: what git says a commit changes, read exactly, in few calls."""

import os
from pathlib import Path

import pytest
from gitrepo import GitRepo, lines

from scaffold.hooks import changes
from scaffold.hooks.report import HookError


def by_path(repo: GitRepo) -> dict[str, changes.Change]:
    return {change.path: change for change in changes.staged_changes(repo.path)}


def test_the_first_commit_compares_with_nothing(tmp_path: Path) -> None:
    repo = GitRepo(tmp_path / "r")
    repo.write("src/model.py", lines(3))
    repo.stage()
    state = changes.repo(repo.path)
    assert state.head is None and state.head_parents == () and not state.merging
    assert state.root == repo.path.resolve()
    (change,) = changes.staged_changes(repo.path)
    assert (change.status, change.path, change.added, change.deleted) == (
        "A",
        "src/model.py",
        3,
        0,
    )


def test_renames_deletions_binaries_and_odd_names(tmp_path: Path) -> None:
    repo = GitRepo(tmp_path / "r")
    repo.write("old name.py", lines(20))
    repo.write("gone.py", lines(5))
    repo.commit()
    (repo.path / "névé").mkdir()
    repo.git("mv", "old name.py", "névé/new name.py")
    repo.git("rm", "--quiet", "gone.py")
    repo.write("weights.bin", bytes(range(256)) * 4)
    repo.write("tab\there.txt", "x\n")
    odd = os.fsdecode(b"caf\xe9.txt")  # not UTF-8: git keeps the bytes, so must we
    repo.write(odd, "y\n")
    repo.stage()

    found = by_path(repo)
    renamed = found["névé/new name.py"]
    assert (renamed.status, renamed.old_path, renamed.lines) == ("R", "old name.py", 0)
    assert found["gone.py"].status == "D" and not found["gone.py"].exists_after
    assert found["weights.bin"].binary and found["weights.bin"].lines == 0
    assert found["tab\there.txt"].added == 1
    assert (repo.path / found[odd].path).is_file()


def test_submodules_are_recognised(tmp_path: Path) -> None:
    inner = GitRepo(tmp_path / "inner")
    inner.commit("feat: start")
    repo = GitRepo(tmp_path / "r")
    repo.git(
        "-c", "protocol.file.allow=always", "submodule", "--quiet", "add", str(inner.path), "sub"
    )
    found = by_path(repo)
    assert found["sub"].submodule and found["sub"].new_mode == changes.SUBMODULE_MODE
    assert not found[".gitmodules"].submodule


def test_a_merge_in_progress_is_seen(tmp_path: Path) -> None:
    repo = GitRepo(tmp_path / "r")
    repo.commit("feat: start")
    repo.git("checkout", "--quiet", "-b", "side")
    repo.write("side.py", "x\n")
    repo.commit()
    repo.git("checkout", "--quiet", "main")
    repo.write("main.py", "y\n")
    repo.commit()
    repo.git("merge", "--quiet", "--no-commit", "--no-ff", "side")
    assert changes.repo(repo.path).merging
    repo.git("commit", "--quiet", "--no-verify", "--no-edit")
    assert len(changes.repo(repo.path).head_parents) == 2


def test_outside_a_repository_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(HookError, match="not inside a git work tree"):
        changes.repo(tmp_path)


def test_objects_and_sizes_come_back_by_name(tmp_path: Path) -> None:
    repo = GitRepo(tmp_path / "r")
    repo.write("a.txt", "alpha\n")
    repo.write("b file.bin", b"\0\1\2\n\n")
    head = repo.commit()
    found = {change.path: change for change in changes.staged_changes(repo.path, "HEAD~0")}
    assert found == {}  # nothing staged against HEAD
    blob = repo.git("rev-parse", "HEAD:a.txt").stdout.strip()
    objects = changes.read_objects(
        repo.path, [blob, f"{head}:b file.bin", f"{head}:missing.txt", "0" * 40]
    )
    assert objects[blob] == b"alpha\n"
    assert objects[f"{head}:b file.bin"] == b"\0\1\2\n\n"
    assert objects[f"{head}:missing.txt"] is None and objects["0" * 40] is None
    assert changes.object_sizes(repo.path, [blob, "0" * 40]) == {blob: 6}


def test_parse_diff_pairs_raw_and_numstat_entries() -> None:
    zero, blob = "0" * 40, "a" * 40
    tokens = [
        f":000000 100644 {zero} {blob} A",
        "new.py",
        f":100644 100644 {blob} {blob} R100",
        "from",
        "to",
        "3\t0\tnew.py",
        "0\t0\t",
        "from",
        "to",
        "",
    ]
    new, moved = changes.parse_diff(tokens)
    assert (new.path, new.added, moved.path, moved.old_path) == ("new.py", 3, "to", "from")
