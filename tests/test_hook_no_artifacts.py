"""no-artifacts: checkpoints, data, large files, conflict markers and .rej/.orig stay out."""

import os
from pathlib import Path

import pytest
from gitrepo import GitRepo

from scaffold.hooks import no_artifacts
from scaffold.hooks.settings import Settings

SETTINGS = Settings()


def found(path: str, content: bytes = b"x\n", settings: Settings = SETTINGS) -> list[str]:
    problems = no_artifacts.check(path, len(content), content, settings)
    return [problem.message for problem in problems]


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("model.pt", "a checkpoint or model weights"),
        ("checkpoints/BEST.PT", "a checkpoint or model weights"),  # as macOS and Windows: one
        ("DATA/raw/train.csv", "data or a run's output"),
        ("checkpoints/epoch=3.ckpt", "a checkpoint or model weights"),
        ("weights/model.safetensors", "a checkpoint or model weights"),
        ("export/model.onnx", "a checkpoint or model weights"),
        ("features.npy", "data or a run's output"),
        ("data/raw/train-images-idx3-ubyte.gz", "data or a run's output"),
        ("data/processed/train.npz", "data or a run's output"),
        ("runs/2024-05-01-smoke/metrics.jsonl", "data or a run's output"),
        ("wandb/run-1/files/config.yaml", "data or a run's output"),
        ("src/demo/train.py.rej", "left over from a merge or a patch"),
        ("README.md.orig", "left over from a merge or a patch"),
    ],
)
def test_artifacts_are_refused_with_the_reason(path: str, reason: str) -> None:
    (message,) = found(path)
    assert message.startswith(f"{path}: {reason}")


@pytest.mark.parametrize(
    "path",
    [
        "data/README.md",
        "src/demo/data.py",
        "tests/fixtures/fashion-mnist-tiny/train-images-idx3-ubyte.gz",
        "tests/fixtures/images/class-0.png",
        "configs/base.yaml",
    ],
)
def test_ordinary_files_pass(path: str) -> None:
    assert found(path) == []


def test_the_fix_keeps_the_file_on_disk() -> None:
    (problem,) = no_artifacts.check("my model.pt", 10, b"", SETTINGS)
    assert "git rm --cached -- 'my model.pt'" in problem.fix[0]


def test_large_files_are_refused() -> None:
    assert found("notes.txt", b"x" * 500 * 1024) == []
    (message,) = found("notes.txt", b"x" * (500 * 1024 + 1))
    assert message == (
        "notes.txt: 501 KB, over the 500 KB limit: "
        "keep large files out of git (an artifact store, Git LFS)"
    )
    assert found("notes.txt", b"x" * 600 * 1024, Settings(max_file_size_kb=1000)) == []


@pytest.mark.parametrize(
    "text",
    [
        b"a\n<<<<<<< HEAD\nb\n=======\nc\n>>>>>>> feature\n",
        b"a\n<<<<<<< before updating\nb\n=======\nc\n>>>>>>> after updating\n",  # copier's
        b"a\n>>>>>>>\n",
    ],
)
def test_conflict_markers_are_refused_with_their_line(text: bytes) -> None:
    (message,) = found("src/demo/train.py", text)
    assert message.startswith("src/demo/train.py:2: an unresolved conflict marker")


def test_marker_lookalikes_and_binaries_pass() -> None:
    assert found("docs/git.md", b"Resolve the `<<<<<<<` markers.\n=======\n") == []
    assert found("image.bin", b"\0\1\n<<<<<<< HEAD\n") == []
    assert found("latin.txt", "caf\xe9\n".encode("latin-1")) == []


def test_custom_patterns() -> None:
    settings = Settings(artifacts=("*.csv", "!tests/fixtures/*.csv"))
    assert found("results.csv", settings=settings) == [
        "results.csv: matches '*.csv', one of [tool.scaffold.hooks] artifacts"
    ]
    assert found("tests/fixtures/tiny.csv", settings=settings) == []
    assert found("model.pt", settings=settings) == []


def test_the_hook_checks_the_files_it_is_given(tmp_path: Path, monkeypatch, capsys) -> None:
    repo = GitRepo(tmp_path / "repo")
    repo.write("runs/best model.pt", b"\x80\x02weights")
    repo.write("naïve/notes.md", "<<<<<<< HEAD\n")
    repo.write("src/ok.py", "x = 1\n")
    os.symlink("src/ok.py", repo.path / "link.pt")
    repo.stage()
    monkeypatch.chdir(repo.path)
    status = no_artifacts.main(["runs/best model.pt", "naïve/notes.md", "src/ok.py", "link.pt"])
    output = capsys.readouterr().err
    assert status == 1
    assert "runs/best model.pt: data or a run's output" in output
    assert "naïve/notes.md:1: an unresolved conflict marker" in output
    assert "ok.py" not in output and "link.pt" not in output
    assert no_artifacts.main(["src/ok.py", "deleted-since.py"]) == 0


def test_only_files_the_commit_adds_are_held_to_the_size_limit(
    tmp_path: Path, monkeypatch, capsys
) -> None:
    """As check-added-large-files: a large file already in git is not refused on every edit,
    nor on a rename, where `git rm --cached` would drop it from git."""
    repo = GitRepo(tmp_path / "repo")
    repo.write("corpus.txt", "x" * 600 * 1024)
    repo.commit("chore: start")
    monkeypatch.chdir(repo.path)
    repo.write("corpus.txt", "x" * 600 * 1024 + "more\n")
    repo.stage()
    assert no_artifacts.main(["corpus.txt"]) == 0
    repo.commit("docs: edit the corpus")
    repo.git("mv", "corpus.txt", "texts.txt")
    assert no_artifacts.main(["texts.txt"]) == 0
    repo.write("new.txt", "x" * 600 * 1024)
    repo.stage()
    assert no_artifacts.main(["texts.txt", "new.txt"]) == 1
    assert capsys.readouterr().err.startswith("new.txt: 600 KB, over the 500 KB limit")


def test_the_hook_judges_the_staged_file_not_the_one_on_disk(
    tmp_path: Path, monkeypatch, capsys
) -> None:
    """What is committed is the index: a file a clean filter stores small (a Git LFS
    pointer) passes, as check-commits passes it, and an unstaged fix does not count."""
    repo = GitRepo(tmp_path / "repo")
    repo.commit("chore: start")
    repo.git("config", "filter.pointer.clean", "echo pointer; cat >/dev/null")
    repo.write(".gitattributes", "*.bin filter=pointer\n")
    repo.write("big.bin", b"\1" * 700 * 1024)
    repo.write("notes.md", "<<<<<<< HEAD\n")
    repo.stage()
    repo.write("notes.md", "resolved\n")
    monkeypatch.chdir(repo.path)
    assert no_artifacts.main(["big.bin", "notes.md"]) == 1
    assert capsys.readouterr().err.startswith("notes.md:1: an unresolved conflict marker")
