"""commit-msg: Conventional Commits that say something; what git writes passes as it is."""

import subprocess
from pathlib import Path

import pytest
from gitrepo import GitRepo

from scaffold.generation import _first_commit
from scaffold.hooks import commit_msg
from scaffold.hooks.settings import Settings
from scaffold.update import commit_message

SETTINGS = Settings()


def messages(text: str, **options: str) -> list[str]:
    return [problem.message for problem in commit_msg.check(text, SETTINGS, **options)]


@pytest.mark.parametrize(
    "text",
    [
        "feat: add a ResNet-18 backbone",
        "fix(data): retry interrupted downloads",
        "feat(train)!: drop the --epochs flag\n\nBREAKING CHANGE: use train.max_steps.",
        "docs: explain the data card\n\nWhy: reviewers asked.\n",
        "chore: generate project from scaffold template v0.4.0",
        'Revert "feat: add a ResNet-18 backbone"\n\nThis reverts commit 0123abc.',
        "fixup! feat: add a ResNet-18 backbone",
        "squash! fix(data): retry interrupted downloads",
        "feat: add a cosine schedule\n# Please enter the commit message for your changes.\n",
        "fix: clip gradients\n# ------------------------ >8 ------------------------\nwip.\n",
        "feat: " + "a" * 66,  # exactly 72 characters
        "fix(train): remove debug code",
        "test(model): add tests",
        "docs: добавить описание набора данных",  # words in any script say something
        "docs(data): 补充数据集来源说明",
    ],
)
def test_good_messages_pass(text: str) -> None:
    assert messages(text) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("wip", "is not a Conventional Commit subject"),
        ("fix", "is not a Conventional Commit subject"),
        ("update", "is not a Conventional Commit subject"),
        ("Added the model", "is not a Conventional Commit subject"),
        ("feat:add it", "is not a Conventional Commit subject (no space after the colon)"),
        ("feat(plots):add a legend", "subject (no space after the colon)"),
        ("feat(): add a legend", "subject (its scope is empty: name one, or drop the brackets)"),
        ("feat : add a legend", "subject (a space before the colon)"),
        ("feature: add a model", "'feature' is not a commit type: use one of"),
        ("Feat: add a model", "'Feat' is not a commit type (in lower case: feat)"),
        ("feat: wip", "says nothing about the change"),
        ("fix: fix", "says nothing about the change"),
        ("chore: misc updates", "says nothing about the change"),
        ("refactor: some small cleanup", "says nothing about the change"),
        ("feat: ...", "says nothing about the change"),
        ("Merge my pandas work", "is not a Conventional Commit subject"),  # merges: by parents
        ("feat: add a learning-rate finder.", "ends with a period"),
        ("feat: " + "a" * 67, "the subject is 73 characters, over 72"),
        ("feat: add a model\nwith its config", "the second line is not blank"),
        ("", "the commit message is empty"),
        ("# only a comment\n", "the commit message is empty"),
    ],
)
def test_bad_messages_say_what_to_do(text: str, expected: str) -> None:
    found = messages(text)
    assert any(expected in message for message in found), found


def test_fixups_are_refused_where_they_would_be_merged() -> None:
    (found,) = messages("fixup! feat: add a model", rebase_base="origin/main")
    assert "git rebase -i --autosquash origin/main" in found


def test_settings_change_types_and_length() -> None:
    settings = Settings(commit_types=("feat", "wip"), max_subject_length=100)
    assert commit_msg.check("wip: keep the notebook's new plots", settings) == []
    assert commit_msg.check("feat: " + "a" * 90, settings) == []


def test_what_scaffold_writes_passes(tmp_path: Path) -> None:
    assert messages(commit_message("0.3.0", "0.4.0", [])) == []
    assert messages(commit_message("0.10.0", "0.10.0", ["tracker"])) == []
    many = [
        "cuda_version",
        "python_version",
        "platforms",
        "tracker",
        "license",
        "ci",
        "cuda_toolchain",
    ]
    message = commit_message("0.4.0", "0.4.0", many)
    assert messages(message) == [] and message.endswith("more)")
    project = tmp_path / "p"
    project.mkdir()
    (project / "README.md").write_text("x\n")
    _first_commit(project, {}, "0.4.0")
    first = subprocess.run(
        ["git", "log", "--format=%B"], cwd=project, capture_output=True, text=True, check=True
    )
    assert messages(first.stdout) == []


def test_the_hook_reads_the_file_git_passes(tmp_path: Path, monkeypatch, capsys) -> None:
    repo = GitRepo(tmp_path / "r")
    message = repo.write(".git/COMMIT_EDITMSG", "misc changes\n")
    monkeypatch.chdir(repo.path)
    assert commit_msg.main([".git/COMMIT_EDITMSG"]) == 1  # as git passes it, from the top
    output = capsys.readouterr().err
    assert "commit message: 'misc changes' is not a Conventional Commit subject" in output
    # A path that works from any folder of the repo, and the options git did not keep.
    assert f"git commit -e -F {message.resolve()}` edits it again (add the options" in output
    message.write_text("feat: add a data card\n")
    assert commit_msg.main([str(message)]) == 0


def test_through_git_and_during_a_merge(tmp_path: Path) -> None:
    repo = GitRepo(tmp_path / "r")
    repo.install_hook("commit-msg", "commit_msg")
    repo.write("a.py", "x\n")
    repo.stage()
    refused = repo.git("commit", "-m", "stuff", check=False)
    assert refused.returncode == 1 and "is not a Conventional Commit" in refused.stderr
    repo.git("commit", "--quiet", "-m", "feat: add the first module")
    repo.git("checkout", "--quiet", "-b", "side")
    repo.write("b.py", "y\n")
    repo.commit()
    repo.git("checkout", "--quiet", "main")
    repo.write("c.py", "z\n")
    repo.commit()
    # git runs commit-msg for merges too; a merge message is git's business, not ours
    repo.git("merge", "--quiet", "--no-ff", "-m", "merging the side branch in", "side")


def test_git_s_comment_character_is_the_one_git_strips(tmp_path: Path, monkeypatch) -> None:
    """With core.commentChar set, git's comment lines start with it, not with '#'."""
    repo = GitRepo(tmp_path / "r")
    repo.install_hook("commit-msg", "commit_msg")
    repo.write("a.py", "x\n")
    repo.stage()
    monkeypatch.setenv("GIT_EDITOR", "sed -i '1s/^/feat: add the first module/'")
    made = repo.git("-c", "core.commentChar=;", "commit", "--quiet", check=False)
    assert made.returncode == 0, made.stderr


@pytest.mark.parametrize("setting", ["auto", "%"])
def test_the_comment_character_is_read_from_git(tmp_path: Path, monkeypatch, setting: str) -> None:
    """As in a squash's message, where git's comments come first and last."""
    repo = GitRepo(tmp_path / "r")
    repo.git("config", "core.commentChar", setting)
    char = "%" if setting == "%" else ";"  # auto: git chose ';', as a line starts with '#'
    message = repo.write(
        ".git/COMMIT_EDITMSG",
        f"{char} This is a combination of 2 commits.\n\nfeat: add a data card\n\n"
        f"#42 asked for it\n\n{char} Please enter the commit message\n",
    )
    monkeypatch.chdir(repo.path)
    assert commit_msg.main([str(message)]) == 0
